#!/usr/bin/env bash
# Store dump/restore benchmark: AgentShop (release build) against the sqlite3 shell, same run,
# same machine, same database.
#
#   bench/store_bench.sh            # 1,000,000 product rows (~200 MB store)
#   ROWS=100000 REPEAT=1 bench/store_bench.sh
#
# Each figure is the best of REPEAT wall-clock runs. Ours includes what the CLI pipelines do not:
# sha256 + sidecar on dump; checksum, integrity_check, foreign_key_check, row counts and the
# atomic swap on restore.
set -euo pipefail

ROWS=${ROWS:-1000000}
REPEAT=${REPEAT:-2}
ROOT=$(cd "$(dirname "$0")/.." && pwd)
WORK=${WORK:-$ROOT/bench/work/store}
RESULTS=$ROOT/bench/results
cd "$ROOT"

if ! command -v sqlite3 >/dev/null; then
    echo "installing the sqlite3 shell" >&2
    (apt-get install -y sqlite3 || sudo apt-get install -y sqlite3) >/dev/null
fi

swift build -c release --scratch-path "$ROOT/.build-bench" --product store-bench >&2
BIN=$ROOT/.build-bench/release/store-bench

rm -rf "$WORK"
mkdir -p "$WORK" "$RESULTS"
DB=$WORK/store.sqlite

now() { date +%s.%N; }
# best LABEL CMD...: runs CMD REPEAT times (after `reset`, if defined), prints the best seconds.
best() {
    local label=$1; shift
    local best_time=""
    for _ in $(seq "$REPEAT"); do
        reset_step
        local start end
        start=$(now)
        "$@" >/dev/null
        end=$(now)
        best_time=$(python3 -c "import sys; a=float(sys.argv[1]); b=sys.argv[2]; print(f'{a:.3f}' if b=='' else f'{min(a, float(b)):.3f}')" "$(python3 -c "print($end - $start)")" "$best_time")
    done
    printf '%-38s %8ss\n' "$label" "$best_time" | tee -a "$OUT" >&2
    eval "T_$(echo "$label" | tr -c 'a-zA-Z0-9\n' '_')=$best_time"
}
reset_step() { :; }
size() { stat -c %s "$1"; }

OUT=$RESULTS/store_bench-$(date -u +%Y%m%dT%H%M%SZ).txt
{
    echo "store benchmark $(date -u +%Y-%m-%dT%H:%M:%SZ), ROWS=$ROWS, REPEAT=$REPEAT"
    echo "sqlite3 $(sqlite3 --version | cut -d' ' -f1), $(nproc) cores, $(uname -sr)"
} | tee "$OUT" >&2

start=$(now); "$BIN" populate "$DB" "$ROWS"; end=$(now)
printf 'populate %d products: %.1fs, store %s bytes\n' "$ROWS" "$(python3 -c "print($end - $start)")" "$(size "$DB")" | tee -a "$OUT" >&2

# --- dump, binary snapshot
reset_step() { rm -rf "$WORK/ours-bin" "$WORK/cli.backup.sqlite" "$WORK/cli.sqlite.gz"; }
best "dump sqlite.gz   ours"  "$BIN" dump "$DB" "$WORK/ours-bin" sqlite
OURS_BIN=$(ls "$WORK"/ours-bin/*.sqlite.gz)
cp "$OURS_BIN" "$OURS_BIN.json" "$WORK/"
OURS_BIN=$WORK/$(basename "$OURS_BIN")
best "dump sqlite.gz   cli .backup+gzip -6" sh -c "sqlite3 '$DB' \".backup '$WORK/cli.backup.sqlite'\" && gzip -6 -c '$WORK/cli.backup.sqlite' > '$WORK/cli.sqlite.gz'"

# --- dump, SQL text
reset_step() { rm -rf "$WORK/ours-sql" "$WORK/cli.sql.gz"; }
best "dump sql.gz      ours"  "$BIN" dump "$DB" "$WORK/ours-sql" sql
OURS_SQL=$(ls "$WORK"/ours-sql/*.sql.gz)
cp "$OURS_SQL" "$OURS_SQL.json" "$WORK/"
OURS_SQL=$WORK/$(basename "$OURS_SQL")
best "dump sql.gz      cli .dump|gzip -6" sh -c "sqlite3 '$DB' .dump | gzip -6 > '$WORK/cli.sql.gz'"

# --- restore, binary snapshot
reset_step() { rm -f "$WORK"/restored*; }
best "restore sqlite.gz ours" "$BIN" restore "$OURS_BIN" "$WORK/restored-bin.sqlite"
best "restore sqlite.gz cli zcat>file" sh -c "zcat '$WORK/cli.sqlite.gz' > '$WORK/restored-cli-bin.sqlite'"
# What ours checks, done with the shell: checksum, decompress, integrity_check, foreign_key_check.
best "restore sqlite.gz cli verified" sh -c "sha256sum '$WORK/cli.sqlite.gz' >/dev/null && zcat '$WORK/cli.sqlite.gz' > '$WORK/restored-cli-bin.sqlite' && sqlite3 '$WORK/restored-cli-bin.sqlite' 'PRAGMA integrity_check; PRAGMA foreign_key_check;'"

# --- restore, SQL text
best "restore sql.gz   ours" "$BIN" restore "$OURS_SQL" "$WORK/restored-sql.sqlite"
best "restore sql.gz   cli zcat|sqlite3" sh -c "zcat '$WORK/cli.sql.gz' | sqlite3 '$WORK/restored-cli-sql.sqlite'"

{
    echo "sizes: ours sqlite.gz $(size "$OURS_BIN"), cli sqlite.gz $(size "$WORK/cli.sqlite.gz"), ours sql.gz $(size "$OURS_SQL"), cli sql.gz $(size "$WORK/cli.sql.gz")"
    python3 - "$OUT" <<'PY'
import re, sys
t = {}
for line in open(sys.argv[1]):
    m = re.match(r'^(\S+ \S+)\s+(ours|cli)\b(.*?)([\d.]+)s$', line.strip())
    if m:
        key = (m.group(1), m.group(2) + (" verified" if "verified" in m.group(3) else ""))
        t[key] = float(m.group(4))
for step in ["dump sqlite.gz", "dump sql.gz", "restore sqlite.gz", "restore sql.gz"]:
    if (step, "ours") in t and (step, "cli") in t and t[(step, "cli")] > 0:
        print(f"ratio {step:18s} ours/cli = {t[(step, 'ours')] / t[(step, 'cli')]:.2f}x")
    if (step, "cli verified") in t:
        print(f"ratio {step:18s} ours/cli verified = {t[(step, 'ours')] / t[(step, 'cli verified')]:.2f}x")
PY
} | tee -a "$OUT" >&2
echo "results: $OUT" >&2
