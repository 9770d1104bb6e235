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
    /// SHA-256 of the body (hex); nil when there is no body.
    var bodySHA256: String?
    /// Where the page's WARC records are kept in the stage's pack file; nil when there is no body.
    var stored: StoredPage?
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

/// A page's WARC records (request, response, metadata: as they go into the WARC), gzipped, in a
/// pack file of the fetch stage's state folder.
struct StoredPage: Codable, Sendable, Equatable {
    /// The pack file's name in the state folder.
    var pack: String
    var offset: Int64
    var length: Int
    /// Where its response (or resource) record starts, from `offset`.
    var responseOffset: Int64
    var records: Int
}

/// The fetch stage's state folder:
///
/// - `pages-<id>.pack`: the pages, each as its WARC records, gzipped, appended by the workers as
///   pages arrive (encoding and compressing a page is most of what writing it costs, so it is done
///   once, in parallel; the WARC is then written in the crawl's order with one copy per page). Each
///   run appends to a pack of its own; when it completes, pages the per-URL state still refers to
///   are copied into it and older packs are deleted;
/// - `journal.jsonl`: its first line names the crawl configuration and the pack; then one line per
///   URL completed by the run in progress, written (after its page) as it goes, so a killed
///   process loses nothing written, and fsync'd in groups (at most every quarter second, and when
///   the crawl ends), so a crawl killed midway resumes without fetching those URLs again. On
///   resume a torn last line is ignored, and so is an entry whose page is not whole in the pack or
///   does not hash to its SHA-256 (a power loss): that URL is fetched again;
/// - `urls.jsonl`: per URL, the last good fetch (ETag, Last-Modified, time, page), one entry per
///   line in URL order (written and read line by line: a big crawl's state is never one JSON value
///   in memory), for conditional requests and the refresh window; replaced atomically when a run
///   completes.
final class FetchState: @unchecked Sendable {
    let folder: String
    private let lock = NSLock()
    private var journal: FileHandle?
    private(set) var resumed: [String: FetchEntry] = [:]
    private(set) var known: [String: FetchEntry] = [:]
    /// This run's pack (the interrupted run's, when resuming).
    let packName: String
    private let pack: AppendOnlyFile

    init(folder: String, crawlKey: String) throws {
        self.folder = folder
        try FileManager.default.createDirectory(atPath: folder, withIntermediateDirectories: true)
        AtomicFile.removeStaleTemporaries(in: folder)
        if let data = FileManager.default.contents(atPath: folder + "/urls.jsonl") {
            let decoder = JSONDecoder()
            for line in data.split(separator: UInt8(ascii: "\n")) {
                guard let entry = try? decoder.decode(FetchEntry.self, from: Data(line)) else { continue }
                known[entry.url] = entry
            }
        }
        let journalPath = folder + "/journal.jsonl"
        var interrupted: (name: String, file: AppendOnlyFile)?
        if let data = FileManager.default.contents(atPath: journalPath) {
            let lines = data.split(separator: UInt8(ascii: "\n"))
            let decoder = JSONDecoder()
            if let first = lines.first, let header = try? decoder.decode([String: String].self, from: Data(first)),
               header["crawl"] == crawlKey, let name = header["pack"], Self.isPackName(name),
               let file = try? AppendOnlyFile(path: folder + "/" + name, opening: .existing) {
                for line in lines.dropFirst() {
                    guard let entry = try? decoder.decode(FetchEntry.self, from: Data(line)) else { continue }
                    if entry.bodySHA256 != nil {
                        guard (try? Self.isWhole(entry, in: file)) == true else { continue }
                    }
                    resumed[entry.url] = entry
                }
                interrupted = (name, file)
            }
        }
        if let interrupted, !resumed.isEmpty {
            (packName, pack) = interrupted
        } else {
            // A journal of another crawl (configuration changed), of a completed run, or none: start afresh.
            packName = "pages-\(UUID().uuidString.lowercased()).pack"
            pack = try AppendOnlyFile(path: folder + "/" + packName, opening: .new)
            try AtomicFile.write(Self.encode(["crawl": crawlKey, "pack": packName]) + [UInt8(ascii: "\n")], to: journalPath)
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

    static func isPackName(_ name: String) -> Bool { name.hasPrefix("pages-") && name.hasSuffix(".pack") && !name.contains("/") }

    static func encode<T: Encodable>(_ value: T) -> [UInt8] {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.sortedKeys, .withoutEscapingSlashes]
        return Array((try? encoder.encode(value)) ?? Data())
    }

    private var lastSync = ContinuousClock.now

    /// Records a completed URL (its page must already be in the pack).
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

    /// Appends a page's encoded WARC records to this run's pack.
    func store(_ records: EncodedRecords) throws -> StoredPage {
        let offset = try pack.append(records.bytes)
        return StoredPage(pack: packName, offset: offset, length: records.bytes.count, responseOffset: records.responseOffset,
                          records: records.count)
    }

    /// A stored page's records, as bytes to copy into a WARC (`buffer` is reused from page to page).
    func read(_ page: StoredPage, into buffer: inout [UInt8]) throws {
        try file(page.pack).read(offset: page.offset, count: page.length, into: &buffer)
    }

    /// The body of an entry's stored page (the payload of its response or resource record).
    func body(of entry: FetchEntry) throws -> [UInt8]? {
        guard let page = entry.stored else { return nil }
        return try Self.body(of: entry, in: file(page.pack))
    }

    private func file(_ name: String) throws -> AppendOnlyFile {
        if name == packName { return pack }
        guard Self.isPackName(name) else { throw StageError("fetch state: '\(name)' is not a pack file") }
        return try AppendOnlyFile(path: folder + "/" + name, opening: .existing)
    }

    /// Whether an entry's stored records all read back (every gzip member whole, its checksum
    /// right, every record complete) and its page hashes to the entry's SHA-256: what a resumed
    /// crawl checks before it copies the records into a WARC.
    private static func isWhole(_ entry: FetchEntry, in pack: AppendOnlyFile) throws -> Bool {
        guard let page = entry.stored else { return false }
        var bytes: [UInt8] = []
        try pack.read(offset: page.offset, count: page.length, into: &bytes)
        let reader = try WARCReader(bytes: bytes, label: pack.path)
        var body: [UInt8]?
        var count = 0
        while let record = try reader.next() {
            count += 1
            switch record.type {
            case .resource: body = record.block
            case .response: body = record.httpMessage()?.body
            default: break
            }
        }
        return count == page.records && body.map(sha256) == entry.bodySHA256
    }

    private static func body(of entry: FetchEntry, in pack: AppendOnlyFile) throws -> [UInt8]? {
        guard let page = entry.stored else { return nil }
        // The final response (or resource) record starts at `responseOffset`; redirect hops come before it.
        var bytes: [UInt8] = []
        try pack.read(offset: page.offset + page.responseOffset, count: page.length - Int(page.responseOffset), into: &bytes)
        let record = try WARCReader(bytes: bytes, label: pack.path).next()
        switch record?.type {
        case .resource: return record!.block
        case .response:
            guard let message = record!.httpMessage() else { throw StageError("fetch state: the stored response of \(entry.url) does not parse") }
            return message.body
        default: throw StageError("fetch state: the stored page of \(entry.url) has no response record")
        }
    }

    // MARK: Completing a run

    /// After the outputs are published: the good fetches of this run join the per-URL state, the
    /// pages it refers to are all in this run's pack (copied from older packs when needed), the
    /// journal is emptied for the next run, and the older packs are deleted.
    func finish(entries: [FetchEntry], crawlKey: String) throws {
        for entry in entries where entry.stored != nil && entry.error == nil {
            guard let status = entry.status, (200..<300).contains(status) else { continue }
            var kept = entry
            kept.fromCache = false
            kept.notModified = false
            kept.wireStatus = nil
            known[entry.url] = kept
        }
        var buffer: [UInt8] = []
        var older: [String: AppendOnlyFile] = [:]
        for (url, entry) in known {
            guard let page = entry.stored, page.pack != packName else { continue }
            if older[page.pack] == nil { older[page.pack] = try? file(page.pack) }
            guard let from = older[page.pack], (try? from.read(offset: page.offset, count: page.length, into: &buffer)) != nil else {
                known[url]?.stored = nil  // its pack is gone: the next run fetches it unconditionally
                continue
            }
            known[url]?.stored = StoredPage(pack: packName, offset: try pack.append(buffer), length: page.length,
                                            responseOffset: page.responseOffset, records: page.records)
        }
        try pack.sync()
        let file = try AtomicFile(path: folder + "/urls.jsonl")
        for url in known.keys.sorted() { try file.output.write(Self.encode(known[url]!) + [UInt8(ascii: "\n")]) }
        try file.commit()
        try? FileManager.default.removeItem(atPath: folder + "/urls.json")  // what earlier versions wrote
        try lock.withLock {
            try journal?.close()
            journal = nil
        }
        try AtomicFile.write(Self.encode(["crawl": crawlKey]) + [UInt8(ascii: "\n")], to: folder + "/journal.jsonl")
        for name in (try? FileManager.default.contentsOfDirectory(atPath: folder)) ?? [] where name != packName {
            if Self.isPackName(name) { try? FileManager.default.removeItem(atPath: folder + "/" + name) }
        }
        // The page store of earlier versions (one gzip file per body).
        try? FileManager.default.removeItem(atPath: folder + "/pages")
    }
}
