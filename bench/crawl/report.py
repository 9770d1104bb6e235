#!/usr/bin/env python3
"""The Markdown report of bench/crawl_bench.sh, from the files its runs left in --runs.

Per round and tool: wall seconds, pages fetched, pages/s, CPU seconds (user + sys), peak RSS from
/usr/bin/time -v, records extracted; then the median over the rounds, the ratios against the goal
(>= 5x Scrapy's pages/s at <= 1/4 of its peak RSS), the record comparison and the WARC check.
"""
import argparse
import gzip
import json
import os
import platform
import re
import statistics


def gnu_time(path):
    fields = {}
    with open(path) as f:
        for line in f:
            key, _, value = line.strip().rpartition(": ")
            fields[key] = value
    wall = fields["Elapsed (wall clock) time (h:mm:ss or m:ss)"]
    seconds = 0.0
    for part in wall.split(":"):
        seconds = seconds * 60 + float(part)
    return {"wall": seconds, "user": float(fields["User time (seconds)"]), "sys": float(fields["System time (seconds)"]),
            "rss_mb": int(fields["Maximum resident set size (kbytes)"]) / 1024,
            "exit": int(fields.get("Exit status", "0"))}


def count_lines(path):
    opener = gzip.open if path.endswith(".gz") else open
    with opener(path, "rt", encoding="utf-8") as f:
        return sum(1 for line in f if line.strip())


def find(folder, name):
    for parent, _, files in os.walk(folder):
        if name in files:
            return os.path.join(parent, name)
    return None


def load_before(folder):
    path = os.path.join(folder, "load.txt")
    return open(path).read().strip() if os.path.exists(path) else "?"


def scrapy_round(folder):
    t = gnu_time(os.path.join(folder, "time.txt"))
    t["load"] = load_before(folder)
    with open(os.path.join(folder, "stats.json")) as f:
        stats = json.load(f)
    t["pages"] = stats.get("downloader/response_count", 0)
    t["records"] = count_lines(os.path.join(folder, "products.jsonl"))
    t["stages"] = ""
    return t


def agentshop_round(folder):
    t = gnu_time(os.path.join(folder, "time.txt"))
    t["load"] = load_before(folder)
    lake = os.path.join(folder, "datalake")
    log = find(lake, "crawl.jsonl.gz")
    t["pages"] = count_lines(log) if log else 0
    products = find(lake, "products.jsonl.gz")
    t["records"] = count_lines(products) if products else 0
    with open(os.path.join(folder, "manifest.json")) as f:
        manifest = json.load(f)
    parts = []
    for stage in manifest.get("stages", []):
        ms = stage.get("duration_ms", stage.get("durationMs"))
        if ms is not None:
            parts.append(f"{stage['name']} {ms / 1000:.2f} s")
    t["stages"] = ", ".join(parts)
    return t


def row(name, r):
    pages_per_s = r["pages"] / r["wall"] if r["wall"] else 0
    return (f"| {name} | {r['wall']:.2f} | {r['pages']} | {pages_per_s:,.0f} | {r['user'] + r['sys']:.2f} "
            f"({r['user']:.2f} + {r['sys']:.2f}) | {r['rss_mb']:.0f} | {r['records']} | {r['load']} |")


def main():
    parser = argparse.ArgumentParser()
    for name in ("--runs", "--site", "--nginx"):
        parser.add_argument(name, required=True)
    for name in ("--rounds", "--count", "--per-page", "--pad"):
        parser.add_argument(name, type=int, required=True)
    args = parser.parse_args()

    ours = [agentshop_round(os.path.join(args.runs, f"agentshop-{n}")) for n in range(1, args.rounds + 1)]
    theirs = [scrapy_round(os.path.join(args.runs, f"scrapy-{n}")) for n in range(1, args.rounds + 1)]
    site_bytes = sum(os.path.getsize(os.path.join(p, f)) for p, _, fs in os.walk(args.site) for f in fs)
    import scrapy
    cpu = "?"
    try:
        with open("/proc/cpuinfo") as f:
            cpu = next(line.split(":", 1)[1].strip() for line in f if line.startswith("model name"))
    except (OSError, StopIteration):
        pass

    out = []
    out.append(f"# Crawl benchmark, {os.path.basename(args.runs).removeprefix('runs-')}\n")
    out.append(f"Site: {args.count} product pages + {-(-args.count // args.per_page)} listing pages "
               f"(~{args.pad // 1000 + 4} KB per product page; {site_bytes / 1e6:.0f} MB on disk incl. review pages "
               f"and sitemaps, which neither tool visits), served by nginx {args.nginx} (1 worker) on 127.0.0.1. "
               f"Both tools: concurrency 16, politeness off, robots.txt not fetched, follow `a.next` + `a.product`, "
               f"7 fields per product page. Machine: {os.cpu_count()} cores ({cpu}), Python "
               f"{platform.python_version()}, Scrapy {scrapy.__version__}. Measured with /usr/bin/time -v; "
               f"pages/s = pages fetched / wall seconds (crawl and parse, process start to exit).\n")
    out.append("| tool | wall s | pages | pages/s | CPU s (user + sys) | peak RSS MB | records | load avg before |")
    out.append("|---|---|---|---|---|---|---|---|")
    for n in range(args.rounds):
        label = f" (round {n + 1})" if args.rounds > 1 else ""
        out.append(row(f"AgentShop{label}", ours[n]))
        out.append(row(f"Scrapy{label}", theirs[n]))

    def median(runs, key):
        return statistics.median(r[key] for r in runs)

    ours_rate = statistics.median(r["pages"] / r["wall"] for r in ours)
    theirs_rate = statistics.median(r["pages"] / r["wall"] for r in theirs)
    ours_rss, theirs_rss = median(ours, "rss_mb"), median(theirs, "rss_mb")
    ours_cpu = statistics.median(r["user"] + r["sys"] for r in ours)
    theirs_cpu = statistics.median(r["user"] + r["sys"] for r in theirs)
    speed = ours_rate / theirs_rate if theirs_rate else 0
    memory = ours_rss / theirs_rss if theirs_rss else 0
    out.append("")
    if args.rounds > 1:
        out.append(f"Medians over {args.rounds} rounds: AgentShop {ours_rate:,.0f} pages/s, {ours_cpu:.2f} CPU s, "
                   f"{ours_rss:.0f} MB; Scrapy {theirs_rate:,.0f} pages/s, {theirs_cpu:.2f} CPU s, {theirs_rss:.0f} MB.\n")
    out.append(f"- **Speed: AgentShop {speed:.2f}x Scrapy's pages/s** (goal >= 5x: {'met' if speed >= 5 else 'NOT met'})")
    out.append(f"- **Memory: AgentShop peak RSS {memory:.2f} of Scrapy's** (goal <= 0.25: {'met' if memory <= 0.25 else 'NOT met'})")
    out.append(f"- CPU: AgentShop {ours_cpu:.2f} s vs Scrapy {theirs_cpu:.2f} s "
               f"({theirs_cpu / ours_cpu if ours_cpu else 0:.2f}x less CPU per crawl); pages per CPU second: "
               f"AgentShop {median(ours, 'pages') / ours_cpu if ours_cpu else 0:,.0f}, "
               f"Scrapy {median(theirs, 'pages') / theirs_cpu if theirs_cpu else 0:,.0f} "
               f"(steadier than pages/s when other work shares the cores)")
    stages = [r["stages"] for r in ours if r["stages"]]
    if stages:
        out.append(f"- AgentShop stage times (from its run manifest): {'; '.join(stages)}")
    for name in ("compare.txt", "warc.txt"):
        path = os.path.join(args.runs, name)
        if os.path.exists(path):
            with open(path) as f:
                text = f.read().strip()
            title = "Same records?" if name == "compare.txt" else "AgentShop's WARC, checked with warcio"
            out.append(f"\n{title}\n\n```\n{text}\n```")
    failed = [f"{name} round {n + 1} exited {r['exit']}" for name, runs in (("AgentShop", ours), ("Scrapy", theirs))
              for n, r in enumerate(runs) if r["exit"] != 0]
    if failed:
        out.append("\nFAILED: " + "; ".join(failed))
    print("\n".join(out))


if __name__ == "__main__":
    main()
