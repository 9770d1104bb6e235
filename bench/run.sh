#!/usr/bin/env bash
# AgentShop benchmarks: release build, each compared side by side with its peer in the same run.
#
#   bench/run.sh            every benchmark
#   bench/run.sh noop gzip  the named ones
#
# noop  A no-op rerun (everything up to date) of a 10-stage pipeline over 1,000 input files,
#       against `dvc repro` on the equivalent dvc.yaml, and `agentshop plan` on it. Goal: < 100 ms.
# gzip  gzip JSON Lines write and read throughput on the same ~200 MB file, against `gzip -6`
#       and `zcat`. Goal: >= 0.8x of them.
#
# Peers are installed into bench/.venv (pip) only; nothing is installed into the product.
# Results are printed and appended to bench/results/<UTC date>.txt.
set -euo pipefail
cd "$(dirname "$0")/.."
root=$(pwd)
source scripts/setup.sh

work="$root/bench/work"
results="$root/bench/results"
mkdir -p "$work" "$results"
report="$results/$(date -u +%Y-%m-%d).txt"

echo "building release…" >&2
scratch=${SCRATCH:-.build}   # SCRATCH=.build-release to build elsewhere
swift build -c release --scratch-path "$scratch" --product agentshop >&2
swift build -c release --scratch-path "$scratch" --product agentshop-bench >&2
bin="$root/$scratch/release"

say() { echo "$*" | tee -a "$report"; }

# Milliseconds a command takes (its output discarded).
ms() {
    local start end
    start=$(date +%s%N)
    "$@" >/dev/null 2>&1
    end=$(date +%s%N)
    echo $(( (end - start) / 1000000 ))
}

# CPU milliseconds (user + sys) a command and its children take (its output discarded).
cpu_ms() {
    /usr/bin/time -f '%U %S' -o "$work/.cpu" "$@" >/dev/null 2>&1 || true
    awk '{printf "%d\n", ($1 + $2) * 1000}' "$work/.cpu"
}

# Median of numbers on stdin.
median() { sort -n | awk '{a[NR]=$1} END {print (NR % 2) ? a[(NR+1)/2] : int((a[NR/2] + a[NR/2+1]) / 2)}'; }

venv() {
    if [ ! -x "$root/bench/.venv/bin/python" ]; then
        python3 -m venv "$root/bench/.venv"
    fi
    for package in "$@"; do
        "$root/bench/.venv/bin/python" -c "import ${package//-/_}" 2>/dev/null \
            || "$root/bench/.venv/bin/pip" install -q "$package" >&2
    done
}

bench_noop() {
    venv dvc
    local dvc="$root/bench/.venv/bin/dvc"
    local dir="$work/noop"
    rm -rf "$dir"
    mkdir -p "$dir/ag/pipelines" "$dir/dvc/data"
    "$bin/agentshop" init "$dir/ag/datalake" --quiet --pipelines "$dir/ag/pipelines"
    mkdir -p "$dir/ag/datalake/raw_data/imports/bench"
    for i in $(seq -w 1 1000); do
        printf 'id,value\n%s,%s\n' "$i" "$((10#$i * 7))" > "$dir/ag/datalake/raw_data/imports/bench/part-$i.csv"
    done
    cp "$dir/ag/datalake/raw_data/imports/bench/"*.csv "$dir/dvc/data/"

    # The same 10 stages in both tools: concatenate the 1,000 files, then a chain of 9 copies.
    {
        echo "pipeline: noop"
        echo "stages:"
        echo "  s01:"
        echo "    command: { run: \"cat {in} > {out}\", from: \"raw_data/imports/bench/*.csv\" }"
        echo "    out: processed_data/exports/s01.csv"
        for i in $(seq 2 10); do
            printf '  s%02d:\n    command: { run: "cp {in} {out}", from: s%02d }\n    out: processed_data/exports/s%02d.csv\n' "$i" $((i - 1)) "$i"
        done
    } > "$dir/ag/pipelines/noop.yaml"
    {
        echo "stages:"
        echo "  s01:"
        echo "    cmd: cat data/*.csv > s01.csv"
        echo "    deps: [data]"
        echo "    outs: [s01.csv]"
        for i in $(seq 2 10); do
            printf '  s%02d:\n    cmd: cp s%02d.csv s%02d.csv\n    deps: [s%02d.csv]\n    outs: [s%02d.csv]\n' "$i" $((i - 1)) "$i" $((i - 1)) "$i"
        done
    } > "$dir/dvc/dvc.yaml"

    (cd "$dir/dvc" && "$dvc" init --no-scm -q && "$dvc" config core.analytics false && "$dvc" repro -q >/dev/null)
    (cd "$dir/ag" && "$bin/agentshop" run noop --quiet)

    local runs=10 ours=() theirs=() plans=() our_cpu=() their_cpu=() load_before load_after
    load_before=$(cut -d' ' -f1-3 /proc/loadavg)
    for _ in $(seq $runs); do
        ours+=("$(cd "$dir/ag" && ms "$bin/agentshop" run noop --quiet)")
        theirs+=("$(cd "$dir/dvc" && ms "$dvc" repro -q)")
        plans+=("$(cd "$dir/ag" && ms "$bin/agentshop" plan noop)")
        # CPU (user + sys) of one more rerun each, in ms.
        our_cpu+=("$(cd "$dir/ag" && cpu_ms "$bin/agentshop" run noop --quiet)")
        their_cpu+=("$(cd "$dir/dvc" && cpu_ms "$dvc" repro -q)")
    done
    load_after=$(cut -d' ' -f1-3 /proc/loadavg)
    # plan must say what run then does: every stage skipped, up to date.
    (cd "$dir/ag" && "$bin/agentshop" plan noop --json | grep -c '"reason" : "up to date"' | grep -qx 10) \
        || { echo "noop: agentshop plan does not say every stage is up to date" >&2; exit 1; }
    # Both must really have skipped everything.
    (cd "$dir/ag" && "$bin/agentshop" run noop --json | grep -c '"status" : "skipped"' | grep -qx 10) \
        || { echo "noop: agentshop did not skip all 10 stages" >&2; exit 1; }
    (cd "$dir/dvc" && "$dvc" status | grep -q "up to date") || { echo "noop: dvc is not up to date" >&2; exit 1; }

    local our_ms their_ms
    our_ms=$(printf '%s\n' "${ours[@]}" | median)
    their_ms=$(printf '%s\n' "${theirs[@]}" | median)
    say "noop rerun, 10 stages over 1,000 files (median of $runs)"
    say "  agentshop run      ${our_ms} ms"
    say "  dvc repro ($("$dvc" --version))  ${their_ms} ms"
    say "  speed-up           $(awk "BEGIN {printf \"%.1fx\", $their_ms / ($our_ms > 0 ? $our_ms : 1)}")   (goal: < 100 ms)"
    say "  agentshop plan     $(printf '%s\n' "${plans[@]}" | median) ms"
    say "  CPU user+sys       agentshop $(printf '%s\n' "${our_cpu[@]}" | median) ms, dvc $(printf '%s\n' "${their_cpu[@]}" | median) ms (medians)"
    say "  load average       before ${load_before}, after ${load_after}"
}

bench_gzip() {
    local dir="$work/gzip"
    mkdir -p "$dir"
    if [ ! -s "$dir/data.jsonl" ]; then
        python3 - "$dir/data.jsonl" <<'PY'
import json, random, sys
random.seed(42)
categories = ["shoes", "outdoor", "kitchen", "electronics", "books", "toys", "garden", "beauty"]
words = "great value quality poor fast slow sturdy cheap premium soft loud quiet bright light heavy".split()
with open(sys.argv[1], "w") as f:
    for i in range(1_200_000):
        f.write(json.dumps({
            "slug": f"product-{i}", "name": f"Product {i}", "category": random.choice(categories),
            "vendor": f"vendor-{random.randint(1, 500)}", "price": round(random.uniform(1, 500), 2),
            "currency": "USD", "rating": round(random.uniform(1, 5), 1),
            "sentiment": {"label": random.choice(["positive", "neutral", "negative"]), "score": round(random.uniform(-1, 1), 3)},
            "summary": " ".join(random.choice(words) for _ in range(8)),
        }) + "\n")
PY
    fi
    local size_mb
    size_mb=$(du -m "$dir/data.jsonl" | cut -f1)
    gzip -6 -c "$dir/data.jsonl" > "$dir/peer.jsonl.gz"

    best() { sort -n | head -1; }
    local w_ours=() w_peer=() r_ours=() r_peer=() j_ours=()
    for _ in 1 2 3; do
        w_ours+=("$(ms "$bin/agentshop-bench" gzip-write "$dir/data.jsonl" "$dir/ours.jsonl.gz")")
        w_peer+=("$(ms sh -c "gzip -6 -c '$dir/data.jsonl' > '$dir/peer.jsonl.gz'")")
        r_ours+=("$(ms "$bin/agentshop-bench" gzip-read "$dir/peer.jsonl.gz")")
        r_peer+=("$(ms sh -c "zcat '$dir/peer.jsonl.gz' > /dev/null")")
        j_ours+=("$(ms "$bin/agentshop-bench" jsonl-read "$dir/peer.jsonl.gz")")
    done
    # Our output must be real gzip with the same content.
    cmp <(zcat "$dir/ours.jsonl.gz") "$dir/data.jsonl" || { echo "gzip: our output differs from the input" >&2; exit 1; }

    local wo wp ro rp jo
    wo=$(printf '%s\n' "${w_ours[@]}" | best); wp=$(printf '%s\n' "${w_peer[@]}" | best)
    ro=$(printf '%s\n' "${r_ours[@]}" | best); rp=$(printf '%s\n' "${r_peer[@]}" | best)
    jo=$(printf '%s\n' "${j_ours[@]}" | best)
    rate() { awk "BEGIN {printf \"%.0f MB/s\", $size_mb / ($1 / 1000)}"; }
    ratio() { awk "BEGIN {printf \"%.2fx\", $2 / $1}"; }
    say "gzip JSON Lines, ${size_mb} MB uncompressed, $(wc -l < "$dir/data.jsonl") lines (best of 3)"
    say "  write  agentshop $(rate "$wo") (${wo} ms)   gzip -6 $(rate "$wp") (${wp} ms)   ours/peer $(ratio "$wo" "$wp")   (goal >= 0.8x)"
    say "  read   agentshop $(rate "$ro") (${ro} ms)   zcat    $(rate "$rp") (${rp} ms)   ours/peer $(ratio "$ro" "$rp")   (goal >= 0.8x)"
    say "  read + JSON parse of every record: agentshop $(rate "$jo") (${jo} ms)"
}

selected=("$@")
[ ${#selected[@]} -eq 0 ] && selected=(noop gzip)
say "== AgentShop benchmarks, $(date -u +%Y-%m-%dT%H:%M:%SZ), $(nproc) cores, $(swift --version 2>/dev/null | head -1)"
for name in "${selected[@]}"; do
    case "$name" in
        noop) bench_noop ;;
        gzip) bench_gzip ;;
        *) echo "unknown benchmark: $name (known: noop gzip)" >&2; exit 64 ;;
    esac
done
