#!/usr/bin/env bash
# The tools docs/analysts.md shows, for its test (Tests/EndToEndTests/AnalystDocsTests.swift):
# warcio, DuckDB and pandas in bench/.venv (from PyPI). jq and sqlite3 come from scripts/setup.sh.
set -euo pipefail
cd "$(dirname "$0")/.."
python3 bench/check_warc.py --setup
if bench/.venv/bin/python -c 'import duckdb, pandas' 2>/dev/null; then
    echo "duckdb and pandas are installed in bench/.venv"
    exit 0
fi
echo "installing duckdb and pandas into bench/.venv"
bench/.venv/bin/python -m pip install -q 'duckdb>=1.1' 'pandas>=2.2'
bench/.venv/bin/python -c 'import duckdb, pandas'
