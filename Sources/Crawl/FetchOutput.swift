import Foundation
import Lake

/// Why a crawl's result is not published (`CrawlSettings.refusal`).
struct CrawlShortfall: Error {
    let message: String
}

/// A page's WARC records as they go into the WARC (gzip members for a `.warc.gz`).
struct EncodedRecords {
    var bytes: [UInt8]
    /// Where its response (or resource) record starts.
    var responseOffset: Int64
    var count: Int
    /// What a page reader takes from these records (offsets from their start): the WARC's page index.
    var pages: [WARCPageIndex.Item]?
}

/// Writes a crawl's WARC file and crawl log, and the manifest details.
///
/// The WARC holds a `warcinfo` record, then per URL: each redirect (request + response), the final
/// request and response (or a `resource` record for `file://`, plus a `metadata` record with
/// Scoup's fields for `via: scoup`). Record IDs are derived from the record's URL, date and
/// content, so the same responses give the same bytes. Bodies are stored decoded, so
/// `Content-Encoding` and `Transfer-Encoding` are dropped and `Content-Length` set to match.
struct FetchOutputWriter: Sendable {
    let warcPath: LakePath
    let logPath: LakePath?
    /// `via: scoup`: one record per page answered 2xx, with the fields Scoup extracted.
    let recordsPath: LakePath?
    let settings: CrawlSettings
    /// `pipeline/stage`, for the `warcinfo` record.
    let isPartOf: String
    /// The URL a page is recorded under (a saved site's `base_url` mapping; identity otherwise).
    let publicURL: @Sendable (String) -> String

    /// A page's records, encoded as they will appear in the WARC (workers do this as pages arrive).
    /// They carry no `WARC-Warcinfo-ID` (optional in WARC 1.1; the file's `warcinfo` record comes
    /// first): its ID depends on the crawl's last fetch time, known only at the end, and must
    /// not differ between a resumed crawl's pages and the rest.
    func encode(_ entry: FetchEntry, status: Int, body: [UInt8]) throws -> EncodedRecords {
        let encoder = try encoders.take(gzip: WARCWriter.isGzip(path: warcPath.relative), level: settings.warcGzipLevel)
        encoder.sink.bytes.reserveCapacity(body.count / 2 + 4096)
        // An encoder that failed midway may hold half a gzip member: it is not reused.
        var pages: [WARCPageIndex.Item] = []
        let response = try writeRecords(entry, status: status, body: body, to: encoder.warc, pages: &pages)
        let records = EncodedRecords(bytes: encoder.sink.bytes, responseOffset: response, count: encoder.warc.recordCount,
                                     pages: pages)
        encoder.sink.bytes = []
        encoder.warc.restart()
        encoders.put(encoder)
        return records
    }

    /// The workers' WARC encoders, kept from page to page (a compressor set up per page was its own
    /// allocations and page faults); as many as encode at once, that is about one per core.
    let encoders = RecordEncoders()

    /// Writes the outputs for the crawl's `count` entries, in their order, copying their stored
    /// records. `entryAt(i)` gives them one at a time (from the journal), never all at once;
    /// `latestFetch` is the last of their `fetchedAt`.
    func write(count: Int, latestFetch: String?, state: FetchState, pageIndex: String? = nil,
               entryAt: (Int) throws -> FetchEntry) throws -> CrawlReport {
        let warc = try WARCWriter(path: warcPath.absolute, gzipLevel: settings.warcGzipLevel)
        let pages = try pageIndex.map { try WARCPageIndex.Writer(path: $0) }
        let log = try logPath.map { try RecordWriter(path: $0.absolute) }
        let records = try recordsPath.map { try RecordWriter(path: $0.absolute) }
        // Dated by the last fetch, so that a crawl whose pages all come from the refresh window
        // writes the same bytes again (and the stages after it are skipped).
        let latest = latestFetch ?? WARCRecord.formatDate(Date(timeIntervalSince1970: 0))
        try warc.write(WARCRecord(type: .warcinfo, headers: [
            ("WARC-Record-ID", Self.recordID("warcinfo", warcPath.fileName, latest, "")), ("WARC-Date", latest),
            ("WARC-Filename", warcPath.fileName), ("Content-Type", "application/warc-fields"),
        ], block: Self.fields([
            ("software", "agentshop fetch stage"), ("format", "WARC File Format 1.1"),
            ("conformsTo", "https://iipc.github.io/warc-specifications/specifications/warc-format/warc-1.1/"),
            ("robots", settings.politeness.obeyRobots ? "obey" : "ignore"),
            ("http-header-user-agent", settings.userAgent), ("isPartOf", isPartOf),
        ])))

        var statuses: [Int: Int] = [:]
        var fetched = 0, failed = 0, notModified = 0, fromCache = 0, robotsDisallowed = 0, bytes = 0
        var seedCount = 0
        var seedFailures: [String] = []
        var firstErrors: [String] = []
        var buffer: [UInt8] = []
        for index in 0..<count {
            let entry = try entryAt(index)
            let why = entry.error ?? entry.loggedStatus.map { "HTTP \($0)" } ?? "no response"
            if entry.depth == 0 {
                seedCount += 1
                if entry.failed || entry.robotsDisallowed { seedFailures.append("\(publicURL(entry.url)) (\(why))") }
            }
            if (entry.failed || entry.error != nil) && firstErrors.count < 3 { firstErrors.append("\(publicURL(entry.url)) (\(why))") }
            var offset: Int64?
            if let stored = entry.stored {
                offset = warc.fileOffset + stored.responseOffset
                try pages?.add(stored.pages, base: warc.fileOffset)
                try state.read(stored, into: &buffer)
                try buffer.withUnsafeBytes { try warc.append(encoded: $0, records: stored.records) }
                bytes += entry.bytes
            }
            if let status = entry.loggedStatus { statuses[status, default: 0] += 1 }
            if entry.failed { failed += 1 } else if !entry.robotsDisallowed { fetched += 1 }
            if entry.notModified { notModified += 1 }
            if entry.fromCache { fromCache += 1 }
            if entry.robotsDisallowed { robotsDisallowed += 1 }
            try log?.write(logLine(entry, offset: offset))
            if let records, let record = scoupRecord(entry) { try records.write(record) }
        }
        do {
            let tally = CrawlTally(seeds: seedCount, seedFailures: seedFailures, fetched: fetched, failed: failed,
                                   robotsDisallowed: robotsDisallowed, firstErrors: firstErrors)
            if let refusal = settings.refusal(tally) { throw CrawlShortfall(message: refusal) }
        } catch {
            warc.abandon()
            log?.abandon()
            records?.abandon()
            pages?.abandon()
            throw error
        }
        try warc.commit()
        try log?.commit()
        try records?.commit()
        if let pages {
            // Only an aid to the parse stage: without it, that stage reads the WARC.
            do { try pages.commit(warc: warcPath.relative, warcPath: warcPath.absolute) } catch { pages.abandon() }
        }

        let statusObject = JSONObject(statuses.keys.sorted().map { ("\($0)", LakeJSONValue.int(Int64(statuses[$0]!))) })
        let seeds: [LakeJSONValue] = settings.seeds.map { seed in
            switch seed {
            case .url(let u): return .string(u)
            case .list(let p, _): return .string(p)
            case .sitemap(let u): return .object(JSONObject([("sitemap", .string(u))]))
            }
        }
        let crawl = JSONObject([
            ("via", .string(settings.via.rawValue)), ("seeds", .array(seeds)),
            ("pages_fetched", .int(Int64(fetched))), ("pages_failed", .int(Int64(failed))),
            ("not_modified", .int(Int64(notModified))), ("from_cache", .int(Int64(fromCache))),
            ("bytes", .int(Int64(bytes))), ("robots_disallowed", .int(Int64(robotsDisallowed))),
            ("statuses", .object(statusObject)),
        ])
        var perOutput = [warcPath.relative: warc.recordCount]
        if let logPath, let log { perOutput[logPath.relative] = log.recordCount }
        if let recordsPath, let records { perOutput[recordsPath.relative] = records.recordCount }
        return CrawlReport(counts: ["urls": count, "pages_fetched": fetched, "pages_failed": failed,
                                    "from_cache": fromCache, "not_modified": notModified],
                           recordsPerOutput: perOutput, details: .object(JSONObject([("crawl", .object(crawl))])))
    }

    /// The records output's line for a page Scoup answered 2xx: `url`, `final_url`, `status`,
    /// `fetched_at`, `title`, then the extracted fields in name order (a field named like one of the
    /// first five replaces it, except `url`). Nil for failures and pages without a Scoup answer.
    func scoupRecord(_ entry: FetchEntry) -> JSONObject? {
        guard case .object(let fields)? = entry.extracted, let status = entry.status, (200..<300).contains(status) else { return nil }
        var record = JSONObject([
            ("url", .string(publicURL(entry.url))), ("final_url", .string(publicURL(entry.finalURL ?? entry.url))),
            ("status", .int(Int64(status))), ("fetched_at", .string(entry.fetchedAt)),
            ("title", entry.scoup?.first { $0.name == "title" }.map { LakeJSONValue.string($0.value) } ?? entry.title.map(LakeJSONValue.string) ?? .null),
        ])
        for key in fields.keys.sorted() where key != "url" { record[key] = Self.lakeValue(fields[key]!) }
        return record
    }

    /// A Scoup JSON value as a lake one: integral numbers as integers.
    static func lakeValue(_ value: JSONValue) -> LakeJSONValue {
        switch value {
        case .null: return .null
        case .bool(let b): return .bool(b)
        case .number(let n): return n.rounded() == n && abs(n) < 9e15 ? .int(Int64(n)) : .double(n)
        case .string(let s): return .string(s)
        case .array(let items): return .array(items.map(lakeValue))
        case .object(let object): return .object(JSONObject(object.keys.sorted().map { ($0, lakeValue(object[$0]!)) }))
        }
    }

    /// Writes the records of one URL; returns the offset of its response (or resource) record.
    private func writeRecords(_ entry: FetchEntry, status: Int, body: [UInt8], to warc: WARCWriter,
                              pages: inout [WARCPageIndex.Item]) throws -> Int64 {
        let date = entry.fetchedAt
        /// Writes a record and notes what a page reader will take from it.
        @discardableResult
        func put(_ record: WARCRecord) throws -> String {
            let start = warc.fileOffset
            let id = try warc.write(record)
            if let item = WARCPageIndex.Item.of(record, offset: start, length: Int(warc.fileOffset - start), knownBody: body,
                                                knownSHA256: entry.bodySHA256) {
                pages.append(item)
            }
            return id
        }
        for hop in entry.redirects {
            let request = try writeRequest(hop.url, date: date, headers: entry.requestHeaders, to: warc, put: put)
            let message = HTTPMessage(startLine: Self.statusLine(hop.status), headers: Self.cleaned(hop.headers, bodyLength: 0), body: [])
            try put(WARCRecord(type: .response, headers: [
                ("WARC-Record-ID", Self.recordID("response", hop.url, date, "\(hop.status)")), ("WARC-Date", date),
                ("WARC-Target-URI", hop.url), ("WARC-Concurrent-To", request),
                ("Content-Type", "application/http; msgtype=response"),
            ], block: message.bytes))
        }
        let target = publicURL(entry.finalURL ?? entry.url)
        let digest = WARCRecord.sha1Digest(body)
        if entry.isFile {
            let offset = warc.fileOffset
            try put(WARCRecord(type: .resource, headers: [
                ("WARC-Record-ID", Self.recordID("resource", target, date, digest)), ("WARC-Date", date),
                ("WARC-Target-URI", target), ("Content-Type", entry.contentType ?? "application/octet-stream"),
            ], block: body))
            return offset
        }
        var request: String?
        if entry.via != "scoup" {
            request = try writeRequest(target, date: date, headers: entry.requestHeaders, to: warc, put: put)
        }
        let offset = warc.fileOffset
        let message = HTTPMessage(startLine: Self.statusLine(status), headers: Self.cleaned(entry.headers, bodyLength: body.count),
                                  body: body)
        var fields: [(String, String)] = [("WARC-Record-ID", Self.recordID("response", target, date, digest)), ("WARC-Date", date),
                                          ("WARC-Target-URI", target)]
        if let request { fields.append(("WARC-Concurrent-To", request)) }
        fields.append(("WARC-Payload-Digest", digest))
        fields.append(("Content-Type", "application/http; msgtype=response"))
        let response = try put(WARCRecord(type: .response, headers: fields, block: message.bytes))
        if let scoup = entry.scoup {
            try put(WARCRecord(type: .metadata, headers: [
                ("WARC-Record-ID", Self.recordID("metadata", target, date, digest)), ("WARC-Date", date),
                ("WARC-Target-URI", target), ("WARC-Refers-To", response), ("WARC-Concurrent-To", response),
                ("Content-Type", "application/warc-fields"),
            ], block: Self.fields([("via", "scoup")] + scoup.map { ($0.name, $0.value) })))
        }
        return offset
    }

    private func writeRequest(_ url: String, date: String, headers: [Header], to warc: WARCWriter,
                              put: (WARCRecord) throws -> String) throws -> String {
        let reference = URLReference(url)
        var target = reference.path.isEmpty ? "/" : reference.path
        if let query = reference.query { target += "?" + query }
        var fields: [(String, String)] = []
        if let authority = reference.authority { fields.append(("Host", authority)) }
        fields += headers.map { ($0.name, $0.value) }
        let message = HTTPMessage(startLine: "GET \(target) HTTP/1.1", headers: fields, body: [])
        return try put(WARCRecord(type: .request, headers: [
            ("WARC-Record-ID", Self.recordID("request", url, date, "")), ("WARC-Date", date), ("WARC-Target-URI", url),
            ("Content-Type", "application/http; msgtype=request"),
        ], block: message.bytes))
    }

    private func logLine(_ entry: FetchEntry, offset: Int64?) -> JSONObject {
        CrawlLogEntry(url: publicURL(entry.url), finalURL: entry.finalURL.map(publicURL), status: entry.loggedStatus,
                      bytes: entry.bytes, ms: entry.ms, attempt: entry.attempt, fromCache: entry.fromCache, error: entry.error,
                      fetchedAt: entry.fetchedAt, depth: entry.depth, contentType: entry.contentType,
                      contentSHA256: entry.bodySHA256, via: entry.via, warcFile: offset == nil ? nil : warcPath.relative,
                      warcOffset: offset, title: entry.title).object
    }

    // MARK: Helpers

    /// `<urn:uuid:…>` from a SHA-256 of what the record is: stable across runs for the same content.
    static func recordID(_ type: String, _ url: String, _ date: String, _ content: String) -> String {
        var hex = Array(SHA256.hex(of: [type, url, date, content].joined(separator: "\n")).utf8.prefix(32))
        hex[12] = UInt8(ascii: "5")  // version 5 style (name-based), so that it reads as a UUID
        var out = Array("<urn:uuid:".utf8)
        for (i, byte) in hex.enumerated() {
            if i == 8 || i == 12 || i == 16 || i == 20 { out.append(UInt8(ascii: "-")) }
            out.append(byte)
        }
        out.append(UInt8(ascii: ">"))
        return String(decoding: out, as: UTF8.self)
    }

    static func fields(_ pairs: [(String, String)]) -> [UInt8] {
        Array(pairs.map { "\($0.0): \($0.1)\r\n" }.joined().utf8)
    }

    /// The response's header fields as they describe the stored (decoded) body.
    static func cleaned(_ headers: [Header], bodyLength: Int) -> [(String, String)] {
        var out: [(String, String)] = []
        out.reserveCapacity(headers.count + 1)
        for header in headers where !dropped.contains(where: { WARCHeaders.sameName($0, header.name) }) {
            let value = header.value
            let broken = value.utf8.contains { $0 == 0x0D || $0 == 0x0A }
            out.append((header.name, broken ? value.replacingOccurrences(of: "\r", with: "").replacingOccurrences(of: "\n", with: "") : value))
        }
        out.append(("Content-Length", String(bodyLength)))
        return out
    }

    /// What a stored (decoded) body's record does not carry over from the response.
    static let dropped = ["Content-Encoding", "Transfer-Encoding", "Content-Length"]

    static func statusLine(_ status: Int) -> String {
        "HTTP/1.1 \(status) \(reasons[status] ?? "Status \(status)")"
    }

    static let reasons: [Int: String] = [
        200: "OK", 201: "Created", 202: "Accepted", 203: "Non-Authoritative Information", 204: "No Content",
        206: "Partial Content", 301: "Moved Permanently", 302: "Found", 303: "See Other", 304: "Not Modified",
        307: "Temporary Redirect", 308: "Permanent Redirect", 400: "Bad Request", 401: "Unauthorized", 403: "Forbidden",
        404: "Not Found", 405: "Method Not Allowed", 408: "Request Timeout", 410: "Gone", 429: "Too Many Requests",
        500: "Internal Server Error", 501: "Not Implemented", 502: "Bad Gateway", 503: "Service Unavailable",
        504: "Gateway Timeout",
    ]
}

/// A WARC writer over memory, reused for one page's records after another.
final class RecordEncoder {
    final class Sink: ByteSink {
        var bytes: [UInt8] = []
        func write(_ data: UnsafeRawBufferPointer) throws { bytes.append(contentsOf: data) }
        func finish() throws {}
    }

    let sink = Sink()
    let warc: WARCWriter

    init(gzip: Bool, level: Int32) throws {
        warc = try WARCWriter(sink: sink, gzip: gzip, gzipLevel: level)
    }
}

/// Idle encoders, shared by the crawl's workers.
final class RecordEncoders: @unchecked Sendable {
    private let lock = NSLock()
    private var idle: [RecordEncoder] = []

    func take(gzip: Bool, level: Int32) throws -> RecordEncoder {
        try lock.withLock { idle.popLast() } ?? RecordEncoder(gzip: gzip, level: level)
    }

    func put(_ encoder: RecordEncoder) { lock.withLock { idle.append(encoder) } }
}
