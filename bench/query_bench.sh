#!/usr/bin/env bash
# Query benchmark (issue #19): `agentshop query` against DuckDB on one GROUP BY over 2,000,000
# enriched product records, from plain JSONL and from JSONL.gz, side by side in one run.
#
#   agentshop  agentshop query "SELECT category, count(*) … FROM 'raw_data/imports/bench/x.jsonl' GROUP BY …"
#   DuckDB     the same SELECT over read_json_auto(…), from bench/.venv (pip, as scripts/analyst_tools.sh)
#
# For each run: wall seconds, CPU seconds (user + system) and peak RSS from /usr/bin/time -v, and
# the 1-minute load average just before it (the machine is shared: CPU seconds are the steadier
# figure). The answers of the two are checked against each other (groups and counts exact,
# averages and extremes to 1e-9 relative).
#
#   bench/query_bench.sh                       RECORDS=200000 for a quick run, ROUNDS=3 for medians
#   SCRATCH=.build-x bench/query_bench.sh      build folder (default .build)
#   BEFORE=/path/to/old/agentshop bench/query_bench.sh   also time an older binary (cold, then again)
#   TOOLS="agentshop-cold agentshop-survey" bench/query_bench.sh   only these agentshop runs
#   LAKE_SHOW=1 bench/query_bench.sh           also time `lake show --where` (a narrow filter, CSV out)
#   NO_BUILD=1 bench/query_bench.sh            use the binary already built
#
# Results are printed and appended to bench/results/<UTC date>.txt; bench/QUERY_RESULTS.md holds
# the figures of record.
set -euo pipefail
cd "$(dirname "$0")/.."
root=$(pwd)
records=${RECORDS:-2000000}
rounds=${ROUNDS:-1}
work="$root/bench/work/query"
results="$root/bench/results"
mkdir -p "$work" "$results"
report="$results/$(date -u +%Y-%m-%d).txt"
say() { echo "$*" | tee -a "$report"; }

if [ ! -x "$root/bench/.venv/bin/python" ]; then python3 -m venv "$root/bench/.venv"; fi
py="$root/bench/.venv/bin/python"
"$py" -c "import duckdb" 2>/dev/null || "$py" -m pip install -q 'duckdb>=1.1' >&2

scratch=${SCRATCH:-.build}
if [ -z "${NO_BUILD:-}" ]; then
    echo "building release…" >&2
    swift build -c release --scratch-path "$scratch" --product agentshop >&2
fi
bin="$root/$scratch/release/agentshop"

plain="$work/enriched-$records.jsonl"
if [ ! -s "$plain" ]; then
    echo "generating $records records…" >&2
    # The aggregate benchmark's records: 10 categories, 500 vendors, ~1% of prices and ~5% of
    # ratings missing (null or absent), a nested sentiment object.
    "$py" - "$records" "$plain.tmp" <<'PY'
import json, random, sys
n, path = int(sys.argv[1]), sys.argv[2]
rng = random.Random(20261125)
categories = ["shoes", "outdoor", "kitchen", "electronics", "books", "toys", "garden", "beauty", "sports", "office"]
words = "great value quality poor fast slow sturdy cheap premium soft loud quiet bright light heavy".split()
labels = ["positive", "neutral", "negative"]
with open(path, "w") as f:
    for i in range(n):
        r = rng.random()
        price = None if r < 0.01 else round(rng.uniform(1, 500), 2)
        record = {
            "slug": f"product-{i}", "name": f"Product {i} {rng.choice(words)} {rng.choice(words)}",
            "category": rng.choice(categories), "vendor": f"vendor-{rng.randint(1, 500):03d}",
            "price": price, "currency": "USD", "in_stock": rng.random() < 0.8,
            "sentiment": {"label": rng.choice(labels), "score": round(rng.uniform(-1, 1), 3)},
            "summary": " ".join(rng.choice(words) for _ in range(8)),
            "enriched_at": "2026-11-25T03:00:00Z",
        }
        r = rng.random()
        if r >= 0.05:
            record["rating"] = round(rng.uniform(1, 5), 1)
        elif r >= 0.025:
            record["rating"] = None
        f.write(json.dumps(record) + "\n")
PY
    mv "$plain.tmp" "$plain"
fi
gz="$plain.gz"
if [ ! -s "$gz" ]; then gzip -6 -c "$plain" > "$gz.tmp" && mv "$gz.tmp" "$gz"; fi

# A lake holding both files.
lake="$work/lake"
mkdir -p "$lake/raw_data/imports/bench"
for f in "$plain" "$gz"; do
    name="enriched.jsonl${f##*.jsonl}"
    ln -f "$f" "$lake/raw_data/imports/bench/$name" 2>/dev/null || cp "$f" "$lake/raw_data/imports/bench/$name"
done

select_list="category, count(*) AS n, count(price) AS priced, avg(price) AS avg_price, min(price) AS min_price,
             max(price) AS max_price, avg(rating) AS avg_rating"
tail_sql="GROUP BY category ORDER BY category"

# "wall cpu peak_mb" of a command, from /usr/bin/time -v.
measure() {
    local log="$work/time.log"
    /usr/bin/time -v -o "$log" "$@" >"$work/out.csv" 2>"$work/stderr.log" || { cat "$work/stderr.log" "$log" >&2; return 1; }
    awk -F': ' '
        /Elapsed \(wall clock\)/ { n = split($2, p, ":"); wall = (n == 3) ? p[1] * 3600 + p[2] * 60 + p[3] : p[1] * 60 + p[2] }
        /User time/ { user = $2 } /System time/ { sys = $2 } /Maximum resident/ { rss = $2 }
        END { printf "%.2f %.2f %.0f\n", wall, user + sys, rss / 1024 }' "$log"
}
load() { cut -d' ' -f1 /proc/loadavg; }

cat > "$work/duck.py" <<'PY'
import duckdb, sys
path, select_list, tail_sql = sys.argv[1:]
con = duckdb.connect()
rows = con.execute(f"SELECT {select_list} FROM read_json_auto('{path}', format='newline_delimited') {tail_sql}").fetchall()
print("category,n,priced,avg_price,min_price,max_price,avg_rating")
for row in rows:
    print(",".join("" if v is None else repr(v) if isinstance(v, float) else str(v) for v in row))
PY

say "query bench $(date -u +%FT%TZ): $records records, $(du -m "$plain" | cut -f1) MB plain, $(du -m "$gz" | cut -f1) MB gzip; $(nproc) cores"
say "$(printf '%-24s %-6s %8s %8s %8s %6s' tool input wall_s cpu_s peak_MB load1)"
check() {  # the answer just written against DuckDB's for the same input
    "$py" - "$work/out.csv" "$work/duck-$1.csv" <<'PY'
import csv, math, sys
def rows(path):
    with open(path) as f:
        return {r["category"]: r for r in csv.DictReader(f)}
ours, duck = rows(sys.argv[1]), rows(sys.argv[2])
assert ours.keys() == duck.keys(), f"groups differ: {sorted(ours)} vs {sorted(duck)}"
for key, a in ours.items():
    b = duck[key]
    for col in ("n", "priced"):
        assert int(a[col]) == int(b[col]), f"{key}.{col}: {a[col]} vs {b[col]}"
    for col in ("avg_price", "min_price", "max_price", "avg_rating"):
        x, y = float(a[col]), float(b[col])
        assert math.isclose(x, y, rel_tol=1e-9), f"{key}.{col}: {x} vs {y}"
PY
}
for round in $(seq 1 "$rounds"); do
    for input in jsonl jsonl.gz; do
        file="raw_data/imports/bench/enriched.$input"
        l=$(load)
        read -r s c m < <(measure "$py" "$work/duck.py" "$lake/$file" "$select_list" "$tail_sql")
        cp "$work/out.csv" "$work/duck-$input.csv"
        say "$(printf '%-24s %-6s %8s %8s %8s %6s' "duckdb $("$py" -c 'import duckdb; print(duckdb.__version__)')" "$input" "$s" "$c" "$m" "$l")"
        for tool in ${TOOLS:-agentshop-cold agentshop agentshop-survey agentshop-cached agentshop-copy} ${BEFORE:+before-cold before}; do
            b=$bin; case $tool in before*) b=$BEFORE ;; esac
            # agentshop-cold: no schema cache, the first query over a file (its columns from the
            # first 20,480 records; the scan confirms the types of the columns it reads);
            # agentshop: the same query again (nothing was cached: the same path).
            case $tool in agentshop-cold|before-cold) rm -rf "$lake/.agentshop/query" ;; esac
            # agentshop-survey: the file surveyed whole first, then the query: the path every first
            # query took before prefixes (survey + scan), timed as `query --schema` (a whole survey,
            # which fills the schema cache) then the query over the cached columns, in one shell.
            # agentshop-cached: the whole file's columns in the schema cache (filled by
            # `query --schema`, not timed): one scan, nothing to confirm.
            where=""
            if [ "$tool" = agentshop-cached ]; then
                rm -rf "$lake/.agentshop/query"
                "$bin" query --lake "$lake" --schema "SELECT category FROM '$file'" >/dev/null
            fi
            # agentshop-copy: the same query with a scalar subquery over the same dataset, so that
            # its plan has two loops and the loader copies the records into a table first: the
            # path every query took before the virtual tables (with the newer schema scan).
            [ "$tool" = agentshop-copy ] && where="WHERE rowid > (SELECT -1 FROM '$file' LIMIT 1)"
            run=("$b" query --lake "$lake" --format csv "SELECT $select_list FROM '$file' $where $tail_sql")
            if [ "$tool" = agentshop-survey ]; then
                rm -rf "$lake/.agentshop/query"
                run=(sh -c '"$1" query --lake "$2" --schema "SELECT category FROM '"'"'$3'"'"'" >/dev/null && shift 3 && exec "$@"' \
                     survey "$b" "$lake" "$file" "${run[@]}")
            fi
            l=$(load)
            read -r s c m < <(measure "${run[@]}")
            check "$input"
            say "$(printf '%-24s %-6s %8s %8s %8s %6s' "$tool" "$input" "$s" "$c" "$m" "$l")"
        done
    done
done

# `lake show --where` over the same files: a narrow filter (about 1 record in 5,000), CSV out, so
# every record is read and parsed; before the columns of the kept records came from a first pass
# and a second pass printed them (gzip inflated on the parse's thread).
if [ -n "${LAKE_SHOW:-}" ]; then
    for input in jsonl jsonl.gz; do
        file="raw_data/imports/bench/enriched.$input"
        for tool in agentshop-show ${BEFORE:+before-show}; do
            b=$bin; [ "$tool" = before-show ] && b=$BEFORE
            l=$(load)
            read -r s c m < <(measure "$b" lake show --lake "$lake" "$file" --format csv --head 0 --where "price > 499.9")
            say "$(printf '%-24s %-6s %8s %8s %8s %6s' "$tool" "$input" "$s" "$c" "$m" "$l") ($(($(wc -l < "$work/out.csv") - 1)) records)"
        done
    done
fi
