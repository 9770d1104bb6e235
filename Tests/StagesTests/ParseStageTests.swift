import Foundation
import HTML
import Lake
import Logging
import Pipeline
import Testing
import TestSupport
@testable import Stages

/// The parse stage end to end: the fixture shop (scripts/make_fixture_site.py) read from HTML files
/// and from a WARC, run through the pipeline engine, compared field by field with the site's truth.
struct ParseStageTests {
    static let fixtures = URL(fileURLWithPath: #filePath).deletingLastPathComponent().appendingPathComponent("Fixtures").path
    static let runDate = "2026-11-25"

    /// A lake in a fresh temporary folder, with the fixture site under raw_data/uploads/site.
    final class TestLake {
        let directory: TemporaryDirectory
        let lake: Lake
        var root: String { directory.path }

        init() throws {
            directory = try TemporaryDirectory()
            let path = directory.path
            for folder in ["raw_data/uploads/site/products", "raw_data/logs", "pipelines", "scraped_data/products"] {
                try FileManager.default.createDirectory(atPath: path + "/" + folder, withIntermediateDirectories: true)
            }
            lake = Lake(root: path)
            for name in try FileManager.default.contentsOfDirectory(atPath: fixtures + "/site/products") {
                try FileManager.default.copyItem(atPath: fixtures + "/site/products/" + name,
                                                 toPath: lake.root + "/raw_data/uploads/site/products/" + name)
            }
        }

        func pipeline(_ yaml: String, name: String = "shop") -> String {
            let file = lake.root + "/pipelines/\(name).yaml"
            _ = FileManager.default.createFile(atPath: file, contents: Data(yaml.utf8))
            return file
        }

        func run(_ yaml: String) async throws -> RunManifest {
            let loader = PipelineLoader(registry: StageRegistry([ParseStage.kind]), environment: PipelineEnvironment(variables: [:]),
                                        lake: lake)
            let (spec, _) = try loader.load(file: pipeline(yaml))
            var options = RunOptions()
            options.runDate = runDate
            var logger = Logger(label: "test")
            logger.logLevel = .critical
            return await PipelineRunner(spec: spec, lake: lake, environment: PipelineEnvironment(variables: [:]),
                                        logger: logger, options: options).run()
        }

        func records(_ relative: String) throws -> [JSONObject] {
            let reader = try RecordReader(path: lake.root + "/" + relative)
            var out: [JSONObject] = []
            while let record = try reader.next() { out.append(record) }
            return out
        }

        func validationErrors(_ yaml: String) -> [Diagnostic] {
            let loader = PipelineLoader(registry: StageRegistry([ParseStage.kind]), environment: PipelineEnvironment(variables: [:]),
                                        lake: lake)
            do {
                _ = try loader.load(file: pipeline(yaml, name: "bad"))
                return []
            } catch {
                return error.diagnostics
            }
        }

        /// The fixture pages as a WARC, the way fetch writes it, with what a crawl also meets:
        /// request and metadata records, a 404, an image, a gzip-encoded and a chunked response,
        /// and two product pages that must be rejected.
        func writeWARC(_ relative: String) throws {
            let headers = try ParseStageTests.jsonLines(ParseStageTests.fixtures + "/headers.jsonl")
            let writer = try WARCWriter(path: lake.root + "/" + relative)
            try writer.writeWarcinfo(fields: [("software", "agentshop tests")])
            let date = Date(timeIntervalSince1970: 1_764_064_800)
            for (i, header) in headers.enumerated() {
                let url = header["url"]!.stringValue!
                let file = ParseStageTests.fixtures + "/site/products/" + (url as NSString).lastPathComponent
                var body = try FileInput.readAll(path: file)
                var fields = [("Content-Type", header["content_type"]!.stringValue!)]
                if i % 6 == 1 {
                    let sink = CollectingSink()
                    let gzip = try GzipWriter(sink)
                    try gzip.write(body)
                    try gzip.finish()
                    body = sink.bytes
                    fields.append(("Content-Encoding", "gzip"))
                } else if i % 6 == 4 {
                    body = Array(String(body.count, radix: 16).utf8) + [13, 10] + body + Array("\r\n0\r\n\r\n".utf8)
                    fields.append(("Transfer-Encoding", "chunked"))
                }
                let request = try writer.writeRequest(targetURI: url, date: date, headers: [("Host", "shop.example")])
                let response = try writer.writeResponse(targetURI: url, date: date, statusLine: "HTTP/1.1 200 OK",
                                                        headers: fields, body: body, concurrentTo: request)
                try writer.writeMetadata(targetURI: url, date: date, refersTo: response, fields: [("fetchTimeMs", "5")])
            }
            try writer.writeResponse(targetURI: "https://shop.example/products/gone.html", date: date,
                                     statusLine: "HTTP/1.1 404 Not Found", headers: [("Content-Type", "text/html")],
                                     body: Array("<h1>Gone</h1>".utf8))
            try writer.writeResponse(targetURI: "https://shop.example/img/p0001.jpg", date: date, statusLine: "HTTP/1.1 200 OK",
                                     headers: [("Content-Type", "image/jpeg")], body: [0xFF, 0xD8, 0xFF])
            try writer.writeResponse(targetURI: "https://shop.example/products/no-price.html", date: date,
                                     statusLine: "HTTP/1.1 200 OK", headers: [("Content-Type", "text/html")],
                                     body: Array("<h1 class=product-title>No price</h1>".utf8))
            try writer.writeResponse(targetURI: "https://shop.example/products/call-us.html", date: date,
                                     statusLine: "HTTP/1.1 200 OK", headers: [("Content-Type", "text/html")],
                                     body: Array("<h1 class=product-title>Ask</h1><div class=price-box><span class=price>Call us</span></div>".utf8))
            try writer.commit()
        }
    }

    final class CollectingSink: ByteSink {
        var bytes: [UInt8] = []
        func write(_ data: UnsafeRawBufferPointer) throws { bytes.append(contentsOf: data) }
        func finish() throws {}
    }

    static func jsonLines(_ path: String) throws -> [JSONObject] {
        let text = String(decoding: try FileInput.readAll(path: path), as: UTF8.self)
        return try text.split(separator: "\n").map { line in
            guard case .object(let o) = try JSONValue.parse(String(line)) else { throw StageError("not an object") }
            return o
        }
    }

    static let productFields = """
          fields:
            name: "h1.product-title::text"
            price: { css: ".price-box .price::text", type: money, required: true }
            sku: { css: ".sku::text", regex: "SKU:\\\\s*(\\\\S+)", required: true }
            brand: { jsonld: Product.brand }
            rating: { jsonld: AggregateRating.ratingValue, type: number }
            review_count: { xpath: "//div[@class='rating']/span[@class='count']/text()", type: int }
            in_stock: { jsonld: Product.offers.availability, type: bool }
            image: { meta: "og:image", type: url }
            category: "ul.breadcrumb li:last-child a::text"
            released: { css: "time.released::text", type: date }
            tags: { css: ".tags a::text", list: true }
    """

    /// Compares every field of every product with the truth; returns the number of fields compared.
    @discardableResult
    static func compareWithTruth(_ records: [JSONObject], fetchedAt: String?) throws -> Int {
        let truth = try jsonLines(fixtures + "/truth.jsonl")
        #expect(records.count == truth.count)
        let byURL = Dictionary(records.map { ($0["url"]!.stringValue!, $0) }, uniquingKeysWith: { a, _ in a })
        var compared = 0
        for expected in truth {
            let url = expected["url"]!.stringValue!
            guard let record = byURL[url] else { Issue.record("no record for \(url)"); continue }
            #expect(record.keys.prefix(2) == ["url", "fetched_at"])
            if let fetchedAt { #expect(record["fetched_at"] == .string(fetchedAt)) }
            for entry in expected where entry.key != "url" {
                let actual = record[entry.key]
                switch (entry.value, actual) {
                case (.double(let a), .double(let b)?): #expect(a == b, "\(url) \(entry.key)")
                case (.int(let a), .double(let b)?): #expect(Double(a) == b, "\(url) \(entry.key)")
                default: #expect(actual == entry.value, "\(url) \(entry.key): \(String(describing: actual)) != \(entry.value)")
                }
                compared += 1
            }
        }
        return compared
    }

    @Test func parsesHTMLFilesIntoTheTruth() async throws {
        let lake = try TestLake()
        let manifest = try await lake.run("""
            pipeline: shop
            stages:
              products:
                parse:
                  from: raw_data/uploads/site/**/*.html
                  base_url: https://shop.example/
            \(Self.productFields)
                out: scraped_data/products/dt={run_date}/products.jsonl.gz
            """)
        #expect(manifest.status == .succeeded, "\(manifest.stages.map { $0.error ?? "" })")
        let records = try lake.records("scraped_data/products/dt=\(Self.runDate)/products.jsonl.gz")
        let compared = try Self.compareWithTruth(records, fetchedAt: nil)
        #expect(compared == 20 * 12)
        let stage = try #require(manifest.stages.first)
        #expect(stage.counts["pages_in"] == 20)
        #expect(stage.counts["records_out"] == 20)
        #expect(stage.counts["rejected"] == 0)
        // Pages 2, 7, 12, 17 carry a malformed JSON-LD block besides the good one.
        #expect(stage.counts["json_ld_warnings"] == 4)
    }

    /// Many small batches run on every core; records and rejects must still come out in input order.
    @Test func keepsInputOrderAcrossParallelBatches() async throws {
        let lake = try TestLake()
        try lake.writeWARC("scraped_data/products/dt=\(Self.runDate)/pages.warc.gz")
        let manifest = try await lake.run("""
            pipeline: shop
            stages:
              one_batch:
                parse:
                  from: scraped_data/products/dt=2026-11-25/pages.warc.gz
            \(Self.productFields)
                out: scraped_data/products/one.jsonl
              many_batches:
                parse:
                  from: scraped_data/products/dt=2026-11-25/pages.warc.gz
                  batch: 1
            \(Self.productFields)
                out: scraped_data/products/many.jsonl
            """)
        #expect(manifest.status == .succeeded, "\(manifest.stages.map { $0.error ?? "" })")
        let one = try lake.records("scraped_data/products/one.jsonl")
        let many = try lake.records("scraped_data/products/many.jsonl")
        #expect(one.count == 20)
        #expect(one == many)
        #expect(many.map { $0["url"]!.stringValue! } == (0..<20).map { String(format: "https://shop.example/products/p%04d.html", $0) })
        #expect(manifest.stages.map { $0.counts["rejected"] } == [2, 2])
    }

    @Test func parsesAWARCAndRejectsBadPages() async throws {
        let lake = try TestLake()
        try lake.writeWARC("scraped_data/products/dt=\(Self.runDate)/pages.warc.gz")
        let manifest = try await lake.run("""
            pipeline: shop
            stages:
              products:
                parse:
                  from: scraped_data/products/dt=2026-11-25/pages.warc.gz
            \(Self.productFields)
                out: scraped_data/products/dt={run_date}/products.jsonl.gz
            """)
        #expect(manifest.status == .succeeded, "\(manifest.stages.map { $0.error ?? "" })")
        let records = try lake.records("scraped_data/products/dt=\(Self.runDate)/products.jsonl.gz")
        try Self.compareWithTruth(records, fetchedAt: "2025-11-25T10:00:00Z")
        let stage = try #require(manifest.stages.first)
        #expect(stage.counts["pages_in"] == 22)
        #expect(stage.counts["pages_skipped"] == 2)  // the 404 and the image
        #expect(stage.counts["records_out"] == 20)
        #expect(stage.counts["rejected"] == 2)

        let rejectsFile = try #require(try FileManager.default.contentsOfDirectory(atPath: lake.lake.root + "/raw_data/logs/shop")
            .first { $0.hasSuffix(".products.rejects.jsonl") })
        let rejects = try Self.jsonLines(lake.lake.root + "/raw_data/logs/shop/" + rejectsFile)
        #expect(rejects.map { $0["url"]?.stringValue } == ["https://shop.example/products/no-price.html",
                                                          "https://shop.example/products/call-us.html"])
        #expect(rejects[0]["reason"]?.stringValue?.contains("price: required field not found") == true)
        #expect(rejects[1]["reason"]?.stringValue?.contains("price: cannot read 'Call us' as money") == true)
        #expect(rejects[0]["file"]?.stringValue == "scraped_data/products/dt=\(Self.runDate)/pages.warc.gz")
    }

    @Test func extractsManyRecordsPerPageAndFiltersByURL() async throws {
        let lake = try TestLake()
        let manifest = try await lake.run("""
            pipeline: shop
            stages:
              reviews:
                parse:
                  from: raw_data/uploads/site/products/*.html
                  base_url: https://shop.example/products/
                  url: ["*/p000[0-9].html", "*/p001[0-9].html"]
                  records: ".reviews .review"
                  fields:
                    author: ".author::text"
                    stars: { css: ".stars::text", type: int, required: true }
                    body: { xpath: "p[@class='body']/text()" }
                    date: { css: "time::attr(datetime)", type: date }
                out: scraped_data/reviews/dt={run_date}/reviews.jsonl.gz
              first_five:
                parse:
                  from: raw_data/uploads/site/products/*.html
                  base_url: https://shop.example/products/
                  url: "*/p000[0-4].html"
                  fields: { name: "h1::text" }
                out: scraped_data/products/first_five.jsonl
            """)
        #expect(manifest.status == .succeeded, "\(manifest.stages.map { $0.error ?? "" })")
        let reviews = try lake.records("scraped_data/reviews/dt=\(Self.runDate)/reviews.jsonl.gz")
        let truth = try Self.jsonLines(Self.fixtures + "/reviews_truth.jsonl")
        #expect(reviews.count == truth.count)
        #expect(truth.count > 5, "the fixture must hold reviews for this test to mean anything")
        for (actual, expected) in zip(reviews, truth) {
            #expect(actual["url"] == expected["url"])
            #expect(actual["author"] == expected["author"])
            #expect(actual["stars"] == expected["stars"])
            #expect(actual["body"] == expected["body"])
            #expect(actual["date"] == expected["date"])
        }
        let firstFive = try lake.records("scraped_data/products/first_five.jsonl")
        #expect(firstFive.map { $0["url"]!.stringValue! } == (0..<5).map { "https://shop.example/products/p000\($0).html" })
        let stage = try #require(manifest.stages.first { $0.name == "first_five" })
        #expect(stage.counts["pages_skipped"] == 15)
    }

    @Test func reportsConfigurationErrorsWithTheirPlace() {
        let lake = try! TestLake()
        let diagnostics = lake.validationErrors("""
            pipeline: bad
            stages:
              products:
                parse:
                  from: raw_data/uploads/site/**/*.html
                  recods: ".x"
                  fields:
                    name: "h1:hover"
                    price: { css: ".p", xpath: "//p" }
                    kind: { css: ".k", type: money2 }
                    url: "h1"
                    when: { css: ".w", currency: dollars }
                    nothing: { regex: "(" }
                out: scraped_data/products/x.jsonl.gz
            """)
        let messages = diagnostics.map(\.description)
        func has(_ line: Int, _ text: String) -> Bool {
            messages.contains { $0.contains("bad.yaml:\(line):") && $0.contains(text) }
        }
        #expect(has(6, "unknown key 'recods'"), "\(messages)")
        #expect(has(8, "unsupported pseudo-class ':hover' at position 3"), "\(messages)")
        #expect(has(9, "exactly one of css, xpath, jsonld, meta, itemprop"), "\(messages)")
        #expect(has(10, "expected one of string, int, number, bool, money, date, url"), "\(messages)")
        #expect(has(11, "'url' is added to every record"), "\(messages)")
        #expect(has(12, "ISO 4217"), "\(messages)")
        #expect(has(13, "a field needs one of"), "\(messages)")
        #expect(has(13, "invalid regular expression"), "\(messages)")
    }

    /// `currency:` on the stage is the site's currency for every money field without its own,
    /// and decides which dollar `$` means; any code outside ISO 4217 is refused at its place.
    @Test func stageCurrencyIsTheSitesDefault() async throws {
        let lake = try TestLake()
        try FileManager.default.createDirectory(atPath: lake.lake.root + "/raw_data/uploads/ca", withIntermediateDirectories: true)
        _ = FileManager.default.createFile(atPath: lake.lake.root + "/raw_data/uploads/ca/p.html", contents: Data("""
            <html><body><p class="a">$25.00</p><p class="b">19,90</p><p class="c">12 €</p><p class="d">9.99</p></body></html>
            """.utf8))
        let manifest = try await lake.run("""
            pipeline: shop
            stages:
              products:
                parse:
                  from: raw_data/uploads/ca/*.html
                  base_url: https://shop.example/
                  currency: CAD
                  fields:
                    a: { css: ".a::text", type: money }
                    b: { css: ".b::text", type: money }
                    c: { css: ".c::text", type: money }
                    d: { css: ".d::text", type: money, currency: GBP }
                out: scraped_data/products/ca.jsonl
            """)
        #expect(manifest.status == .succeeded, "\(manifest.stages.map { $0.error ?? "" })")
        let record = try #require(try lake.records("scraped_data/products/ca.jsonl").first)
        #expect(record["a_currency"] == "CAD")
        #expect(record["b"] == .double(19.9) && record["b_currency"] == "CAD")
        #expect(record["c_currency"] == "EUR")
        #expect(record["d_currency"] == "GBP")

        let diagnostics = lake.validationErrors("""
            pipeline: bad
            stages:
              products:
                parse:
                  from: raw_data/uploads/ca/*.html
                  currency: ABC
                  fields:
                    a: { css: ".a::text", type: money, currency: XYZ }
                out: scraped_data/products/x.jsonl
            """).map(\.description)
        #expect(diagnostics.contains { $0.contains("bad.yaml:6:") && $0.contains("ISO 4217") }, "\(diagnostics)")
        #expect(diagnostics.contains { $0.contains("bad.yaml:8:") && $0.contains("ISO 4217") }, "\(diagnostics)")
    }
}
