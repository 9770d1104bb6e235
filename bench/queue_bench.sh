#!/usr/bin/env bash
# The PostgreSQL work queue against the in-process run: one offline enrich stage over COUNT records,
# in one process, then through the queue (`run --queue`) with 1, 2 and 4 `agentshop worker` processes.
# Prints wall seconds, records/s and the per-item overhead of the queue ((queued - in-process) / items).
#
#   bench/queue_bench.sh                    # 2,000 records, 10 records per item, a release build (.build-release)
#   COUNT=400 PER_ITEM=1 BIN=.build/debug/agentshop bench/queue_bench.sh    # a debug binary, quick look
#
# Starts its own PostgreSQL (scripts/pg_test_server.sh) unless AGENTSHOP_PG_URL is set. The offline
# provider answers in microseconds, so the figures are the queue's own cost: claim, complete, segment
# files, the final merge. On a 2-core machine more than two workers only share the same two cores.
set -euo pipefail
cd "$(dirname "$0")/.."
COUNT=${COUNT:-2000}
PER_ITEM=${PER_ITEM:-10}
WORKERS=${WORKERS:-"1 2 4"}
WORK=${WORK:-bench/work/queue}
if [ -z "${BIN:-}" ]; then
    swift build -c release --scratch-path .build-release --product agentshop >&2
    BIN="$(swift build -c release --scratch-path .build-release --show-bin-path)/agentshop"
fi
BIN=$(cd "$(dirname "$BIN")" && pwd)/$(basename "$BIN")

if [ -z "${AGENTSHOP_PG_URL:-}" ]; then
    # shellcheck source=../scripts/pg_test_server.sh
    . scripts/pg_test_server.sh
    pg_test_server_start
    trap pg_test_server_stop EXIT
fi
ADMIN=$AGENTSHOP_PG_URL
PSQL=${PSQL:-psql}

project() {  # project DIR: a pipeline, a lake, COUNT records
    rm -rf "$1"; mkdir -p "$1/pipelines"
    cat > "$1/pipelines/bench.yaml" <<'YAML'
pipeline: bench
stages:
  enriched:
    enrich: { from: raw_data/imports/reviews.jsonl, provider: offline, task: sentiment, into: sentiment }
    out: processed_data/ml_datasets/reviews/enriched.jsonl.gz
YAML
    (cd "$1" && "$BIN" init datalake --quiet)
    python3 - "$COUNT" > "$1/datalake/raw_data/imports/reviews.jsonl" <<'PY'
import json, sys
words = ["great", "terrible", "fine", "broken", "love", "awful", "okay", "excellent", "slow", "fast"]
for i in range(int(sys.argv[1])):
    print(json.dumps({"id": i, "text": f"{words[i % 10]} product, {words[(i * 7) % 10]} delivery, item {i}"}))
PY
}

now() { date +%s.%N; }
items=$(( (COUNT + PER_ITEM - 1) / PER_ITEM ))
echo "records=$COUNT per_item=$PER_ITEM items=$items cores=$(nproc) load=$(cut -d' ' -f1-3 /proc/loadavg)"

project "$WORK/single"
start=$(now)
(cd "$WORK/single" && "$BIN" run bench --lake datalake --quiet)
single=$(echo "$(now) - $start" | bc)
printf '| in-process | - | %.2f | %.0f | - |\n' "$single" "$(echo "$COUNT / $single" | bc -l)"

for n in $WORKERS; do
    db="agentshop_queue_bench_$n"
    "$PSQL" -X -q -d "$ADMIN" -c "DROP DATABASE IF EXISTS $db WITH (FORCE)" -c "CREATE DATABASE $db"
    url=$(python3 -c 'import sys, urllib.parse as u; p = u.urlsplit(sys.argv[1]); print(u.urlunsplit(p._replace(path="/" + sys.argv[2])))' "$ADMIN" "$db")
    project "$WORK/queue$n"
    pids=()
    for i in $(seq 1 "$n"); do
        (cd "$WORK/queue$n" && exec "$BIN" worker "$url" --id "w$i" --batch 4 --lease 30s 2>>"w$i.log") &
        pids+=($!)
    done
    start=$(now)
    (cd "$WORK/queue$n" && AGENTSHOP_QUEUE_ITEM_RECORDS=$PER_ITEM "$BIN" run bench --lake datalake --queue "$url" --quiet)
    wall=$(echo "$(now) - $start" | bc)
    kill "${pids[@]}" 2>/dev/null || true
    wait "${pids[@]}" 2>/dev/null || true
    cmp "$WORK/single/datalake/processed_data/ml_datasets/reviews/enriched.jsonl.gz" \
        "$WORK/queue$n/datalake/processed_data/ml_datasets/reviews/enriched.jsonl.gz"
    printf '| queue | %d | %.2f | %.0f | %.1f |\n' "$n" "$wall" "$(echo "$COUNT / $wall" | bc -l)" \
        "$(echo "($wall - $single) * 1000 / $items" | bc -l)"
    "$PSQL" -X -q -d "$ADMIN" -c "DROP DATABASE IF EXISTS $db WITH (FORCE)"
done
echo "load after: $(cut -d' ' -f1-3 /proc/loadavg)"
