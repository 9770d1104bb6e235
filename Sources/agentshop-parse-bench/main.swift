// Parse-only throughput of the HTML module, for bench/parse_bench.sh.
//
//   agentshop-parse-bench [--threads N] [--parse-only] OUT.jsonl FILE...   (or FILE list on stdin when none are given)
//   agentshop-parse-bench --stage SITE_DIR                  (the parse stage, through the pipeline engine)
//
// Reads every page into memory first, then times parsing and extracting the bench's fields
// on one thread (or N threads, each with its own extractor and an equal share of the pages:
// "cpu_seconds" is then the sum of the threads' CPU time); writes one JSON record per page to OUT.jsonl (for accuracy against the truth)
// and prints {"pages":…,"bytes":…,"seconds":…,"cpu_seconds":…} on stdout.
import Foundation
import HTML
import Lake
import Logging
import Pipeline
import Stages

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

/// The same fields as a parse stage, run by the pipeline engine over SITE_DIR/site/products/*.html
/// (SITE_DIR is the lake): reading files, parsing on every core, writing gzip JSON Lines.
func runStage(site: String) async throws {
    let lake = Lake(root: site)
    let yaml = """
        pipeline: parse_bench
        stages:
          products:
            parse:
              from: site/products/*.html
              base_url: https://shop.example/products/
              fields:
                name: "h1.product-title::text"
                price: { css: ".price-box .price::text", type: money }
                sku: { css: ".sku::text", regex: 'SKU:\\s*(\\S+)' }
                brand: { jsonld: Product.brand }
                rating: { jsonld: AggregateRating.ratingValue, type: number }
                review_count: { xpath: "//div[@class='rating']/span[@class='count']/text()", type: int }
                in_stock: { jsonld: Product.offers.availability, type: bool }
                image: { meta: "og:image", type: url }
                category: "ul.breadcrumb li:last-child a::text"
                released: { css: "time.released::text", type: date }
                tags: { css: ".tags a::text", list: true }
            out: stage/products.jsonl.gz
        """
    try FileManager.default.createDirectory(atPath: site + "/pipelines", withIntermediateDirectories: true)
    try AtomicFile.write(yaml, to: site + "/pipelines/parse_bench.yaml")
    let environment = PipelineEnvironment(variables: [:])
    let (spec, _) = try PipelineLoader(registry: StageRegistry([ParseStage.kind]), environment: environment, lake: lake)
        .load(file: site + "/pipelines/parse_bench.yaml")
    var options = RunOptions()
    options.force = true
    var logger = Logger(label: "parse-bench")
    logger.logLevel = .error
    var usageStart = rusage()
    getrusage(RUSAGE_SELF.rawValue, &usageStart)
    let start = DispatchTime.now().uptimeNanoseconds
    let manifest = await PipelineRunner(spec: spec, lake: lake, environment: environment, logger: logger, options: options).run()
    let seconds = Double(DispatchTime.now().uptimeNanoseconds - start) / 1e9
    var usage = rusage()
    getrusage(RUSAGE_SELF.rawValue, &usage)
    func cpu(_ u: rusage) -> Double {
        Double(u.ru_utime.tv_sec + u.ru_stime.tv_sec) + Double(u.ru_utime.tv_usec + u.ru_stime.tv_usec) / 1e6
    }
    guard manifest.status == .succeeded, let stage = manifest.stages.first else {
        FileHandle.standardError.write(Data("stage failed: \(manifest.stages.first?.error ?? manifest.error ?? "?")\n".utf8))
        exit(1)
    }
    print(JSONValue.object(JSONObject([("pages", .int(Int64(stage.counts["pages_in"] ?? 0))), ("seconds", .double(seconds)),
                                       ("cpu_seconds", .double(cpu(usage) - cpu(usageStart))),
                                       ("output", .string(site + "/stage/products.jsonl.gz"))])).serialized())
}

var arguments = Array(CommandLine.arguments.dropFirst())
if arguments.first == "--stage", arguments.count == 2 {
    try await runStage(site: arguments[1])
    exit(0)
}
guard !arguments.isEmpty else {
    FileHandle.standardError.write(Data("usage: agentshop-parse-bench OUT.jsonl FILE...\n".utf8))
    exit(64)
}
var threadCount = 1
if arguments.first == "--threads", arguments.count > 1, let n = Int(arguments[1]), n >= 1 {
    threadCount = n
    arguments.removeFirst(2)
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

// CPU time of this thread as well as wall time: on a shared machine the wall clock also counts
// the time other processes held the cores.
@Sendable func cpuSeconds() -> Double {
    var t = timespec()
    clock_gettime(CLOCK_THREAD_CPUTIME_ID, &t)
    return Double(t.tv_sec) + Double(t.tv_nsec) / 1e9
}
/// Parses and extracts `pages[range]` on the calling thread; returns the records and the thread's CPU seconds.
@Sendable func work(_ pages: [(url: String, bytes: [UInt8])], _ range: Range<Int>, fields: [FieldSpec], parseOnly: Bool) throws
    -> ([JSONObject], Double) {
    let cpuStart = cpuSeconds()
    let extractor = try PageExtractor(fields: fields)
    var results: [JSONObject] = []
    results.reserveCapacity(range.count)
    for page in pages[range] {
        let document = try HTMLDocument(bytes: page.bytes, url: page.url)
        if parseOnly { results.append(JSONObject([("url", .string(page.url))])); continue }
        let extraction = extractor.extract(document)
        var record = JSONObject([("url", .string(page.url))])
        for entry in extraction.records.first ?? JSONObject() { record[entry.key] = entry.value }
        results.append(record)
    }
    return (results, cpuSeconds() - cpuStart)
}

/// One slot per thread for its share's outcome (each thread writes only its own).
final class Shares: @unchecked Sendable {
    var outcomes: [Result<([JSONObject], Double), Error>?]
    init(_ n: Int) { outcomes = Array(repeating: nil, count: n) }
}
let start = DispatchTime.now().uptimeNanoseconds
var results: [JSONObject] = []
var cpu = 0.0
if threadCount == 1 {
    (results, cpu) = try work(pages, 0..<pages.count, fields: fields, parseOnly: parseOnly)
} else {
    let shares = Shares(threadCount)
    let done = DispatchGroup()
    for t in 0..<threadCount {
        let range = (pages.count * t / threadCount)..<(pages.count * (t + 1) / threadCount)
        done.enter()
        let (pages, fields, parseOnly) = (pages, fields, parseOnly)
        let thread = Thread {
            shares.outcomes[t] = Result { try work(pages, range, fields: fields, parseOnly: parseOnly) }
            done.leave()
        }
        thread.stackSize = 8 << 20
        thread.start()
    }
    done.wait()
    for outcome in shares.outcomes {
        let (records, seconds) = try outcome!.get()
        results += records
        cpu += seconds
    }
}
let seconds = Double(DispatchTime.now().uptimeNanoseconds - start) / 1e9

let writer = try RecordWriter(path: outPath)
for record in results { try writer.write(record) }
try writer.commit()
var usage = rusage()
getrusage(RUSAGE_SELF.rawValue, &usage)
print(JSONValue.object(JSONObject([("pages", .int(Int64(pages.count))), ("bytes", .int(Int64(totalBytes))),
                                   ("threads", .int(Int64(threadCount))), ("seconds", .double(seconds)),
                                   ("cpu_seconds", .double(cpu)), ("peak_rss_kb", .int(Int64(usage.ru_maxrss)))])).serialized())
