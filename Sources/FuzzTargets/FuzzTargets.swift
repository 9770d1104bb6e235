import Foundation
import HTML
import Lake
import Pipeline
import Stages

/// The fuzz targets' bodies: what one input does to one parser. fuzz/ wraps each in a libFuzzer
/// entry point; FuzzRegressionTests replays the kept corpora and crashing inputs through the same
/// functions in the normal test run. A body crashes (fatalError, a trap) only on a real bug.
public enum FuzzTargets {
    public static let all: [String: @Sendable ([UInt8]) -> Void] = [
        "css_selector": cssSelector,
        "pipeline_yaml": pipelineYaml,
        "html_extract": htmlExtract,
        "jsonl": jsonl,
        "csv": csv,
        "warc": warc,
        "cron": cron,
        "money": money,
        "gzip": gzip,
    ]

    /// CSS selectors compile to XPath or fail with a positioned error; what compiles is XPath libxml2 accepts.
    public static func cssSelector(_ bytes: [UInt8]) {
        let text = String(decoding: bytes, as: UTF8.self)
        guard let xpath = try? CSSSelector.toXPath(text) else { return }
        do { _ = try page().xpath(xpath) } catch {
            fatalError("selector \(text.debugDescription) compiled to invalid XPath \(xpath): \(error)")
        }
    }

    /// Any text as a pipeline file, validated as `validate` and `run` do (without a lake, and with
    /// one, so inputs are looked up): diagnostics that each have a position, or a spec the engine
    /// can plan with — an order for its stages, outputs that resolve in the lake, a schedule that
    /// computes its next runs.
    public static func pipelineYaml(_ bytes: [UInt8]) {
        withScratchFile("pipeline.yaml", bytes) { path in
            for lake in [nil, scratchLake] {
                let loader = PipelineLoader(registry: BuiltinStages.registry, environment: PipelineEnvironment(variables: [:]),
                                            lake: lake)
                do {
                    let (spec, warnings) = try loader.load(file: path)
                    checkPositions(warnings)
                    plan(spec)
                } catch let error as PipelineValidationError {
                    if !error.diagnostics.contains(where: { $0.severity == .error }) {
                        fatalError("a refused pipeline without an error: \(error.diagnostics)")
                    }
                    checkPositions(error.diagnostics)
                } catch {
                    fatalError("the loader threw something other than diagnostics: \(error)")
                }
            }
        }
    }

    static func checkPositions(_ diagnostics: [Diagnostic]) {
        for diagnostic in diagnostics where diagnostic.line < 1 || diagnostic.column < 1 {
            fatalError("diagnostic without a position: \(diagnostic)")
        }
    }

    /// What `plan` and `run` do with a valid spec before any stage runs.
    static func plan(_ spec: PipelineSpec) {
        if let cycle = PipelineGraph.findCycle(spec.stages) { fatalError("a valid pipeline with a cycle: \(cycle)") }
        let order = PipelineGraph.topologicalOrder(spec.stages)
        if order.count != spec.stages.count { fatalError("the stage order lost stages: \(order.map(\.name))") }
        let lake = Lake(root: scratchLake.root)
        for stage in order {
            do {
                _ = try stage.outputs(in: lake, runID: "20261125T030000Z-000000", runDate: "2026-11-25", pipeline: spec.name)
            } catch {
                fatalError("stage \(stage.name): validated outputs \(stage.outputTemplates) do not resolve: \(error)")
            }
            _ = PipelineGraph.downstream(of: stage.name, in: spec.stages)
        }
        _ = spec.schedule?.nextRuns(after: Date(timeIntervalSince1970: 1_795_000_000), count: 3)
    }

    /// An empty lake for validation to look inputs up in.
    static let scratchLake: Lake = {
        let root = scratch + "/lake"
        try? FileManager.default.createDirectory(atPath: root, withIntermediateDirectories: true)
        return Lake(root: root)
    }()

    /// Broken HTML through a parse stage's whole field extraction, and link discovery.
    public static func htmlExtract(_ bytes: [UInt8]) {
        guard let document = try? HTMLDocument(bytes: bytes, url: "https://shop.example/p/1") else { return }
        _ = extractor().extract(document)
        _ = try? document.links("a")
    }

    /// The JSONL reader over arbitrary bytes, under both malformed-record policies; what it reads
    /// round-trips through RecordWriter unchanged.
    public static func jsonl(_ bytes: [UInt8]) {
        withScratchFile("records.jsonl", bytes) { path in
            drainRecords(path)
            recordsRoundTrip(path, csv: false)
        }
    }

    /// The CSV reader over arbitrary bytes, under both malformed-record policies; what it reads
    /// round-trips through RecordWriter as the same cells.
    public static func csv(_ bytes: [UInt8]) {
        withScratchFile("records.csv", bytes) { path in
            drainRecords(path)
            recordsRoundTrip(path, csv: true)
        }
    }

    /// The WARC reader over arbitrary bytes (plain records; gzip is the gzip target's part); the
    /// records it reads round-trip through WARCWriter.
    public static func warc(_ bytes: [UInt8]) {
        withScratchFile("pages.warc", bytes) { path in
            guard let reader = try? WARCReader(path: path, maxRecordBytes: 1 << 20) else { return }
            var records: [WARCRecord] = []
            while records.count < 1000, let record = try? reader.next() {
                records.append(record)
                _ = try? record.httpMessage()?.decodedBody(maxBytes: 1 << 20)
            }
            warcRoundTrip(records)
        }
    }

    /// Schedules: parsed or refused; a parsed one computes its next runs.
    public static func cron(_ bytes: [UInt8]) {
        let text = String(decoding: bytes, as: UTF8.self)
        guard let schedule = try? Schedule(text) else { return }
        _ = schedule.nextRuns(after: Date(timeIntervalSince1970: 1_795_000_000), count: 3)
    }

    /// Prices as shops print them: what parses carries a three-letter currency or none.
    public static func money(_ bytes: [UInt8]) {
        let text = String(decoding: bytes, as: UTF8.self)
        if let currency = Money.parse(text)?.currency, currency.count != 3 {
            fatalError("currency \(currency) from \(text.debugDescription)")
        }
    }

    /// The gzip reader over arbitrary bytes: data, a clear error, or the size cap; and the bytes
    /// themselves round-trip through GzipWriter and GzipReader.
    public static func gzip(_ bytes: [UInt8]) {
        guard let reader = try? GzipReader(MemoryInput(bytes), label: "fuzz", maxOutputBytes: 4 << 20) else { return }
        var buffer = [UInt8](repeating: 0, count: 65_536)
        while let n = try? buffer.withUnsafeMutableBytes({ try reader.read(into: $0) }), n > 0 {}
        gzipRoundTrip(bytes)
    }

    // MARK: Shared

    /// Readers that take paths read their inputs back from here (tmpfs when there is one).
    static let scratch: String = {
        let base = FileManager.default.fileExists(atPath: "/dev/shm") ? "/dev/shm" : NSTemporaryDirectory()
        let folder = base + "/agentshop-fuzz-\(getpid())"
        try? FileManager.default.createDirectory(atPath: folder, withIntermediateDirectories: true)
        return folder
    }()

    /// Writes `bytes` to a fresh file, runs `body` on its path, removes it.
    static func withScratchFile(_ name: String, _ bytes: [UInt8], _ body: (String) -> Void) {
        let path = scratch + "/" + UUID().uuidString + "-" + name
        guard FileManager.default.createFile(atPath: path, contents: Data(bytes)) else { fatalError("cannot write \(path)") }
        defer { unlink(path) }
        body(path)
    }

    /// A small well-formed page to evaluate compiled selectors against.
    /// Made per input: documents are not shared between threads.
    static func page() -> HTMLDocument { try! HTMLDocument(html: """
        <html><head><title>t</title></head><body><div id="a" class="x y"><p>one</p><p lang="en">two</p>
        <a href="/n" rel="next">next</a><ul><li>1</li><li>2</li><li>3</li></ul></div></body></html>
        """) }

    /// The demo's product fields: CSS, XPath, JSON-LD, meta, regex and every type.
    static func extractor() -> PageExtractor {
        func field(_ name: String, _ source: FieldSource, _ type: FieldType = .string, regex: String? = nil) -> FieldSpec {
            var spec = FieldSpec(name: name, source: source, type: type)
            spec.regex = regex
            return spec
        }
        return try! PageExtractor(fields: [
            field("name", .css("h1.product-title::text")),
            field("price", .css(".price-box .price::text"), .money),
            field("sku", .css(".sku::text"), regex: "SKU:\\s*(\\S+)"),
            field("brand", .jsonLD("Product.brand")),
            field("rating", .jsonLD("AggregateRating.ratingValue"), .number),
            field("count", .xpath("//div[@class='rating']/span[@class='count']/text()"), .int),
            field("stock", .jsonLD("Product.offers.availability"), .bool),
            field("image", .meta("og:image"), .url),
            field("released", .css("time.released::text"), .date),
            field("link", .css("a::attr(href)"), .url),
        ])
    }

    /// Reads every record of a JSONL or CSV file under both malformed-record policies.
    static func drainRecords(_ path: String) {
        for policy in [MalformedPolicy.fail, .skip] {
            guard let reader = try? RecordReader(path: path, policy: policy) else { continue }
            var records = 0
            while records < 100_000, let record = try? reader.next() {
                records += 1
                _ = JSONValue.object(record).serialized()
            }
        }
    }
}
