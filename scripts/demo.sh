#!/usr/bin/env bash
# One command from a fresh Debian machine to a finished demo run: installs what is missing,
# builds AgentShop, initialises the lake and runs pipelines/demo.yaml end to end, offline.
set -euo pipefail
cd "$(dirname "$0")/.."
source scripts/setup.sh

swift build -c release --product agentshop
agentshop=".build/release/agentshop"

"$agentshop" init datalake --quiet
"$agentshop" validate pipelines/demo.yaml
"$agentshop" run pipelines/demo.yaml --lake datalake "$@"
echo
"$agentshop" runs --lake datalake --limit 3
