import Foundation
import Lake
import Testing
import TestSupport
@testable import Store

/// Crawl and LLM call records from run manifests: what `run` records after each run and
/// `db rebuild` replays.
@Suite struct DerivedRecordsTests {
    func manifest(_ runID: String, stages: [RunManifest.StageRun]) -> RunManifest {
        var manifest = RunManifest(runID: runID, pipeline: "shop", pipelineFile: "pipelines/shop.yaml",
                                   startedAt: Date(timeIntervalSince1970: 1_795_000_000), runDate: "2026-11-18",
                                   toolVersion: "0.1.0", options: [], logFile: "raw_data/logs/shop/x.log")
        manifest.stages = stages
        manifest.status = .succeeded
        return manifest
    }

    func crawlLine(_ url: String, status: Int?, sha: String?, error: String? = nil, offset: Int64) -> JSONObject {
        JSONObject([
            ("url", .string(url)), ("final_url", .string(url)), ("status", status.map { .int(Int64($0)) } ?? .null),
            ("bytes", .int(1200)), ("ms", .int(35)), ("attempt", .int(1)), ("from_cache", .bool(false)),
            ("error", error.map(JSONValue.string) ?? .null), ("fetched_at", .string("2026-11-18T10:00:01.000Z")),
            ("depth", .int(1)), ("content_type", .string("text/html")), ("content_sha256", sha.map(JSONValue.string) ?? .null),
            ("via", .string("direct")), ("warc_file", .string("scraped_data/products/dt=2026-11-18/pages.warc.gz")),
            ("warc_offset", .int(offset)),
        ])
    }

    @Test func fetchStagesBecomeCrawlerJobsAndTheirLogsScrapedPages() throws {
        let dir = try TemporaryDirectory()
        let lake = Lake(root: dir.path)
        let log = try lake.resolve("scraped_data/products/dt=2026-11-18/crawl_log.jsonl.gz")
        try FileManager.default.createDirectory(atPath: (log.absolute as NSString).deletingLastPathComponent,
                                                withIntermediateDirectories: true)
        let writer = try RecordWriter(path: log.absolute)
        try writer.write(crawlLine("https://shop.example/p1", status: 200, sha: "aa", offset: 0))
        try writer.write(crawlLine("https://shop.example/p2", status: 200, sha: "bb", offset: 900))
        try writer.write(crawlLine("https://shop.example/gone", status: 404, sha: "cc", offset: 1800))
        try writer.write(crawlLine("https://shop.example/slow", status: nil, sha: nil, error: "timed out", offset: 0))
        try writer.commit()

        var fetch = RunManifest.StageRun(name: "crawl", kind: "fetch", status: .ran, reason: "never run", fingerprint: "f")
        fetch.startedAt = "2026-11-18T10:00:00.000Z"
        fetch.durationMs = 4000
        fetch.outputs = [
            .init(path: "scraped_data/products/dt=2026-11-18/pages.warc.gz", sha256: "00", bytes: 10),
            .init(path: log.relative, sha256: try FileDigest.sha256(path: log.absolute), bytes: 10, records: 4),
        ]
        fetch.details = .object(JSONObject([("crawl", .object(JSONObject([
            ("via", "direct"), ("seeds", .array(["https://shop.example/"])), ("pages_fetched", 3), ("pages_failed", 1),
            ("bytes", 3600), ("statuses", .object(JSONObject([("200", 2), ("404", 1)]))),
        ])))]))
        var skipped = RunManifest.StageRun(name: "crawl2", kind: "fetch", status: .skipped, reason: "unchanged", fingerprint: "g")
        skipped.outputs = fetch.outputs
        let run = manifest("20261118T100000Z-aaaaaa", stages: [fetch, skipped])

        let db = try Store.openMigrated(path: dir.file("store.sqlite")).database
        #expect(try RunRecords.record(run, lake: lake, in: db) == 2)
        #expect(try RunRecords.record(run, lake: lake, in: db) == 2)  // idempotent
        let jobs = try db.rows("SELECT job_key, status, seeds_json, pages_fetched, pages_failed, bytes_fetched, finished_at FROM webcrawler_jobs")
        #expect(jobs == [[.text("shop/crawl"), .text("completed"), .text("[\"https://shop.example/\"]"),
                          .integer(3), .integer(1), .integer(3600), .text("2026-11-18T10:00:04.000Z")]])
        let pages = try db.rows("""
            SELECT url, http_status, content_sha256, warc_offset, crawler_job_id IS NOT NULL, json_extract(data_json, '$.ms')
            FROM scraped_data ORDER BY url
            """)
        // The URL that never got a response has no content to record.
        #expect(pages == [
            [.text("https://shop.example/gone"), .integer(404), .text("cc"), .integer(1800), .integer(1), .integer(35)],
            [.text("https://shop.example/p1"), .integer(200), .text("aa"), .integer(0), .integer(1), .integer(35)],
            [.text("https://shop.example/p2"), .integer(200), .text("bb"), .integer(900), .integer(1), .integer(35)],
        ])
    }

    @Test func aReplacedCrawlLogIsLeftToTheRunThatReplacedIt() throws {
        let dir = try TemporaryDirectory()
        let lake = Lake(root: dir.path)
        let log = try lake.resolve("scraped_data/crawl_log.jsonl")
        try FileManager.default.createDirectory(atPath: dir.file("scraped_data"), withIntermediateDirectories: true)
        let writer = try RecordWriter(path: log.absolute)
        try writer.write(crawlLine("https://shop.example/p1", status: 200, sha: "aa", offset: 0))
        try writer.commit()
        var fetch = RunManifest.StageRun(name: "crawl", kind: "fetch", status: .ran, reason: "", fingerprint: "f")
        fetch.outputs = [.init(path: log.relative, sha256: "not-the-file-any-more", bytes: 1)]
        let db = try Store.openMigrated(path: dir.file("store.sqlite")).database
        try RunRecords.record(manifest("r1", stages: [fetch]), lake: lake, in: db)
        #expect(try db.scalar("SELECT count(*) FROM webcrawler_jobs")?.int64 == 1)
        #expect(try db.scalar("SELECT count(*) FROM scraped_data")?.int64 == 0)
    }

    func call(_ key: String, provider: String = "openai", model: String = "gpt-4o-mini", status: String,
              tokensIn: Int64 = 100, tokensOut: Int64 = 20, cost: Double = 0.000027, at: String = "2026-11-18T10:00:00.000Z") -> JSONValue {
        .object(JSONObject([
            ("request_key", .string(key)), ("provider", .string(provider)), ("model", .string(model)), ("task", "sentiment"),
            ("prompt_sha256", .string("p" + key)), ("status", .string(status)), ("tokens_in", .int(tokensIn)),
            ("tokens_out", .int(tokensOut)), ("cost_usd", .double(status == "cached" ? 0 : cost)), ("latency_ms", 210),
            ("cache_hit", .bool(status == "cached")), ("finish_reason", "stop"),
            ("error", status == "error" ? "openai: rate limited (HTTP 429)" : .null), ("at", .string(at)),
        ]))
    }

    func enrich(_ calls: [JSONValue]) -> RunManifest.StageRun {
        var stage = RunManifest.StageRun(name: "sentiment", kind: "enrich", status: .ran, reason: "", fingerprint: "e")
        stage.details = .object(JSONObject([("llm", .object(JSONObject([("calls", .array(calls))])))]))
        return stage
    }

    @Test func enrichCallsBecomeRequestsResponsesAndDailyUsage() throws {
        let dir = try TemporaryDirectory()
        let db = try Store.openMigrated(path: dir.file("store.sqlite")).database
        let first = manifest("r1", stages: [enrich([
            call("k1", status: "success"), call("k2", status: "success"), call("k3", status: "error", tokensIn: 0, tokensOut: 0, cost: 0),
            call("k4", status: "skipped_budget"),
            call("k5", provider: "anthropic", model: "claude-3-5-haiku", status: "invalid", cost: 0.0001),
        ])])
        let second = manifest("r2", stages: [enrich([call("k1", status: "cached"), call("k6", status: "success")])])
        for run in [first, second, first] { try RunRecords.record(run, in: db) }

        #expect(try db.scalar("SELECT count(*) FROM llm_requests")?.int64 == 6)  // k4 was never sent
        #expect(try db.rows("SELECT status, count(*) FROM llm_requests GROUP BY status ORDER BY status") == [
            [.text("cached"), .integer(1)], [.text("error"), .integer(2)], [.text("success"), .integer(3)],
        ])
        #expect(try db.rows("""
            SELECT provider, model, requests, cache_hits, errors, input_tokens, output_tokens, cost_micro_usd
            FROM llm_usage_stats WHERE period_type = 'day' AND day = '2026-11-18' ORDER BY provider
            """) == [
            [.text("anthropic"), .text("claude-3-5-haiku"), .integer(1), .integer(0), .integer(1), .integer(100), .integer(20), .integer(100)],
            // The cached call counts as a hit, not as tokens or cost.
            [.text("openai"), .text("gpt-4o-mini"), .integer(4), .integer(1), .integer(1), .integer(300), .integer(60), .integer(81)],
        ])
        #expect(try db.scalar("SELECT from_cache FROM llm_responses r JOIN llm_requests q ON q.id = r.request_id WHERE q.request_key = 'r2/sentiment/k1'")?.int64 == 1)
    }

    /// A repeated text is sent once and its twin is answered by that call: both are recorded under the same
    /// request key, in whichever order the calls finished. Each stays its own row (a sent call and a cache hit),
    /// whatever the order; before, the later one overwrote the earlier and a sent call could vanish from the figures.
    @Test(arguments: [false, true]) func aTwinCallKeepsItsOwnRowInEitherOrder(twinFirst: Bool) throws {
        let dir = try TemporaryDirectory()
        let db = try Store.openMigrated(path: dir.file("store.sqlite")).database
        let sent = call("k1", status: "success"), twin = call("k1", status: "cached")
        let run = manifest("r1", stages: [enrich(twinFirst ? [twin, sent, call("k2", status: "success")] : [sent, twin, call("k2", status: "success")])])
        for _ in 0..<2 { try RunRecords.record(run, in: db) }
        #expect(try db.rows("SELECT status, count(*) FROM llm_requests GROUP BY status ORDER BY status") == [
            [.text("cached"), .integer(1)], [.text("success"), .integer(2)],
        ])
        #expect(try db.rows("SELECT requests, cache_hits FROM llm_usage_stats WHERE period_type = 'day'") == [[.integer(2), .integer(1)]])
    }
}
