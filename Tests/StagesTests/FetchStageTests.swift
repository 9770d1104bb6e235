import Crawl
import Foundation
import Lake
import Pipeline
import TestSupport
import Testing
@testable import Stages

/// The fetch stage end to end, through the pipeline engine, against loopback sites.
@Suite struct FetchStageTests {
    static let warc = "scraped_data/products/dt=2026-01-02/pages.warc.gz"
    static let log = "raw_data/logs/crawl/dt=2026-01-02/crawl.jsonl.gz"
    static let logFields = ["url", "final_url", "status", "bytes", "ms", "attempt", "from_cache", "error", "fetched_at", "depth",
                            "content_type", "content_sha256", "via", "warc_file", "warc_offset", "title"]

    static func pipeline(_ fetch: String) -> String {
        """
        pipeline: p
        stages:
          crawl:
            fetch:
        \(fetch.split(separator: "\n").map { "      " + $0 }.joined(separator: "\n"))
            out:
              - \(warc)
              - \(log)
        """
    }

    static func page(_ title: String, links: [(String, String)] = []) -> String {
        "<html><head><title>\(title)</title></head><body><h1>\(title)</h1>"
            + links.map { "<a class=\"\($0.0)\" href=\"\($0.1)\">\($0.1)</a>" }.joined() + "</body></html>"
    }

    static func records(_ project: Project) throws -> [WARCRecord] {
        let reader = try WARCReader(path: project.lake.root + "/" + warc)
        var out: [WARCRecord] = []
        while let record = try reader.next() { out.append(record) }
        return out
    }

    /// The shop every crawl test starts from.
    static func shop(_ site: ScriptedSite, gzipP2: Bool = true) async throws {
        await site.route("/robots.txt") { _, _ in .text("User-agent: *\nDisallow: /private/\nCrawl-delay: 0.2\n") }
        await site.page("/", page("Home", links: [("next", "/list/1"), ("other", "/about")]))
        await site.page("/list/1", page("List 1", links: [("product", "/p/1"), ("product", "/p/2"), ("product", "/private/x"),
                                                           ("next", "/list/2")]))
        await site.page("/list/2", page("List 2", links: [("product", "/p/3"), ("product", "/p/2#reviews"), ("product", "/gone"),
                                                           ("product", "/moved"), ("product", "/huge"),
                                                           ("product", "http://elsewhere.example/p/9")]))
        await site.page("/p/1", page("P1"))
        let p2 = try gzipped(Array(page("P2").utf8))
        await site.route("/p/2") { _, _ in
            gzipP2 ? ScriptedSite.Response(status: 200, headers: ["Content-Type": "text/html", "Content-Encoding": "gzip"], body: p2)
                : .html(page("P2"))
        }
        await site.route("/p/3") { _, hit in hit == 1 ? .text("try again", status: 500) : .html(page("P3")) }
        await site.route("/moved") { _, _ in .redirect("/p/4", status: 301) }
        await site.page("/p/4", page("P4"))
        await site.page("/huge", String(repeating: "<p>big</p>", count: 5000))
    }

    static let shopConfig = """
        seeds: [BASE/]
        follow: "a.next, a.product"
        allow_private_addresses: true
        per_host: { concurrency: 1, delay: 0.05s }
        retry_backoff: 0.05s
        timeout: 5s
        max_page_bytes: 20KB
        """

    /// The network dropping mid-transfer (headers promise 40 KB, the connection is reset after
    /// 10 KB): retried with backoff; a page that keeps being cut is logged with the error and left
    /// out of the WARC, never stored truncated; the other pages are written and the stage goes on.
    @Test func aConnectionDroppedMidTransferIsRetriedAndNeverStoredTruncated() async throws {
        let big = Array(("<html><body><h1>Big</h1>" + String(repeating: "<p>filler text</p>", count: 2400) + "</body></html>").utf8)
        let server = try CuttingServer { path, hit in
            switch path {
            case "/": return .init(body: Array(Self.page("Home", links: [("p", "/cut"), ("p", "/flaky"), ("p", "/whole")]).utf8))
            case "/cut": return .init(body: big, cutAfter: 10_000)
            case "/flaky": return .init(body: big, cutAfter: hit == 1 ? 10_000 : nil)
            case "/whole": return .init(body: Array(Self.page("Whole").utf8))
            default: return .init(status: 404, body: Array("gone".utf8))
            }
        }
        defer { server.stop() }
        let project = try Project()
        try project.writePipeline(Self.pipeline("""
            seeds: [\(server.base)/]
            follow: "a.p"
            allow_private_addresses: true
            robots: ignore
            per_host: { concurrency: 1, delay: 0s }
            retries: 2
            retry_backoff: 0.05s
            timeout: 5s
            """))
        let manifest = try await project.run()
        let stage = try #require(manifest.stage("crawl"))
        #expect(stage.status == .ran, "\(stage.error ?? "")")
        #expect(server.requestCounts["/cut"] == 3 && server.requestCounts["/flaky"] == 2)

        let lines = try project.records(Self.log)
        func line(_ path: String) -> JSONObject? { lines.first { $0["url"]?.stringValue == server.base + path } }
        #expect(line("/cut")?["status"] == .null)
        #expect(line("/cut")?["attempt"] == .int(3))
        #expect(line("/cut")?["error"]?.stringValue?.hasPrefix("connect") == true, "\(String(describing: line("/cut")))")
        #expect(line("/flaky")?["status"] == .int(200) && line("/flaky")?["attempt"] == .int(2))

        let responses = try Self.records(project).filter { $0.type == .response }
        #expect(responses.map { $0.targetURI! } == ["/", "/flaky", "/whole"].map { server.base + $0 })
        let flaky = try #require(responses.first { $0.targetURI == server.base + "/flaky" }?.httpMessage())
        #expect(flaky.body == big)
    }

    @Test func crawlsPolitelyInOrderAndWritesWARCAndLog() async throws {
        let project = try Project()
        try await ScriptedSite.with({ try? await Self.shop($0) }) { base, site in
            try project.writePipeline(Self.pipeline(Self.shopConfig.replacingOccurrences(of: "BASE", with: base)))
            let manifest = try await project.run()
            let stage = try #require(manifest.stage("crawl"))
            #expect(stage.status == .ran, "\(stage.error ?? "")")

            // What was fetched, in which order: robots.txt first, then breadth first, document order;
            // /private/x never (robots), /p/2 once (fragment and duplicate), /p/3 twice (500 then 200).
            #expect(await site.paths == ["/robots.txt", "/", "/list/1", "/p/1", "/p/2", "/list/2", "/p/3", "/p/3", "/gone",
                                         "/moved", "/p/4", "/huge"])
            // With what delays: robots.txt asked for 0.2 s between requests, more than the configured 0.05 s.
            let times = await site.requests.map(\.at)
            // Spacing is kept where requests start; on their way to the server one may be held up by a
            // loaded machine and the next not, so single gaps get some slack and their mean a little.
            for i in 2..<times.count { #expect(times[i] - times[i - 1] >= 0.15, "request \(i) came too soon") }
            #expect((times.last! - times[1]) / Double(times.count - 2) >= 0.195)
            #expect(await site.requests.last?.header("User-Agent")?.hasPrefix("AgentShop/") == true)

            // The crawl log: one line per URL, exactly the agreed fields.
            let lines = try project.records(Self.log)
            #expect(lines.map { $0["url"]!.stringValue! } == ["/", "/list/1", "/p/1", "/p/2", "/private/x", "/list/2", "/p/3",
                                                               "/gone", "/moved", "/huge"].map { base + $0 })
            for line in lines { #expect(line.keys == Self.logFields) }
            func line(_ path: String) -> JSONObject { lines.first { $0["url"]!.stringValue == base + path }! }
            #expect(line("/private/x")["error"]?.stringValue == "disallowed by robots.txt")
            #expect(line("/private/x")["status"] == .null)
            #expect(line("/p/3")["status"] == .int(200) && line("/p/3")["attempt"] == .int(2))
            #expect(line("/gone")["status"] == .int(404))
            #expect(line("/moved")["final_url"]?.stringValue == base + "/p/4")
            #expect(line("/huge")["status"] == .null && line("/huge")["error"]?.stringValue?.hasPrefix("tooLarge") == true)
            #expect(line("/p/1")["depth"] == .int(2) && line("/p/3")["depth"] == .int(3))
            #expect(line("/p/2")["from_cache"] == .bool(false) && line("/p/2")["via"]?.stringValue == "direct")
            // The title is read from the parse that finds the links; a failed URL has none.
            #expect(line("/p/2")["title"]?.stringValue == "P2" && line("/private/x")["title"] == .null)

            // What was written: the WARC read back with our reader.
            let records = try Self.records(project)
            #expect(records.first?.type == .warcinfo)
            let responses = records.filter { $0.type == .response }
            #expect(responses.map { $0.targetURI! } == ["/", "/list/1", "/p/1", "/p/2", "/list/2", "/p/3", "/gone", "/moved", "/p/4"]
                .map { base + $0 })
            for response in responses {
                let request = records.first { $0.recordID == response.headers["WARC-Concurrent-To"] }
                #expect(request?.type == .request && request?.targetURI == response.targetURI)
                let http = try #require(response.httpMessage())
                #expect(response.headers["WARC-Payload-Digest"] == WARCRecord.sha1Digest(http.body))
                #expect(http.headers["Content-Length"] == String(http.body.count))
            }
            // Offsets in the log point at the response records: a gzip member starts there.
            let file = try FileInput.readAll(path: project.lake.root + "/" + Self.warc)
            for line in lines {
                guard case .int(let offset)? = line["warc_offset"] else { continue }
                let member = try GzipReader(MemoryInput(Array(file[Int(offset)...])))
                var head = [UInt8](repeating: 0, count: 600)
                let n = try head.withUnsafeMutableBytes { try member.read(into: $0) }
                let text = String(decoding: head[0..<n], as: UTF8.self)
                #expect(text.hasPrefix("WARC/1.1\r\nWARC-Type: response\r\n"))
                #expect(text.contains("WARC-Target-URI: \(line["final_url"]!.stringValue!)\r\n"))
            }
            // The gzip-encoded page is stored decoded, its Content-Encoding dropped so readers do not decode twice.
            let p2 = try #require(responses.first { $0.targetURI == base + "/p/2" }?.httpMessage())
            #expect(p2.headers["Content-Encoding"] == nil)
            #expect(String(decoding: p2.body, as: UTF8.self) == Self.page("P2"))
            // The page a parse stage would read from the WARC.
            let request = try #require(records.first { $0.type == .request && $0.targetURI == base + "/p/1" }?.httpMessage())
            #expect(request.startLine == "GET /p/1 HTTP/1.1")

            // The manifest's details.
            let crawl = try #require(stage.details?.objectValue?["crawl"]?.objectValue)
            #expect(crawl["pages_fetched"] == .int(7))
            #expect(crawl["pages_failed"] == .int(2))  // /gone (404) and /huge (too large)
            #expect(crawl["robots_disallowed"] == .int(1))
            #expect(crawl["statuses"] == .object(JSONObject([("200", .int(7)), ("404", .int(1))])))
            #expect(crawl["via"]?.stringValue == "direct")
        }
    }

    @Test func sameResponsesGiveTheSameOutputBytes() async throws {
        // Two crawls of one site write identical WARCs but for fetch times: compare with dates blanked.
        var texts: [[String]] = []
        for _ in 0..<2 {
            let project = try Project()
            try await ScriptedSite.with({ try? await Self.shop($0, gzipP2: false) }) { base, _ in
                try project.writePipeline(Self.pipeline(Self.shopConfig.replacingOccurrences(of: "BASE", with: "BASE_URL")
                    .replacingOccurrences(of: "BASE_URL", with: base) + "\nrobots: ignore"))
                _ = try await project.run()
                texts.append(try Self.records(project).map { record in
                    "\(record.type!.rawValue) \(record.targetURI ?? "") \(record.headers["WARC-Payload-Digest"] ?? "")"
                        .replacingOccurrences(of: base, with: "BASE")
                })
            }
        }
        #expect(texts[0] == texts[1])
        #expect(texts[0].count > 10)
    }

    @Test(arguments: [("per_host: { concurrency: 1, delay: 0s }", 1), ("per_host: { concurrency: 2, delay: 0s }", 2),
                      ("politeness: off", 3)])
    func concurrencyLimits(config: String, expected: Int) async throws {
        let project = try Project()
        try await ScriptedSite.with({ site in
            await site.route("/robots.txt") { _, _ in .text("", status: 404) }
            await site.page("/", Self.page("Home", links: (1...8).map { ("product", "/p/\($0)") }))
            for i in 1...8 {
                await site.route("/p/\(i)") { _, _ in ScriptedSite.Response(status: 200, headers: ["Content-Type": "text/html"],
                                                                         body: Array(Self.page("P").utf8), delay: 0.15) }
            }
        }) { base, site in
            try project.writePipeline(Self.pipeline("seeds: [\(base)/]\nfollow: a.product\nallow_private_addresses: true\n"
                                                    + "concurrency: 3\n" + config))
            let manifest = try await project.run()
            #expect(manifest.stage("crawl")?.status == .ran)
            #expect(await site.maxInFlight == expected)
        }
    }

    @Test func slowPagesDoNotHoldUpTheNextListingAndOutputsStayInCrawlOrder() async throws {
        // Ten listing pages in a chain, each linking to two slow product pages, then the next listing.
        // A crawl that waited for each level would never have more than three requests in flight;
        // this one walks the chain while the products load, so all six slots fill. The outputs are
        // still in breadth-first order: listing n's products before listing n + 1's.
        let project = try Project()
        try await ScriptedSite.with({ site in
            await site.route("/robots.txt") { _, _ in .text("", status: 404) }
            for n in 1...10 {
                await site.page("/list/\(n)", Self.page("List \(n)", links: [("product", "/p/\(n)a"), ("product", "/p/\(n)b"),
                                                                          ("next", "/list/\(n + 1)")]))
                for suffix in ["a", "b"] {
                    await site.route("/p/\(n)\(suffix)") { _, _ in
                        ScriptedSite.Response(status: 200, headers: ["Content-Type": "text/html"], body: Array(Self.page("P").utf8),
                                              delay: 0.3)
                    }
                }
            }
            await site.route("/list/11") { _, _ in .text("", status: 404) }
        }) { base, site in
            try project.writePipeline(Self.pipeline("seeds: [\(base)/list/1]\nfollow: \"a.product, a.next\"\n"
                                                    + "allow_private_addresses: true\nconcurrency: 6\npoliteness: off"))
            let manifest = try await project.run()
            #expect(manifest.stage("crawl")?.status == .ran)
            #expect(await site.maxInFlight == 6)
            var expected = ["/list/1"]
            for n in 1...10 { expected += ["/p/\(n)a", "/p/\(n)b", "/list/\(n + 1)"] }
            let lines = try project.records(Self.log)
            #expect(lines.map { $0["url"]!.stringValue! } == expected.map { base + $0 })
            let depths: [Int64] = [0] + (1...10).flatMap { n in [Int64](repeating: Int64(n), count: 3) }
            #expect(lines.map { $0["depth"] } == depths.map { JSONValue.int($0) })
            let responses = try Self.records(project).filter { $0.type == .response }.map { $0.targetURI! }
            #expect(responses == expected.map { base + $0 })
        }
    }

    @Test func conditionalRequestsAndTheRefreshWindow() async throws {
        let project = try Project()
        try await ScriptedSite.with({ site in
            await site.route("/robots.txt") { _, _ in .text("nothing here", status: 404) }
            await site.route("/a") { request, _ in
                request.header("If-None-Match") == "\"v1\"" ? ScriptedSite.Response(status: 304, headers: ["ETag": "\"v1\""])
                    : .html(Self.page("A"), headers: ["ETag": "\"v1\"", "Last-Modified": "Wed, 21 Oct 2026 07:28:00 GMT"])
            }
        }) { base, site in
            let config = "seeds: [\(base)/a]\nallow_private_addresses: true\nper_host: { delay: 0s }"
            try project.writePipeline(Self.pipeline(config))
            _ = try await project.run()
            let first = try project.records(Self.log)
            #expect(first[0]["status"] == .int(200) && first[0]["from_cache"] == .bool(false))

            // Run 2: a conditional request; the server says 304, the stored page goes into the new WARC.
            _ = try await project.run()
            let request = try #require(await site.requests.last)
            #expect(request.path == "/a")
            #expect(request.header("If-None-Match") == "\"v1\"")
            #expect(request.header("If-Modified-Since") == "Wed, 21 Oct 2026 07:28:00 GMT")
            let second = try project.records(Self.log)
            #expect(second[0]["status"] == .int(304) && second[0]["from_cache"] == .bool(true))
            let page = try #require(try Self.records(project).first { $0.type == .response }?.httpMessage())
            #expect(page.statusCode == 200)
            #expect(String(decoding: page.body, as: UTF8.self) == Self.page("A"))

            // Run 3, with a refresh window: no request at all.
            let before = await site.requests.count
            try project.writePipeline(Self.pipeline(config + "\nrefresh: 24h"))
            let manifest = try await project.run()
            #expect(await site.requests.count == before)
            let third = try project.records(Self.log)
            #expect(third[0]["status"] == .int(200) && third[0]["from_cache"] == .bool(true))
            #expect(manifest.stage("crawl")?.details?.objectValue?["crawl"]?.objectValue?["from_cache"] == .int(1))
            #expect(try Self.records(project).contains { $0.type == .response && $0.targetURI == base + "/a" })

            // Run 4, the stored pages lost: the 304 cannot be served from them, so the page itself is
            // asked for, and the stage goes on as if it had never been fetched.
            let state = project.lake.stateFolder + "/stages/p/crawl"
            let packs = try FileManager.default.contentsOfDirectory(atPath: state).filter { $0.hasSuffix(".pack") }
            #expect(packs.count == 1)
            for pack in packs { try FileManager.default.removeItem(atPath: state + "/" + pack) }
            try project.writePipeline(Self.pipeline(config))
            let lostManifest = try await project.run()
            #expect(lostManifest.stage("crawl")?.status == .ran)
            let last = await site.requests.suffix(2)
            #expect(last.map { $0.header("If-None-Match") } == ["\"v1\"", nil])
            let fourth = try project.records(Self.log)
            #expect(fourth[0]["status"] == .int(200) && fourth[0]["from_cache"] == .bool(false))
            let refetched = try #require(try Self.records(project).first { $0.type == .response }?.httpMessage())
            #expect(String(decoding: refetched.body, as: UTF8.self) == Self.page("A"))
        }
    }

    @Test func anInterruptedCrawlResumesWithoutFetchingAgain() async throws {
        let products = (1...8).map { "/p/\($0)" }
        func configure(_ site: ScriptedSite) async {
            await site.route("/robots.txt") { _, _ in .text("", status: 404) }
            await site.page("/", Self.page("Home", links: products.map { ("product", $0) }))
            for path in products { await site.page(path, Self.page(path)) }
        }
        let config = { (base: String) in "seeds: [\(base)/]\nfollow: a.product\nallow_private_addresses: true\nper_host: { delay: 0s }" }

        // The uninterrupted crawl, for reference.
        let reference = try Project()
        var expected: [String] = []
        try await ScriptedSite.with({ await configure($0) }) { base, _ in
            try reference.writePipeline(Self.pipeline(config(base)))
            _ = try await reference.run()
            expected = try Self.records(reference).map { "\($0.type!.rawValue) \($0.targetURI ?? "") \($0.headers["WARC-Payload-Digest"] ?? "")".replacingOccurrences(of: base, with: "") }
        }

        let project = try Project()
        try await ScriptedSite.with({ await configure($0) }) { base, site in
            try project.writePipeline(Self.pipeline(config(base)))
            let holder = TaskHolder()
            await site.observe { request in
                // Killed while the fifth product is being fetched.
                if request.path == "/p/5" { await holder.cancel() }
            }
            let task = Task { try await project.run() }
            await holder.set(task)
            let interrupted = try await task.value
            #expect(interrupted.status != .succeeded)
            #expect(!project.exists(Self.warc))  // nothing half-written under the real name
            let firstRun = await site.paths

            await site.observe { _ in }
            let manifest = try await project.run()
            #expect(manifest.stage("crawl")?.status == .ran)
            let secondRun = Array(await site.paths.dropFirst(firstRun.count))
            // Completed URLs were not fetched again.
            let completed = firstRun.filter { $0 != "/p/5" && $0 != "/robots.txt" }
            #expect(completed.contains("/p/4"))
            for path in completed { #expect(!secondRun.contains(path), "\(path) fetched twice") }
            // And the outputs are those of the uninterrupted crawl.
            let resumed = try Self.records(project).map { "\($0.type!.rawValue) \($0.targetURI ?? "") \($0.headers["WARC-Payload-Digest"] ?? "")".replacingOccurrences(of: base, with: "") }
            #expect(resumed == expected)
            #expect(try project.records(Self.log).count == 9)
        }
    }

    @Test func seedListFromTheLakeWithIncludeAndExclude() async throws {
        let project = try Project()
        try await ScriptedSite.with({ site in
            await site.route("/robots.txt") { _, _ in .text("", status: 404) }
            await site.page("/a", Self.page("A", links: [("x", "/p/1"), ("x", "/p/2"), ("x", "/q/3"), ("x", "/p/4?print=1")]))
            await site.page("/b", Self.page("B"))
            for path in ["/p/1", "/p/2", "/q/3", "/p/4"] { await site.page(path, Self.page(path)) }
        }) { base, site in
            try project.put("raw_data/imports/urls.txt", "# seeds\n\(base)/a\n\n  \(base)/b  \n")
            try project.writePipeline(Self.pipeline("""
                seeds: raw_data/imports/urls.txt
                follow: a.x
                include: ["*/a", "*/b", "*/p/*"]
                exclude: ["*/p/2", {regex: "print=1$"}]
                allow_private_addresses: true
                per_host: { delay: 0s }
                """))
            let manifest = try await project.run()
            #expect(manifest.stage("crawl")?.status == .ran, "\(manifest.stage("crawl")?.error ?? "")")
            #expect(manifest.stage("crawl")?.inputs.map(\.path) == ["raw_data/imports/urls.txt"])
            #expect(await site.paths == ["/robots.txt", "/a", "/b", "/p/1"])
        }
    }

    @Test func sitemapIndexAndGzippedSitemapSeeds() async throws {
        let project = try Project()
        try await ScriptedSite.with({ site in
            await site.route("/robots.txt") { _, _ in .text("", status: 404) }
            await site.route("/sitemap.xml") { request, _ in
                .text("""
                    <?xml version="1.0"?><sitemapindex xmlns="http://www.sitemaps.org/schemas/sitemap/0.9">
                    <sitemap><loc>http://\(request.header("Host")!)/s1.xml</loc></sitemap>
                    <sitemap><loc>http://\(request.header("Host")!)/s2.xml.gz</loc></sitemap></sitemapindex>
                    """)
            }
            await site.route("/s1.xml") { request, _ in
                .text("<urlset><url><loc>http://\(request.header("Host")!)/p/1</loc></url></urlset>")
            }
            await site.route("/s2.xml.gz") { request, _ in
                let host = request.header("Host")!
                let xml = "<urlset><url><loc>http://\(host)/p/2</loc></url><url><loc>http://\(host)/p/3</loc></url></urlset>"
                return ScriptedSite.Response(status: 200, headers: ["Content-Type": "application/gzip"], body: try! gzipped(Array(xml.utf8)))
            }
            for i in 1...3 { await site.page("/p/\(i)", Self.page("P\(i)")) }
        }) { base, _ in
            try project.writePipeline(Self.pipeline("seeds: [{sitemap: \(base)/sitemap.xml}]\nallow_private_addresses: true\nper_host: { delay: 0s }"))
            let manifest = try await project.run()
            #expect(manifest.stage("crawl")?.status == .ran)
            #expect(try project.records(Self.log).map { $0["url"]!.stringValue! } == ["/p/1", "/p/2", "/p/3"].map { base + $0 })
        }
    }

    @Test func sitemapWithAnExternalEntityFailsTheStageClearly() async throws {
        let project = try Project()
        try await ScriptedSite.with({ site in
            await site.route("/sitemap.xml") { _, _ in
                .text("<?xml version=\"1.0\"?><!DOCTYPE x [<!ENTITY e SYSTEM \"file:///etc/passwd\">]><urlset><url><loc>&e;</loc></url></urlset>")
            }
        }) { base, _ in
            try project.writePipeline(Self.pipeline("seeds: [{sitemap: \(base)/sitemap.xml}]\nallow_private_addresses: true"))
            let manifest = try await project.run()
            let stage = try #require(manifest.stage("crawl"))
            #expect(stage.status == .failed)
            #expect(stage.error?.contains("DTD") == true)
            #expect(stage.error?.contains("root:") == false)
        }
    }

    @Test func viaScoupWritesHTMLAndScoupsFieldsIntoTheWARC() async throws {
        let project = try Project()
        let site: [String: (html: String, links: [String])] = [
            "https://shop.example/": (Self.page("Home", links: [("product", "/p/1"), ("product", "https://shop.example/p/2")]),
                                      ["https://shop.example/p/1", "https://shop.example/p/2"]),
            "https://shop.example/p/1": (Self.page("P1"), []),
            "https://shop.example/p/2": (Self.page("P2"), []),
        ]
        try await FakeScoup.with(token: "sk-scoup-test", site: site) { base, fake in
            project.environment = ["SCOUP_BASE_URL": base, "SCOUP_API_KEY": "sk-scoup-test"]
            try project.writePipeline(Self.pipeline("via: scoup\nseeds: [https://shop.example/]\nfollow: a.product\nper_host: { delay: 0s }"))
            let manifest = try await project.run()
            #expect(manifest.stage("crawl")?.status == .ran, "\(manifest.stage("crawl")?.error ?? "")")
            let calls = await fake.calls
            #expect(calls.first?.path == "/health")
            #expect(calls.dropFirst().map { $0.body?["url"] as? String } == ["https://shop.example/", "https://shop.example/p/1",
                                                                              "https://shop.example/p/2"])
            #expect(calls.allSatisfy { $0.authorization == "Bearer sk-scoup-test" })
            let records = try Self.records(project)
            let responses = records.filter { $0.type == .response }
            #expect(responses.map(\.targetURI) == ["https://shop.example/", "https://shop.example/p/1", "https://shop.example/p/2"])
            #expect(String(decoding: try #require(responses[1].httpMessage()).body, as: UTF8.self) == Self.page("P1"))
            let metadata = try #require(records.first { $0.type == .metadata && $0.targetURI == "https://shop.example/" })
            #expect(metadata.headers["WARC-Refers-To"] == responses[0].recordID)
            let fields = String(decoding: metadata.block, as: UTF8.self)
            #expect(fields.contains("via: scoup") && fields.contains("title: Page") && fields.contains("links: "))
            #expect(try project.records(Self.log).allSatisfy { $0["via"]?.stringValue == "scoup" })
            // The key never reaches the lake.
            let warcBytes = try FileInput.readAll(path: project.lake.root + "/" + Self.warc)
            #expect(!String(decoding: try HTTPMessage(startLine: "", headers: [("Content-Encoding", "gzip")], body: warcBytes).decodedBody(),
                            as: UTF8.self).contains("sk-scoup-test"))
        }
    }

    /// Scoup answering 503 then 200 for a page: the crawl log says the page took two attempts.
    @Test func theCrawlLogCountsScoupsRetries() async throws {
        let project = try Project()
        try await FakeScoup.with(token: "sk-scoup-test") { base, _ in
            project.environment = ["SCOUP_BASE_URL": base, "SCOUP_API_KEY": "sk-scoup-test"]
            try project.writePipeline(Self.pipeline("via: scoup\nseeds: [https://shop.example/flaky, https://shop.example/steady]"))
            let manifest = try await project.run()
            #expect(manifest.stage("crawl")?.status == .ran, "\(manifest.stage("crawl")?.error ?? "")")
            let attempts = Dictionary(uniqueKeysWithValues: try project.records(Self.log).map {
                ($0["url"]?.stringValue ?? "", $0["attempt"]?.doubleValue ?? 0)
            })
            #expect(attempts == ["https://shop.example/flaky": 2, "https://shop.example/steady": 1])
        }
    }

    @Test func scoupDownFailsFastWithAClearMessage() async throws {
        let project = try Project()
        project.environment = ["SCOUP_BASE_URL": closedPortBase, "SCOUP_API_KEY": "sk-secret-down"]
        try project.writePipeline(Self.pipeline("via: scoup\nseeds: [https://shop.example/]"))
        let started = Date()
        let manifest = try await project.run()
        let stage = try #require(manifest.stage("crawl"))
        #expect(stage.status == .failed)
        #expect(stage.error?.contains("Scoup is not available at \(closedPortBase)") == true)
        #expect(stage.error?.contains("sk-secret-down") == false)
        #expect(Date().timeIntervalSince(started) < 10)
        #expect(!project.exists(Self.warc))
    }

    @Test func aSavedSiteCrawledOverFileURLs() async throws {
        let project = try Project()
        try project.put("raw_data/imports/site/index.html", Self.page("Home", links: [("next", "list.html"), ("next", "../../../outside.html")]))
        try project.put("raw_data/imports/site/list.html", Self.page("List", links: [("product", "p/1.html"), ("product", "p/missing.html")]))
        try project.put("raw_data/imports/site/p/1.html", Self.page("P1"))
        try project.put("raw_data/outside.html", Self.page("Outside"))
        try project.writePipeline(Self.pipeline("seeds: file:raw_data/imports/site/index.html\nfollow: \"a.next, a.product\""))
        let manifest = try await project.run()
        #expect(manifest.stage("crawl")?.status == .ran, "\(manifest.stage("crawl")?.error ?? "")")
        let lines = try project.records(Self.log)
        let root = "file://" + project.lake.root + "/raw_data/imports/site/"
        #expect(lines.map { $0["url"]!.stringValue! } == [root + "index.html", root + "list.html", root + "p/1.html", root + "p/missing.html"])
        #expect(lines[3]["status"] == .null && lines[3]["error"] != .null)
        let resources = try Self.records(project).filter { $0.type == .resource }
        #expect(resources.map { $0.targetURI! } == [root + "index.html", root + "list.html", root + "p/1.html"])
        #expect(resources[2].block == Array(Self.page("P1").utf8))

        // With base_url the saved site's pages are recorded under the URL the site had.
        try project.writePipeline(Self.pipeline("seeds: file:raw_data/imports/site/index.html\nbase_url: https://shop.example\n"
                                                + "follow: \"a.next, a.product\""))
        _ = try await project.run()
        #expect(try project.records(Self.log).map { $0["url"]!.stringValue! } == ["index.html", "list.html", "p/1.html", "p/missing.html"]
            .map { "https://shop.example/" + $0 })
        #expect(try Self.records(project).filter { $0.type == .resource }.map { $0.targetURI! }
            == ["index.html", "list.html", "p/1.html"].map { "https://shop.example/" + $0 })
    }

    @Test func configurationProblemsPointAtTheirKeys() throws {
        let project = try Project()
        try project.writePipeline(Self.pipeline("""
            via: carrier-pigeon
            seeds: [ftp://x.example/, {sitemap: relative.xml}]
            follow: "a[["
            max_pages: lots
            max_page: 3
            per_host: { concurrency: 0, delay: soon }
            max_page_bytes: 10 parsecs
            robots: maybe
            base_url: https://shop.example/
            """))
        let problems = try project.problems()
        #expect(problems.contains { $0.hasPrefix("5:12: stages.crawl.fetch.via: expected one of direct, scoup") })
        #expect(problems.contains { $0.contains("stages.crawl.fetch.seeds.0: expected an http(s) URL") })
        #expect(problems.contains { $0.contains("stages.crawl.fetch.seeds.1: expected an absolute sitemap URL") })
        #expect(problems.contains { $0.contains("stages.crawl.fetch.follow:") })
        #expect(problems.contains { $0.contains("stages.crawl.fetch.max_pages: expected an integer") })
        #expect(problems.contains { $0.contains("stages.crawl.fetch.max_page: unknown key 'max_page'") })
        #expect(problems.contains { $0.contains("stages.crawl.fetch.per_host.concurrency:") })
        #expect(problems.contains { $0.contains("stages.crawl.fetch.per_host.delay: expected a duration") })
        #expect(problems.contains { $0.contains("stages.crawl.fetch.max_page_bytes: expected a size") })
        #expect(problems.contains { $0.contains("stages.crawl.fetch.robots: expected one of obey, ignore") })
        #expect(problems.contains { $0.contains("stages.crawl.fetch.base_url: base_url names what a saved site's file: seeds stand for") })
    }
}

/// Lets a site's request observer cancel the run that made the request.
actor TaskHolder {
    private var task: Task<RunManifest, Error>?
    private var pending = false

    func set(_ task: Task<RunManifest, Error>) {
        self.task = task
        if pending { task.cancel() }
    }

    func cancel() {
        if let task { task.cancel() } else { pending = true }
    }
}
