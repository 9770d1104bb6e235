#!/usr/bin/env bash
# The process floor (issue 19): the peak resident memory of `agentshop --version`, a process that only
# starts, prints and exits, and of `agentshop stages` (a command that touches neither the network nor
# PostgreSQL; `--version` names libcurl's built-against version without loading it), beside `python3 -c pass`, `scrapy version` and `sqlite3 --version`; then where the pages
# are, mapped file by mapped file (a copy of /proc/self/smaps taken at exit through a preloaded
# destructor, bench/floor/smaps_at_exit.c), and the dynamic linker's own statistics.
#
#   bench/floor.sh                      release build in SCRATCH (default .build-release)
#   BIN=/path/to/agentshop bench/floor.sh   another binary (an older build, to compare)
#
# Prints "peak <tool> <KB> <median wall ms>" lines (best peak of 5 runs), then the tables.
set -euo pipefail
cd "$(dirname "$0")/.."
root=$(pwd)
SCRATCH=${SCRATCH:-.build-release}
work="$root/bench/work/floor"
mkdir -p "$work"
if [ -z "${BIN:-}" ]; then
    swift build -c release --scratch-path "$SCRATCH" --product agentshop >&2
    BIN="$root/$SCRATCH/release/agentshop"
fi
[ -x bench/.venv/bin/python ] || python3 -m venv bench/.venv
bench/.venv/bin/python -c "import scrapy" 2>/dev/null || bench/.venv/bin/pip install -q scrapy >&2

peak() {  # lowest peak RSS (KB) of 5 runs, and the median wall ms
    local rss=() ms=() r w
    for _ in 1 2 3 4 5; do
        /usr/bin/time -f '%M %e' -o "$work/time" "$@" >/dev/null 2>&1
        read -r r w < "$work/time"; rss+=("$r"); ms+=("$(awk "BEGIN {printf \"%.0f\", $w * 1000}")")
    done
    echo "$(printf '%s\n' "${rss[@]}" | sort -n | head -1) $(printf '%s\n' "${ms[@]}" | sort -n | sed -n 3p)"
}
echo "load $(cut -d' ' -f1-3 /proc/loadavg)"
echo "peak agentshop $(peak "$BIN" --version)"
echo "peak agentshop-stages $(peak "$BIN" stages)"
echo "peak python3 $(peak python3 -c pass)"
echo "peak scrapy $(peak bench/.venv/bin/scrapy version)"
echo "peak sqlite3 $(peak sqlite3 --version)"

gcc -O2 -shared -fPIC -o "$work/smaps_at_exit.so" bench/floor/smaps_at_exit.c
for command in --version stages; do
    SMAPS_AT_EXIT="$work/agentshop$command.smaps" LD_PRELOAD="$work/smaps_at_exit.so" "$BIN" $command >/dev/null
    echo
    echo "Resident pages of \`agentshop $command\` at exit, by mapping:"
    echo
    python3 bench/floor/smaps_table.py "$work/agentshop$command.smaps"
done
echo
echo "Dynamic linking (LD_DEBUG=statistics):"
echo
echo '```'
LD_DEBUG=statistics "$BIN" --version 2>&1 >/dev/null | sed 's/^ *[0-9]*: *//' | grep -v '^$' || true
echo '```'
echo
echo "Shared libraries loaded: $(ldd "$BIN" | wc -l)"
