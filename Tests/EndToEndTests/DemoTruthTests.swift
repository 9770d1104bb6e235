import Foundation
import Lake
import Testing
import TestSupport

/// pipelines/demo.yaml through the built binary, its crawl and parse outputs compared with the truth the
/// fixture generator (scripts/make_fixture_site.py) writes beside the site, not with an earlier run of
/// itself. README promises guarded: the demo "runs offline, with no keys and no network"; the crawl
/// follows `a.next, a.product, a.reviews` from the index (every page the site links, each once, into a
/// WARC whose payloads are the pages' bytes); the parse stage reads the typed fields (money with its
/// currency, dates, JSON-LD, XPath, meta, regex, lists) of every product page; one record per review block.
@Suite(.serialized) struct DemoTruthTests {
    static let repository: String = {
        var url = URL(fileURLWithPath: #filePath)
        while url.path != "/" && !FileManager.default.fileExists(atPath: url.appendingPathComponent("pipelines/demo.yaml").path) {
            url.deleteLastPathComponent()
        }
        return url.path
    }()
    static let runDate = "2026-11-25"
    static let base = "https://shop.example/"
    /// The truth's fields the demo's `pages` stage extracts (the truth holds more: slug, description…).
    static let parsedFields = ["name", "price", "price_currency", "sku", "brand", "rating", "review_count", "in_stock",
                               "image", "category", "released", "tags"]

    /// The generator's own truth, made afresh with the options that made the demo site.
    final class Truth {
        let directory: TemporaryDirectory
        var folder: String { directory.path + "/site" }
        init() throws {
            directory = try TemporaryDirectory()
            let process = Process()
            process.executableURL = URL(fileURLWithPath: "/usr/bin/env")
            process.arguments = ["python3", DemoTruthTests.repository + "/scripts/make_fixture_site.py", folder,
                                 "--count", "16", "--per-page", "6"]
            try process.run()
            process.waitUntilExit()
            guard process.terminationStatus == 0 else { throw CocoaError(.fileWriteUnknown) }
        }

        func lines(_ name: String) throws -> [JSONObject] {
            try String(contentsOfFile: folder + "/" + name, encoding: .utf8).split(separator: "\n").map {
                guard case .object(let object) = try JSONValue.parse(String($0)) else { throw CocoaError(.fileReadCorruptFile) }
                return object
            }
        }
    }

    static func files(under folder: String) -> [String] {
        (FileManager.default.enumerator(atPath: folder)?.compactMap { $0 as? String } ?? []).filter { path in
            var isFolder: ObjCBool = false
            return FileManager.default.fileExists(atPath: folder + "/" + path, isDirectory: &isFolder) && !isFolder.boolValue
        }.sorted()
    }

    static func records(_ path: String) throws -> [JSONObject] {
        let reader = try RecordReader(path: path)
        var out: [JSONObject] = []
        while let record = try reader.next() { out.append(record) }
        return out
    }

    @Test func theDemoCrawlsAndParsesWhatTheGeneratorWrote() throws {
        let truth = try Truth()
        let demoSite = Self.repository + "/datalake/raw_data/imports/demo/site"
        // The checked-in site is the generator's output for these options, byte for byte: so its truth applies.
        let siteFiles = Self.files(under: demoSite)
        #expect(siteFiles == Self.files(under: truth.folder + "/site"))
        for file in siteFiles {
            #expect(FileManager.default.contentsEqual(atPath: demoSite + "/" + file, andPath: truth.folder + "/site/" + file),
                    "\(file) differs from the generator's output")
        }

        let project = try Project()
        #expect(try project.run(["init"]).status == 0)
        try FileManager.default.copyItem(atPath: Self.repository + "/pipelines/demo.yaml", toPath: project.folder + "/pipelines/demo.yaml")
        try FileManager.default.createDirectory(atPath: project.lake + "/raw_data/imports", withIntermediateDirectories: true)
        try FileManager.default.copyItem(atPath: Self.repository + "/datalake/raw_data/imports/demo",
                                         toPath: project.lake + "/raw_data/imports/demo")
        let (result, manifest) = try project.runPipeline("demo", ["--date", Self.runDate])
        #expect(result.status == 0, "\(result.stderr)")
        #expect(manifest["status"] as? String == "succeeded")

        // The crawl: every page the generator says a crawl reaches, each once, and nothing else.
        let expectedURLs = try String(contentsOfFile: truth.folder + "/crawl_truth.txt", encoding: .utf8)
            .split(separator: "\n").map { Self.base + $0 }
        #expect(expectedURLs.count > 20)
        let log = try Self.records(project.lake + "/raw_data/logs/crawl/dt=\(Self.runDate)/crawl.jsonl.gz")
        let logged = log.compactMap { $0["url"]?.stringValue }
        #expect(logged.sorted() == expectedURLs.sorted(), "crawl log: \(logged)")

        // The WARC: one response per page, whose payload is the page's bytes on disk.
        let reader = try WARCReader(path: project.lake + "/scraped_data/products/dt=\(Self.runDate)/pages.warc.gz")
        var payloads: [String: [UInt8]] = [:]
        while let record = try reader.next() {
            guard let uri = record.targetURI, record.type == .response || record.type == .resource else { continue }
            #expect(payloads[uri] == nil, "\(uri) archived twice")
            payloads[uri] = record.type == .resource ? record.block : (record.httpMessage()?.body ?? [])
        }
        #expect(payloads.keys.sorted() == expectedURLs.sorted())
        for url in expectedURLs {
            let relative = String(url.dropFirst(Self.base.count))
            let onDisk = try FileInput.readAll(path: demoSite + "/" + relative)
            #expect(payloads[url] == onDisk, "\(url): the archived payload is not the page")
        }

        // The parsed product pages, field by field.
        let products = try truth.lines("truth.jsonl")
        #expect(products.count == 16)
        let parsed = try Self.records(project.lake + "/scraped_data/products/dt=\(Self.runDate)/pages.jsonl.gz")
        #expect(parsed.count == products.count)
        let byURL = Dictionary(parsed.compactMap { r in r["url"]?.stringValue.map { ($0, r) } }, uniquingKeysWith: { a, _ in a })
        var compared = 0
        for expected in products {
            let url = try #require(expected["url"]?.stringValue)
            guard let record = byURL[url] else { Issue.record("no parsed record for \(url)"); continue }
            for key in Self.parsedFields {
                guard let value = expected[key] else { Issue.record("the truth has no \(key)"); continue }
                let actual = record[key]
                switch (value, actual) {
                case (.double(let a), .double(let b)?): #expect(a == b, "\(url) \(key)")
                case (.int(let a), .double(let b)?): #expect(Double(a) == b, "\(url) \(key)")
                case (.double(let a), .int(let b)?): #expect(a == Double(b), "\(url) \(key)")
                default: #expect(actual == value, "\(url) \(key): \(String(describing: actual)) != \(value)")
                }
                compared += 1
            }
        }
        #expect(compared == 16 * Self.parsedFields.count)

        // One record per review block of the review pages: the generator's reviews, as a multiset.
        let reviews = try truth.lines("reviews_truth.jsonl")
        #expect(reviews.count > 5)
        let pageReviews = try Self.records(project.lake + "/scraped_data/reviews/dt=\(Self.runDate)/page_reviews.jsonl.gz")
        func key(_ author: JSONValue?, _ stars: JSONValue?, _ text: JSONValue?) -> String {
            "\(author?.stringValue ?? "-")|\(stars?.doubleValue.map { Int($0) } ?? -1)|\(text?.stringValue ?? "-")"
        }
        #expect(pageReviews.map { key($0["author"], $0["stars"], $0["text"]) }.sorted()
                == reviews.map { key($0["author"], $0["stars"], $0["body"]) }.sorted())
    }
}
