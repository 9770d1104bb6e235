#!/usr/bin/env python3
"""Where a process's peak resident memory goes (issue 19, crawl RSS).

    rss_peak.py OUT_DIR -- COMMAND ARGS...

Runs COMMAND, samples /proc/PID/status every 10 ms and, each time VmRSS reaches a new high (by 256 KB or more),
copies /proc/PID/smaps to OUT_DIR/peak.smaps. When the command ends, prints its exit code, wall and CPU seconds, its
peak RSS (the kernel's, as /usr/bin/time reports it) and a Markdown table of the resident pages of the highest sample, by mapping:
each mapped file (text and data together), [heap] (the main malloc arena), [stack], and the anonymous mappings
split by shape: a glibc malloc arena of another thread (a 64 MB-aligned heap), a thread stack (a mapping of
about 8 MB or 512 KB behind a guard page), and the rest (large malloc blocks, the Swift runtime's and libdispatch's
own mappings). The command's stdout and stderr go to OUT_DIR/stdout.txt and OUT_DIR/stderr.txt.
"""
import collections
import os
import subprocess
import sys
import time

ARENA = 64 << 20


def parse_smaps(path):
    maps = []  # (start, end, perms, name, rss, dirty)
    current = None
    for line in open(path):
        parts = line.split()
        if not parts:
            continue
        if "-" in parts[0] and not parts[0].endswith(":") and len(parts) >= 5:
            start, end = (int(x, 16) for x in parts[0].split("-"))
            name = parts[5] if len(parts) > 5 else ""
            current = [start, end, parts[1], name, 0, 0]
            maps.append(current)
        elif parts[0] == "Rss:":
            current[4] = int(parts[1])
        elif parts[0] in ("Private_Dirty:", "Shared_Dirty:"):
            current[5] += int(parts[1])
    return maps


def classify(maps):
    rss, dirty, count = collections.Counter(), collections.Counter(), collections.Counter()
    for i, (start, end, perms, name, kb, dkb) in enumerate(maps):
        if name.startswith("/"):
            key = os.path.basename(name)
        elif name:
            key = name
        else:
            size = end - start
            previous = maps[i - 1] if i > 0 else None
            guarded = previous is not None and previous[1] == start and previous[2].startswith("---")
            following = maps[i + 1] if i + 1 < len(maps) else None
            if perms.startswith("---"):
                key = "anonymous: reserved (no access)"
            elif start % ARENA == 0 and (size == ARENA or (following is not None and following[0] == end
                                                           and following[2].startswith("---")
                                                           and following[1] - start == ARENA)):
                key = "anonymous: malloc arena of a thread"
            elif guarded and (abs(size - (8 << 20)) <= 8192 or abs(size - (512 << 10)) <= 8192
                              or abs(size - (1 << 20)) <= 8192):
                key = "anonymous: thread stack"
            else:
                key = "anonymous: other (large blocks, runtime)"
        rss[key] += kb
        dirty[key] += dkb
        if kb:
            count[key] += 1
    return rss, dirty, count


def main():
    if len(sys.argv) < 4 or sys.argv[2] != "--":
        sys.exit(__doc__)
    out = sys.argv[1]
    os.makedirs(out, exist_ok=True)
    with open(os.path.join(out, "stdout.txt"), "wb") as so, open(os.path.join(out, "stderr.txt"), "wb") as se:
        process = subprocess.Popen(sys.argv[3:], stdout=so, stderr=se)
        pid = process.pid
        best = 0
        peak = os.path.join(out, "peak.smaps")
        started = time.monotonic()
        while True:
            done, status, usage = os.wait4(pid, os.WNOHANG)
            if done == pid:
                break
            try:
                with open(f"/proc/{pid}/status") as f:
                    text = f.read()
                fields = dict(line.split(":", 1) for line in text.splitlines() if ":" in line)
                vmrss = int(fields["VmRSS"].split()[0])
                if vmrss >= best + 256:
                    best = vmrss
                    # read(), not shutil.copyfile: its sendfile() stops short on a /proc file.
                    with open(f"/proc/{pid}/smaps", "rb") as f:
                        smaps = f.read()
                    with open(peak + ".tmp", "wb") as f:
                        f.write(smaps)
                    os.replace(peak + ".tmp", peak)
            except (FileNotFoundError, ProcessLookupError, KeyError, OSError):
                pass
            time.sleep(0.01)
    wall = time.monotonic() - started
    code = os.waitstatus_to_exitcode(status)
    process.returncode = code  # reaped here, with its rusage
    print(f"exit {code}; wall {wall:.2f} s; CPU {usage.ru_utime + usage.ru_stime:.2f} s (user {usage.ru_utime:.2f}, "
          f"sys {usage.ru_stime:.2f}); peak RSS {usage.ru_maxrss} KB; highest sample {best} KB")
    rss, dirty, count = classify(parse_smaps(peak))
    total = sum(rss.values())
    print()
    print("| mapping | RSS KB | dirty KB | mappings |")
    print("|---|---:|---:|---:|")
    for key, kb in rss.most_common():
        if kb:
            print(f"| {key} | {kb:,} | {dirty[key]:,} | {count[key]} |")
    print(f"| **total** | **{total:,}** | {sum(dirty.values()):,} | |")


if __name__ == "__main__":
    main()
