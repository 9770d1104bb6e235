#!/usr/bin/env bash
# One command from a fresh Debian machine to a full test run: installs what is missing,
# builds, and runs every test (unit and end-to-end).
set -euo pipefail
cd "$(dirname "$0")/.."
source scripts/setup.sh

swift build --build-tests
swift test --skip-build --no-parallel
