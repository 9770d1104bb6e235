import Foundation
import Lake

/// One line of a crawl log: what the fetch stage did with one URL. The fetch stage writes them
/// (`FetchOutputWriter`); the store's crawl records and the run report read them back.
///
/// A crawl log is a JSON Lines file (`.jsonl` or `.jsonl.gz`) beside the WARC, one line per URL,
/// with these keys in this order: `url, final_url, status, bytes, ms, attempt, from_cache, error,
/// fetched_at, depth, content_type, content_sha256, via, warc_file, warc_offset, title` (every key
/// on every line, `null` when there is no value). Reading is lenient, so that logs written by
/// earlier versions (or by hand) still read: a missing key is nil, a number may be written as a float.
public struct CrawlLogEntry: Sendable, Equatable, Codable {
    public var url: String
    /// Where the page was finally fetched from, after redirects (nil when no response came).
    public var finalURL: String?
    /// The HTTP status (304 for a page not modified); nil when no response came.
    public var status: Int?
    public var bytes: Int?
    public var ms: Int?
    public var attempt: Int?
    public var fromCache: Bool?
    public var error: String?
    /// ISO 8601 UTC.
    public var fetchedAt: String?
    public var depth: Int?
    public var contentType: String?
    /// SHA-256 of the body (hex); nil when there is no body.
    public var contentSHA256: String?
    /// `direct` or `scoup`.
    public var via: String?
    /// The WARC file (lake-relative) and the offset of the page's response record in it.
    public var warcFile: String?
    public var warcOffset: Int64?
    /// The page's `<title>` as the crawler read it (whitespace collapsed); nil when it has none.
    public var title: String?
    /// Whether the crawler recorded titles (false for a log of an earlier version, which has no
    /// `title` key: its pages' titles are only in the WARC).
    public var titleRecorded: Bool

    public init(url: String, finalURL: String? = nil, status: Int? = nil, bytes: Int? = nil, ms: Int? = nil,
                attempt: Int? = nil, fromCache: Bool? = nil, error: String? = nil, fetchedAt: String? = nil, depth: Int? = nil,
                contentType: String? = nil, contentSHA256: String? = nil, via: String? = nil, warcFile: String? = nil,
                warcOffset: Int64? = nil, title: String? = nil, titleRecorded: Bool = true) {
        self.url = url
        self.finalURL = finalURL
        self.status = status
        self.bytes = bytes
        self.ms = ms
        self.attempt = attempt
        self.fromCache = fromCache
        self.error = error
        self.fetchedAt = fetchedAt
        self.depth = depth
        self.contentType = contentType
        self.contentSHA256 = contentSHA256
        self.via = via
        self.warcFile = warcFile
        self.warcOffset = warcOffset
        self.title = title
        self.titleRecorded = titleRecorded
    }

    enum CodingKeys: String, CodingKey, CaseIterable {
        case url, finalURL = "final_url", status, bytes, ms, attempt, fromCache = "from_cache", error
        case fetchedAt = "fetched_at", depth, contentType = "content_type", contentSHA256 = "content_sha256", via
        case warcFile = "warc_file", warcOffset = "warc_offset", title
    }

    /// The line as written: every key, in the log's order.
    public var object: JSONObject {
        func string(_ s: String?) -> LakeJSONValue { s.map(LakeJSONValue.string) ?? .null }
        func int(_ i: Int?) -> LakeJSONValue { i.map { LakeJSONValue.int(Int64($0)) } ?? .null }
        return JSONObject([
            ("url", .string(url)), ("final_url", string(finalURL)), ("status", int(status)), ("bytes", int(bytes)),
            ("ms", int(ms)), ("attempt", int(attempt)), ("from_cache", fromCache.map(LakeJSONValue.bool) ?? .null),
            ("error", string(error)), ("fetched_at", string(fetchedAt)), ("depth", int(depth)),
            ("content_type", string(contentType)), ("content_sha256", string(contentSHA256)), ("via", string(via)),
            ("warc_file", string(warcFile)), ("warc_offset", warcOffset.map(LakeJSONValue.int) ?? .null),
        ] + (titleRecorded ? [("title", string(title))] : []))
    }

    /// A line read back; nil when it is not a crawl-log entry (no `url`).
    public init?(_ object: JSONObject) {
        guard let url = object["url"]?.stringValue else { return nil }
        func int(_ key: String) -> Int64? {
            switch object[key] {
            case .int(let i)?: return i
            case .double(let d)? where d.rounded() == d && abs(d) < 9e15: return Int64(d)
            default: return nil
            }
        }
        self.init(url: url, finalURL: object["final_url"]?.stringValue, status: int("status").map(Int.init),
                  bytes: int("bytes").map(Int.init), ms: object["ms"]?.doubleValue.map { Int($0.rounded()) },
                  attempt: int("attempt").map(Int.init), fromCache: { if case .bool(let b)? = object["from_cache"] { return b } else { return nil } }(),
                  error: object["error"]?.stringValue, fetchedAt: object["fetched_at"]?.stringValue, depth: int("depth").map(Int.init),
                  contentType: object["content_type"]?.stringValue, contentSHA256: object["content_sha256"]?.stringValue,
                  via: object["via"]?.stringValue, warcFile: object["warc_file"]?.stringValue, warcOffset: int("warc_offset"),
                  title: object["title"]?.stringValue, titleRecorded: object["title"] != nil)
    }

    public func encode(to encoder: Encoder) throws {
        var container = encoder.container(keyedBy: CodingKeys.self)
        try container.encode(url, forKey: .url)
        try container.encode(finalURL, forKey: .finalURL)
        try container.encode(status, forKey: .status)
        try container.encode(bytes, forKey: .bytes)
        try container.encode(ms, forKey: .ms)
        try container.encode(attempt, forKey: .attempt)
        try container.encode(fromCache, forKey: .fromCache)
        try container.encode(error, forKey: .error)
        try container.encode(fetchedAt, forKey: .fetchedAt)
        try container.encode(depth, forKey: .depth)
        try container.encode(contentType, forKey: .contentType)
        try container.encode(contentSHA256, forKey: .contentSHA256)
        try container.encode(via, forKey: .via)
        try container.encode(warcFile, forKey: .warcFile)
        try container.encode(warcOffset, forKey: .warcOffset)
        if titleRecorded { try container.encode(title, forKey: .title) }
    }

    public init(from decoder: Decoder) throws {
        let c = try decoder.container(keyedBy: CodingKeys.self)
        self.init(url: try c.decode(String.self, forKey: .url), finalURL: try c.decodeIfPresent(String.self, forKey: .finalURL),
                  status: try c.decodeIfPresent(Int.self, forKey: .status), bytes: try c.decodeIfPresent(Int.self, forKey: .bytes),
                  ms: try c.decodeIfPresent(Int.self, forKey: .ms), attempt: try c.decodeIfPresent(Int.self, forKey: .attempt),
                  fromCache: try c.decodeIfPresent(Bool.self, forKey: .fromCache), error: try c.decodeIfPresent(String.self, forKey: .error),
                  fetchedAt: try c.decodeIfPresent(String.self, forKey: .fetchedAt), depth: try c.decodeIfPresent(Int.self, forKey: .depth),
                  contentType: try c.decodeIfPresent(String.self, forKey: .contentType),
                  contentSHA256: try c.decodeIfPresent(String.self, forKey: .contentSHA256),
                  via: try c.decodeIfPresent(String.self, forKey: .via), warcFile: try c.decodeIfPresent(String.self, forKey: .warcFile),
                  warcOffset: try c.decodeIfPresent(Int64.self, forKey: .warcOffset),
                  title: try c.decodeIfPresent(String.self, forKey: .title), titleRecorded: c.contains(.title))
    }
}
