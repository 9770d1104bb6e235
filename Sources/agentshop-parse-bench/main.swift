// Parse-only throughput of the HTML module, for bench/parse_bench.sh.
//
//   agentshop-parse-bench [--parse-only] OUT.jsonl FILE...   (or FILE list on stdin when none are given)
//
// Reads every page into memory first, then times parsing and extracting the bench's fields
// on one thread; writes one JSON record per page to OUT.jsonl (for accuracy against the truth)
// and prints {"pages":…,"bytes":…,"seconds":…,"cpu_seconds":…} on stdout.
import Foundation
import HTML
import Lake

func field(_ name: String, _ source: FieldSource, _ type: FieldType = .string, regex: String? = nil, list: Bool = false) -> FieldSpec {
    var spec = FieldSpec(name: name, source: source, type: type)
    spec.regex = regex
    spec.list = list
    return spec
}

// The same fields as bench/parse_bench.py asks of lxml (XPath) and parsel (CSS).
let fields = [
    field("name", .css("h1.product-title::text")),
    field("price", .css(".price-box .price::text"), .money),
    field("sku", .css(".sku::text"), regex: "SKU:\\s*(\\S+)"),
    field("brand", .jsonLD("Product.brand")),
    field("rating", .jsonLD("AggregateRating.ratingValue"), .number),
    field("review_count", .xpath("//div[@class='rating']/span[@class='count']/text()"), .int),
    field("in_stock", .jsonLD("Product.offers.availability"), .bool),
    field("image", .meta("og:image"), .url),
    field("category", .css("ul.breadcrumb li:last-child a::text")),
    field("released", .css("time.released::text"), .date),
    field("tags", .css(".tags a::text"), list: true),
]

var arguments = Array(CommandLine.arguments.dropFirst())
guard !arguments.isEmpty else {
    FileHandle.standardError.write(Data("usage: agentshop-parse-bench OUT.jsonl FILE...\n".utf8))
    exit(64)
}
// --parse-only: time libxml2 parsing (with our charset handling) alone, to split the cost.
let parseOnly = arguments.first == "--parse-only"
if parseOnly { arguments.removeFirst() }
let outPath = arguments.removeFirst()
if arguments.isEmpty {
    while let line = readLine() { if !line.isEmpty { arguments.append(line) } }
}
// URL of each page: https://shop.example/products/<file name>, as the fixture generator writes.
let pages: [(url: String, bytes: [UInt8])] = try arguments.map { path in
    ("https://shop.example/products/" + (path as NSString).lastPathComponent, try FileInput.readAll(path: path))
}
let totalBytes = pages.reduce(0) { $0 + $1.bytes.count }

let extractor = try PageExtractor(fields: fields)
var results: [JSONObject] = []
results.reserveCapacity(pages.count)
// CPU time of this thread as well as wall time: on a shared machine the wall clock also counts
// the time other processes held the cores.
func cpuSeconds() -> Double {
    var t = timespec()
    clock_gettime(CLOCK_THREAD_CPUTIME_ID, &t)
    return Double(t.tv_sec) + Double(t.tv_nsec) / 1e9
}
let start = DispatchTime.now().uptimeNanoseconds
let cpuStart = cpuSeconds()
for page in pages {
    let document = try HTMLDocument(bytes: page.bytes, url: page.url)
    if parseOnly { results.append(JSONObject([("url", .string(page.url))])); continue }
    let extraction = extractor.extract(document)
    var record = JSONObject([("url", .string(page.url))])
    for entry in extraction.records.first ?? JSONObject() { record[entry.key] = entry.value }
    results.append(record)
}
let seconds = Double(DispatchTime.now().uptimeNanoseconds - start) / 1e9
let cpu = cpuSeconds() - cpuStart

let writer = try RecordWriter(path: outPath)
for record in results { try writer.write(record) }
try writer.commit()
print(JSONValue.object(JSONObject([("pages", .int(Int64(pages.count))), ("bytes", .int(Int64(totalBytes))),
                                   ("seconds", .double(seconds)), ("cpu_seconds", .double(cpu))])).serialized())
