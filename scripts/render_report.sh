#!/usr/bin/env bash
# Takes a screenshot of an AgentShop HTML report with headless Chromium (Debian's package,
# installed when missing), to look at a report without a desktop.
#   scripts/render_report.sh REPORT.html [OUT.png] [WIDTH] [HEIGHT]
# The report loads nothing from the network; Chromium runs with networking off all the same.
set -euo pipefail

if [ $# -lt 1 ]; then
    echo "usage: $0 REPORT.html [OUT.png] [WIDTH] [HEIGHT]" >&2
    exit 64
fi
report=$(realpath "$1")
out=${2:-${report%.html}.png}
width=${3:-1100}
height=${4:-2400}
[ -f "$report" ] || { echo "$0: no such file: $1" >&2; exit 2; }

browser=$(command -v chromium || command -v chromium-browser || true)
if [ -z "$browser" ]; then
    echo "installing chromium (Debian package)…" >&2
    if [ "$(id -u)" -eq 0 ]; then sudo=""; else sudo="sudo"; fi
    $sudo apt-get update -qq
    DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq --no-install-recommends chromium fonts-dejavu-core >&2
    browser=$(command -v chromium)
fi

profile=$(mktemp -d)
trap 'rm -rf "$profile"' EXIT
# --no-sandbox: root in a container has no user namespaces for Chromium's sandbox.
"$browser" --headless --no-sandbox --disable-gpu --hide-scrollbars --user-data-dir="$profile" \
    --no-first-run --disable-extensions --disable-background-networking --proxy-server="127.0.0.1:9" \
    --window-size="${width},${height}" --screenshot="$(realpath -m "$out")" "file://$report" >/dev/null 2>&1
[ -s "$out" ] || { echo "$0: chromium wrote no screenshot" >&2; exit 1; }
echo "$out"
