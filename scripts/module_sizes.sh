#!/usr/bin/env bash
# Where the code is: lines per module under Sources/, the 10 largest files and the 10 longest functions.
#   scripts/module_sizes.sh [N]     (N: how many files and functions to list; default 10)
# Lines are physical lines of .swift files (comments and blank lines included), as `wc -l` counts them.
# A function runs from its `func`/`init`/`deinit` line to the brace that closes it (braces inside string
# literals and comments are skipped), so a nested function counts inside its parent too.
set -euo pipefail
cd "$(dirname "$0")/.."
exec python3 - "${1:-10}" <<'EOF'
import os, re, sys

top = int(sys.argv[1])
files = []
for root, _, names in os.walk("Sources"):
    for name in names:
        if name.endswith(".swift"):
            path = os.path.join(root, name)
            with open(path, encoding="utf-8") as f:
                files.append((path, f.read().split("\n")))

def count(lines):
    return len(lines) - (1 if lines and lines[-1] == "" else 0)

modules = {}
for path, lines in files:
    module = path.split("/")[1]
    modules[module] = modules.get(module, 0) + count(lines)
print("Lines per module (Sources/<module>):")
for module, n in sorted(modules.items(), key=lambda m: -m[1]):
    print(f"  {n:7d}  {module}")
print(f"  {sum(modules.values()):7d}  total")

print(f"\nThe {top} largest files:")
for path, lines in sorted(files, key=lambda f: -count(f[1]))[:top]:
    print(f"  {count(lines):7d}  {path}")

# Braces outside string literals and comments, line by line (multi-line """ strings tracked).
declaration = re.compile(r"^\s*(?:@\w+(?:\([^)]*\))?\s+)*(?:(?:public|private|fileprivate|internal|package|open|static|class|final|"
                         r"override|mutating|nonisolated|convenience|required|@inlinable|@discardableResult)\s+)*"
                         r"(func\s+[^\s(<]+|init[?!]?|deinit)\b")
functions = []
for path, lines in files:
    depth = 0
    open_functions = []  # (name, start line, depth at which it closes)
    in_block_string = False
    for number, line in enumerate(lines, 1):
        match = declaration.match(line)
        if match and not in_block_string:
            open_functions.append((match.group(1).replace("func ", ""), number, depth))
        i = 0
        in_string = False
        while i < len(line):
            if in_block_string:
                if line.startswith('"""', i):
                    in_block_string = False
                    i += 3
                    continue
                i += 1
                continue
            c = line[i]
            if in_string:
                if c == "\\":
                    i += 2
                    continue
                if c == '"':
                    in_string = False
            elif line.startswith('"""', i):
                in_block_string = True
                i += 3
                continue
            elif line.startswith("//", i):
                break
            elif c == '"':
                in_string = True
            elif c == "{":
                depth += 1
            elif c == "}":
                depth -= 1
                while open_functions and depth == open_functions[-1][2]:
                    name, start, _ = open_functions.pop()
                    functions.append((number - start + 1, f"{path}:{start}", name))
            i += 1
        # A declaration without a body (a protocol requirement) closes on its own line.
        if open_functions and open_functions[-1][1] == number and "{" not in line and not line.rstrip().endswith(("(", ",")):
            open_functions.pop()

print(f"\nThe {top} longest functions:")
for length, where, name in sorted(functions, key=lambda f: -f[0])[:top]:
    print(f"  {length:7d}  {name}  {where}")
EOF
