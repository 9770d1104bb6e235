#!/usr/bin/env python3
# Where a crawled page's CPU goes: classifies the samples of `perf record --call-graph dwarf` over an
# `agentshop run` of bench/crawl/pipeline.yaml (site served by `bench/crawl_bench.sh serve`).
#
#   perf record -F 99 --call-graph dwarf,16384 -o perf.data agentshop run crawl-bench --lake datalake
#   perf script -i perf.data -F comm,tid,ip,sym,dso | swift demangle | python3 bench/crawl/perf_breakdown.py PAGES CPU_SECONDS
#
# Each sample goes to the first row whose rule matches its stack (argument lists stripped from the
# demangled names); zlib's and libxml2's own frames are unnamed or unchained, so rows are decided by the
# Swift frames above them. Prints a Markdown table: share of samples and CPU ms per page.
import sys, collections, re
rules = [
    ("gzip deflate + CRC-32 (WARC records, level 1)", lambda s: "GzipWriter" in s or ("deflate" in s and "inflate" not in s.split("|")[0])),
    ("gunzip (parse stage reading the WARC; crawl log)", lambda s: "GzipReader" in s or "inflate" in s),
    ("SHA-1 (WARC digests)", lambda s: "sha1_block" in s or "SHA1_" in s or "4Lake4SHA1" in s),
    ("SHA-256 (content_sha256, keys)", lambda s: "sha256_block" in s or "SHA256_" in s or "4Lake6SHA256" in s),
    ("WARC page index (crawl: what a reader takes from each record; parse stage: the index read)", lambda s: "WARCPageIndex" in s or "pageOutcome" in s or "readBack" in s),
    ("HTML parse, crawl (libxml2)", lambda s: re.search(r"htmlParse|htmlCtxt|htmlRead|xmlParse|htmlCurrentChar|xmlSAX|htmlAutoClose|xmlNewDoc|xmlAddChild|xmlNewNode|xmlDict|xmlStrn|UTF8ToHtml|xmlCharEnc|xmlCopyChar", s) and "FollowRules" in s),
    ("HTML parse, parse stage (libxml2)", lambda s: re.search(r"htmlParse|htmlCtxt|htmlRead|xmlParse|htmlCurrentChar|xmlSAX|htmlAutoClose|xmlNewDoc|xmlAddChild|xmlNewNode|xmlDict|xmlStrn|UTF8ToHtml|xmlCharEnc|xmlCopyChar", s)),
    ("tree freed (xmlFreeDoc)", lambda s: "xmlFreeDoc" in s or "xmlFreeNode" in s),
    ("charset detection / UTF-8 check", lambda s: "Charset" in s),
    ("field extraction, crawl (parse once)", lambda s: "SharedExtractionWriter" in s or ("PageExtractor" in s and "FollowRules" in s)),
    ("field extraction, parse stage", lambda s: "PageExtractor" in s or "CSSMatcher" in s and "ParsedBatch" in s),
    ("link extraction (follow selectors)", lambda s: "FollowRules" in s),
    ("shared extraction lookup (parse stage)", lambda s: "SharedExtractionIndex" in s or "SharedExtraction" in s),
    ("JSON out (records, crawl log)", lambda s: "RecordWriter" in s or "JSONWriter" in s or "serialized" in s),
    ("journal + per-URL state (FetchEntry JSON, appends)", lambda s: "FetchState." in s or "FetchEntry.encode" in s or "FetchEntry.init" in s or "FetchEntry.jsonLine" in s or "EntryJSONWriter" in s or "AppendOnlyFile" in s or "Header.encode" in s),
    ("parse stage: reading WARC records (framing, HTTP head)", lambda s: "WARCReader" in s or "PageReader" in s or "httpMessage" in s or "decodedBody" in s),
    ("WARC framing, crawl (headers, record IDs, dates)", lambda s: "WARC" in s or "FetchOutput" in s or "HTTPMessage" in s or "PageReader" in s),
    ("HTTP (libcurl, its event loop)", lambda s: "libcurl" in s or "Transport" in s or "PageFetcher" in s),
    ("crawl schedule", lambda s: "CrawlSchedule" in s or "URLNormalizer" in s or "URLResolver" in s),
    ("kernel (syscalls, network, page faults)", lambda s: "[kernel" in s.split("|")[0]),
]
counts = collections.Counter()
total = 0
stack = []
def flush():
    global total
    if not stack: return
    s = "|".join(stack)
    total += 1
    for name, rule in rules:
        if rule(s): counts[name] += 1; break
    else: counts["other (Swift runtime, malloc, locks, tasks)"] += 1
for line in sys.stdin:
    if not line.strip():
        flush(); stack = []; continue
    if line[0] not in " \t":
        flush(); stack = []; continue
    parts = line.strip().split(None, 1)
    if len(parts) == 2:
        frame = parts[1]
        dso = frame[frame.rfind(" ("):] if " (" in frame else ""
        name = frame[:len(frame) - len(dso)] if dso else frame
        prev = None
        while prev != name:
            prev = name
            name = re.sub(r"\([^()]*\)", "", name)
            name = re.sub(r"<[^<>]*>", "", name)
        stack.append(name + dso)
flush()
pages = float(sys.argv[1]); cpu = float(sys.argv[2])
print(f"| where | share of samples | CPU ms per page |")
print(f"|---|---:|---:|")
for name, n in counts.most_common():
    print(f"| {name} | {n/total*100:.1f}% | {cpu*1000/pages*n/total:.3f} |")
print(f"| total ({total} samples) | 100% | {cpu*1000/pages:.3f} |")
