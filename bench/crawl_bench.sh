#!/usr/bin/env bash
# Crawl-and-parse benchmark: AgentShop (fetch + parse stages, release build) against Scrapy on the
# same generated shop, served by nginx on 127.0.0.1, in the same run, at concurrency 16 with
# politeness off (no per-host limit, no delay, robots.txt not fetched).
#
#   bench/crawl_bench.sh                 # 5,000 product pages (+ 500 listing pages), ~25 KB each
#   COUNT=500 bench/crawl_bench.sh       # a quick look
#   ROUNDS=3 bench/crawl_bench.sh        # alternate the two tools 3 times; the report has each round and the median
#   bench/crawl_bench.sh serve           # only serve the site (to profile one tool by hand); Ctrl-C stops nginx
#
# Both tools start at the first listing page, follow a.next (pagination) and a.product (product
# pages), and extract url, name, price, sku, brand, rating and stock from each product page
# (bench/crawl/pipeline.yaml, bench/crawl/shop_spider.py). Measured per tool with /usr/bin/time -v:
# wall seconds, pages/s, CPU seconds (user + sys), peak RSS; then the records of both are compared
# (bench/crawl/compare_records.py) and AgentShop's WARC is checked with warcio (bench/check_warc.py).
#
# Installs what is missing: nginx (Debian package; needs root or sudo, once), Scrapy and warcio into
# bench/.venv. nginx runs as the invoking user with its own config and prefix under bench/work/crawl
# and is stopped when the script exits. Results: bench/results/crawl-<UTC time>.md (ignored by git);
# the last recorded figures are in bench/CRAWL_RESULTS.md.
set -euo pipefail
cd "$(dirname "$0")/.."
root=$(pwd)
COUNT=${COUNT:-5000}
PER_PAGE=${PER_PAGE:-10}
PAD=${PAD:-20000}
ROUNDS=${ROUNDS:-1}
SCRATCH=${SCRATCH:-.build-release}
WORK="$root/bench/work/crawl"
SITE="$WORK/site-$COUNT-$PER_PAGE-$PAD"
STAMP=$(date -u +%Y%m%dT%H%M%SZ)
RUNS="$WORK/runs-$STAMP"
REPORT="$root/bench/results/crawl-$STAMP.md"
mkdir -p "$WORK" "$root/bench/results"
[ "${1:-}" = serve ] || mkdir -p "$RUNS"

say() { echo "crawl_bench: $*" >&2; }

# --- tools -------------------------------------------------------------------------------------
NGINX=$(command -v nginx || true)
[ -z "$NGINX" ] && [ -x /usr/sbin/nginx ] && NGINX=/usr/sbin/nginx
if [ -z "$NGINX" ]; then
    say "installing nginx (Debian package nginx-light)"
    SUDO=""; [ "$(id -u)" -ne 0 ] && SUDO=sudo
    $SUDO apt-get update -qq
    DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq -o DPkg::Lock::Timeout=600 nginx-light >/dev/null
    NGINX=/usr/sbin/nginx
fi
if [ ! -x /usr/bin/time ]; then
    say "installing GNU time (for peak RSS)"
    SUDO=""; [ "$(id -u)" -ne 0 ] && SUDO=sudo
    DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq -o DPkg::Lock::Timeout=600 time >/dev/null
fi
[ -x bench/.venv/bin/python ] || python3 -m venv bench/.venv
bench/.venv/bin/python -c "import scrapy, warcio" 2>/dev/null \
    || bench/.venv/bin/pip install --quiet --disable-pip-version-check scrapy warcio
PY="$root/bench/.venv/bin/python"

# --- the site ----------------------------------------------------------------------------------
if [ ! -f "$SITE/truth.jsonl" ] || [ "$(wc -l < "$SITE/truth.jsonl")" -ne "$COUNT" ]; then
    say "generating $COUNT product pages into $SITE"
    rm -rf "$SITE"
    python3 scripts/make_fixture_site.py "$SITE" --count "$COUNT" --per-page "$PER_PAGE" --pad "$PAD" >/dev/null
fi

# --- AgentShop, release --------------------------------------------------------------------------
if [ "${1:-}" != serve ]; then
    say "building agentshop (release)"
    swift build -c release --scratch-path "$SCRATCH" --product agentshop >&2
    BIN="$(swift build -c release --scratch-path "$SCRATCH" --show-bin-path)/agentshop"
fi

# --- nginx on 127.0.0.1 ------------------------------------------------------------------------
PORT=$(python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
PREFIX="$WORK/nginx-$$"   # per script run, so that two runs (a serve and a bench) never share a pid file
rm -rf "$PREFIX"
mkdir -p "$PREFIX/logs" "$PREFIX/tmp"
USER_LINE=""
[ "$(id -u)" -eq 0 ] && USER_LINE="user root;"   # workers read the site as the invoking user
cat > "$PREFIX/nginx.conf" <<EOF
$USER_LINE
worker_processes 1;
daemon on;
pid $PREFIX/nginx.pid;
error_log $PREFIX/logs/error.log warn;
events { worker_connections 1024; }
http {
    include /etc/nginx/mime.types;
    default_type application/octet-stream;
    access_log off;
    sendfile on;
    tcp_nopush on;
    keepalive_timeout 65;
    keepalive_requests 100000;
    open_file_cache max=20000 inactive=60s;
    client_body_temp_path $PREFIX/tmp/body;
    proxy_temp_path $PREFIX/tmp/proxy;
    fastcgi_temp_path $PREFIX/tmp/fastcgi;
    uwsgi_temp_path $PREFIX/tmp/uwsgi;
    scgi_temp_path $PREFIX/tmp/scgi;
    server {
        listen 127.0.0.1:$PORT;
        root $SITE/site;
    }
}
EOF
stop_nginx() {
    if [ -f "$PREFIX/nginx.pid" ]; then
        "$NGINX" -p "$PREFIX" -c "$PREFIX/nginx.conf" -e "$PREFIX/logs/error.log" -s quit 2>/dev/null || true
        sleep 0.3
        [ -f "$PREFIX/nginx.pid" ] && kill "$(cat "$PREFIX/nginx.pid")" 2>/dev/null || true
    fi
    rm -rf "$PREFIX"
    [ -n "${SLEEPER:-}" ] && kill "$SLEEPER" 2>/dev/null || true
}
trap stop_nginx EXIT
trap 'exit 130' INT TERM
"$NGINX" -p "$PREFIX" -c "$PREFIX/nginx.conf" -e "$PREFIX/logs/error.log"
BASE="http://127.0.0.1:$PORT"
START="$BASE/list/page-1.html"
for _ in $(seq 50); do curl -sf -o /dev/null "$START" && break; sleep 0.1; done
curl -sf -o /dev/null "$START" || { say "nginx does not answer on $BASE"; cat "$PREFIX/logs/error.log" >&2; exit 1; }
say "nginx $("$NGINX" -v 2>&1 | sed 's/.*\///') serving $SITE/site on $BASE"
# Same page cache for both tools: read every file once before the first run.
find "$SITE/site" -type f -exec cat {} + > /dev/null
if [ "${1:-}" = serve ]; then
    say "first listing page: $START (CRAWL_BENCH_START for bench/crawl/pipeline.yaml); Ctrl-C stops nginx"
    echo "$START" > "$WORK/serving.txt"
    # wait, not a foreground sleep: bash runs the traps (and stops nginx) as soon as a signal comes.
    while true; do sleep 3600 & SLEEPER=$!; wait $SLEEPER; done
fi

# --- runs --------------------------------------------------------------------------------------
run_scrapy() {
    local dir=$1
    mkdir -p "$dir"
    cut -d' ' -f1 /proc/loadavg > "$dir/load.txt"
    (cd "$dir" && /usr/bin/time -v -o time.txt "$root/bench/.venv/bin/scrapy" runspider "$root/bench/crawl/shop_spider.py" \
        -a start="$START" -a stats=stats.json -O products.jsonl:jsonlines > stdout.txt 2> log.txt)
}

run_agentshop() {
    local dir=$1
    mkdir -p "$dir/pipelines"
    cut -d' ' -f1 /proc/loadavg > "$dir/load.txt"
    cp bench/crawl/pipeline.yaml "$dir/pipelines/crawl-bench.yaml"
    (cd "$dir" && "$BIN" init datalake --quiet > /dev/null \
        && CRAWL_BENCH_START="$START" /usr/bin/time -v -o time.txt "$BIN" run crawl-bench --lake datalake --json \
            > manifest.json 2> log.txt)
}

for round in $(seq "$ROUNDS"); do
    say "round $round/$ROUNDS: Scrapy"
    run_scrapy "$RUNS/scrapy-$round" || { say "Scrapy failed: $RUNS/scrapy-$round/log.txt"; tail -20 "$RUNS/scrapy-$round/log.txt" >&2; exit 1; }
    say "round $round/$ROUNDS: AgentShop"
    run_agentshop "$RUNS/agentshop-$round" || { say "AgentShop failed: $RUNS/agentshop-$round/log.txt"; tail -20 "$RUNS/agentshop-$round/log.txt" >&2; exit 1; }
done

# --- checks and report ---------------------------------------------------------------------------
last="$RUNS/agentshop-$ROUNDS/datalake"
OURS=$(find "$last/scraped_data/products" -name 'products.jsonl.gz' | head -1)
WARC=$(find "$last/scraped_data/products" -name 'pages.warc.gz' | head -1)
status=0
"$PY" bench/crawl/compare_records.py "$OURS" "$RUNS/scrapy-$ROUNDS/products.jsonl" --expect "$COUNT" \
    --fields name,price,sku,brand,rating,stock --json "$RUNS/compare.json" > "$RUNS/compare.txt" || status=1
"$PY" bench/check_warc.py "$WARC" > "$RUNS/warc.txt" || status=1
"$PY" bench/crawl/report.py --runs "$RUNS" --rounds "$ROUNDS" --count "$COUNT" --per-page "$PER_PAGE" --pad "$PAD" \
    --site "$SITE/site" --nginx "$("$NGINX" -v 2>&1 | sed 's/.*\///')" > "$REPORT"
cat "$REPORT"
say "report: $REPORT"
exit $status
