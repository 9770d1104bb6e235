import Foundation
import TestSupport
import Testing

/// Parse once through the binary: a crawl killed with SIGKILL midway, then resumed, and its parse stage
/// writing what parsing the WARC again writes.
@Suite struct ParseOnceEndToEndTests {
    static let products = "datalake/scraped_data/products/dt=2026-01-02/products.jsonl"

    static func pipeline(_ base: String) -> String {
        """
        pipeline: shop
        stages:
          crawl:
            fetch:
              seeds: [\(base)/]
              follow: a.product
              allow_private_addresses: true
              per_host: { delay: 0s }
              retries: 0
              refresh: 1h
            out: scraped_data/products/dt={run_date}/pages.warc.gz
          products:
            parse:
              from: crawl
              url: "*/p/*"
              fields:
                name: { css: "h1::text", required: true }
                price: { css: ".price::text", type: money, currency: EUR }
            out: scraped_data/products/dt={run_date}/products.jsonl
        """
    }

    static func counts(_ manifest: [String: Any], _ stage: String) -> [String: Int] {
        let stages = manifest["stages"] as? [[String: Any]] ?? []
        return stages.first { $0["name"] as? String == stage }?["counts"] as? [String: Int] ?? [:]
    }

    @Test func aSigkilledCrawlResumesAndItsParseStageWritesWhatParsingAgainWrites() async throws {
        let project = try Project()
        #expect(try project.run(["init"]).status == 0)
        let killer = Killer()
        try await ScriptedSite.with({ site in
            await site.route("/robots.txt") { _, _ in .text("", status: 404) }
            await site.page("/", "<html><body>" + (1...12).map { "<a class=\"product\" href=\"/p/\($0)\">\($0)</a>" }.joined()
                                 + "</body></html>")
            for n in 1...12 {
                await site.page("/p/\(n)", "<html><body><h1>Product \(n)</h1><span class=\"price\">\(n),50 €</span>"
                                            + String(repeating: "<p>text</p>", count: 200) + "</body></html>")
            }
        }) { base, site in
            try project.write("pipelines/shop.yaml", Self.pipeline(base))
            await site.observe { request in
                if request.path == "/p/8" { await killer.kill() }
            }
            let (process, _, _) = try project.start(["run", "shop", "--quiet", "--date", "2026-01-02"])
            await killer.set(process.processIdentifier)
            await withCheckedContinuation { continuation in
                DispatchQueue.global().async { process.waitUntilExit(); continuation.resume() }
            }
            #expect(process.terminationReason == .uncaughtSignal)
            #expect(!FileManager.default.fileExists(atPath: project.folder + "/" + Self.products))
            await site.observe { _ in }

            let resumed = try await project.runDetached(["run", "shop", "--json", "--date", "2026-01-02"])
            #expect(resumed.status == 0, "\(resumed.stderr)")
            let manifest = (try? JSONSerialization.jsonObject(with: Data(resumed.stdout.utf8))) as? [String: Any] ?? [:]
            #expect(Self.counts(manifest, "products")["pages_from_crawl"] == 12)
            #expect(project.temporaryFiles().isEmpty)
            let shared = try project.read(Self.products)
            #expect(shared.split(separator: "\n").count == 12)

            // The same WARC parsed again, without the crawl's extractions.
            try FileManager.default.removeItem(atPath: project.lake + "/.agentshop/stages/shop/crawl/extracted")
            let again = try await project.runDetached(["run", "shop", "--json", "--date", "2026-01-02", "--stage", "products",
                                                       "--force"])
            #expect(again.status == 0, "\(again.stderr)")
            let second = (try? JSONSerialization.jsonObject(with: Data(again.stdout.utf8))) as? [String: Any] ?? [:]
            #expect(Self.counts(second, "products")["pages_parsed"] == 12)
            #expect(Self.counts(second, "products")["pages_from_crawl"] == nil)
            #expect(try project.read(Self.products) == shared)
        }
    }
}

/// Sends SIGKILL to the binary once both its pid is known and the site saw the request that triggers it.
actor Killer {
    private var pid: Int32?
    private var wanted = false

    func set(_ pid: Int32) {
        self.pid = pid
        if wanted { Foundation.kill(pid, SIGKILL) }
    }

    func kill() {
        wanted = true
        if let pid { Foundation.kill(pid, SIGKILL) }
    }
}
