import Foundation
import Lake

/// Fills `webcrawler_jobs` (one row per fetch stage run, keyed `<run id>/<stage>`) and
/// `scraped_data` (one row per fetched page and content, keyed by url + content sha256) from a
/// run manifest and the crawl logs its fetch stages wrote.
///
/// A crawl log is a JSON Lines file (`.jsonl` or `.jsonl.gz`) among a fetch stage's outputs,
/// one line per URL: `url, final_url, status, bytes, ms, attempt, from_cache, error, fetched_at,
/// depth, content_type, content_sha256, via, warc_file, warc_offset`. A log that a later run has
/// since replaced (its sha256 no longer matches the manifest) is left to that run's record.
enum CrawlRecords {
    static let stageKind = "fetch"

    static func record(_ manifest: RunManifest, stage: RunManifest.StageRun, lake: Lake?, in database: Database) throws {
        // Only a crawl that ran (to the end or to a failure) is a job; a skipped stage fetched nothing.
        guard stage.status == .ran || stage.status == .failed else { return }
        let crawl = stage.details?.objectValue?["crawl"]?.objectValue
        let jobKey = "\(manifest.runID)/\(stage.name)"
        let finishedAt = RunRecords.finishedAt(stage)
        let jobs = try TableLoader(database: database, table: "webcrawler_jobs", keys: ["job_key"], mode: .upsert)
        try jobs.write([
            ("job_key", .text(jobKey)),
            ("pipeline", .text(manifest.pipeline)),
            ("stage", .text(stage.name)),
            ("run_id", .text(manifest.runID)),
            ("seeds_json", crawl?["seeds"].map { .text($0.serialized()) } ?? .null),
            ("status", .text(jobStatus(stage.status, run: manifest.status))),
            ("pages_fetched", .integer(int(crawl?["pages_fetched"]) ?? Int64(stage.counts["pages_fetched"] ?? 0))),
            ("pages_failed", .integer(int(crawl?["pages_failed"]) ?? Int64(stage.counts["pages_failed"] ?? 0))),
            ("bytes_fetched", .integer(int(crawl?["bytes"]) ?? 0)),
            ("started_at", stage.startedAt.map(SQLValue.text) ?? .null),
            ("finished_at", finishedAt.map(SQLValue.text) ?? .null),
            ("error", stage.error.map(SQLValue.text) ?? .null),
        ])
        guard stage.status == .ran, let lake else { return }
        guard let jobID = try database.scalar("SELECT id FROM webcrawler_jobs WHERE job_key = ?", [.text(jobKey)])?.int64
        else { return }

        let pages = try TableLoader(database: database, table: "scraped_data", keys: ["url", "content_sha256"], mode: .upsert)
        for log in stage.outputs where isCrawlLog(log.path) {
            guard let path = try? lake.resolve(log.path), FileManager.default.fileExists(atPath: path.absolute),
                  (try? FileDigest.sha256(path: path.absolute)) == log.sha256 else { continue }
            let reader = try RecordReader(path: path.absolute, displayPath: log.path)
            while let line = try reader.next() {
                guard let url = line["url"]?.stringValue, let sha = line["content_sha256"]?.stringValue,
                      let fetchedAt = line["fetched_at"]?.stringValue else { continue }
                var extra = JSONObject()
                for field in ["final_url", "depth", "ms", "attempt", "from_cache", "via"] {
                    if let value = line[field], !value.isNull { extra[field] = value }
                }
                try pages.write([
                    ("url", .text(url)),
                    ("content_sha256", .text(sha)),
                    ("crawler_job_id", .integer(jobID)),
                    ("http_status", int(line["status"]).map(SQLValue.integer) ?? .null),
                    ("content_type", line["content_type"]?.stringValue.map(SQLValue.text) ?? .null),
                    ("content_bytes", int(line["bytes"]).map(SQLValue.integer) ?? .null),
                    ("warc_file", line["warc_file"]?.stringValue.map(SQLValue.text) ?? .null),
                    ("warc_offset", int(line["warc_offset"]).map(SQLValue.integer) ?? .null),
                    ("data_json", .text(JSONValue.object(extra).serialized())),
                    ("fetched_at", .text(fetchedAt)),
                ])
            }
        }
    }

    static func isCrawlLog(_ path: String) -> Bool { path.hasSuffix(".jsonl.gz") || path.hasSuffix(".jsonl") }

    static func jobStatus(_ status: RunManifest.StageRun.Status, run: RunManifest.Status) -> String {
        if status == .ran { return "completed" }
        return run == .interrupted ? "cancelled" : "failed"
    }

    static func int(_ value: JSONValue?) -> Int64? {
        switch value {
        case .int(let i)?: return i
        case .double(let d)? where d.rounded() == d && abs(d) < 9e15: return Int64(d)
        default: return nil
        }
    }
}
