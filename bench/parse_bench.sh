#!/usr/bin/env bash
# Parse-only throughput: our release build vs lxml (XPath) and parsel (CSS), single-threaded,
# same pages, same fields, same run; field accuracy of each against the generator's truth; then
# ours on two threads (CPU per page on one thread against two: contention shows there).
#
#   bench/parse_bench.sh            # 5,000 pages of ~30 KB (~150 MB)
#   COUNT=500 bench/parse_bench.sh  # a quick look
#
# Needs python3 with venv (PyPI reachable for the first run) and the Swift toolchain.
# Pages go to bench/work/parse, results to bench/results/ (both ignored by git).
set -euo pipefail
cd "$(dirname "$0")/.."
COUNT=${COUNT:-5000}
PAD=${PAD:-27000}
SCRATCH=${SCRATCH:-.build-release}
WORK=bench/work/parse-$COUNT-$PAD
mkdir -p bench/results

if [ ! -x bench/.venv/bin/python ]; then
    python3 -m venv bench/.venv
fi
bench/.venv/bin/pip install --quiet --disable-pip-version-check lxml parsel price-parser python-dateutil

if [ ! -f "$WORK/truth.jsonl" ] || [ "$(wc -l < "$WORK/truth.jsonl")" -ne "$COUNT" ]; then
    rm -rf "$WORK"
    python3 scripts/make_fixture_site.py "$WORK" --count "$COUNT" --pad "$PAD"
fi

swift build -c release --scratch-path "$SCRATCH" --product agentshop-parse-bench >&2
BIN="$(swift build -c release --scratch-path "$SCRATCH" --show-bin-path)/agentshop-parse-bench"

STAMP=$(date -u +%Y%m%dT%H%M%SZ)
bench/.venv/bin/python bench/parse_bench.py --site "$WORK" --ours "$BIN" --report "bench/results/parse-$STAMP.md"
