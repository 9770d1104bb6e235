#!/usr/bin/env bash
# Appends to bench/floor/startup-order.txt (the symbol ordering file the release executable is linked with, see
# bench/floor/make_order.sh) the functions of the executable that a crawl and parse run and start-up does not: a
# `run` of bench/crawl/pipeline.yaml over a 100-product generated shop served on 127.0.0.1, capped at 120 pages,
# under valgrind's callgrind. Laid out together behind the start-up functions, a crawl's code faults in fewer
# 64 KB windows of the executable (3-4 MB less resident at a crawl's peak: bench/CRAWL_RESULTS.md, "Peak RSS").
#
#   bench/crawl/make_crawl_order.sh          release build in SCRATCH (default .build-release)
#   BIN=/path/to/agentshop bench/crawl/make_crawl_order.sh
#
# Run it after bench/floor/make_order.sh, which rewrites the file with the start-up functions only; a second
# run adds nothing (only functions not yet listed are appended, sorted).
set -euo pipefail
cd "$(dirname "$0")/../.."
root=$(pwd)
SCRATCH=${SCRATCH:-.build-release}
BIN=${BIN:-$root/$SCRATCH/release/agentshop}
ORDER=${ORDER:-$root/bench/floor/startup-order.txt}
work="$root/bench/work/crawl-order"
rm -rf "$work"; mkdir -p "$work/project/pipelines"
# valgrind 3.19 cannot read the DWARF 5 debug info: trace a copy without it (same code, same symbols).
objcopy --strip-debug "$BIN" "$work/agentshop"
python3 scripts/make_fixture_site.py "$work/site" --count 100 --per-page 10 --pad 20000 >/dev/null
python3 - "$work/site/site" "$work/port" <<'PY' &
import functools, http.server, sys
class Server(http.server.ThreadingHTTPServer):
    request_queue_size = 128  # 16 requests at once: the default backlog of 5 stalls them
class Quiet(http.server.SimpleHTTPRequestHandler):
    def log_message(self, *args):
        pass
server = Server(("127.0.0.1", 0), functools.partial(Quiet, directory=sys.argv[1]))
open(sys.argv[2], "w").write(str(server.server_address[1]))
server.serve_forever()
PY
server=$!
trap 'kill $server 2>/dev/null || true' EXIT
for _ in $(seq 50); do [ -s "$work/port" ] && break; sleep 0.1; done
sed 's/max_pages: 1000000/max_pages: 120/' bench/crawl/pipeline.yaml > "$work/project/pipelines/crawl-bench.yaml"
cd "$work/project"
"$work/agentshop" init datalake --quiet >/dev/null
CRAWL_BENCH_START="http://127.0.0.1:$(cat "$work/port")/list/page-1.html" \
    valgrind --tool=callgrind --demangle=no --dump-instr=no --callgrind-out-file="$work/cg.crawl" \
    "$work/agentshop" run crawl-bench --lake datalake --json >"$work/run.json" 2>"$work/valgrind.log"
grep -q '"status" : "succeeded"' "$work/run.json" || { echo "the traced crawl did not succeed: $work" >&2; exit 1; }
python3 - "$work/agentshop" "$work/cg.crawl" "$ORDER" <<PY
import sys
sys.path.insert(0, "$root/bench/floor")
from callgrind_functions import functions
binary, trace, order_file = sys.argv[1:4]
listed = set(open(order_file).read().split("\\n"))
new = {fn for fn in functions(trace, binary) if fn not in listed}
with open(order_file, "a") as f:
    f.writelines(fn + "\\n" for fn in sorted(new))
print(f"{len(new)} functions of a crawl appended to {order_file}", file=sys.stderr)
PY
