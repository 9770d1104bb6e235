#!/usr/bin/env bash
# swift-format lint over Sources/ and Tests/ with the repository's .swift-format; scripts/test.sh
# runs it before the tests, so CI fails on a violation.
#
#   scripts/lint.sh            fail on any finding of a rule .swift-format enables
#   scripts/lint.sh --layout   also list the pretty-printer's layout findings (not failures)
#
# What fails: a finding of a rule that .swift-format's "rules" turns on (the code base keeps them
# all today). What is only counted: the pretty-printer's layout findings (Indentation, AddLines,
# RemoveLine, Spacing, TrailingComma, LineLength, TrailingWhitespace). swift-format 6.3 cannot
# switch those off (swiftlang/swift-format#764, #964), and the house style keeps one-line bodies
# (`guard x else { return nil }`, `{ a; continue }`) that its pretty-printer always breaks up.
set -euo pipefail
cd "$(dirname "$0")/.."

if swift format --help >/dev/null 2>&1; then
    swift_format=(swift format)
elif command -v swift-format >/dev/null 2>&1; then
    swift_format=(swift-format)
elif [ -x /opt/swift/usr/bin/swift-format ]; then
    swift_format=(/opt/swift/usr/bin/swift-format)
else
    echo "lint: swift-format not found (it ships with the Swift 6 toolchain)" >&2
    exit 1
fi

findings=$(mktemp)
trap 'rm -f "$findings"' EXIT
start=$(date +%s)
status=0
"${swift_format[@]}" lint --configuration .swift-format --parallel --recursive Sources Tests >"$findings" 2>&1 || status=$?
elapsed=$(( $(date +%s) - start ))

python3 - "$findings" "$status" "$elapsed" "${1:-}" <<'EOF'
import json, re, sys
path, status, elapsed, mode = sys.argv[1], int(sys.argv[2]), sys.argv[3], sys.argv[4]
rules = {name for name, on in json.load(open(".swift-format"))["rules"].items() if on}
finding = re.compile(r"^(.+?:\d+:\d+): (warning|error): \[(\w+)\] (.*)$")
failures, layout, other = [], {}, []
for line in open(path, encoding="utf-8", errors="replace"):
    line = line.rstrip("\n")
    m = finding.match(line)
    if m and m.group(3) in rules:
        failures.append(line)
    elif m:
        layout[m.group(3)] = layout.get(m.group(3), 0) + 1
        if mode == "--layout":
            print(line)
    elif line.strip():
        other.append(line)
for line in failures + other:
    print(line, file=sys.stderr)
counts = ", ".join(f"{n} {k}" for k, n in sorted(layout.items(), key=lambda kv: -kv[1])) or "none"
print(f"lint: {len(failures)} rule violation(s) in {elapsed}s; layout findings, not enforced: {counts}", file=sys.stderr)
if failures or other or status != 0:
    if status != 0 and not failures:
        print(f"lint: swift-format exited {status}", file=sys.stderr)
    sys.exit(1)
EOF
