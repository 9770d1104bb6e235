#!/usr/bin/env bash
# A/B of two agentshop binaries on the crawl benchmark's pipeline (bench/crawl/pipeline.yaml), alternating
# them ROUNDS times against a site served by `bench/crawl_bench.sh serve` (start that first, in another shell).
#
#   bench/crawl_bench.sh serve &                       # prints the first listing page's URL
#   ROUNDS=3 bench/crawl_ab.sh /path/to/before/agentshop .build-release/release/agentshop
#
# Per run: wall s, CPU s (user + sys), peak RSS (/usr/bin/time -v), the 1-minute load average before it,
# and the crawl and parse stages' durations from the run manifest. Logs under bench/work/crawl/ab-<UTC time>/.
set -euo pipefail
cd "$(dirname "$0")/.."
root=$(pwd)
A=$(realpath "$1"); B=$(realpath "$2")
ROUNDS=${ROUNDS:-3}
START=${CRAWL_BENCH_START:-$(cat bench/work/crawl/serving.txt)}
OUT="$root/bench/work/crawl/ab-$(date -u +%Y%m%dT%H%M%SZ)"
mkdir -p "$OUT"
curl -sf -o /dev/null "$START" || { echo "crawl_ab: nothing serves $START (run bench/crawl_bench.sh serve)" >&2; exit 1; }

run() {
    local name=$1 bin=$2 dir=$3
    mkdir -p "$dir/pipelines"
    cp bench/crawl/pipeline.yaml "$dir/pipelines/crawl-bench.yaml"
    local load; load=$(cut -d' ' -f1 /proc/loadavg)
    (cd "$dir" && "$bin" init datalake --quiet > /dev/null \
        && CRAWL_BENCH_START="$START" /usr/bin/time -v -o time.txt "$bin" run crawl-bench --lake datalake --json > manifest.json 2> log.txt)
    python3 - "$name" "$dir" "$load" <<'EOF'
import json, re, sys
name, d, load = sys.argv[1:]
t = open(d + "/time.txt").read()
def field(label):
    return re.search(re.escape(label) + r":\s*(\S+)", t).group(1)
wall = field("Elapsed (wall clock) time (h:mm:ss or m:ss)").split(":")
secs = sum(float(x) * 60 ** i for i, x in enumerate(reversed(wall)))
user, sys_ = float(field("User time (seconds)")), float(field("System time (seconds)"))
rss = int(field("Maximum resident set size (kbytes)")) / 1024
m = json.load(open(d + "/manifest.json"))
stages = {s["name"]: s for s in m.get("stages", [])}
ms = lambda n: stages.get(n, {}).get("duration_ms", stages.get(n, {}).get("durationMs", 0)) / 1000
counts = stages.get("products", {}).get("counts", {})
print(f"| {name} | {secs:.2f} | {user + sys_:.2f} ({user:.2f} + {sys_:.2f}) | {(user + sys_) * 1000 / 5500:.3f} | {rss:.0f} | "
      f"{ms('crawl'):.1f} / {ms('products'):.1f} | {counts.get('pages_from_crawl', 0)} / {counts.get('pages_from_index', 0)} | {load} |")
EOF
}

echo "| binary | wall s | CPU s (user + sys) | CPU ms/page | peak RSS MB | crawl / parse stage s | from crawl / from index | load before |"
echo "|---|---:|---:|---:|---:|---:|---:|---:|"
for round in $(seq "$ROUNDS"); do
    run "A (round $round)" "$A" "$OUT/a-$round"
    run "B (round $round)" "$B" "$OUT/b-$round"
done
