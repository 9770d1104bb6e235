import Foundation
import Lake
import Pipeline
import TestSupport
import Testing
@testable import Stages

/// Parse once: a parse stage reading a fetch stage of the same run takes the fields the crawl
/// extracted from the tree it parsed for links, and writes exactly what parsing the WARC again writes.
@Suite struct ParseOnceTests {
    static let products = "scraped_data/products/dt=2026-01-02/products.jsonl"
    static let productPaths = (1...8).map { "/p/\($0)" }

    static func product(_ n: Int) -> String {
        // Some pages lack the required name (rejected), some a price that converts, one has no rating.
        let name = n == 3 ? "" : "<h1 class=\"name\">Product \(n) &amp; co</h1>"
        let price = n == 5 ? "<span class=\"price\">call us</span>" : "<span class=\"price\">$\(n).99</span>"
        let rating = n == 6 ? "" : "<div class=\"rating\" data-rating=\"\(Double(n) / 2)\"></div>"
        return "<html><head><title>P\(n)</title></head><body>\(name)\(price)\(rating)"
            + "<a class=\"more\" href=\"/img/\(n).png\">image</a><ul><li class=\"tag\">a\(n)</li><li class=\"tag\">b</li></ul>"
            + "<p class=\"description\">\(words(n))</p></body></html>"
    }

    /// A few KB of words in a pseudo-random order, as a product description (compresses like prose).
    static func words(_ seed: Int) -> String {
        let vocabulary = ["soft", "blue", "cotton", "shirt", "with", "a", "collar", "and", "buttons", "for", "summer",
                          "days", "machine", "washable", "slim", "fit", "organic", "made", "in", "portugal"]
        var state = UInt64(seed) &* 6_364_136_223_846_793_005 &+ 1
        return (0..<800).map { _ in
            state = state &* 6_364_136_223_846_793_005 &+ 1_442_695_040_888_963_407
            return vocabulary[Int(state >> 33) % vocabulary.count]
        }.joined(separator: " ")
    }

    static func site(_ site: ScriptedSite) async {
        await site.route("/robots.txt") { _, _ in .text("", status: 404) }
        await site.page("/", FetchStageTests.page("Home", links: productPaths.map { ("product", $0) } + [("product", "/gone")]))
        for (index, path) in productPaths.enumerated() { await site.page(path, product(index + 1)) }
    }

    static func pipeline(_ base: String) -> String {
        """
        pipeline: p
        stages:
          crawl:
            fetch:
              seeds: [\(base)/]
              follow: a.product
              allow_private_addresses: true
              per_host: { delay: 0s }
              retries: 0
              refresh: 1h
            out:
              - \(FetchStageTests.warc)
              - \(FetchStageTests.log)
          products:
            parse:
              from: crawl
              url: "*/p/*"
              fields:
                name: { css: "h1.name::text", required: true }
                price: { css: ".price::text", type: money, currency: USD }
                rating: { css: ".rating::attr(data-rating)", type: number }
                image: { css: "a.more::attr(href)", type: url }
                tags: { css: ".tag::text", list: true }
            out: \(products)
        """
    }

    /// The extractions kept for the parse stage, in the crawl's state folder.
    static func extracted(_ project: Project) -> String {
        project.lake.stateFolder + "/stages/p/crawl/" + SharedExtraction.folderName
    }

    /// The parse stage run again over the same WARC, without the crawl's extractions: the reference.
    static func parsedAgain(_ project: Project) async throws -> (output: String, counts: [String: Int], manifest: RunManifest) {
        try FileManager.default.removeItem(atPath: extracted(project))
        let manifest = try await project.run { $0.force = true; $0.stages = ["products"] }
        #expect(manifest.stage("crawl")?.status == .skipped)
        let parse = try #require(manifest.stage("products"))
        #expect(parse.status == .ran)
        #expect(parse.counts["pages_from_crawl"] == nil)
        #expect(parse.counts["pages_from_index"] == nil)
        return (try project.read(products), parse.counts, manifest)
    }

    @Test func theParseStageTakesTheCrawlsExtractionsAndWritesTheSameRecords() async throws {
        let project = try Project()
        try await ScriptedSite.with({ await Self.site($0) }) { base, _ in
            try project.writePipeline(Self.pipeline(base))
            let manifest = try await project.run()
            let parse = try #require(manifest.stage("products"))
            #expect(parse.status == .ran)
            // Every product page's fields came from the crawl's tree; none was parsed again, and the pages
            // were listed by the crawl's index of its WARC, not read from it.
            #expect(parse.counts["pages_from_crawl"] == 8)
            #expect(parse.counts["pages_from_index"] == parse.counts["pages_in"])
            #expect(FileManager.default.fileExists(atPath: Self.pageIndex(project)))
            #expect(parse.counts["pages_parsed"] == 8)
            #expect(parse.counts["records_out"] == 7)
            #expect(parse.counts["rejected"] == 1)
            let shared = try project.read(Self.products)
            #expect(shared.contains("\"name\":\"Product 1 & co\""))
            // The kept extractions are JSON Lines, as their name says (jq and the crash campaign read them).
            let files = try FileManager.default.contentsOfDirectory(atPath: Self.extracted(project))
            #expect(files.count == 1)
            for file in files {
                let lines = try String(contentsOfFile: Self.extracted(project) + "/" + file, encoding: .utf8).split(separator: "\n")
                #expect(lines.count >= 8)
                for line in lines {
                    let object = try JSONSerialization.jsonObject(with: Data(line.utf8)) as? [String: Any]
                    #expect((object?["page"] as? String)?.count == 64 && object?["extraction"] is [String: Any], "\(line.prefix(120))")
                }
            }

            let again = try await Self.parsedAgain(project)
            #expect(shared == again.output)
            var counts = parse.counts
            counts["pages_from_crawl"] = nil
            counts["pages_from_index"] = nil
            #expect(counts == again.counts)
            // The same rejects, with the same reasons.
            let rejected = try project.records("raw_data/logs/p/\(manifest.runID).products.rejects.jsonl")
            let rejectedAgain = try project.records("raw_data/logs/p/\(again.manifest.runID).products.rejects.jsonl")
            #expect(rejected.count == 1)
            #expect(rejected.map(Self.urlAndReason) == rejectedAgain.map(Self.urlAndReason))
        }
    }

    static func urlAndReason(_ reject: JSONObject) -> String {
        (reject["url"]?.stringValue ?? "-") + " " + (reject["reason"]?.stringValue ?? "-")
    }

    /// The crawl's index of its WARC's pages.
    static func pageIndex(_ project: Project) -> String {
        project.lake.stateFolder + "/stages/p/crawl/pages-index.jsonl"
    }

    /// The parse stage alone, forced, over what the crawl left (its extractions and page index, as they are now).
    static func parsedFromState(_ project: Project) async throws -> (output: String, counts: [String: Int]) {
        let manifest = try await project.run { $0.force = true; $0.stages = ["products"] }
        #expect(manifest.stage("crawl")?.status == .skipped)
        let parse = try #require(manifest.stage("products"))
        #expect(parse.status == .ran)
        return (try project.read(products), parse.counts)
    }

    @Test(arguments: ["missing", "stale", "for another file", "damaged"])
    func aPageIndexThatDoesNotDescribeTheWARCIsNotUsed(how: String) async throws {
        let project = try Project()
        try await ScriptedSite.with({ await Self.site($0) }) { base, _ in
            try project.writePipeline(Self.pipeline(base))
            _ = try await project.run()
            let shared = try project.read(Self.products)
            let path = Self.pageIndex(project)
            var text = try String(contentsOfFile: path, encoding: .utf8)
            switch how {
            case "missing": try FileManager.default.removeItem(atPath: path)
            case "damaged":
                // A line in the middle torn since it was written, the WARC unchanged: not used at all (the pages
                // before it are not taken from the index and then read again from the WARC).
                var lines = text.split(separator: "\n", omittingEmptySubsequences: false)
                let middle = lines.count / 2
                lines[middle] = lines[middle].prefix(20)
                try lines.joined(separator: "\n").write(toFile: path, atomically: true, encoding: .utf8)
            case "stale":
                // As if the WARC had been rewritten since: its digest differs from the one indexed.
                let digest = try #require(text.range(of: #""warc_sha256":""#))
                text.replaceSubrange(digest.upperBound..<text.index(digest.upperBound, offsetBy: 4), with: "0000")
                try text.write(toFile: path, atomically: true, encoding: .utf8)
            default:
                text = text.replacingOccurrences(of: "pages.warc.gz", with: "other.warc.gz")
                try text.write(toFile: path, atomically: true, encoding: .utf8)
            }
            let again = try await Self.parsedFromState(project)
            // The WARC was read; the extractions were still taken, by the pages' digests.
            #expect(again.counts["pages_from_index"] == nil)
            #expect(again.counts["pages_from_crawl"] == 8)
            #expect(again.output == shared)
        }
    }

    @Test func aPageTheIndexListsWithoutAnExtractionIsReadFromTheWARC() async throws {
        let project = try Project()
        try await ScriptedSite.with({ await Self.site($0) }) { base, _ in
            try project.writePipeline(Self.pipeline(base))
            _ = try await project.run()
            let shared = try project.read(Self.products)
            // Keep three pages' extractions, tear the last line: five pages are read from the WARC at their offsets.
            let folder = Self.extracted(project)
            let file = folder + "/" + (try #require(try FileManager.default.contentsOfDirectory(atPath: folder).first))
            let lines = try String(contentsOfFile: file, encoding: .utf8).split(separator: "\n")
            try (lines.prefix(3).joined(separator: "\n") + "\n" + lines[3].prefix(40)).write(toFile: file, atomically: true, encoding: .utf8)
            let again = try await Self.parsedFromState(project)
            #expect(again.counts["pages_from_index"] == again.counts["pages_in"])
            #expect((again.counts["pages_from_crawl"] ?? 0) <= 3)
            #expect(again.output == shared)
            let reference = try await Self.parsedAgain(project)
            #expect(reference.output == shared)
        }
    }

    @Test func changedFieldsAreParsedFromTheWARCNotTakenFromTheCrawl() async throws {
        let project = try Project()
        try await ScriptedSite.with({ await Self.site($0) }) { base, _ in
            try project.writePipeline(Self.pipeline(base))
            _ = try await project.run()
            // Another field: the crawl is up to date (refresh), its extractions are for the old fields.
            try project.writePipeline(Self.pipeline(base).replacingOccurrences(of: "type: number", with: "type: string"))
            let manifest = try await project.run()
            #expect(manifest.stage("crawl")?.status == .skipped)
            let parse = try #require(manifest.stage("products"))
            #expect(parse.status == .ran)
            #expect(parse.counts["pages_from_crawl"] == nil)
            #expect(try project.read(Self.products).contains("\"rating\":\"0.5\""))
        }
    }

    @Test func aKilledAndResumedCrawlStillSharesAndWritesTheSameRecords() async throws {
        let project = try Project()
        try await ScriptedSite.with({ await Self.site($0) }) { base, site in
            try project.writePipeline(Self.pipeline(base))
            let holder = TaskHolder()
            await site.observe { request in
                // Killed while the fifth product is being fetched.
                if request.path == "/p/5" { await holder.cancel() }
            }
            let task = Task { try await project.run() }
            await holder.set(task)
            let interrupted = try await task.value
            #expect(interrupted.status != .succeeded)
            #expect(!project.exists(Self.products))
            // Nothing half-written is taken for an extraction.
            let left = (try? FileManager.default.contentsOfDirectory(atPath: Self.extracted(project))) ?? []
            #expect(!left.contains { $0.hasSuffix(".jsonl") })

            await site.observe { _ in }
            let manifest = try await project.run()
            #expect(manifest.stage("crawl")?.status == .ran)
            let parse = try #require(manifest.stage("products"))
            // Pages taken from the journal are read for links again, and their fields extracted with them.
            #expect(parse.counts["pages_from_crawl"] == 8)
            let shared = try project.read(Self.products)
            #expect(try project.records(Self.products).count == 7)

            let again = try await Self.parsedAgain(project)
            #expect(shared == again.output)
        }
    }
}

/// `warc_gzip_level`: the WARC's members are deflated at that level; the records are the same.
@Suite struct WARCGzipLevelTests {
    @Test func theLevelChangesTheFileNotItsRecords() async throws {
        var sizes: [Int] = []
        var bodies: [[String]] = []
        try await ScriptedSite.with({ await ParseOnceTests.site($0) }) { base, _ in
            for level in [1, 9] {
                let project = try Project()
                try project.writePipeline(FetchStageTests.pipeline(
                    "seeds: [\(base)/]\nfollow: a.product\nallow_private_addresses: true\nper_host: { delay: 0s }\n"
                    + "retries: 0\nwarc_gzip_level: \(level)"))
                let manifest = try await project.run()
                #expect(manifest.stage("crawl")?.status == .ran)
                sizes.append(try FileInput.readAll(path: project.lake.root + "/" + FetchStageTests.warc).count)
                bodies.append(try FetchStageTests.records(project).filter { $0.type == .response }
                    .map { String(decoding: $0.httpMessage()?.body ?? [], as: UTF8.self) })
            }
        }
        #expect(bodies[0] == bodies[1])
        #expect(bodies[0].count == 10)
        #expect(sizes[0] > sizes[1])
    }

    @Test func aLevelOutOfRangeIsAConfigurationError() throws {
        let project = try Project()
        try project.writePipeline(FetchStageTests.pipeline("seeds: [https://shop.example/]\nwarc_gzip_level: 12"))
        #expect(try project.problems().contains { $0.contains("stages.crawl.fetch.warc_gzip_level") })
    }
}
