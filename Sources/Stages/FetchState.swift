import Crawl
import Foundation
import Lake
import Pipeline

/// What the fetch stage knows about one URL it visited: enough to write its WARC records and its
/// crawl-log line again without a request, and to ask the server whether it changed.
struct FetchEntry: Codable, Sendable, Equatable {
    struct Hop: Codable, Sendable, Equatable {
        var url: String
        var status: Int
        var headers: [Header]
    }

    var url: String
    var depth: Int
    var finalURL: String?
    /// Status of the page kept (what the WARC response says); nil when no response came.
    var status: Int?
    /// What the server said this run when it differs from `status`: 304 for a page not modified.
    var wireStatus: Int?
    var headers: [Header] = []
    var requestHeaders: [Header] = []
    var redirects: [Hop] = []
    /// Key of the body in the page store; nil when there is no body.
    var bodySHA256: String?
    var bytes = 0
    var ms = 0
    var attempt = 0
    var fromCache = false
    var notModified = false
    var error: String?
    /// WARC-Date form (ISO 8601 UTC, seconds).
    var fetchedAt: String
    var contentType: String?
    var via: String
    var robotsDisallowed = false
    /// `file://` pages become `resource` records (no HTTP exchange happened).
    var isFile = false
    /// Scoup's fields besides the html, for the metadata record.
    var scoup: [Header]?
    /// Scoup's `links`, used when its html cannot be parsed.
    var links: [String]?

    func header(_ name: String) -> String? {
        headers.last { $0.name.caseInsensitiveCompare(name) == .orderedSame }?.value
    }

    /// The status for the crawl log and the manifest.
    var loggedStatus: Int? { wireStatus ?? status }

    /// No usable page: an error or an HTTP error status (robots.txt refusals are counted apart).
    var failed: Bool { !robotsDisallowed && (error != nil || (loggedStatus.map { $0 >= 400 } ?? true)) }
}

/// The fetch stage's state folder:
///
/// - `pages/<sha256>.gz`: bodies, content-addressed, each written (temporary name, rename) before
///   the journal refers to it;
/// - `journal.jsonl`: one line per URL completed by the run in progress, written as it goes (a
///   killed process loses nothing written) and fsync'd in groups (at most every quarter second,
///   and when the crawl ends), so a crawl killed midway resumes without fetching those URLs
///   again. On resume a torn last line is ignored, and so is an entry whose page file is missing
///   or does not hash to its name (a power loss between the two): that URL is fetched again;
/// - `urls.json`: per URL, the last good fetch (ETag, Last-Modified, time, body), for conditional
///   requests and the refresh window; replaced atomically when a run completes.
final class FetchState: @unchecked Sendable {
    let folder: String
    private let lock = NSLock()
    private var journal: FileHandle?
    private(set) var resumed: [String: FetchEntry] = [:]
    private(set) var known: [String: FetchEntry] = [:]

    init(folder: String, crawlKey: String) throws {
        self.folder = folder
        try FileManager.default.createDirectory(atPath: folder + "/pages", withIntermediateDirectories: true)
        AtomicFile.removeStaleTemporaries(in: folder + "/pages")
        if let data = FileManager.default.contents(atPath: folder + "/urls.json") {
            known = (try? JSONDecoder().decode([String: FetchEntry].self, from: data)) ?? [:]
        }
        let journalPath = folder + "/journal.jsonl"
        if let data = FileManager.default.contents(atPath: journalPath) {
            let lines = data.split(separator: UInt8(ascii: "\n"))
            if let first = lines.first, let header = try? JSONDecoder().decode([String: String].self, from: Data(first)),
               header["crawl"] == crawlKey {
                for line in lines.dropFirst() {
                    guard let entry = try? JSONDecoder().decode(FetchEntry.self, from: Data(line)) else { continue }
                    if let sha = entry.bodySHA256 {
                        guard let body = try? loadPage(sha), Self.sha256(body) == sha else { continue }
                    }
                    resumed[entry.url] = entry
                }
            }
        }
        if resumed.isEmpty {
            // A journal of another crawl (configuration changed) or none: start a fresh one.
            try AtomicFile.write(Self.encode(["crawl": crawlKey]) + [UInt8(ascii: "\n")], to: journalPath)
        }
        guard let handle = FileHandle(forUpdatingAtPath: journalPath) else {
            throw StageError("cannot open the crawl journal \(journalPath)")
        }
        let end = try handle.seekToEnd()
        if end > 0 {
            // After a torn last line, start the next entry on a line of its own.
            try handle.seek(toOffset: end - 1)
            if handle.readData(ofLength: 1) != Data([UInt8(ascii: "\n")]) { try handle.write(contentsOf: Data([UInt8(ascii: "\n")])) }
        }
        journal = handle
    }

    deinit { try? journal?.close() }

    static func encode<T: Encodable>(_ value: T) -> [UInt8] {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.sortedKeys, .withoutEscapingSlashes]
        return Array((try? encoder.encode(value)) ?? Data())
    }

    private var lastSync = ContinuousClock.now

    /// Records a completed URL (its body must already be in the page store).
    func journal(_ entry: FetchEntry) throws {
        let line = Self.encode(entry) + [UInt8(ascii: "\n")]
        try lock.withLock {
            try journal?.write(contentsOf: Data(line))
            if ContinuousClock.now - lastSync > .milliseconds(250) {
                try journal?.synchronize()
                lastSync = ContinuousClock.now
            }
        }
    }

    /// Forces the journal to stable storage (when the crawl ends, before its outputs are written).
    func syncJournal() throws {
        try lock.withLock {
            try journal?.synchronize()
            lastSync = ContinuousClock.now
        }
    }

    static func sha256(_ bytes: [UInt8]) -> String {
        var hasher = SHA256()
        bytes.withUnsafeBytes { hasher.update($0) }
        return hasher.hexDigest()
    }

    // MARK: Pages

    func pagePath(_ sha: String) -> String { folder + "/pages/" + sha + ".gz" }

    /// Stores a body under its SHA-256 and returns the key; an identical body is stored once.
    func storePage(_ body: [UInt8]) throws -> String {
        let sha = Self.sha256(body)
        let path = pagePath(sha)
        if FileManager.default.fileExists(atPath: path) { return sha }
        // No fsync per page (a crawl writes thousands): the journal check on resume covers a lost one.
        let file = try AtomicFile(path: path)
        let gzip = try GzipWriter(file.output, level: 1, label: path)
        try gzip.write(body)
        try gzip.finish()
        try file.commit(durable: false)
        return sha
    }

    func loadPage(_ sha: String) throws -> [UInt8] {
        let reader = try GzipReader(FileInput(path: pagePath(sha)), label: pagePath(sha))
        var out: [UInt8] = []
        var buffer = [UInt8](repeating: 0, count: 64 * 1024)
        while true {
            let n = try buffer.withUnsafeMutableBytes { try reader.read(into: $0) }
            if n == 0 { return out }
            out.append(contentsOf: buffer[0..<n])
        }
    }

    // MARK: Completing a run

    /// After the outputs are published: the good fetches of this run join the per-URL state, the
    /// journal is emptied for the next run, and bodies nothing refers to any more are deleted.
    func finish(entries: [FetchEntry], crawlKey: String) throws {
        for entry in entries where entry.bodySHA256 != nil && entry.error == nil {
            guard let status = entry.status, (200..<300).contains(status) else { continue }
            var kept = entry
            kept.fromCache = false
            kept.notModified = false
            kept.wireStatus = nil
            known[entry.url] = kept
        }
        try AtomicFile.write(Self.encode(known), to: folder + "/urls.json")
        try lock.withLock {
            try journal?.close()
            journal = nil
        }
        try AtomicFile.write(Self.encode(["crawl": crawlKey]) + [UInt8(ascii: "\n")], to: folder + "/journal.jsonl")
        let referenced = Set(known.values.compactMap(\.bodySHA256))
        for name in (try? FileManager.default.contentsOfDirectory(atPath: folder + "/pages")) ?? [] {
            guard name.hasSuffix(".gz") else { continue }
            if !referenced.contains(String(name.dropLast(3))) { try? FileManager.default.removeItem(atPath: folder + "/pages/" + name) }
        }
    }
}
