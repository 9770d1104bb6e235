#!/usr/bin/env bash
# Store dump/restore benchmark: AgentShop (release build) against the sqlite3 shell, same run,
# same machine, same database.
#
#   bench/store_bench.sh            # 1,000,000 product rows (~200 MB store)
#   ROWS=100000 REPEAT=1 bench/store_bench.sh
#   SCRATCH=.build-release-x bench/store_bench.sh   # another build folder (default .build-bench)
#
# Each figure is the best of REPEAT wall-clock runs, with that run's CPU seconds (user + system,
# children included) and peak RSS from GNU time (for a pipeline: its largest process), and the
# 1-minute load average just before it. Ours includes what the CLI pipelines do not:
# sha256 + sidecar on dump; checksum, integrity_check, foreign_key_check, row counts and the
# atomic swap on restore.
set -euo pipefail

ROWS=${ROWS:-1000000}
REPEAT=${REPEAT:-2}
ROOT=$(cd "$(dirname "$0")/.." && pwd)
WORK=${WORK:-$ROOT/bench/work/store}
RESULTS=$ROOT/bench/results
cd "$ROOT"

if ! command -v sqlite3 >/dev/null; then
    echo "installing the sqlite3 shell" >&2
    (apt-get install -y sqlite3 || sudo apt-get install -y sqlite3) >/dev/null
fi

if [ ! -x /usr/bin/time ]; then
    echo "installing GNU time" >&2
    (apt-get install -y time || sudo apt-get install -y time) >/dev/null
fi

SCRATCH=${SCRATCH:-.build-bench}
swift build -c release --scratch-path "$ROOT/$SCRATCH" --product store-bench >&2
BIN=$ROOT/$SCRATCH/release/store-bench

rm -rf "$WORK"
mkdir -p "$WORK" "$RESULTS"
DB=$WORK/store.sqlite

now() { date +%s.%N; }
minimum() { python3 -c "import sys; v=[float(x) for x in sys.argv[1:] if x]; print(f'{min(v):.3f}')" "$@"; }
# timed CMD: runs `sh -c CMD` under GNU time; prints "wall cpu rss_mb load1".
timed() {
    local load; load=$(cut -d' ' -f1 /proc/loadavg)
    /usr/bin/time -f '%e %U %S %M' -o "$WORK/.time" sh -c "$1" >/dev/null
    read -r wall user sys rss < "$WORK/.time"
    python3 -c "import sys; w,u,s,r,l=sys.argv[1:]; print(f'{float(w):.2f} {float(u)+float(s):.2f} {int(r)/1024:.0f} {l}')" \
        "$wall" "$user" "$sys" "$rss" "$load"
}
# compare STEP "OURS-LABEL" OURS-CMD -- "CLI-LABEL" CLI-CMD...: REPEAT rounds of (ours, cli) back to back,
# so that load from other processes on a shared machine falls on both alike; prints the best of each
# (wall s, then that run's CPU s, peak RSS MB and load average).
# The shell commands are strings run with sh -c; `reset_step ours|cli` runs before each command.
compare() {
    local step=$1 ours_label=$2 ours_cmd=$3 cli_label=$4 cli_cmd=$5
    local ours_runs=() cli_runs=()
    for _ in $(seq "$REPEAT"); do
        reset_step ours; ours_runs+=("$(timed "$ours_cmd")")
        reset_step cli; cli_runs+=("$(timed "$cli_cmd")")
    done
    report "$step" "ours $ours_label" "${ours_runs[@]}"
    report "$step" "cli $cli_label" "${cli_runs[@]}"
}
# report STEP LABEL "wall cpu rss load"...: the run with the least wall time, and every run's wall time.
report() {
    local step=$1 label=$2; shift 2
    local best; best=$(printf '%s\n' "$@" | sort -n -k1,1 | head -1)
    read -r wall cpu rss load <<< "$best"
    printf '%-18s %-22s %8ss   cpu %6ss   rss %5s MB   load %5s   (runs: %s)\n' "$step" "$label" "$wall" "$cpu" "$rss" "$load" \
        "$(printf '%s\n' "$@" | cut -d' ' -f1 | tr '\n' ' ')" | tee -a "$OUT" >&2
}
reset_step() { :; }
size() { stat -c %s "$1"; }

OUT=$RESULTS/store_bench-$(date -u +%Y%m%dT%H%M%SZ).txt
{
    echo "store benchmark $(date -u +%Y-%m-%dT%H:%M:%SZ), ROWS=$ROWS, REPEAT=$REPEAT"
    echo "sqlite3 $(sqlite3 --version | cut -d' ' -f1), $(nproc) cores, $(uname -sr)"
} | tee "$OUT" >&2

start=$(now); "$BIN" populate "$DB" "$ROWS"; end=$(now)
printf 'populate %d products: %.1fs, store %s bytes\n' "$ROWS" "$(python3 -c "print($end - $start)")" "$(size "$DB")" | tee -a "$OUT" >&2

# --- dump, binary snapshot
reset_step() { if [ "$1" = ours ]; then rm -rf "$WORK/ours-bin"; else rm -f "$WORK/cli.backup.sqlite" "$WORK/cli.sqlite.gz"; fi; }
compare "dump sqlite.gz" "" "'$BIN' dump '$DB' '$WORK/ours-bin' sqlite" \
    ".backup+gzip -1" "sqlite3 '$DB' \".backup '$WORK/cli.backup.sqlite'\" && gzip -1 -c '$WORK/cli.backup.sqlite' > '$WORK/cli.sqlite.gz'"
OURS_BIN=$(ls "$WORK"/ours-bin/*.sqlite.gz)

# --- dump, SQL text
reset_step() { if [ "$1" = ours ]; then rm -rf "$WORK/ours-sql"; else rm -f "$WORK/cli.sql.gz"; fi; }
compare "dump sql.gz" "" "'$BIN' dump '$DB' '$WORK/ours-sql' sql" \
    ".dump|gzip -6" "sqlite3 '$DB' .dump | gzip -6 > '$WORK/cli.sql.gz'"
OURS_SQL=$(ls "$WORK"/ours-sql/*.sql.gz)

# --- restore, binary snapshot. Ours verifies the checksum, integrity_check, foreign_key_check and
# row counts before an atomic swap; "verified" does those checks with the shell tools.
reset_step() { if [ "$1" = ours ]; then rm -f "$WORK"/restored-bin* "$WORK"/restored-sql*; else rm -f "$WORK"/restored-cli*; fi; }
compare "restore sqlite.gz" "" "'$BIN' restore '$OURS_BIN' '$WORK/restored-bin.sqlite'" \
    "zcat>file" "zcat '$WORK/cli.sqlite.gz' > '$WORK/restored-cli-bin.sqlite'"
compare "restore sqlite.gz" "(again)" "'$BIN' restore '$OURS_BIN' '$WORK/restored-bin.sqlite'" \
    "verified" "sha256sum '$WORK/cli.sqlite.gz' >/dev/null && zcat '$WORK/cli.sqlite.gz' > '$WORK/restored-cli-bin.sqlite' && sqlite3 '$WORK/restored-cli-bin.sqlite' 'PRAGMA integrity_check; PRAGMA foreign_key_check;'"

# --- restore, SQL text
compare "restore sql.gz" "" "'$BIN' restore '$OURS_SQL' '$WORK/restored-sql.sqlite'" \
    "zcat|sqlite3" "zcat '$WORK/cli.sql.gz' | sqlite3 '$WORK/restored-cli-sql.sqlite'"

{
    echo "sizes: ours sqlite.gz $(size "$OURS_BIN"), cli sqlite.gz $(size "$WORK/cli.sqlite.gz"), ours sql.gz $(size "$OURS_SQL"), cli sql.gz $(size "$WORK/cli.sql.gz")"
    python3 - "$OUT" <<'PY'
import re, sys
rows = []
for line in open(sys.argv[1]):
    m = re.match(r'^(dump|restore) (\S+)\s+(ours|cli)\s*(.*?)\s+([\d.]+)s\s+cpu', line)
    if m: rows.append((m.group(1) + " " + m.group(2), m.group(3), m.group(4), float(m.group(5))))
for i in range(0, len(rows) - 1, 2):
    (step, _, _, ours), (_, _, label, cli) = rows[i], rows[i + 1]
    print(f"ratio {step:18s} ours / cli {label:16s} = {ours / cli:.2f}x")
PY
} | tee -a "$OUT" >&2
echo "results: $OUT" >&2
