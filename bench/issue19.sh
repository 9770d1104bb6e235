#!/usr/bin/env bash
# Every row of issue 19's table in one go, each beside its peer: runs the existing benchmark scripts
# (it copies none of them), keeps each one's output, and writes one table
# "work | AgentShop | peer | ratio | goal | met? | load" to bench/results/issue19-<UTC>.md.
#
#   bench/issue19.sh                       every row at full size (release build; 30-60 minutes on 2 cores)
#   QUICK=1 bench/issue19.sh               small sizes: COUNT=500 RECORDS=200000 ROWS=100000 REPEAT=1
#   ONLY="floor store" bench/issue19.sh    some rows: floor crawl parse query aggregate store noop
#   COUNT=… RECORDS=… ROWS=… REPEAT=… ROUNDS=… SCRATCH=…   passed on to the scripts
#
# Rows and the script behind each:
#   floor      bench/floor.sh: `agentshop --version` peak RSS beside `python3 -c pass` and `scrapy version`
#   crawl      bench/crawl_bench.sh (COUNT product pages, ROUNDS)            vs Scrapy
#   parse      bench/parse_bench.sh (COUNT pages): per CPU-second vs parsel; one thread against two
#   query      bench/query_bench.sh (RECORDS lines, plain and gzip)          vs DuckDB
#   aggregate  bench/aggregate_bench.sh (RECORDS lines)                      vs DuckDB
#   store      bench/store_bench.sh (ROWS products, REPEAT): SQL and binary dump and restore vs the sqlite3 shell
#   noop       bench/run.sh noop: no-op rerun of 10 stages                    vs dvc repro
#
# The 1-minute load average is read before each row's script (the machine is shared; a row measured
# at a high load says so). Each script's own output is kept in bench/work/issue19/<stamp>/<row>.log.
# A script that fails leaves its row marked "failed" (with its log); the others still run.
set -uo pipefail
cd "$(dirname "$0")/.."
root=$(pwd)
STAMP=$(date -u +%Y%m%dT%H%M%SZ)
if [ -n "${QUICK:-}" ]; then
    : "${COUNT:=500}" "${RECORDS:=200000}" "${ROWS:=100000}" "${REPEAT:=1}"
fi
export SCRATCH=${SCRATCH:-.build-release}
ONLY=${ONLY:-floor noop parse query aggregate crawl store}
logs="$root/bench/work/issue19/$STAMP"
out="$root/bench/results/issue19-$STAMP.md"
mkdir -p "$logs" "$root/bench/results"
say() { echo "issue19: $*" >&2; }

# Pass only what was set, so that each script keeps its own default otherwise.
pass() { for name in "$@"; do [ -n "${!name:-}" ] && printf '%s=%s ' "$name" "${!name}"; done; }

say "building the release products once ($SCRATCH)"
for product in agentshop agentshop-parse-bench store-bench agentshop-bench; do
    swift build -c release --scratch-path "$SCRATCH" --product "$product" >&2 || { say "build of $product failed"; exit 1; }
done
bin="$root/$SCRATCH/release"

# row NAME COMMAND...: runs the row's script with its output in NAME.log, the load average before it
# in NAME.load, its exit code in NAME.rc and its wall time in NAME.secs.
row() {
    local name=$1; shift
    say "$name: $* (log $logs/$name.log)"
    cut -d' ' -f1-3 /proc/loadavg > "$logs/$name.load"
    local start=$SECONDS
    env "$@" > "$logs/$name.log" 2>&1
    echo $? > "$logs/$name.rc"
    echo $((SECONDS - start)) > "$logs/$name.secs"
    say "$name: exit $(cat "$logs/$name.rc") after $(cat "$logs/$name.secs") s"
}

# The table, rewritten after every row: a run stopped part-way still leaves the rows it finished.
report() {
    python3 bench/issue19_report.py --logs "$logs" --rows "$done_rows" \
        --settings "$(pass COUNT RECORDS ROWS REPEAT ROUNDS SCRATCH QUICK)" > "$out.tmp" && mv "$out.tmp" "$out"
}
done_rows=""
for name in $ONLY; do
    case "$name" in
        floor) row floor $(pass SCRATCH) bash bench/floor.sh ;;
        crawl) row crawl $(pass COUNT ROUNDS SCRATCH) bash bench/crawl_bench.sh ;;
        parse) row parse $(pass COUNT SCRATCH) bash bench/parse_bench.sh ;;
        query) row query $(pass RECORDS ROUNDS SCRATCH) bash bench/query_bench.sh ;;
        aggregate) row aggregate $(pass RECORDS SCRATCH) bash bench/aggregate_bench.sh ;;
        store) row store $(pass ROWS REPEAT SCRATCH) bash bench/store_bench.sh ;;
        noop) row noop $(pass SCRATCH) bash bench/run.sh noop ;;
        *) say "unknown row: $name (known: floor crawl parse query aggregate store noop)"; exit 64 ;;
    esac
    done_rows="$done_rows $name"
    report
done
cat "$out"
say "results: $out"
