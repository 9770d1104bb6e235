import Foundation
import Lake

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
    /// `via: scoup`: the fields Scoup extracted for the records output (customData's fields, and the
    /// text, links, images and screenshot when asked), as a JSON object.
    var extracted: JSONValue?
    /// Scoup's `links`, used when its html cannot be parsed.
    var links: [String]?
    /// The page's `<title>`, read with its links (absent from journals of earlier versions).
    var title: String?

    func header(_ name: String) -> String? {
        headers.last { WARCHeaders.sameName($0.name, name) }?.value
    }

    /// The status for the crawl log and the manifest.
    var loggedStatus: Int? { wireStatus ?? status }

    /// No usable page: an error or an HTTP error status (robots.txt refusals are counted apart).
    var failed: Bool { !robotsDisallowed && (error != nil || (loggedStatus.map { $0 >= 400 } ?? true)) }
}

// Keys are snake_case; journals and `urls.jsonl` files of earlier versions (camelCase) still
// read, so an upgrade neither refetches an interrupted crawl nor forgets the validators it kept.
extension FetchEntry {
    enum CodingKeys: String, CodingKey {
        case url, depth, finalURL = "final_url", status, wireStatus = "wire_status", headers
        case requestHeaders = "request_headers", redirects, bodySHA256 = "body_sha256", stored, bytes, ms, attempt
        case fromCache = "from_cache", notModified = "not_modified", error, fetchedAt = "fetched_at"
        case contentType = "content_type", via, robotsDisallowed = "robots_disallowed", isFile = "is_file", scoup
        case extracted, links, title
    }

    init(from decoder: any Decoder) throws {
        let c = try RenamedKeysContainer(decoder, keyedBy: CodingKeys.self, currentWhenHolding: .fetchedAt)
        url = try c.decode(String.self, forKey: .url)
        depth = try c.decode(Int.self, forKey: .depth)
        finalURL = try c.decodeIfPresent(String.self, forKey: .finalURL, orLegacy: "finalURL")
        status = try c.decodeIfPresent(Int.self, forKey: .status)
        wireStatus = try c.decodeIfPresent(Int.self, forKey: .wireStatus, orLegacy: "wireStatus")
        headers = try c.decode([Header].self, forKey: .headers)
        requestHeaders = try c.decode([Header].self, forKey: .requestHeaders, orLegacy: "requestHeaders")
        redirects = try c.decode([Hop].self, forKey: .redirects)
        bodySHA256 = try c.decodeIfPresent(String.self, forKey: .bodySHA256, orLegacy: "bodySHA256")
        stored = try c.decodeIfPresent(StoredPage.self, forKey: .stored)
        bytes = try c.decode(Int.self, forKey: .bytes)
        ms = try c.decode(Int.self, forKey: .ms)
        attempt = try c.decode(Int.self, forKey: .attempt)
        fromCache = try c.decode(Bool.self, forKey: .fromCache, orLegacy: "fromCache")
        notModified = try c.decode(Bool.self, forKey: .notModified, orLegacy: "notModified")
        error = try c.decodeIfPresent(String.self, forKey: .error)
        fetchedAt = try c.decode(String.self, forKey: .fetchedAt, orLegacy: "fetchedAt")
        contentType = try c.decodeIfPresent(String.self, forKey: .contentType, orLegacy: "contentType")
        via = try c.decode(String.self, forKey: .via)
        robotsDisallowed = try c.decode(Bool.self, forKey: .robotsDisallowed, orLegacy: "robotsDisallowed")
        isFile = try c.decode(Bool.self, forKey: .isFile, orLegacy: "isFile")
        scoup = try c.decodeIfPresent([Header].self, forKey: .scoup)
        extracted = try c.decodeIfPresent(JSONValue.self, forKey: .extracted)
        links = try c.decodeIfPresent([String].self, forKey: .links)
        title = try c.decodeIfPresent(String.self, forKey: .title)
    }
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
    /// What a page reader takes from its records (offsets from `offset`), for the WARC's page index;
    /// nil in journals of earlier versions.
    var pages: [WARCPageIndex.Item]?

    enum CodingKeys: String, CodingKey {
        case pack, offset, length, responseOffset = "response_offset", records, pages
    }
}

extension StoredPage {
    init(from decoder: any Decoder) throws {
        let c = try RenamedKeysContainer(decoder, keyedBy: CodingKeys.self, currentWhenHolding: .responseOffset)
        pack = try c.decode(String.self, forKey: .pack)
        offset = try c.decode(Int64.self, forKey: .offset)
        length = try c.decode(Int.self, forKey: .length)
        responseOffset = try c.decode(Int64.self, forKey: .responseOffset, orLegacy: "responseOffset")
        records = try c.decode(Int.self, forKey: .records)
        pages = try c.decodeIfPresent([WARCPageIndex.Item].self, forKey: .pages)
    }
}

/// A line of one of the state folder's JSON-lines files (the journal, `urls.jsonl`): where an
/// entry is, so that a crawl keeps a few numbers per URL in memory instead of the entry.
struct LineRef: Sendable, Equatable {
    var offset: Int64
    var length: Int
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
///   does not hash to its SHA-256 (a power loss): that URL is fetched again. The outputs are
///   written from it, entry by entry;
/// - `urls.jsonl`: per URL, the last good fetch (ETag, Last-Modified, time, page), one entry per
///   line, for conditional requests and the refresh window; read one line at a time when a URL is
///   visited, replaced atomically when a run completes (`Update`).
///
/// In memory: per URL, where its lines are; never the entries of the whole crawl.
final class FetchState: @unchecked Sendable {
    let folder: String
    private let lock = NSLock()
    private let journalFile: AppendOnlyFile
    /// The interrupted run's completed URLs, in the journal.
    private(set) var resumed: [String: LineRef] = [:]
    /// The last good fetch per URL, in `urls.jsonl`.
    private var knownLines: [String: LineRef] = [:]
    private let knownFile: AppendOnlyFile?
    /// This run's pack (the interrupted run's, when resuming).
    let packName: String
    private let pack: AppendOnlyFile

    /// Where `urls.jsonl` and the packs its entries name are, when not in `folder` (read only).
    private let knownFolder: String?

    init(folder: String, crawlKey: String, knownFolder: String? = nil) throws {
        self.folder = folder
        self.knownFolder = knownFolder
        try FileManager.default.createDirectory(atPath: folder, withIntermediateDirectories: true)
        AtomicFile.removeStaleTemporaries(in: folder)
        let decoder = JSONDecoder()
        knownFile = try? AppendOnlyFile(path: (knownFolder ?? folder) + "/urls.jsonl", opening: .existing)
        var knownLines: [String: LineRef] = [:]
        if let knownFile, let data = FileManager.default.contents(atPath: knownFile.path) {
            Self.forEachLine(data) { ref, line in
                guard let entry = try? Self.decodeEntry(line) else { return }
                knownLines[entry.url] = ref
            }
        }
        self.knownLines = knownLines
        let journalPath = folder + "/journal.jsonl"
        var interrupted: (name: String, file: AppendOnlyFile)?
        var resumed: [String: LineRef] = [:]
        if let data = FileManager.default.contents(atPath: journalPath), let end = data.firstIndex(of: UInt8(ascii: "\n")),
           let header = try? decoder.decode([String: String].self, from: data[..<end]),
           header["crawl"] == crawlKey, let name = header["pack"], Self.isPackName(name),
           let file = try? AppendOnlyFile(path: folder + "/" + name, opening: .existing) {
            var first = true
            Self.forEachLine(data) { ref, line in
                if first { first = false; return }  // the header
                guard let entry = try? Self.decodeEntry(line) else { return }
                if entry.bodySHA256 != nil {
                    guard (try? Self.isWhole(entry, in: file)) == true else { return }
                }
                resumed[entry.url] = ref
            }
            interrupted = (name, file)
        }
        if let interrupted, !resumed.isEmpty {
            (packName, pack) = interrupted
            self.resumed = resumed
        } else {
            // A journal of another crawl (configuration changed), of a completed run, or none: start afresh.
            packName = "pages-\(UUID().uuidString.lowercased()).pack"
            pack = try AppendOnlyFile(path: folder + "/" + packName, opening: .new)
            try AtomicFile.write(Self.encode(["crawl": crawlKey, "pack": packName]) + [UInt8(ascii: "\n")], to: journalPath)
        }
        journalFile = try AppendOnlyFile(path: journalPath, opening: .existing)
        var last: [UInt8] = []
        if journalFile.size > 0 {
            try journalFile.read(offset: journalFile.size - 1, count: 1, into: &last)
            // After a torn last line, start the next entry on a line of its own.
            if last != [UInt8(ascii: "\n")] { _ = try journalFile.append([UInt8(ascii: "\n")]) }
        }
    }

    static func isPackName(_ name: String) -> Bool { name.hasPrefix("pages-") && name.hasSuffix(".pack") && !name.contains("/") }

    static func encode<T: Encodable>(_ value: T) -> [UInt8] { encodeWithFoundation(value) }

    /// An entry's line: the same bytes as the generic `encode`, written without JSONEncoder (`FetchEntryJSON.swift`).
    static func encode(_ entry: FetchEntry) -> [UInt8] { entry.jsonLine }

    static func encodeWithFoundation<T: Encodable>(_ value: T) -> [UInt8] {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.sortedKeys, .withoutEscapingSlashes]
        return Array((try? encoder.encode(value)) ?? Data())
    }

    /// An entry's line read back: this version's lines without JSONDecoder, others (camelCase) through it.
    static func decodeEntry<Bytes: ContiguousBytes>(_ line: Bytes) throws -> FetchEntry {
        if let entry = line.withUnsafeBytes({ FetchEntry(jsonLine: $0) }) { return entry }
        let data = line.withUnsafeBytes { Data($0) }
        return try JSONDecoder().decode(FetchEntry.self, from: data)
    }

    /// Calls `body` with each non-empty line of `data` and where it is.
    private static func forEachLine(_ data: Data, _ body: (LineRef, Data) -> Void) {
        var start = data.startIndex
        while start < data.endIndex {
            let end = data[start...].firstIndex(of: UInt8(ascii: "\n")) ?? data.endIndex
            if end > start {
                body(LineRef(offset: Int64(start - data.startIndex), length: end - start), data[start..<end])
            }
            start = end + 1
        }
    }

    private static func entry(at ref: LineRef, in file: AppendOnlyFile) throws -> FetchEntry {
        var bytes: [UInt8] = []
        try file.read(offset: ref.offset, count: ref.length, into: &bytes)
        return try decodeEntry(bytes)
    }

    // MARK: The journal

    private var lastSync = ContinuousClock.now

    /// Records a completed URL (its page must already be in the pack); returns where its line is.
    @discardableResult
    func journal(_ entry: FetchEntry) throws -> LineRef {
        let line = Self.encode(entry)
        let offset = try journalFile.append(line + [UInt8(ascii: "\n")])
        try lock.withLock {
            if ContinuousClock.now - lastSync > .milliseconds(250) {
                try journalFile.sync()
                lastSync = ContinuousClock.now
            }
        }
        return LineRef(offset: offset, length: line.count)
    }

    /// Forces the journal to stable storage (when the crawl ends, before its outputs are written).
    func syncJournal() throws {
        try journalFile.sync()
        lock.withLock { lastSync = ContinuousClock.now }
    }

    /// A journalled entry: one this run wrote, or one of the interrupted run's (`resumed`).
    func entry(at ref: LineRef) throws -> FetchEntry { try Self.entry(at: ref, in: journalFile) }

    /// The last good fetch of a URL; nil when there is none (or its line cannot be read).
    func known(_ url: String) -> FetchEntry? {
        guard let ref = knownLines[url], let knownFile else { return nil }
        return try? Self.entry(at: ref, in: knownFile)
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
                          records: records.count, pages: records.pages)
    }

    /// Forces this run's pack and journal to stable storage (a queue worker, before it reports pages done).
    func syncPages() throws {
        try pack.sync()
        try syncJournal()
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
        guard Self.isPackName(name) else { throw CrawlError("fetch state: '\(name)' is not a pack file") }
        if let knownFolder, !FileManager.default.fileExists(atPath: folder + "/" + name) {
            return try AppendOnlyFile(path: knownFolder + "/" + name, opening: .existing)
        }
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
            guard let message = record!.httpMessage() else { throw CrawlError("fetch state: the stored response of \(entry.url) does not parse") }
            return message.body
        default: throw CrawlError("fetch state: the stored page of \(entry.url) has no response record")
        }
    }

    // MARK: Completing a run

    /// The per-URL state a completing run writes while its outputs are written: `keep` each entry
    /// of the crawl as it goes, then `commit` once the outputs are published.
    func update() throws -> Update { try Update(state: self) }

    final class Update {
        private let state: FetchState
        private let file: AtomicFile
        private var kept = Set<String>()

        fileprivate init(state: FetchState) throws {
            self.state = state
            file = try AtomicFile(path: state.folder + "/urls.jsonl")
        }

        /// A good fetch of this run (a page stored, 2xx, no error) becomes its URL's state.
        func keep(_ entry: FetchEntry) throws {
            guard entry.stored != nil, entry.error == nil, let status = entry.status, (200..<300).contains(status),
                  kept.insert(entry.url).inserted else { return }
            var good = entry
            good.fromCache = false
            good.notModified = false
            good.wireStatus = nil
            try file.output.write(FetchState.encode(good) + [UInt8(ascii: "\n")])
        }

        /// The URLs this run did not keep keep their last good fetch, its page copied into this
        /// run's pack; then the state is replaced, the journal emptied for the next run, and the
        /// older packs deleted.
        func commit(crawlKey: String) throws {
            var buffer: [UInt8] = []
            var older: [String: AppendOnlyFile] = [:]
            for url in state.knownLines.keys.sorted() where !kept.contains(url) {
                guard var entry = state.known(url) else { continue }
                if let page = entry.stored, page.pack != state.packName {
                    if older[page.pack] == nil { older[page.pack] = try? state.file(page.pack) }
                    if let from = older[page.pack], (try? from.read(offset: page.offset, count: page.length, into: &buffer)) != nil {
                        entry.stored = StoredPage(pack: state.packName, offset: try state.pack.append(buffer), length: page.length,
                                                  responseOffset: page.responseOffset, records: page.records, pages: page.pages)
                    } else {
                        entry.stored = nil  // its pack is gone: the next run fetches it unconditionally
                    }
                }
                try file.output.write(FetchState.encode(entry) + [UInt8(ascii: "\n")])
            }
            try state.pack.sync()
            try file.commit()
            try? FileManager.default.removeItem(atPath: state.folder + "/urls.json")  // what earlier versions wrote
            try AtomicFile.write(FetchState.encode(["crawl": crawlKey]) + [UInt8(ascii: "\n")], to: state.folder + "/journal.jsonl")
            for name in (try? FileManager.default.contentsOfDirectory(atPath: state.folder)) ?? [] where name != state.packName {
                if FetchState.isPackName(name) { try? FileManager.default.removeItem(atPath: state.folder + "/" + name) }
            }
            // The page store of earlier versions (one gzip file per body).
            try? FileManager.default.removeItem(atPath: state.folder + "/pages")
        }
    }
}
