#!/usr/bin/env python3
"""Do AgentShop and Scrapy agree? Compares two JSON Lines files (plain or .gz) record by record, keyed by url.

    compare_records.py OURS.jsonl.gz SCRAPY.jsonl [--fields a,b,c] [--expect N] [--json SUMMARY.json]

Only the given fields are compared (default: every field of the Scrapy records); AgentShop's extra
`fetched_at` is ignored. Exit 0 when both have the same URLs, no duplicates, every field equal (and
N records when --expect is given); 1 otherwise, with the first differences printed.
"""
import argparse
import gzip
import json
import sys


def load(path):
    opener = gzip.open if path.endswith(".gz") else open
    records = {}
    duplicates = 0
    with opener(path, "rt", encoding="utf-8") as f:
        for line in f:
            if line.strip():
                record = json.loads(line)
                if record["url"] in records:
                    duplicates += 1
                records[record["url"]] = record
    return records, duplicates


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("ours")
    parser.add_argument("theirs")
    parser.add_argument("--fields")
    parser.add_argument("--expect", type=int)
    parser.add_argument("--json")
    args = parser.parse_args()
    ours, our_dups = load(args.ours)
    theirs, their_dups = load(args.theirs)
    fields = args.fields.split(",") if args.fields else sorted({k for r in theirs.values() for k in r} - {"url"})
    only_ours = sorted(set(ours) - set(theirs))
    only_theirs = sorted(set(theirs) - set(ours))
    differences = []
    for url in sorted(set(ours) & set(theirs)):
        for field in fields:
            a, b = ours[url].get(field), theirs[url].get(field)
            if a != b:
                differences.append((url, field, a, b))
    ok = not only_ours and not only_theirs and not differences and our_dups == 0 and their_dups == 0
    if args.expect is not None and (len(ours) != args.expect or len(theirs) != args.expect):
        ok = False
    summary = {"agentshop_records": len(ours), "scrapy_records": len(theirs), "fields": fields,
               "agentshop_duplicates": our_dups, "scrapy_duplicates": their_dups,
               "only_agentshop": len(only_ours), "only_scrapy": len(only_theirs),
               "field_differences": len(differences), "same": ok}
    if args.json:
        with open(args.json, "w") as f:
            json.dump(summary, f, indent=1)
    print(f"records: AgentShop {len(ours)}, Scrapy {len(theirs)}; fields compared: {', '.join(fields)}")
    for url in only_ours[:5]:
        print(f"  only AgentShop: {url}")
    for url in only_theirs[:5]:
        print(f"  only Scrapy: {url}")
    for url, field, a, b in differences[:10]:
        print(f"  {url} {field}: AgentShop {a!r}, Scrapy {b!r}")
    if our_dups or their_dups:
        print(f"  duplicate URLs: AgentShop {our_dups}, Scrapy {their_dups}")
    if args.expect is not None:
        print(f"  expected {args.expect} records each")
    print("same records" if ok else f"DIFFERENT: {len(only_ours)} only ours, {len(only_theirs)} only Scrapy's, "
                                     f"{len(differences)} field differences")
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
