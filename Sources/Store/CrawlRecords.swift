import struct Crawl.CrawlLogEntry
import Foundation
import Lake

/// Fills `webcrawler_jobs` (one row per fetch stage, keyed `<pipeline>/<stage>`, holding its last
/// run: target, schedule, status, pages, data file) and
/// `scraped_data` (one row per fetched page and content, keyed by url + content sha256) from a
/// run manifest and the crawl logs its fetch stages wrote.
///
/// A crawl log is a JSON Lines file (`.jsonl` or `.jsonl.gz`) among a fetch stage's outputs, one
/// `CrawlLogEntry` per line. A log that a later run has since replaced (its sha256 no longer
/// matches the manifest) is left to that run's record.
/// A page's `title` is the one the crawler read (`CrawlLogEntry.title`); a log of an earlier
/// version has none, and its titles are read back from the WARC records (`PageTitles`).
enum CrawlRecords {
    static let stageKind = "fetch"

    static func record(_ manifest: RunManifest, stage: RunManifest.StageRun, lake: Lake?, schedule: String? = nil,
                       in database: Database) throws {
        // Only a crawl that ran (to the end or to a failure) updates its job; a skipped stage fetched nothing.
        guard stage.status == .ran || stage.status == .failed else { return }
        let crawl = stage.details?.objectValue?["crawl"]?.objectValue
        let jobKey = "\(manifest.pipeline)/\(stage.name)"
        let pagesFile = stage.outputs.first { !isCrawlLog($0.path) }?.path
        let finishedAt = RunRecords.finishedAt(stage)
        let jobs = try TableLoader(database: database, table: "webcrawler_jobs", keys: ["job_key"], mode: .upsert)
        var job: [(column: String, value: SQLValue)] = [
            ("job_key", .text(jobKey)),
            ("pipeline", .text(manifest.pipeline)),
            ("stage", .text(stage.name)),
            ("run_id", .text(manifest.runID)),
            ("seeds_json", crawl?["seeds"].map { .text($0.serialized()) } ?? .null),
            ("target_url", crawl?["seeds"]?.arrayValue?.first?.stringValue.map(SQLValue.text) ?? .null),
            ("data_file", pagesFile.map(SQLValue.text) ?? .null),
            ("status", .text(jobStatus(stage.status, run: manifest.status))),
            ("pages_fetched", .integer(int(crawl?["pages_fetched"]) ?? Int64(stage.counts["pages_fetched"] ?? 0))),
            ("pages_failed", .integer(int(crawl?["pages_failed"]) ?? Int64(stage.counts["pages_failed"] ?? 0))),
            ("bytes_fetched", .integer(int(crawl?["bytes"]) ?? 0)),
            ("started_at", stage.startedAt.map(SQLValue.text) ?? .null),
            ("finished_at", finishedAt.map(SQLValue.text) ?? .null),
            ("error", stage.error.map(SQLValue.text) ?? .null),
        ]
        if let schedule { job.append(("schedule", .text(schedule))) }
        try jobs.write(job)
        guard stage.status == .ran, let lake else { return }
        guard let jobID = try database.scalar("SELECT id FROM webcrawler_jobs WHERE job_key = ?", [.text(jobKey)])?.int64
        else { return }

        let pages = try TableLoader(database: database, table: "scraped_data", keys: ["url", "content_sha256"], mode: .upsert)
        for log in stage.outputs where isCrawlLog(log.path) {
            guard let path = try? lake.resolve(log.path), FileManager.default.fileExists(atPath: path.absolute),
                  (try? FileDigest.sha256(path: path.absolute)) == log.sha256 else { continue }
            // Only a log of an earlier version, which recorded no titles, has them read back from the WARC.
            var titles: PageTitles?
            let reader = try RecordReader(path: path.absolute, displayPath: log.path)
            while let line = try reader.next() {
                guard let entry = CrawlLogEntry(line), let sha = entry.contentSHA256, let fetchedAt = entry.fetchedAt else { continue }
                var extra = JSONObject()
                if let finalURL = entry.finalURL { extra["final_url"] = .string(finalURL) }
                if let depth = entry.depth { extra["depth"] = .int(Int64(depth)) }
                if let ms = entry.ms { extra["ms"] = .int(Int64(ms)) }
                if let attempt = entry.attempt { extra["attempt"] = .int(Int64(attempt)) }
                if let fromCache = entry.fromCache { extra["from_cache"] = .bool(fromCache) }
                if let via = entry.via { extra["via"] = .string(via) }
                try pages.write([
                    ("url", .text(entry.url)),
                    ("content_sha256", .text(sha)),
                    ("crawler_job_id", .integer(jobID)),
                    ("http_status", entry.status.map { .integer(Int64($0)) } ?? .null),
                    ("content_type", entry.contentType.map(SQLValue.text) ?? .null),
                    ("content_bytes", entry.bytes.map { .integer(Int64($0)) } ?? .null),
                    ("warc_file", entry.warcFile.map(SQLValue.text) ?? .null),
                    ("warc_offset", entry.warcOffset.map(SQLValue.integer) ?? .null),
                    ("title", try title(entry, log: path, lake: lake, titles: &titles).map(SQLValue.text) ?? .null),
                    ("data_json", .text(JSONValue.object(extra).serialized())),
                    ("fetched_at", .text(fetchedAt)),
                ])
            }
        }
    }

    /// The title the crawler recorded; for a log that has none, the one read back from the WARC.
    static func title(_ entry: CrawlLogEntry, log: LakePath, lake: Lake, titles: inout PageTitles?) throws -> String? {
        if entry.titleRecorded { return entry.title }
        if titles == nil { titles = try PageTitles(log: log, lake: lake) }
        return titles?.title(file: entry.warcFile, offset: entry.warcOffset)
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

/// Pages' `<title>`s, read back from the WARC records a crawl log of an earlier version (one
/// without titles) points at: each record is one
/// gzip member, cut from its offset to the next offset the log names (or the end of the file),
/// so a page costs one read of its own bytes. A record that cannot be read has no title.
struct PageTitles {
    /// Per WARC file (lake-relative): every record offset the log names, sorted, and the file size.
    private var offsets: [String: (sorted: [Int64], size: Int64)] = [:]
    private let lake: Lake
    static let maxRecordBytes: Int64 = 16 << 20
    static let maxHeadBytes = 256 << 10

    init(log: LakePath, lake: Lake) throws {
        self.lake = lake
        var found: [String: Set<Int64>] = [:]
        let reader = try RecordReader(path: log.absolute, displayPath: log.relative)
        while let line = try reader.next() {
            guard let entry = CrawlLogEntry(line), let file = entry.warcFile, let offset = entry.warcOffset else { continue }
            found[file, default: []].insert(offset)
        }
        for (file, set) in found {
            guard let path = try? lake.resolve(file),
                  let size = (try? FileManager.default.attributesOfItem(atPath: path.absolute)[.size] as? NSNumber)?.int64Value
            else { continue }
            offsets[file] = (set.sorted(), size)
        }
    }

    func title(file: String?, offset: Int64?) -> String? {
        guard let file, let offset, let known = offsets[file], offset >= 0, offset < known.size,
              let path = try? lake.resolve(file), let handle = FileHandle(forReadingAtPath: path.absolute) else { return nil }
        defer { try? handle.close() }
        let next = known.sorted.first { $0 > offset } ?? known.size
        let length = Int(min(next - offset, Self.maxRecordBytes))
        guard (try? handle.seek(toOffset: UInt64(offset))) != nil, let data = try? handle.read(upToCount: length),
              let record = try? WARCReader(bytes: [UInt8](data), label: file).next() else { return nil }
        let body: [UInt8]
        if record.type == .response {
            guard let message = HTTPMessage.parse(record.block), let decoded = try? message.decodedBody() else { return nil }
            body = decoded
        } else {
            body = record.block
        }
        return Self.title(in: body)
    }

    /// The text of the first `<title>` in the page's head: entities decoded, whitespace collapsed.
    /// UTF-8, or Latin-1 when the bytes are not UTF-8 (a Windows-1252 page reads almost right).
    static func title(in page: [UInt8]) -> String? {
        let head = page.prefix(maxHeadBytes)
        let lower = head.map { $0 >= 0x41 && $0 <= 0x5A ? $0 + 0x20 : $0 }
        guard let open = find(Array("<title".utf8), in: lower, from: 0),
              let close = find([UInt8(ascii: ">")], in: lower, from: open + 6),
              let end = find(Array("</title".utf8), in: lower, from: close + 1) else { return nil }
        let bytes = Array(head[(head.startIndex + close + 1)..<(head.startIndex + end)])
        let raw = String(validating: bytes, as: UTF8.self) ?? String(bytes.map { Character(Unicode.Scalar($0)) })
        let text = decodeEntities(raw).split(whereSeparator: \.isWhitespace).joined(separator: " ")
        return text.isEmpty ? nil : String(text.prefix(1000))
    }

    private static func find(_ needle: [UInt8], in haystack: [UInt8], from start: Int) -> Int? {
        guard needle.count <= haystack.count, start <= haystack.count - needle.count else { return nil }
        var i = start
        while i <= haystack.count - needle.count {
            if haystack[i] == needle[0] && Array(haystack[i..<(i + needle.count)]) == needle { return i }
            i += 1
        }
        return nil
    }

    static func decodeEntities(_ text: String) -> String {
        guard text.contains("&") else { return text }
        let named: [String: String] = ["amp": "&", "lt": "<", "gt": ">", "quot": "\"", "apos": "'", "nbsp": "\u{00A0}"]
        var out = ""
        var rest = Substring(text)
        while let amp = rest.firstIndex(of: "&") {
            out += rest[..<amp]
            let after = rest[rest.index(after: amp)...]
            if let semi = after.prefix(10).firstIndex(of: ";") {
                let name = String(after[..<semi])
                var replacement: String?
                if name.hasPrefix("#x") || name.hasPrefix("#X") {
                    replacement = UInt32(name.dropFirst(2), radix: 16).flatMap(Unicode.Scalar.init).map { String(Character($0)) }
                } else if name.hasPrefix("#") {
                    replacement = UInt32(name.dropFirst()).flatMap(Unicode.Scalar.init).map { String(Character($0)) }
                } else {
                    replacement = named[name]
                }
                if let replacement {
                    out += replacement
                    rest = after[after.index(after: semi)...]
                    continue
                }
            }
            out += "&"
            rest = after
        }
        return out + rest
    }
}
