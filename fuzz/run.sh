#!/usr/bin/env bash
# Coverage-guided fuzzing of AgentShop's parsers with libFuzzer (+ AddressSanitizer).
#
#   fuzz/run.sh                    # every target for 600 s each
#   SECONDS_PER_TARGET=60 fuzz/run.sh css_selector money
#
# Seeds come from fuzz/corpus/<target>/ (kept in git); the growing corpus lives in
# fuzz/work/<target>/ and crashing inputs land in fuzz/work/artifacts/<target>/. Copy a crashing
# input to fuzz/regressions/<target>/ once it is fixed: FuzzRegressionTests replays it in every
# test run. A summary line per target (executions, corpus size, crashes) goes to
# fuzz/work/summary.txt.
set -uo pipefail

ROOT=$(cd "$(dirname "$0")/.." && pwd)
SECONDS_PER_TARGET=${SECONDS_PER_TARGET:-600}
WORK=$ROOT/fuzz/work
ALL=(css_selector pipeline_yaml html_extract jsonl csv warc cron money gzip)
TARGETS=("${@:-${ALL[@]}}")

# target name -> executable product of fuzz/Package.swift
product() {
    case $1 in
        css_selector) echo FuzzCSSSelector ;; pipeline_yaml) echo FuzzPipelineYAML ;;
        html_extract) echo FuzzHTMLExtract ;; jsonl) echo FuzzJSONL ;; csv) echo FuzzCSV ;;
        warc) echo FuzzWARC ;; cron) echo FuzzCron ;; money) echo FuzzMoney ;; gzip) echo FuzzGzip ;;
        *) echo "unknown target $1 (one of: ${ALL[*]})" >&2; exit 64 ;;
    esac
}

cd "$ROOT/fuzz"
# A crash is reported by libFuzzer and ASan; the Swift runtime's own backtracer only adds noise under ASan.
export SWIFT_BACKTRACE=enable=no
echo "building the fuzz targets (release, -sanitize=fuzzer,address)" >&2
swift build -c release --scratch-path "$ROOT/.build-fuzz" \
    -Xswiftc -sanitize=fuzzer,address -Xswiftc -parse-as-library >&2 || exit 1
BIN=$ROOT/.build-fuzz/release

mkdir -p "$WORK"
status=0
for target in "${TARGETS[@]}"; do
    exe=$BIN/$(product "$target")
    corpus=$WORK/$target
    artifacts=$WORK/artifacts/$target
    mkdir -p "$corpus" "$artifacts"
    log=$WORK/$target.log
    echo "fuzzing $target for ${SECONDS_PER_TARGET}s" >&2
    "$exe" "$corpus" "$ROOT/fuzz/corpus/$target" -max_total_time="$SECONDS_PER_TARGET" -timeout=10 \
        -rss_limit_mb=2048 -max_len=65536 -print_final_stats=1 -artifact_prefix="$artifacts/" >"$log" 2>&1
    rc=$?
    execs=$(grep -o 'stat::number_of_executed_units: [0-9]*' "$log" | tail -1 | awk '{print $2}')
    crashes=$(find "$artifacts" -type f | wc -l)
    line="$(date -u +%FT%TZ) $target: ${SECONDS_PER_TARGET}s, ${execs:-?} executions, $(ls "$corpus" | wc -l) corpus files, $crashes crashing inputs, exit $rc"
    echo "$line" | tee -a "$WORK/summary.txt" >&2
    if [ "$rc" -ne 0 ] || [ "$crashes" -ne 0 ]; then status=1; fi
done
exit $status
