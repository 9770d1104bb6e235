#!/usr/bin/env python3
"""Runs our parse benchmark binary, lxml (XPath) and parsel (CSS) over the same generated pages
and fields, single-threaded, and scores each against the truth. See parse_bench.sh."""
import argparse
import datetime
import gzip
import json
import os
import platform
import re
import resource
import subprocess
import sys
import time
from urllib.parse import urljoin

import lxml
import lxml.etree
import lxml.html
import parsel
from dateutil import parser as dateparser
from price_parser import Price
from w3lib.encoding import html_to_unicode

FIELDS = ["name", "price", "price_currency", "sku", "brand", "rating", "review_count", "in_stock", "image",
          "category", "released", "tags"]
# price-parser reports the symbol as printed; a scraper maps it to ISO codes itself.
SYMBOLS = {"$": "USD", "US$": "USD", "€": "EUR", "£": "GBP", "¥": "JPY", "CHF": "CHF", "EUR": "EUR", "USD": "USD"}
SKU = re.compile(r"SKU:\s*(\S+)")


def norm(text):
    return " ".join(text.split()) if text is not None else None


def money(text):
    if text is None:
        return None, None
    price = Price.fromstring(text)
    amount = float(price.amount) if price.amount is not None else None
    return amount, SYMBOLS.get((price.currency or "").strip())


def date(text):
    if not text:
        return None
    try:
        # Dotted dates are day-first in every shop that prints them; tell dateutil so.
        return dateparser.parse(text, dayfirst="." in text).date().isoformat()
    except (ValueError, OverflowError):
        return None


def count(text):
    if not text:
        return None
    digits = re.sub(r"[^\d]", "", text.split()[0])
    return int(digits) if digits else None


def jsonld_fields(blocks):
    """brand, rating, in_stock from the JSON-LD blocks, the way a scraper walks them."""
    nodes = []

    def walk(value):
        if isinstance(value, list):
            for v in value:
                walk(v)
        elif isinstance(value, dict):
            nodes.append(value)
            for k, v in value.items():
                if k != "@type":
                    walk(v)

    for block in blocks:
        try:
            walk(json.loads(block))
        except ValueError:
            continue

    def typed(name):
        for node in nodes:
            types = node.get("@type")
            types = types if isinstance(types, list) else [types]
            if any(isinstance(t, str) and t.rsplit("/", 1)[-1] == name for t in types):
                return node
        return None

    product, rating = typed("Product"), typed("AggregateRating")
    brand = in_stock = rating_value = None
    if product:
        b = product.get("brand")
        brand = b.get("name") if isinstance(b, dict) else b
        offers = product.get("offers")
        offer = offers[0] if isinstance(offers, list) and offers else offers
        if isinstance(offer, dict) and "availability" in offer:
            in_stock = offer["availability"].rsplit("/", 1)[-1] == "InStock"
    if rating and rating.get("ratingValue") is not None:
        rating_value = float(rating["ratingValue"])
    return brand, rating_value, in_stock


def record(url, name, price_text, sku_text, blocks, count_text, og_image, base, category, released, tags):
    amount, currency = money(price_text)
    brand, rating, in_stock = jsonld_fields(blocks)
    sku = SKU.search(sku_text or "")
    base_url = urljoin(url, base) if base else url
    return {"url": url, "name": norm(name), "price": amount, "price_currency": currency,
            "sku": sku.group(1) if sku else None, "brand": brand, "rating": rating,
            "review_count": count(count_text), "in_stock": in_stock,
            "image": urljoin(base_url, og_image) if og_image else None, "category": norm(category),
            "released": date(released), "tags": [norm(t) for t in tags]}


def run_lxml(pages):
    out = []
    for url, body in pages:
        doc = lxml.html.fromstring(body)
        first = lambda xp: (doc.xpath(xp) or [None])[0]
        out.append(record(
            url,
            " ".join(doc.xpath("//h1[contains(concat(' ', normalize-space(@class), ' '), ' product-title ')]/text()")),
            first("//div[@class='price-box']//span[@class='price']/text()"),
            first("//span[@class='sku']/text()"),
            doc.xpath("//script[@type='application/ld+json']/text()"),
            first("//div[@class='rating']/span[@class='count']/text()"),
            first("//meta[@property='og:image']/@content"),
            first("//base/@href"),
            first("//ul[@class='breadcrumb']/li[last()]/a/text()"),
            first("//time[@class='released']/text()"),
            doc.xpath("//div[@class='tags']/a/text()")))
    return out


def run_parsel(pages):
    out = []
    for url, body in pages:
        _, text = html_to_unicode(None, body)
        sel = parsel.Selector(text=text)
        out.append(record(
            url,
            " ".join(sel.css("h1.product-title::text").getall()),
            sel.css(".price-box .price::text").get(),
            sel.css(".sku::text").get(),
            sel.css('script[type="application/ld+json"]::text').getall(),
            sel.css("div.rating > span.count::text").get(),
            sel.css('meta[property="og:image"]::attr(content)').get(),
            sel.css("base::attr(href)").get(),
            sel.css("ul.breadcrumb li:last-child a::text").get(),
            sel.css("time.released::text").get(),
            sel.css(".tags a::text").getall()))
    return out


def same(a, b):
    if isinstance(a, float) or isinstance(b, float):
        return a is not None and b is not None and abs(float(a) - float(b)) < 1e-6
    return a == b


def score(records, truth):
    by_url = {r["url"]: r for r in records}
    per_field = {f: 0 for f in FIELDS}
    for t in truth:
        r = by_url.get(t["url"], {})
        for f in FIELDS:
            if same(r.get(f), t[f]):
                per_field[f] += 1
    total = sum(per_field.values()) / (len(FIELDS) * len(truth))
    return total, {f: n / len(truth) for f, n in per_field.items()}


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--site", required=True)
    ap.add_argument("--ours", required=True)
    ap.add_argument("--report", required=True)
    args = ap.parse_args()

    folder = os.path.join(args.site, "site", "products")
    files = sorted(os.path.join(folder, f) for f in os.listdir(folder))
    truth = [json.loads(line) for line in open(os.path.join(args.site, "truth.jsonl"), encoding="utf-8")]
    pages = []
    for path in files:
        with open(path, "rb") as f:
            pages.append(("https://shop.example/products/" + os.path.basename(path), f.read()))
    total_bytes = sum(len(b) for _, b in pages)

    load_start = os.getloadavg()[0]
    results = {}
    ours_out = os.path.join(args.site, "ours.jsonl")
    proc = subprocess.run([args.ours, ours_out], input="\n".join(files), capture_output=True, text=True, check=True)
    summary = json.loads(proc.stdout.strip().splitlines()[-1])
    ours = [json.loads(line) for line in open(ours_out, encoding="utf-8")]
    libxml = subprocess.run(["pkg-config", "--modversion", "libxml-2.0"], capture_output=True, text=True).stdout.strip()
    results[f"agentshop (Swift, system libxml2 {libxml})"] = (summary["seconds"], summary["cpu_seconds"], ours)
    rss = {"agentshop": summary.get("peak_rss_kb", 0) / 1024}

    # The same on two threads (each its own extractor and half the pages): CPU per page should
    # not grow (no contention); the wall clock halves only on two idle cores.
    proc = subprocess.run([args.ours, "--threads", "2", ours_out + ".2.jsonl"], input="\n".join(files), capture_output=True,
                          text=True, check=True)
    two = json.loads(proc.stdout.strip().splitlines()[-1])
    two_records = [json.loads(line) for line in open(ours_out + ".2.jsonl", encoding="utf-8")]

    # The parse stage itself, through the pipeline engine: reads the files, parses on every core,
    # writes gzip JSON Lines. Its pages/s is by wall time, since it uses more than one thread.
    proc = subprocess.run([args.ours, "--stage", os.path.abspath(args.site)], capture_output=True, text=True, check=True)
    stage = json.loads(proc.stdout.strip().splitlines()[-1])
    with gzip.open(stage["output"], "rt", encoding="utf-8") as f:
        stage_records = [json.loads(line) for line in f]

    # Parsing alone, to show how much of each total is the HTML parser (libxml2 versions differ).
    parse_only = {}
    proc = subprocess.run([args.ours, "--parse-only", ours_out + ".parse.jsonl"], input="\n".join(files), capture_output=True,
                          text=True, check=True)
    parse_only["agentshop"] = json.loads(proc.stdout.strip().splitlines()[-1])["cpu_seconds"]
    cpu_start = time.thread_time()
    for _, body in pages:
        lxml.html.fromstring(body)
    parse_only["lxml"] = time.thread_time() - cpu_start
    cpu_start = time.thread_time()
    for _, body in pages:
        parsel.Selector(text=html_to_unicode(None, body)[1])
    parse_only["parsel"] = time.thread_time() - cpu_start

    bundled = ".".join(map(str, lxml.etree.LIBXML_VERSION))
    for name, fn in [(f"lxml {lxml.__version__} (XPath; bundled libxml2 {bundled})", run_lxml),
                     (f"parsel {parsel.__version__} (CSS)", run_parsel)]:
        start, cpu_start = time.perf_counter(), time.thread_time()
        records = fn(pages)
        results[name] = (time.perf_counter() - start, time.thread_time() - cpu_start, records)
    # Python's peak covers the pages held in memory and both runs (an upper bound for each).
    rss["lxml"] = rss["parsel"] = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024

    lines = [f"# Parse benchmark, {datetime.datetime.utcnow().strftime('%Y-%m-%d %H:%M UTC')}", "",
             f"{len(pages)} pages, {total_bytes / 1e6:.1f} MB, {len(FIELDS)} fields per page "
             f"(truth from scripts/make_fixture_site.py); single thread each; parse + extract only, pages in memory.",
             f"Machine: {platform.machine()}, {os.cpu_count()} cores, Python {platform.python_version()}.", "",
             f"Load average at the start {load_start:.1f}, when done {os.getloadavg()[0]:.1f} (pages/s and MB/s use CPU "
             "seconds of the working thread; wall seconds also count time other processes held the cores).", "",
             "| tool | wall s | CPU s | CPU ms/page | pages/CPU-s | MB/s | of which parsing, CPU s | peak RSS MB | field accuracy |",
             "|---|---:|---:|---:|---:|---:|---:|---:|---:|"]
    scores = {}
    for name, (seconds, cpu, records) in results.items():
        accuracy, per_field = score(records, truth)
        scores[name] = per_field
        parsing = parse_only[name.split(" ")[0]]
        lines.append(f"| {name} | {seconds:.2f} | {cpu:.2f} | {cpu * 1000 / len(pages):.3f} | {len(pages) / cpu:,.0f} "
                     f"| {total_bytes / 1e6 / cpu:.1f} | {parsing:.2f} | {rss[name.split(' ')[0]]:.0f} | {accuracy:.2%} |")
    two_accuracy, _ = score(two_records, truth)
    one_cpu, one_wall = results[next(iter(results))][1], results[next(iter(results))][0]
    lines += ["", f"agentshop on 2 threads: {two['seconds']:.2f} s wall, {two['cpu_seconds']:.2f} s CPU "
                  f"({two['cpu_seconds'] * 1000 / len(pages):.3f} ms/page against {one_cpu * 1000 / len(pages):.3f} on one thread: "
                  f"{one_cpu / two['cpu_seconds']:.2f}x the work per CPU-second), wall {one_wall / two['seconds']:.2f}x one thread's "
                  f"(meaningful only on idle cores), peak RSS {two.get('peak_rss_kb', 0) / 1024:.0f} MB, "
                  f"field accuracy {two_accuracy:.2%}."]
    stage_accuracy, stage_fields = score(stage_records, truth)
    scores[f"agentshop parse stage ({os.cpu_count()} cores)"] = stage_fields
    lines += ["", f"The `parse` stage through the pipeline engine (files read from disk, pages parsed on all "
                  f"{os.cpu_count()} cores, gzip JSON Lines written): {stage['seconds']:.2f} s wall, "
                  f"{stage['cpu_seconds']:.2f} s CPU, **{stage['pages'] / stage['seconds']:,.0f} pages/s "
                  f"({total_bytes / 1e6 / stage['seconds']:.1f} MB/s) by the wall clock**, field accuracy {stage_accuracy:.2%}."]
    lines += ["", "Per-field accuracy:", "", "| field | " + " | ".join(n.split(" (")[0] for n in scores) + " |",
              "|---|" + "---:|" * len(scores)]
    for f in FIELDS:
        lines.append(f"| {f} | " + " | ".join(f"{scores[n][f]:.1%}" for n in scores) + " |")
    report = "\n".join(lines) + "\n"
    with open(args.report, "w", encoding="utf-8") as f:
        f.write(report)
    print(report)


if __name__ == "__main__":
    sys.exit(main())
