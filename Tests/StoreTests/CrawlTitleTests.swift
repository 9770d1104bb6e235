import Foundation
import Lake
import Testing
import TestSupport
@testable import Store

/// `scraped_data.title`: recorded by the crawler in the crawl log; read back from the WARC only for
/// a log of an earlier version, which has no `title` key.
@Suite struct CrawlTitleTests {
    static let warc = "scraped_data/products/dt=2026-11-18/pages.warc.gz"

    func line(_ url: String, sha: String, offset: Int64, title: JSONValue?) -> JSONObject {
        var pairs: [(String, JSONValue)] = [
            ("url", .string(url)), ("final_url", .string(url)), ("status", .int(200)), ("bytes", .int(40)), ("ms", .int(5)),
            ("attempt", .int(1)), ("from_cache", .bool(false)), ("error", .null), ("fetched_at", .string("2026-11-18T10:00:01Z")),
            ("depth", .int(0)), ("content_type", .string("text/html")), ("content_sha256", .string(sha)), ("via", .string("direct")),
            ("warc_file", .string(Self.warc)), ("warc_offset", .int(offset)),
        ]
        if let title { pairs.append(("title", title)) }
        return JSONObject(pairs)
    }

    func record(_ lines: [JSONObject], in dir: TemporaryDirectory, lake: Lake) throws -> [[SQLValue]] {
        let log = try lake.resolve("raw_data/logs/crawl/dt=2026-11-18/crawl.jsonl.gz")
        try FileManager.default.createDirectory(atPath: (log.absolute as NSString).deletingLastPathComponent,
                                                withIntermediateDirectories: true)
        let writer = try RecordWriter(path: log.absolute)
        for line in lines { try writer.write(line) }
        try writer.commit()
        var fetch = RunManifest.StageRun(name: "crawl", kind: "fetch", status: .ran, reason: "", fingerprint: "f")
        fetch.outputs = [.init(path: Self.warc, sha256: "00", bytes: 10),
                         .init(path: log.relative, sha256: try FileDigest.sha256(path: log.absolute), bytes: 10)]
        var run = RunManifest(runID: "r1", pipeline: "shop", pipelineFile: "pipelines/shop.yaml",
                              startedAt: Date(timeIntervalSince1970: 1_795_000_000), runDate: "2026-11-18",
                              toolVersion: "0.1.0", options: [], logFile: "raw_data/logs/shop/x.log")
        run.stages = [fetch]
        run.status = .succeeded
        let db = try Store.openMigrated(path: dir.file("store.sqlite")).database
        try RunRecords.record(run, lake: lake, in: db)
        return try db.rows("SELECT url, title FROM scraped_data ORDER BY url")
    }

    @Test func titlesComeFromTheCrawlLogWithoutReadingTheWARC() throws {
        let dir = try TemporaryDirectory()
        let lake = Lake(root: dir.path)
        // No WARC file at all: the titles can only come from the log.
        let rows = try record([
            line("https://shop.example/a", sha: "aa", offset: 0, title: .string("Kettle & Toaster")),
            line("https://shop.example/b", sha: "bb", offset: 900, title: .null),
        ], in: dir, lake: lake)
        #expect(rows == [[.text("https://shop.example/a"), .text("Kettle & Toaster")], [.text("https://shop.example/b"), .null]])
    }

    @Test func aLogOfTheEarlierVersionHasItsTitlesReadFromTheWARC() throws {
        let dir = try TemporaryDirectory()
        let lake = Lake(root: dir.path)
        let path = try lake.resolve(Self.warc)
        try FileManager.default.createDirectory(atPath: (path.absolute as NSString).deletingLastPathComponent,
                                                withIntermediateDirectories: true)
        let warc = try WARCWriter(path: path.absolute)
        let body = Array("<html><head><title>Jalape&#241;o</title></head></html>".utf8)
        let offset = warc.fileOffset
        try warc.write(WARCRecord(type: .response, headers: [
            ("WARC-Target-URI", "https://shop.example/a"), ("Content-Type", "application/http; msgtype=response"),
        ], block: HTTPMessage(startLine: "HTTP/1.1 200 OK", headers: [("Content-Length", "\(body.count)")], body: body).bytes))
        try warc.commit()
        let rows = try record([line("https://shop.example/a", sha: "aa", offset: offset, title: nil)], in: dir, lake: lake)
        #expect(rows == [[.text("https://shop.example/a"), .text("Jalapeño")]])
    }
}
