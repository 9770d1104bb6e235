#!/usr/bin/env python3
"""Resident memory of one process by mapped file, from a copy of its /proc/<pid>/smaps (bench/floor.sh).

Prints a Markdown table: file (or [heap], [stack], anonymous), Rss, of which dirty (pages written: relocations,
data, heap; a file just written, such as a fresh build, also counts as dirty until the kernel writes it back)
and clean (pages read from the file and shared with every other process mapping it), and Pss (the
process's share of them), in KB, largest first."""
import collections
import os
import sys

rss, dirty, pss = collections.Counter(), collections.Counter(), collections.Counter()
name = None
for line in open(sys.argv[1]):
    parts = line.split()
    if not parts:
        continue
    if "-" in parts[0] and len(parts) >= 5 and not parts[0].endswith(":"):
        name = os.path.basename(parts[5]) if len(parts) > 5 else "anonymous"
        if len(parts) > 5 and parts[5].startswith("["):
            name = parts[5]
    elif parts[0] == "Rss:":
        rss[name] += int(parts[1])
    elif parts[0] == "Pss:":
        pss[name] += int(parts[1])
    elif parts[0] in ("Private_Dirty:", "Shared_Dirty:"):
        dirty[name] += int(parts[1])
total = sum(rss.values())
print("| mapping | RSS KB | dirty KB | clean KB | PSS KB |")
print("|---|---:|---:|---:|---:|")
for key, kb in rss.most_common():
    if kb == 0:
        continue
    print(f"| {key} | {kb:,} | {dirty[key]:,} | {kb - dirty[key]:,} | {pss[key]:,} |")
print(f"| **total** | **{total:,}** | {sum(dirty.values()):,} | {total - sum(dirty.values()):,} | {sum(pss.values()):,} |")
