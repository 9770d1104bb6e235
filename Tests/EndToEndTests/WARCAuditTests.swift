import Foundation
import TestSupport
import Testing

/// Every WARC a pipeline writes, read by another implementation: Python's warcio (TestSupport's `WARCio`).
/// A crawl over HTTP (requests, responses, metadata, a redirect, a gzip-encoded page, a 404, a
/// rerun inside the refresh window), the demo's crawl over file:// (resource records) and the
/// flagship pipeline's crawl.
@Suite struct WARCAuditTests {
    static let repository = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
        .deletingLastPathComponent().path
    static let skipReason = Comment(rawValue: WARCio.skipReason)

    /// Every `*.warc` / `*.warc.gz` under the project's lake.
    static func warcs(in project: Project) -> [String] {
        let enumerator = FileManager.default.enumerator(atPath: project.lake)
        var found: [String] = []
        while let path = enumerator?.nextObject() as? String {
            if (path.hasSuffix(".warc.gz") || path.hasSuffix(".warc")) && !path.contains(".agentshop-tmp-") {
                found.append(project.lake + "/" + path)
            }
        }
        return found.sorted()
    }

    /// warcio reads every WARC in the lake, and finds the record kinds expected.
    static func expectWarcioReadsEveryWARC(in project: Project, kinds: [String]) throws {
        let files = warcs(in: project)
        #expect(!files.isEmpty, "the pipeline wrote no WARC")
        let result = try WARCio.check(files)
        #expect(result.status == 0, "\(result.output)")
        #expect(result.output.hasSuffix("\(files.count) passed, 0 failed\n"), "\(result.output)")
        for kind in kinds { #expect(result.output.contains(" \(kind)"), "no \(kind) record in \(result.output)") }
    }

    static func page(_ title: String, _ links: String) -> String {
        "<html><head><title>\(title)</title></head><body><h1>\(title)</h1>\(links)</body></html>"
    }

    @Test(.enabled(if: WARCio.enabled, skipReason))
    func aCrawlOverHTTPWritesWARCsThatWarcioReads() async throws {
        let project = try Project()
        #expect(try project.run(["init"]).status == 0)
        try await ScriptedSite.with({ site in
            await site.page("/robots.txt", "User-agent: *\nAllow: /\n")
            await site.page("/", Self.page("Home", #"<a href="/p/1">one</a> <a href="/p/2">two</a> <a href="/old">old</a> <a href="/gone">gone</a>"#))
            await site.page("/p/1", Self.page("Kettle", ""))
            await site.route("/p/2") { _, _ in
                ScriptedSite.Response(headers: ["Content-Type": "text/html; charset=utf-8", "Content-Encoding": "gzip"],
                                      body: (try? gzipped(Array(Self.page("Teapot", "").utf8))) ?? [])
            }
            await site.route("/old") { _, _ in .redirect("/p/3", status: 301) }
            await site.page("/p/3", Self.page("Mug", ""))
            await site.route("/gone") { _, _ in .html("not here", status: 404) }
        }) { base, _ in
            try project.write("pipelines/shop.yaml", """
                pipeline: shop
                stages:
                  crawl:
                    fetch: { seeds: "\(base)/", follow: "a", max_depth: 2, allow_private_addresses: true, politeness: false, refresh: 24h }
                    out:
                      - scraped_data/products/dt={run_date}/pages.warc.gz
                      - raw_data/logs/crawl/dt={run_date}/crawl.jsonl.gz
                """)
            let first = try await project.runDetached(["run", "shop", "--quiet", "--date", "2026-11-25"])
            #expect(first.status == 0, "\(first.stderr)")
            // Inside the refresh window the pages are reused from the stage's pack, not fetched: the
            // WARC is written again from what was kept, and must read as well as the first.
            let second = try await project.runDetached(["run", "shop", "--quiet", "--force", "--date", "2026-11-26"])
            #expect(second.status == 0, "\(second.stderr)")
        }
        #expect(Self.warcs(in: project).count == 2)
        try Self.expectWarcioReadsEveryWARC(in: project, kinds: ["request", "response", "warcinfo"])
    }

    @Test(.enabled(if: WARCio.enabled, skipReason), arguments: ["demo", "marketplace"])
    func theShippedPipelinesWriteWARCsThatWarcioReads(pipeline: String) throws {
        let project = try Project()
        #expect(try project.run(["init"]).status == 0)
        try FileManager.default.copyItem(atPath: Self.repository + "/pipelines/\(pipeline).yaml",
                                         toPath: project.folder + "/pipelines/\(pipeline).yaml")
        let imports = project.lake + "/raw_data/imports/demo"
        try? FileManager.default.removeItem(atPath: imports)
        try FileManager.default.copyItem(atPath: Self.repository + "/datalake/raw_data/imports/demo", toPath: imports)
        let result = try project.run(["run", pipeline, "--quiet", "--date", "2026-11-25"])
        #expect(result.status == 0, "\(result.stderr)")
        try Self.expectWarcioReadsEveryWARC(in: project, kinds: ["resource", "warcinfo"])
    }
}
