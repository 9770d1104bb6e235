import Crawl
import Foundation
import Lake
import Logging
import TestSupport
import Testing

/// `FetchRun.run(queue:)` against an in-memory twin of the PostgreSQL frontier whose "workers" take
/// the newest URL first (the opposite of breadth-first): with `max_pages` cutting the crawl, they
/// fetch other URLs than a breadth-first crawl would, and the coordinator's replay must require the
/// missing ones so that the outputs equal a one-process crawl's.
@Suite struct QueuedCrawlTests {
    /// The frontier's rules as `WorkQueue.offerLinks` keeps them (dedup, smallest depth, max_depth,
    /// max_pages over everything admitted); the URLs are fetched by a second FetchRun, newest first.
    final class LIFOQueue: CrawlQueue, @unchecked Sendable {
        let worker: FetchRun
        var maxDepth = 0
        var maxPages = 0
        var admitted = 0
        var known: [String: (depth: Int, state: String)] = [:]
        var pending: [(url: String, depth: Int)] = []
        var requiredRounds = 0

        init(worker: FetchRun) { self.worker = worker }

        func offer(page: String?, links: [String], landing: String?) {
            let depth = page.map { known[$0]!.depth + 1 } ?? 0
            if let landing, let page, landing != page, known[landing] == nil { known[landing] = (known[page]!.depth, "landing") }
            for url in links {
                let was = known[url]
                known[url] = (min(was?.depth ?? .max, depth), was?.state ?? "held")
                guard known[url]!.state == "held", known[url]!.depth <= maxDepth, admitted < maxPages else { continue }
                known[url]!.state = "queued"
                admitted += 1
                pending.append((url, known[url]!.depth))
            }
        }

        func start(seeds: [String], setup: QueuedCrawlSetup, maxDepth: Int, maxPages: Int) async throws {
            worker.join(setup)
            self.maxDepth = maxDepth
            self.maxPages = maxPages
            offer(page: nil, links: seeds, landing: nil)
        }

        func drain(_ ingest: (String) throws -> Void) async throws {
            while let item = pending.popLast() {
                let page = try await worker.fetch(queued: item.url, depth: item.depth)
                offer(page: page.url, links: page.links, landing: page.landing)
                try ingest(page.report)
            }
        }

        func require(_ items: [CrawlItem]) async throws {
            requiredRounds += 1
            for item in items where known[item.url]?.state != "queued" {
                known[item.url] = (min(known[item.url]?.depth ?? .max, item.depth), "queued")
                pending.append((item.url, item.depth))
            }
        }
    }

    /// A site whose pages link to three others each, a tree 4 levels deep.
    static func site(_ site: ScriptedSite) async {
        await site.route("/robots.txt") { _, _ in .text("User-agent: *\nDisallow: /private/\n") }
        for n in 0..<40 {
            let links = (1...3).map { "<a href=\"/p\(n * 3 + $0)\">x</a>" }.joined() + "<a href=\"/private/x\">p</a>"
            await site.page("/p\(n)", "<html><head><title>P\(n)</title></head>\(links)</html>")
        }
    }

    func crawl(_ base: String, _ root: String, queued: Bool) async throws -> (log: [String], warc: [String], rounds: Int) {
        let lake = Lake(root: root)
        var settings = CrawlSettings()
        settings.seeds = [.url(base + "/p0")]
        settings.politeness = .off(concurrency: 4)
        settings.allowPrivateAddresses = true
        settings.maxPages = 12
        settings.maxDepth = 3
        settings.crawlKey = "test"
        let warc = try lake.resolve("pages.warc.gz")
        let log = try lake.resolve("crawl.jsonl")
        let target = CrawlTarget(lake: lake, warc: warc, log: log, stateFolder: root + "/.state", environment: [:],
                                 isPartOf: "test/crawl", logger: Logger(label: "test"))
        var rounds = 0
        if queued {
            let workerTarget = CrawlTarget(lake: lake, warc: warc, log: nil, stateFolder: root + "/.worker", environment: [:],
                                           isPartOf: "test/crawl", logger: Logger(label: "test"))
            let queue = LIFOQueue(worker: try FetchRun(settings: settings, target: workerTarget, reader: FetchRunTests.HrefReader()))
            _ = try await FetchRun(settings: settings, target: target, reader: FetchRunTests.HrefReader()).run(queue: queue)
            rounds = queue.requiredRounds
        } else {
            _ = try await FetchRun(settings: settings, target: target, reader: FetchRunTests.HrefReader()).run()
        }
        let reader = try RecordReader(path: log.absolute)
        var lines: [String] = []
        while let line = try reader.next() {
            let entry = try #require(CrawlLogEntry(line))
            lines.append("\(entry.url) \(entry.depth ?? -1) \(entry.status ?? 0) \(entry.title ?? "")")
        }
        let records = try WARCReader(path: warc.absolute)
        var uris: [String] = []
        while let record = try records.next() {
            uris.append("\(record.headers["WARC-Type"] ?? "") \(record.headers["WARC-Target-URI"] ?? "") \(record.headers["WARC-Payload-Digest"] ?? "")")
        }
        return (lines, uris, rounds)
    }

    @Test func aQueuedCrawlFetchedInAnotherOrderPublishesTheBreadthFirstCrawl() async throws {
        let root = NSTemporaryDirectory() + "agentshop-queuedcrawl-" + UUID().uuidString
        defer { try? FileManager.default.removeItem(atPath: root) }
        try await ScriptedSite.with({ await Self.site($0) }) { base, _ in
            let alone = try await crawl(base, root + "/one", queued: false)
            let queued = try await crawl(base, root + "/queued", queued: true)
            #expect(alone.log.count == 12)
            #expect(queued.log == alone.log)
            #expect(queued.warc.dropFirst() == alone.warc.dropFirst())  // the warcinfo record is dated by the last fetch
            // Newest-first fetching went deep first: the replay had to require the breadth-first URLs.
            #expect(queued.rounds >= 1)
        }
    }
}
