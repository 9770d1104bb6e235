import Foundation
import Lake
import Postgres
import TestSupport
import Testing
#if canImport(Glibc)
import Glibc
#endif

/// The built binary: three `agentshop worker` processes crawl the sample shop (served on loopback),
/// parse its pages and enrich the records, one is killed with SIGKILL mid-crawl; the outputs equal a one-process
/// run's, the frontier holds every URL once and every URL was done by exactly one accepted lease.
@Suite(.serialized) struct QueueCrawlEndToEndTests {
    static let repository = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
        .deletingLastPathComponent().path

    /// The shop's pipeline: crawl, parse products and reviews, enrich both.
    static func pipeline(base: String) -> String {
        """
        pipeline: shop
        stages:
          crawl:
            fetch:
              seeds: \(base)/index.html
              follow: "a.next, a.product, a.reviews"
              max_depth: 10
              allow_private_addresses: true
              per_host: { concurrency: 2, delay: 50ms }
            out:
              - scraped_data/products/pages.warc.gz
              - raw_data/logs/crawl/crawl.jsonl.gz
          products:
            parse:
              from: crawl
              url: "*/products/*"
              fields:
                slug: { css: "link[rel=canonical]::attr(href)", regex: "([^/]+)\\\\.html$", required: true }
                name: { css: "h1.product-title::text", required: true }
                price: { css: ".price-box .price::text", type: money, required: true }
                vendor: "a.brand::text"
                description: ".description p::text"
            out: scraped_data/products/products.jsonl.gz
          reviews:
            parse:
              from: crawl
              url: "*/reviews/*"
              records: ".review"
              fields:
                review_id: { xpath: "@data-review-id", required: true }
                text: ".body::text"
            out: scraped_data/reviews/reviews.jsonl.gz
          review_sentiment:
            enrich: { from: reviews, provider: offline, task: sentiment, text: "{{text}}", into: sentiment }
            out: processed_data/ml_datasets/reviews/part.jsonl.gz
          product_summary:
            enrich: { from: products, provider: offline, task: summary, text: "{{name}} by {{vendor}}. {{description}}" }
            out: processed_data/ml_datasets/products/summary.jsonl.gz
        """
    }

    static func project(base: String) throws -> String {
        let folder = NSTemporaryDirectory() + "agentshop-queue-crawl-" + UUID().uuidString
        try FileManager.default.createDirectory(atPath: folder + "/pipelines", withIntermediateDirectories: true)
        try pipeline(base: base).write(toFile: folder + "/pipelines/shop.yaml", atomically: true, encoding: .utf8)
        let initialised = try QueueEndToEndTests.run(["init", "datalake", "--quiet"], in: folder)
        #expect(initialised.status == 0, "\(initialised.stderr)")
        return folder
    }

    /// The sample shop's files (scripts/make_fixture_site.py), by URL path, its absolute links pointing at `base`.
    static func shop() throws -> [String: [UInt8]] {
        let folder = NSTemporaryDirectory() + "agentshop-shop-" + UUID().uuidString
        defer { try? FileManager.default.removeItem(atPath: folder) }
        let generator = Process()
        generator.executableURL = URL(fileURLWithPath: "/usr/bin/env")
        generator.arguments = ["python3", repository + "/scripts/make_fixture_site.py", folder, "--count", "16", "--per-page", "6"]
        generator.standardOutput = FileHandle.nullDevice
        try generator.run()
        generator.waitUntilExit()
        #expect(generator.terminationStatus == 0)
        var files: [String: [UInt8]] = [:]
        let site = folder + "/site"
        for case let path as String in FileManager.default.enumerator(atPath: site) ?? FileManager.default.enumerator(atPath: "/")! {
            var isFolder: ObjCBool = false
            guard FileManager.default.fileExists(atPath: site + "/" + path, isDirectory: &isFolder), !isFolder.boolValue else { continue }
            files["/" + path] = Array(try Data(contentsOf: URL(fileURLWithPath: site + "/" + path)))
        }
        return files
    }

    static func replacing(_ bytes: [UInt8], _ old: String, with new: String) -> [UInt8] {
        let (o, n) = (Array(old.utf8), Array(new.utf8))
        var out: [UInt8] = []
        var i = 0
        while i < bytes.count {
            if bytes[i] == o[0], i + o.count <= bytes.count, Array(bytes[i..<i + o.count]) == o {
                out += n
                i += o.count
            } else {
                out.append(bytes[i])
                i += 1
            }
        }
        return out
    }

    /// A record file's records, `fetched_at` left out (the two runs fetched at different times), serialised.
    static func records(_ path: String) throws -> [String] {
        let reader = try RecordReader(path: path)
        var out: [String] = []
        while var record = try reader.next() {
            record["fetched_at"] = nil
            out.append(JSONValue.object(record).serialized())
        }
        return out
    }

    /// The crawl log's lines as what they say of each URL, timings left out.
    static func crawlLog(_ path: String) throws -> [String] {
        let reader = try RecordReader(path: path)
        var out: [String] = []
        while let record = try reader.next() {
            let keep = ["url", "final_url", "status", "depth", "content_sha256", "title", "bytes", "error", "content_type"]
            out.append(JSONValue.object(JSONObject(keep.compactMap { key in record[key].map { (key, $0) } })).serialized())
        }
        return out
    }

    /// The WARC's records as (type, target URI, payload digest), in file order.
    static func warcRecords(_ path: String) throws -> [String] {
        let reader = try WARCReader(path: path)
        var out: [String] = []
        while let record = try reader.next() {
            guard record.type != .warcinfo else { continue }
            out.append([record.headers["WARC-Type"] ?? "", record.headers["WARC-Target-URI"] ?? "",
                        record.headers["WARC-Payload-Digest"] ?? ""].joined(separator: " "))
        }
        return out
    }

    @Test func threeWorkersCrawlAndEnrichTheShopOneKilledOutputsEqualAOneProcessRun() async throws {
        guard let database = try PostgresServer.database() else { return }
        defer { database.drop() }
        let files = try Self.shop()
        try await ScriptedSite.with({ _ in }) { base, site in
            for (path, bytes) in files {
                let body = Self.replacing(bytes, "https://shop.example", with: base)
                let type = path.hasSuffix(".html") ? "text/html" : path.hasSuffix(".txt") ? "text/plain" : "application/octet-stream"
                // Each answer takes a little while, so that requests of several workers would overlap if they could.
                await site.route(path) { _, _ in ScriptedSite.Response(status: 200, headers: ["Content-Type": type], body: body, delay: 0.03) }
            }
            let single = try Self.project(base: base)
            let distributed = try Self.project(base: base)
            defer {
                try? FileManager.default.removeItem(atPath: single)
                try? FileManager.default.removeItem(atPath: distributed)
            }

            // The one-process run.
            let alone = try QueueEndToEndTests.run(["run", "shop", "--lake", "datalake"], in: single)
            try #require(alone.status == 0, "\(alone.stderr)")
            let before = await site.requests.count

            // Three workers and the coordinator; one record per enrich item.
            var workers: [QueueEndToEndTests.Started] = []
            for name in ["w1", "w2", "w3"] {
                workers.append(try QueueEndToEndTests.start(["worker", database.url, "--id", name, "--batch", "2", "--lease", "2s"],
                                                            in: distributed, output: distributed + "/" + name))
            }
            defer { for worker in workers where worker.process.isRunning { kill(worker.process.processIdentifier, SIGKILL) } }
            let coordinator = try QueueEndToEndTests.start(["run", "shop", "--lake", "datalake", "--queue", database.url, "--json"],
                                                           in: distributed, environment: ["AGENTSHOP_QUEUE_ITEM_RECORDS": "1", "AGENTSHOP_QUEUE_ITEM_PAGES": "5"],
                                                           output: distributed + "/run")
            // Kill w1 once it has fetched a few pages, mid-crawl.
            let db = try PGConnection(database.url)
            let deadline = Date().addingTimeInterval(120)
            var killedAfter = 0
            while Date() < deadline {
                killedAfter = Int((try? db.scalar("SELECT count(*) FROM agentshop_queue_results WHERE worker = 'w1' AND stage = 'crawl'")) ?? "0") ?? 0
                if killedAfter >= 3 || !coordinator.process.isRunning { break }
                try await Task.sleep(nanoseconds: 20_000_000)
            }
            try #require(killedAfter >= 3, "w1 fetched nothing: \(workers[0].stderr())\n\(coordinator.stderr())")
            kill(workers[0].process.processIdentifier, SIGKILL)
            workers[0].process.waitUntilExit()
            #expect(workers[0].process.terminationReason == .uncaughtSignal)
            coordinator.process.waitUntilExit()
            try #require(coordinator.process.terminationStatus == 0, "\(coordinator.stderr())\n\(workers[1].stderr())")
            for worker in workers.dropFirst() {
                kill(worker.process.processIdentifier, SIGTERM)
                worker.process.waitUntilExit()
            }

            // The same records in the same order, the same crawl log, the same WARC records.
            let lake = { (project: String) in project + "/datalake/" }
            for output in ["scraped_data/products/products.jsonl.gz", "scraped_data/reviews/reviews.jsonl.gz",
                           "processed_data/ml_datasets/reviews/part.jsonl.gz", "processed_data/ml_datasets/products/summary.jsonl.gz"] {
                let a = try Self.records(lake(distributed) + output)
                #expect(!a.isEmpty, "\(output) is empty")
                #expect(a == (try Self.records(lake(single) + output)), "\(output) differs")
            }
            let log = try Self.crawlLog(lake(distributed) + "raw_data/logs/crawl/crawl.jsonl.gz")
            #expect(log == (try Self.crawlLog(lake(single) + "raw_data/logs/crawl/crawl.jsonl.gz")))
            let warc = try Self.warcRecords(lake(distributed) + "scraped_data/products/pages.warc.gz")
            #expect(warc == (try Self.warcRecords(lake(single) + "scraped_data/products/pages.warc.gz")))
            #expect(log.count >= 30)

            // The frontier holds every URL once; every queued URL is one item done by one accepted lease.
            #expect(try db.scalar("SELECT count(*) FROM (SELECT url FROM agentshop_crawl_frontier GROUP BY run_id, stage, url HAVING count(*) > 1) AS twice") == "0")
            let queued = Int(try db.scalar("SELECT count(*) FROM agentshop_crawl_frontier WHERE state = 'queued'") ?? "") ?? -1
            #expect(queued == log.count)
            #expect(try db.scalar("SELECT count(*) FROM agentshop_queue_items WHERE stage = 'crawl' AND state = 'done'") == "\(queued)")
            #expect(try db.scalar("SELECT count(*) FROM agentshop_queue_items WHERE state <> 'done'") == "0")
            // The parse stages were queued too, five pages an item.
            #expect(Int(try db.scalar("SELECT count(*) FROM agentshop_queue_items WHERE stage = 'products'") ?? "") ?? 0 >= 3)
            for stage in ["crawl", "products", "reviews", "review_sentiment", "product_summary"] {
                #expect(try db.scalar("""
                    SELECT count(*) FROM (SELECT item_key FROM agentshop_queue_results WHERE stage = $1
                    GROUP BY item_key HAVING count(*) > 1) AS twice
                    """, [stage]) == "0")
                #expect(try db.scalar("SELECT count(*) FROM agentshop_queue_results WHERE stage = $1", [stage])
                        == db.scalar("SELECT count(*) FROM agentshop_queue_items WHERE stage = $1", [stage]))
            }

            // As polite as one process: robots.txt asked once, never more than two requests at once.
            let requests = await site.requests.dropFirst(before)
            #expect(requests.filter { $0.path == "/robots.txt" }.count == 1)
            #expect(await site.maxInFlight <= 2)
            // Starts spaced by the delay whichever worker sent them (arrivals, so a little slack).
            if let first = requests.first?.at, let last = requests.last?.at {
                #expect(last - first >= Double(requests.count - 1) * 0.05 * 0.8)
            }

            // The run manifest names the workers and what each did.
            let manifest = try #require(try JSONSerialization.jsonObject(with: Data(coordinator.stdout().utf8)) as? [String: Any])
            let stages = try #require(manifest["stages"] as? [[String: Any]])
            let crawl = try #require(stages.first { $0["name"] as? String == "crawl" })
            let queue = try #require((crawl["details"] as? [String: Any])?["queue"] as? [String: Any])
            let byWorker = try #require(queue["workers"] as? [String: Int])
            #expect((byWorker["w1"] ?? 0) >= killedAfter)
            #expect(byWorker.values.reduce(0, +) == queued)
            #expect((queue["frontier"] as? [String: Int])?["queued"] == queued)
            let enriched = try #require(stages.first { $0["name"] as? String == "review_sentiment" })
            #expect(((enriched["details"] as? [String: Any])?["queue"] as? [String: Any])?["workers"] != nil)
            // Once published, the run's item inputs, segments and worker packs are gone.
            let leftovers = FileManager.default.enumerator(atPath: lake(distributed) + ".agentshop/queue")?
                .compactMap { $0 as? String }.filter { $0.hasSuffix(".pack") || $0.hasSuffix(".jsonl") || $0.hasSuffix(".warc.gz") } ?? []
            #expect(leftovers.isEmpty, "\(leftovers.prefix(5))")
        }
    }

    @Test func aQueuedCrawlAsksConditionallyAndHonoursTheRefreshWindowAsOneProcessDoes() async throws {
        guard let database = try PostgresServer.database() else { return }
        defer { database.drop() }
        try await ScriptedSite.with({ site in
            await site.route("/robots.txt") { _, _ in .text("nothing here", status: 404) }
            await site.route("/a") { request, _ in
                request.header("If-None-Match") == "\"v1\"" ? ScriptedSite.Response(status: 304, headers: ["ETag": "\"v1\""])
                    : .html("<html><head><title>A</title></head><body><a href=\"/b\">b</a></body></html>", headers: ["ETag": "\"v1\""])
            }
            await site.route("/b") { request, _ in
                request.header("If-Modified-Since") == "Wed, 21 Oct 2026 07:28:00 GMT" ? ScriptedSite.Response(status: 304)
                    : .html("<html><head><title>B</title></head><body>b</body></html>",
                            headers: ["Last-Modified": "Wed, 21 Oct 2026 07:28:00 GMT"])
            }
        }) { base, site in
            func pipeline(_ extra: String) -> String {
                """
                pipeline: shop
                stages:
                  crawl:
                    fetch:
                      seeds: \(base)/a
                      follow: "a"
                      allow_private_addresses: true
                      per_host: { delay: 0s }\(extra)
                    out:
                      - scraped_data/pages/pages.warc.gz
                      - raw_data/logs/crawl/crawl.jsonl.gz
                """
            }
            let folder = NSTemporaryDirectory() + "agentshop-queue-conditional-" + UUID().uuidString
            defer { try? FileManager.default.removeItem(atPath: folder) }
            try FileManager.default.createDirectory(atPath: folder + "/pipelines", withIntermediateDirectories: true)
            try pipeline("").write(toFile: folder + "/pipelines/shop.yaml", atomically: true, encoding: .utf8)
            #expect(try QueueEndToEndTests.run(["init", "datalake", "--quiet"], in: folder).status == 0)
            let worker = try QueueEndToEndTests.start(["worker", database.url, "--id", "w1", "--batch", "2"], in: folder,
                                                      output: folder + "/w1")
            defer { if worker.process.isRunning { kill(worker.process.processIdentifier, SIGKILL) } }
            let log = folder + "/datalake/raw_data/logs/crawl/crawl.jsonl.gz"
            func crawl() throws -> [String: JSONObject] {
                let run = try QueueEndToEndTests.run(["run", "shop", "--lake", "datalake", "--queue", database.url], in: folder)
                try #require(run.status == 0, "\(run.stderr)\n\(worker.stderr())")
                let reader = try RecordReader(path: log)
                var byURL: [String: JSONObject] = [:]
                while let record = try reader.next() { byURL[record["url"]?.stringValue ?? ""] = record }
                return byURL
            }

            // Run 1: both pages fetched.
            let first = try crawl()
            #expect(first[base + "/a"]?["status"] == .int(200) && first[base + "/b"]?["status"] == .int(200))
            let warc = try Self.warcRecords(folder + "/datalake/scraped_data/pages/pages.warc.gz")

            // Run 2: the worker asks conditionally with what the stage's state knows; the server says 304 and the
            // stored pages go into the new WARC, as in a one-process crawl.
            let before = await site.requests.count
            let second = try crawl()
            let asked = await site.requests.dropFirst(before).filter { $0.path != "/robots.txt" }
            #expect(asked.count == 2)
            #expect(asked.first { $0.path == "/a" }?.header("If-None-Match") == "\"v1\"")
            #expect(asked.first { $0.path == "/b" }?.header("If-Modified-Since") == "Wed, 21 Oct 2026 07:28:00 GMT")
            for url in [base + "/a", base + "/b"] {
                #expect(second[url]?["status"] == .int(304) && second[url]?["from_cache"] == .bool(true), "\(String(describing: second[url]))")
            }
            #expect(try Self.warcRecords(folder + "/datalake/scraped_data/pages/pages.warc.gz") == warc)

            // Run 3, with a refresh window: pages fetched within it are reused without a request.
            try pipeline("\n      refresh: 24h").write(toFile: folder + "/pipelines/shop.yaml", atomically: true, encoding: .utf8)
            let quiet = await site.requests.count
            let third = try crawl()
            #expect(await site.requests.count == quiet)
            for url in [base + "/a", base + "/b"] {
                #expect(third[url]?["status"] == .int(200) && third[url]?["from_cache"] == .bool(true), "\(String(describing: third[url]))")
            }
            #expect(try Self.warcRecords(folder + "/datalake/scraped_data/pages/pages.warc.gz") == warc)
            kill(worker.process.processIdentifier, SIGTERM)
            worker.process.waitUntilExit()
        }
    }
}
