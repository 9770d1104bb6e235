#!/usr/bin/env bash
# Regenerates bench/floor/startup-order.txt, the symbol ordering file the release executable is linked
# with (lld --symbol-ordering-file, Package.swift): the functions of the agentshop executable that a few
# short commands run (`--version`, `stages`, `validate`, `run` of a two-stage pipeline, `lake ls`), found
# with valgrind's callgrind (every function that ran an instruction, mangled names), so that the code run
# at start sits in a few 64 KB fault-around windows instead of ~190 (bench/FLOOR_RESULTS.md).
#
#   bench/floor/make_order.sh               release build in SCRATCH (default .build-release)
#   BIN=/path/to/agentshop bench/floor/make_order.sh
set -euo pipefail
cd "$(dirname "$0")/../.."
root=$(pwd)
SCRATCH=${SCRATCH:-.build-release}
BIN=${BIN:-$root/$SCRATCH/release/agentshop}
work="$root/bench/work/floor-order"
rm -rf "$work"; mkdir -p "$work/project/pipelines"
# valgrind 3.19 cannot read the DWARF 5 debug info: trace a copy without it (same code, same symbols).
objcopy --strip-debug "$BIN" "$work/agentshop"
BIN="$work/agentshop"
cd "$work/project"
"$BIN" init >/dev/null
cat > pipelines/tiny.yaml <<'YAML'
pipeline: tiny
stages:
  products:
    import: { from: raw_data/imports/example/products.csv }
    out: scraped_data/products/dt={run_date}/part.jsonl.gz
  by_category:
    aggregate: { from: products, group_by: [category], measures: { products: count() } }
    out: processed_data/aggregations/tiny/dt={run_date}/part.csv
YAML
n=0
trace() {
    n=$((n + 1))
    valgrind --tool=callgrind --demangle=no --dump-instr=no --callgrind-out-file="$work/cg.$n" \
        "$BIN" "$@" >/dev/null 2>"$work/valgrind.$n.log" || true
}
trace --version
trace stages
trace validate pipelines/tiny.yaml
trace run tiny
trace lake ls
python3 - "$BIN" "$work"/cg.1 "$work"/cg.2 "$work"/cg.3 "$work"/cg.4 "$work"/cg.5 > "$root/bench/floor/startup-order.txt" <<PY
import sys
sys.path.insert(0, "$root/bench/floor")
from callgrind_functions import functions
seen, order = set(), []
for path in sys.argv[2:]:  # the functions of --version first, then those each next command adds, each group sorted
    new = [fn for fn in functions(path, sys.argv[1]) if fn not in seen]
    seen.update(new)
    order += sorted(new)
print("\\n".join(order))
PY
echo "$(wc -l < "$root/bench/floor/startup-order.txt") functions -> bench/floor/startup-order.txt" >&2
