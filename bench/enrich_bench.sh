#!/usr/bin/env bash
# Enrich throughput and CPU: our release build's enrich stage (OpenAI wire format, 16 in flight)
# against the official openai Python client (AsyncOpenAI, 16 in flight), same 2,000 records, same
# loopback fake answering after 200 ms, same run; then a rerun of ours that must make zero calls.
#
#   bench/enrich_bench.sh                    # 2,000 records, 200 ms, 16 in flight (limit 80 req/s)
#   COUNT=400 DELAY=0.1 bench/enrich_bench.sh
#
# Needs python3 with venv (PyPI reachable for the first run) and the Swift toolchain.
# Work files go to bench/work/enrich, results to bench/results/ (both ignored by git).
set -euo pipefail
cd "$(dirname "$0")/.."
COUNT=${COUNT:-2000}
DELAY=${DELAY:-0.2}
CONCURRENCY=${CONCURRENCY:-16}
SCRATCH=${SCRATCH:-.build}
WORK=bench/work/enrich
mkdir -p bench/results

if [ ! -x bench/.venv/bin/python ]; then
    python3 -m venv bench/.venv
fi
bench/.venv/bin/pip install --quiet --disable-pip-version-check openai

swift build -c release --scratch-path "$SCRATCH" --product agentshop >&2
BIN="$(swift build -c release --scratch-path "$SCRATCH" --show-bin-path)/agentshop"

# Distinct review texts, so that nothing is deduplicated or cached on the first run.
rm -rf "$WORK"
mkdir -p "$WORK/lake/raw_data/imports/bench" "$WORK/project/pipelines"
cp bench/enrich/bench.yaml "$WORK/project/pipelines/bench.yaml"
python3 - "$COUNT" > "$WORK/lake/raw_data/imports/bench/reviews.jsonl" <<'PY'
import json, random, sys
random.seed(7)
good = ["great", "sturdy", "comfortable", "fast shipping", "excellent value", "works as described"]
bad = ["broke", "too small", "late", "flimsy", "disappointing", "smells odd"]
for i in range(int(sys.argv[1])):
    words = random.sample(good, 2) + random.sample(bad, 1)
    random.shuffle(words)
    print(json.dumps({"review_id": f"r{i:05d}", "stars": random.randint(1, 5),
                      "text": f"Review {i}: " + ", ".join(words) + ". " + "Bought it for a trip. " * random.randint(1, 4)}))
PY

python3 bench/enrich/fake_openai.py "$WORK/port" "$DELAY" &
FAKE=$!
trap 'kill $FAKE 2>/dev/null || true' EXIT
for _ in $(seq 50); do [ -s "$WORK/port" ] && break; sleep 0.1; done
PORT=$(cat "$WORK/port")
BASE="http://127.0.0.1:$PORT/v1"
stats() { python3 -c "import json,urllib.request;print(json.load(urllib.request.urlopen('http://127.0.0.1:$PORT/stats'))['requests'])"; }
reset() { python3 -c "import urllib.request;urllib.request.urlopen('http://127.0.0.1:$PORT/reset').read()"; }

export OPENAI_API_KEY=sk-bench-not-a-key LLM_OPENAI_BASE_URL="$BASE" LLM_OPENAI_MAX_CONCURRENCY="$CONCURRENCY"
ours() {
    /usr/bin/time -f "%e %U %S" -o "$WORK/time-$1.txt" \
        "$BIN" run "$WORK/project/pipelines/bench.yaml" --lake "$WORK/lake" --quiet ${2:-} >/dev/null
}

reset
ours first
OURS_CALLS=$(stats)
reset
/usr/bin/time -f "%e %U %S" -o "$WORK/time-python.txt" \
    bench/.venv/bin/python bench/enrich/openai_client.py "$BASE" "$WORK/lake/raw_data/imports/bench/reviews.jsonl" "$CONCURRENCY" \
    > "$WORK/python.json"
PY_CALLS=$(stats)
reset
ours rerun --force
RERUN_CALLS=$(stats)

STAMP=$(date -u +%Y%m%dT%H%M%SZ)
OPENAI_VERSION=$(bench/.venv/bin/python -c "import openai; print(openai.__version__)") \
python3 - "$WORK" "$COUNT" "$DELAY" "$CONCURRENCY" "$OURS_CALLS" "$PY_CALLS" "$RERUN_CALLS" "bench/results/enrich-$STAMP.md" <<'PY'
import glob, json, os, sys
work, count, delay, conc, ours_calls, py_calls, rerun_calls, report = sys.argv[1:]
count, delay, conc = int(count), float(delay), int(conc)
limit = conc / delay
def times(name):
    wall, user, system = map(float, open(f"{work}/time-{name}.txt").read().split()[-3:])
    return wall, user + system
manifests = sorted(glob.glob(f"{work}/lake/raw_data/logs/enrich-bench/*.manifest.json"))
runs = [json.load(open(m)) for m in manifests]
def stage(run):
    s = [x for x in run["stages"] if x["name"] == "scored"][0]
    return s, s["details"]["llm"]["totals"]
first, first_totals = stage(runs[0])
rerun, rerun_totals = stage(runs[-1])
wall, cpu = times("first")
rerun_wall, rerun_cpu = times("rerun")
py = json.loads(open(f"{work}/python.json").read())
py_wall, py_cpu = times("python")
ours_rps = count / (first["duration_ms"] / 1000)
py_rps = py["requests"] / py["seconds"]
lines = [
    f"# Enrich benchmark ({count} records, fake answers after {int(delay*1000)} ms, {conc} in flight: limit {limit:.0f} req/s)",
    "",
    "| | requests sent | req/s | x limit | wall s (process) | CPU s (process) | CPU ms / request |",
    "|---|---|---|---|---|---|---|",
    f"| agentshop enrich (release) | {ours_calls} | {ours_rps:.1f} | {ours_rps/limit:.2f} | {wall:.2f} | {cpu:.2f} | {cpu*1000/count:.2f} |",
    f"| openai {os.environ['OPENAI_VERSION']} AsyncOpenAI (Python) | {py_calls} | {py_rps:.1f} | {py_rps/limit:.2f} | {py_wall:.2f} | {py_cpu:.2f} (loop {py['cpu_seconds']:.2f}) | {py_cpu*1000/count:.2f} (loop {py['cpu_seconds']*1000/count:.2f}) |",
    f"| agentshop rerun (--force) | {rerun_calls} | - | - | {rerun_wall:.2f} | {rerun_cpu:.2f} | - |",
    "",
    f"Ours: stage {first['duration_ms']} ms, sent {first_totals['sent']}, cache hits {first_totals['cache_hits']}; "
    f"rerun: sent {rerun_totals['sent']}, cache hits {rerun_totals['cache_hits']}, stage {rerun['duration_ms']} ms.",
    "Ours per request: render the prompt, hash the cache key, send, parse, check the schema, write the cache entry"
    " (atomic), write the record (gzip), record the call. The Python client sends and parses the JSON answer only.",
]
text = "\n".join(lines) + "\n"
open(report, "w").write(text)
print(text)
PY
