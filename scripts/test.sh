#!/usr/bin/env bash
# One command from a fresh Debian machine to a full test run: installs what is missing,
# builds, and runs every test (unit and end-to-end).
set -euo pipefail
cd "$(dirname "$0")/.."
source scripts/setup.sh

scripts/lint.sh   # swift-format: the rules .swift-format enables (scripts/lint.sh says which)
swift build --build-tests

# An independent WARC reader for the interoperability tests: warcio, in bench/.venv (PyPI). With
# AGENTSHOP_REQUIRE_WARCIO=1 those tests run (and fail without warcio) instead of being skipped.
python3 bench/check_warc.py --setup
# DuckDB and pandas beside it, for docs/analysts.md's test (AnalystDocsTests, required under the same variable).
scripts/analyst_tools.sh
export AGENTSHOP_REQUIRE_WARCIO=1

# One test at a time: the end-to-end tests wait on child processes, and on a 2-core machine
# Swift's cooperative pool has only two threads to share with the time-limited network tests.
log=$(mktemp)
trap 'rm -f "$log"' EXIT
# One PostgreSQL server for the whole run (the PostgreSQL store's tests), unless AGENTSHOP_PG_URL names
# one already; stopped on exit. The tests fail under CI=true when there is none.
source scripts/pg_test_server.sh
if [ -z "${AGENTSHOP_PG_URL:-}" ]; then
    pg_test_server_start
    trap 'rm -f "$log"; pg_test_server_stop' EXIT
fi
set +e
swift test --skip-build --no-parallel 2>&1 | tee "$log"
status=${PIPESTATUS[0]}
set -e
# The crash campaign: every stage of the demo and the flagship pipeline, and the store commands,
# killed with SIGKILL inside (scripts/kill_campaign.py); KILLS=N kills each N times, KILLS=0 skips it.
if [ "$status" -eq 0 ] && [ "${KILLS:-1}" -gt 0 ]; then
    python3 scripts/kill_campaign.py --rounds "${KILLS:-1}" --binary "$(swift build --show-bin-path)/agentshop" || status=1
fi
# XCTest reports 0 (every test here is Swift Testing); close with the count that ran.
count=$(grep -oE 'Test run with [0-9]+ tests' "$log" | tail -1 | grep -oE '[0-9]+' || true)
if [ "$status" -eq 0 ] && [ -n "$count" ]; then
    echo "$count passed, 0 failed"
fi
exit "$status"
