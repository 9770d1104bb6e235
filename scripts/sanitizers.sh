#!/usr/bin/env bash
# The whole test suite under AddressSanitizer, then ThreadSanitizer.
#
#   scripts/sanitizers.sh            # both
#   scripts/sanitizers.sh thread     # one
#
# Each sanitizer builds into its own folder (.build-asan, .build-tsan). The end-to-end tests run
# the instrumented agentshop binary too. Reports go to stderr and to .build-<san>/report.txt; the
# script exits non-zero when a test fails or a sanitizer reports anything.
set -uo pipefail
cd "$(dirname "$0")/.."
source scripts/setup.sh

status=0
for sanitizer in "${@:-address thread}"; do
    for san in $sanitizer; do
        short=$([ "$san" = address ] && echo asan || echo tsan)
        scratch=.build-$short
        report=$scratch/report.txt
        mkdir -p "$scratch"
        echo "== $san: building" >&2
        swift build --build-tests --scratch-path "$scratch" -Xswiftc -sanitize="$san" >&2 || { status=1; continue; }
        echo "== $san: testing" >&2
        # halt_on_error=0 keeps going after a report so one run shows every finding.
        ASAN_OPTIONS=detect_leaks=0:halt_on_error=0 TSAN_OPTIONS=halt_on_error=0:second_deadlock_stack=1 \
            swift test --skip-build --scratch-path "$scratch" --no-parallel >"$report" 2>&1
        rc=$?
        findings=$(grep -c -E "^(==[0-9]+==ERROR: AddressSanitizer|WARNING: ThreadSanitizer)" "$report" || true)
        summary=$(grep -oE 'Test run with [0-9]+ tests.*' "$report" | tail -1)
        echo "== $san: exit $rc, $findings sanitizer reports; $summary (full output: $report)" >&2
        if [ "$rc" -ne 0 ] || [ "$findings" -ne 0 ]; then status=1; fi
    done
done
exit $status
