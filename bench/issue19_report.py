#!/usr/bin/env python3
"""The table of bench/issue19.sh: reads each row's log (the output of the benchmark script behind
it) and writes "work | AgentShop | peer | ratio | goal | met? | load" as Markdown.

A figure a log does not hold (the script failed, or its output changed) makes its row say so
instead of guessing."""
import argparse
import datetime
import os
import platform
import re
import statistics


def read(logs, name, suffix=".log"):
    path = os.path.join(logs, name + suffix)
    if not os.path.exists(path):
        return None
    with open(path, encoding="utf-8", errors="replace") as f:
        return f.read()


def number(text):
    return float(text.replace(",", ""))


class Table:
    def __init__(self):
        self.rows = []

    def add(self, work, ours, peer, ratio, goal, met, load):
        mark = "—" if met is None else ("**yes**" if met else "no")
        cells = [str(c).replace("|", "\\|") for c in (work, ours, peer, ratio, goal, mark, load)]
        self.rows.append("| " + " | ".join(cells) + " |")

    def missing(self, work, goal, why, load):
        self.rows.append(f"| {work} | {why} | | | {goal} | not measured | {load} |")


def markdown_table(text, must_have):
    """Rows of the first Markdown table whose header holds every name in must_have, as dicts."""
    lines = text.splitlines()
    for i, line in enumerate(lines):
        if line.startswith("|") and all(h in line for h in must_have):
            header = [c.strip() for c in line.strip().strip("|").split("|")]
            rows = []
            for body in lines[i + 2:]:
                if not body.startswith("|"):
                    break
                cells = [c.strip() for c in body.strip().strip("|").split("|")]
                rows.append(dict(zip(header, cells)))
            return rows
    return []


def floor(t, logs, load):
    text = read(logs, "floor")
    figures = {}
    for line in (text or "").splitlines():
        parts = line.split()
        if len(parts) == 4 and parts[0] == "peak" and parts[2].isdigit():
            figures[parts[1]] = (int(parts[2]) / 1024, int(parts[3]))
    if "agentshop" not in figures:
        return t.missing("process floor: `agentshop --version` peak RSS", "< 15 MB", "failed (floor.log)", load)
    ours, ms = figures["agentshop"]
    for peer in ("python3", "scrapy"):
        if peer in figures:
            p, pms = figures[peer]
            label = "`python3 -c pass`" if peer == "python3" else "`scrapy version`"
            t.add(f"process floor: `agentshop --version` vs {label}", f"{ours:.1f} MB, {ms} ms", f"{p:.1f} MB, {pms} ms",
                  f"{ours / p:.2f}x RSS", "< 15 MB", ours < 15, load)


def crawl(t, logs, load):
    text = read(logs, "crawl") or ""
    rows = markdown_table(text, ["tool", "pages/s", "peak RSS"])
    ours = [r for r in rows if r.get("tool", "").startswith("AgentShop")]
    theirs = [r for r in rows if r.get("tool", "").startswith("Scrapy")]
    if not ours or not theirs:
        return t.missing("crawl + parse, c=16", ">= 5x pages/s", "failed (crawl.log)", load)

    def med(runs, key, f=number):
        return statistics.median(f(r[key]) for r in runs)
    cpu = lambda s: number(s.split()[0])
    rate_o, rate_t = med(ours, "pages/s"), med(theirs, "pages/s")
    cpu_o, cpu_t = med(ours, "CPU s (user + sys)", cpu), med(theirs, "CPU s (user + sys)", cpu)
    pages_o, pages_t = med(ours, "pages"), med(theirs, "pages")
    rss_o, rss_t = med(ours, "peak RSS MB"), med(theirs, "peak RSS MB")
    loads = "/".join(r.get("load avg before", "?") for r in ours + theirs)
    n = f" ({len(ours)} rounds, medians)" if len(ours) > 1 else ""
    t.add(f"crawl + parse, {pages_o:.0f} responses, c=16{n}: pages/s", f"{rate_o:,.0f} pages/s", f"Scrapy {rate_t:,.0f} pages/s",
          f"{rate_o / rate_t:.2f}x", ">= 5x", rate_o / rate_t >= 5, loads)
    ppc_o, ppc_t = pages_o / cpu_o, pages_t / cpu_t
    t.add("crawl + parse: pages per CPU-second", f"{ppc_o:,.0f} ({cpu_o:.1f} CPU s)", f"Scrapy {ppc_t:,.0f} ({cpu_t:.1f} CPU s)",
          f"{ppc_o / ppc_t:.2f}x", ">= 3x", ppc_o / ppc_t >= 3, loads)
    t.add("crawl + parse: peak RSS", f"{rss_o:.0f} MB", f"Scrapy {rss_t:.0f} MB", f"{rss_o / rss_t:.2f}x", "<= 0.25x",
          rss_o / rss_t <= 0.25, loads)
    if "FAILED" in text:
        t.rows.append("| crawl: a tool failed | see crawl.log | | | | no | |")


def parse(t, logs, load):
    text = read(logs, "parse") or ""
    rows = markdown_table(text, ["tool", "pages/CPU-s"])
    ours = next((r for r in rows if r["tool"].startswith("agentshop")), None)
    parsel = next((r for r in rows if r["tool"].startswith("parsel")), None)
    m = re.search(r"Load average at the start ([\d.]+), when done ([\d.]+)", text)
    plo = f"{m.group(1)}→{m.group(2)}" if m else load
    if not ours or not parsel:
        t.missing("parse only, one core, per CPU-second", ">= 1.2x parsel", "failed (parse.log)", load)
    else:
        o, p = number(ours["pages/CPU-s"]), number(parsel["pages/CPU-s"])
        t.add("parse only, one core: pages per CPU-second", f"{o:,.0f}", f"parsel {p:,.0f}", f"{o / p:.2f}x", ">= 1.2x",
              o / p >= 1.2, plo)
    m = re.search(r"2 threads: ([\d.]+) s wall, ([\d.]+) s CPU.*?wall ([\d.]+)x one thread's", text)
    if ours and m:
        one = number(ours["wall s"])
        t.add("parse only: two threads against one (wall)", f"{m.group(1)} s on 2 threads", f"{one:.2f} s on 1 thread",
              f"{one / float(m.group(1)):.2f}x", ">= 1.8x (idle cores)", one / float(m.group(1)) >= 1.8, plo)
    else:
        t.missing("parse only: two threads against one", ">= 1.8x", "failed (parse.log)", load)


def query(t, logs, load):
    text = read(logs, "query") or ""
    pat = re.compile(r"^(duckdb \S+|agentshop|agentshop-copy|before)\s+(jsonl(?:\.gz)?)\s+([\d.]+)\s+([\d.]+)\s+(\d+)\s+([\d.]+)\s*$")
    runs = {}
    for line in text.splitlines():
        m = pat.match(line.strip())
        if m:
            tool = "duckdb" if m.group(1).startswith("duckdb") else m.group(1)
            runs.setdefault((tool, m.group(2)), []).append((float(m.group(3)), float(m.group(4)), int(m.group(5)), m.group(6)))
    m = re.search(r"(\d[\d,]*) records", text)
    n = m.group(1) if m else "?"
    for kind in ("jsonl", "jsonl.gz"):
        o, d = runs.get(("agentshop", kind)), runs.get(("duckdb", kind))
        work = f"`agentshop query` group-by, {n} lines, {'plain' if kind == 'jsonl' else 'gzip'}"
        if not o or not d:
            t.missing(work, "<= 2x DuckDB's time", "failed (query.log)", load)
            continue
        ow, dw = statistics.median(r[0] for r in o), statistics.median(r[0] for r in d)
        oc, dc = statistics.median(r[1] for r in o), statistics.median(r[1] for r in d)
        om, dm = max(r[2] for r in o), max(r[2] for r in d)
        t.add(work, f"{ow:.2f} s, {oc:.2f} CPU s, {om} MB", f"DuckDB {dw:.2f} s, {dc:.2f} CPU s, {dm} MB", f"{ow / dw:.2f}x time",
              "<= 2x time", ow / dw <= 2, "/".join(r[3] for r in o + d))


def aggregate(t, logs, load):
    text = read(logs, "aggregate") or ""
    fig = {}
    for tool, key in (("agentshop run", "ours"), ("DuckDB", "duck"), ("pandas", "pandas")):
        m = re.search(re.escape(tool) + r".*?\s([\d.]+) s\s+(\d+) MB\s+\(CPU ([\d.]+) s\)", text)
        if m:
            fig[key] = tuple(float(x) for x in m.groups())
    m = re.search(r"load average ([\d.]+)", text)
    lo = m.group(1) + " (after)" if m else load
    m = re.search(r"aggregate: (\d+) records", text)
    n = f"{int(m.group(1)):,}" if m else "?"
    if "ours" not in fig or "duck" not in fig:
        return t.missing("aggregate stage, 2 group-bys", ">= DuckDB's speed", "failed (aggregate.log)", load)
    (ow, om, oc), (dw, dm, dc) = fig["ours"], fig["duck"]
    t.add(f"`aggregate` stage, count/avg/p90 by 2 keys, {n} records gzip", f"{ow:.2f} s, {oc:.2f} CPU s, {om:.0f} MB",
          f"DuckDB {dw:.2f} s, {dc:.2f} CPU s, {dm:.0f} MB", f"{ow / dw:.2f}x time", "<= 1.0x time", ow / dw <= 1.0, f"{load} / {lo}")


def store(t, logs, load):
    text = read(logs, "store") or ""
    pat = re.compile(r"^(dump|restore) (\S+)\s+(ours|cli)\s*(.*?)\s+([\d.]+)s\s+cpu\s+([\d.]+)s\s+rss\s+(\d+) MB\s+load\s+([\d.]+)")
    found = {}
    for line in text.splitlines():
        m = pat.match(line)
        if m:
            found[(m.group(1) + " " + m.group(2), m.group(3), m.group(4).strip())] = (
                float(m.group(5)), float(m.group(6)), int(m.group(7)), m.group(8))
    m = re.search(r"ROWS=(\d+)", text)
    n = f"{int(m.group(1)):,}" if m else "?"

    def pair(work, step, ours_label, cli_label, goal, limit, rss_limit=None):
        o, c = found.get((step, "ours", ours_label)), found.get((step, "cli", cli_label))
        if not o or not c:
            return t.missing(work, goal, "failed (store.log)", load)
        met = o[0] / c[0] <= limit and (rss_limit is None or o[2] <= rss_limit)
        t.add(work, f"{o[0]:.2f} s, {o[1]:.2f} CPU s, {o[2]} MB", f"{cli_label}: {c[0]:.2f} s, {c[1]:.2f} CPU s, {c[2]} MB",
              f"{o[0] / c[0]:.2f}x time", goal, met, f"{o[3]}/{c[3]}")
    pair(f"SQL dump of a {n}-row store", "dump sql.gz", "", ".dump|gzip -6", "<= 1.0x time", 1.0)
    pair(f"SQL restore of a {n}-row store", "restore sql.gz", "", "zcat|sqlite3", "<= 1.1x time, <= 80 MB", 1.1, 80)
    pair("binary dump (kept ahead)", "dump sqlite.gz", "", ".backup+gzip -1", "< 1.0x time", 0.9999)
    pair("binary restore, checked (kept ahead)", "restore sqlite.gz", "(again)", "verified", "< 1.0x time", 0.9999)


def noop(t, logs, load):
    text = read(logs, "noop") or ""
    o = re.search(r"agentshop run\s+(\d+) ms", text)
    d = re.search(r"dvc repro \(([^)]*)\)\s+(\d+) ms", text)
    if not o or not d:
        return t.missing("no-op rerun, 10 stages over 1,000 files", "< 100 ms", "failed (noop.log)", load)
    om, dm = int(o.group(1)), int(d.group(2))
    t.add("no-op rerun, 10 stages over 1,000 files (median of 10)", f"{om} ms", f"DVC {d.group(1)}: {dm} ms",
          f"{dm / max(om, 1):.1f}x faster", "< 100 ms", om < 100, load)


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--logs", required=True)
    ap.add_argument("--rows", required=True)
    ap.add_argument("--settings", default="")
    args = ap.parse_args()
    t = Table()
    for name in args.rows.split():
        load = (read(args.logs, name, ".load") or "?").split()[0] if read(args.logs, name, ".load") else "?"
        rc = (read(args.logs, name, ".rc") or "").strip()
        globals()[name](t, args.logs, load)
        if rc not in ("", "0"):
            t.rows.append(f"| {name}: the script exited {rc} | see {name}.log | | | | no | |")
    cpu = "?"
    try:
        with open("/proc/cpuinfo") as f:
            cpu = next(line.split(":", 1)[1].strip() for line in f if line.startswith("model name"))
    except (OSError, StopIteration):
        pass
    secs = {n: (read(args.logs, n, ".secs") or "").strip() for n in args.rows.split()}
    print(f"# Issue 19, every row beside its peer: {datetime.datetime.now(datetime.timezone.utc):%Y-%m-%d %H:%M} UTC\n")
    print(f"`bench/issue19.sh` {args.settings.strip() or '(full sizes)'}; release build; {os.cpu_count()} cores ({cpu}), "
          f"{platform.system()} {platform.release()}. Load: the 1-minute load average before each run (ours/peer where "
          f"the script reads it per run). Logs: `{args.logs}`.\n")
    print("| work | AgentShop | peer | ratio | goal | met? | load |")
    print("|---|---|---|---|---|---|---|")
    print("\n".join(t.rows))
    print("\nScript wall seconds per row: " + ", ".join(f"{n} {s} s" for n, s in secs.items() if s) + ".")


if __name__ == "__main__":
    main()
