import Foundation

/// Why a record of a page file was not handed on as a page.
public enum PageSkip: Sendable, Equatable {
    /// Not a page record: warcinfo, request, metadata, revisit.
    case notAPage
    /// An HTTP status other than 2xx.
    case status(Int)
    /// Not HTML (images, JSON, PDFs).
    case contentType(String)
    /// The body could not be decoded (unknown Content-Encoding…).
    case undecodable(String)
}

extension PageSkip: CustomStringConvertible {
    public var description: String {
        switch self {
        case .notAPage: return "not a page record"
        case .status(let s): return "HTTP status \(s)"
        case .contentType(let t): return "not HTML (\(t))"
        case .undecodable(let why): return "cannot decode the body: \(why)"
        }
    }
}

/// What a page reader takes from a WARC record: an HTML page, or why there is none. The one rule both
/// the parse stage (reading a WARC) and the crawl (indexing the records it writes) apply.
public enum WARCPageOutcome: Sendable {
    case page(url: String, fetchedAt: String, contentType: String?, body: [UInt8])
    case skipped(PageSkip)
}

extension WARCRecord {
    /// The page in this record (a 2xx HTML `response`, or an HTML `resource`), or why there is none.
    public var pageOutcome: WARCPageOutcome {
        guard let url = targetURI else { return .skipped(.notAPage) }
        let fetchedAt = date ?? ""
        switch type {
        case .response?:
            guard let http = httpMessage() else { return .skipped(.undecodable("the response block is not an HTTP message")) }
            if let status = http.statusCode, !(200..<300).contains(status) { return .skipped(.status(status)) }
            let contentType = http.headers["Content-Type"]
            if let contentType, !Self.isHTMLType(contentType) { return .skipped(.contentType(contentType)) }
            do {
                return .page(url: url, fetchedAt: fetchedAt, contentType: contentType, body: try http.decodedBody())
            } catch {
                return .skipped(.undecodable("\(error)"))
            }
        case .resource?:
            let contentType = self.contentType
            if let contentType, !Self.isHTMLType(contentType) { return .skipped(.contentType(contentType)) }
            return .page(url: url, fetchedAt: fetchedAt, contentType: contentType, body: block)
        default:
            return .skipped(.notAPage)
        }
    }

    /// Whether a Content-Type is HTML's (`text/html`, `application/xhtml+xml`, any charset).
    public static func isHTMLType(_ contentType: String) -> Bool { contentType.lowercased().contains("html") }

    /// This record as `WARCReader` gives it back once `WARCWriter` wrote it: each field's name and value
    /// trimmed of blanks (the fields `write` fills in aside), the block as it is.
    public var readBack: WARCRecord {
        var fields: [(String, String)] = []
        fields.reserveCapacity(headers.fields.count)
        for field in headers.fields {
            fields.append((HTTPMessage.fieldText(Array(field.name.utf8)[...]), HTTPMessage.fieldText(Array(field.value.utf8)[...])))
        }
        return WARCRecord(headers: WARCHeaders(fields), block: block)
    }
}

/// A crawl's index of the pages in the WARC it wrote: per record a page reader does not pass over as
/// "not a page", in file order, either why it was skipped or the page's URL, date, content type, size,
/// SHA-256 and where its gzip member is. A parse stage that already has every page's extraction (parse
/// once) reads this instead of gunzipping the WARC, and reads a page's member only when it has none.
///
/// JSON Lines; the last line names the WARC it describes (lake path, size, SHA-256): an index is used
/// only for a file with exactly those bytes, so a WARC rewritten or restored since is read in full.
public enum WARCPageIndex {
    /// One record of the WARC, as a page reader sees it.
    public struct Item: Codable, Sendable, Equatable {
        /// Why the record is passed over (nil for a page).
        public var skip: String?
        public var url: String?
        public var fetchedAt: String?
        public var contentType: String?
        /// The page's size and SHA-256 (hex), as a reader decodes it.
        public var bytes: Int?
        public var sha256: String?
        /// Where the record's bytes (its gzip member) are: from the start of the file, or, kept with a
        /// crawl's page, from the start of that page's records.
        public var offset: Int64
        public var length: Int

        public init(skip: String? = nil, url: String? = nil, fetchedAt: String? = nil, contentType: String? = nil,
                    bytes: Int? = nil, sha256: String? = nil, offset: Int64, length: Int) {
            self.skip = skip
            self.url = url
            self.fetchedAt = fetchedAt
            self.contentType = contentType
            self.bytes = bytes
            self.sha256 = sha256
            self.offset = offset
            self.length = length
        }

        enum CodingKeys: String, CodingKey {
            case skip, url, fetchedAt = "fetched_at", contentType = "content_type", bytes, sha256, offset, length
        }

        /// The item for `record` at `offset`, `length` bytes long; nil when a reader takes it for no page at all.
        /// `sha256` gives the digest of a body the caller already hashed (it is checked to be that body).
        public static func of(_ record: WARCRecord, offset: Int64, length: Int, knownBody: [UInt8]? = nil,
                              knownSHA256: String? = nil) -> Item? {
            // Only responses and resources can be pages (`pageOutcome`): the others are not read back.
            guard record.type == .response || record.type == .resource else { return nil }
            switch record.readBack.pageOutcome {
            case .skipped(.notAPage): return nil
            case .skipped(let why): return Item(skip: "\(why)", offset: offset, length: length)
            case .page(let url, let fetchedAt, let contentType, let body):
                var digest: String?
                if let knownBody, let knownSHA256, knownBody.count == body.count,
                   knownBody.withUnsafeBytes({ a in body.withUnsafeBytes { b in a.count == 0 || memcmp(a.baseAddress!, b.baseAddress!, a.count) == 0 } }) {
                    digest = knownSHA256
                }
                return Item(url: url, fetchedAt: fetchedAt, contentType: contentType, bytes: body.count,
                            sha256: digest ?? body.withUnsafeBytes { raw in var h = SHA256(); h.update(raw); return h.hexDigest() },
                            offset: offset, length: length)
            }
        }

        public var jsonValue: JSONValue {
            var object = JSONObject()
            if let bytes { object["bytes"] = .int(Int64(bytes)) }
            if let contentType { object["content_type"] = .string(contentType) }
            if let fetchedAt { object["fetched_at"] = .string(fetchedAt) }
            object["length"] = .int(Int64(length))
            object["offset"] = .int(offset)
            if let sha256 { object["sha256"] = .string(sha256) }
            if let skip { object["skip"] = .string(skip) }
            if let url { object["url"] = .string(url) }
            return .object(object)
        }

        public init?(jsonValue value: JSONValue) {
            guard let object = value.objectValue, case .int(let offset)? = object["offset"], case .int(let length)? = object["length"]
            else { return nil }
            self.init(offset: offset, length: Int(length))
            if let skip = object["skip"] {
                guard let text = skip.stringValue else { return nil }
                self.skip = text
                return
            }
            guard let url = object["url"]?.stringValue, let fetchedAt = object["fetched_at"]?.stringValue,
                  case .int(let bytes)? = object["bytes"], let sha = object["sha256"]?.stringValue else { return nil }
            self.url = url
            self.fetchedAt = fetchedAt
            self.bytes = Int(bytes)
            sha256 = sha
            if let type = object["content_type"] {
                guard let text = type.stringValue else { return nil }
                contentType = text
            }
        }
    }

    /// Writes an index as the WARC is written; `commit` names the finished WARC and publishes the index.
    public final class Writer {
        private let file: AtomicFile
        /// An entry without its items (a journal of an earlier version): no index, the WARC is read.
        private var incomplete = false

        public init(path: String) throws { file = try AtomicFile(path: path) }

        /// Items kept with a page (offsets from the page's start), for the page written at `base`; nil
        /// items (not known for that page) make the index incomplete, and it is not published.
        public func add(_ items: [Item]?, base: Int64) throws {
            guard let items else { incomplete = true; return }
            guard !incomplete else { return }
            var out: [UInt8] = []
            for var item in items {
                item.offset += base
                out.append(contentsOf: item.jsonValue.serialized().utf8)
                out.append(UInt8(ascii: "\n"))
            }
            try file.output.write(out)
        }

        /// Publishes the index for the WARC at `warcPath` (its lake path `warc`), now complete; an
        /// incomplete index is dropped, with an older one for the same place.
        public func commit(warc: String, warcPath: String) throws {
            guard !incomplete else { abandon(); unlink(file.path); return }
            let digest = try FileDigest.sha256(path: warcPath)
            let size = try FileManager.default.attributesOfItem(atPath: warcPath)[.size] as? Int64 ?? -1
            let trailer = JSONObject([("warc", .string(warc)), ("warc_bytes", .int(size)), ("warc_sha256", .string(digest))])
            try file.output.write(Array((JSONValue.object(trailer).serialized() + "\n").utf8))
            // Not durable: an index lost to a power cut only means the WARC is read.
            try file.commit(durable: false)
        }

        public func abandon() { file.abandon() }
    }

    /// The index at `path` if it describes the WARC at `warcPath` (lake path `warc`) as it is now: its
    /// items in order, read one at a time. Nil when there is none or it is for other bytes.
    public final class Reader {
        private let lines: LineReader
        static let trailerStart = Array(#"{"warc":"#.utf8)

        public init?(path: String, warc: String, warcPath: String) {
            guard let input = try? FileInput(path: path), let tail = Self.lastLine(path: path),
                  let trailer = try? tail.withUnsafeBytes({ raw throws(JSONParseError) in try JSONValue.parse(bytes: raw) }),
                  let object = trailer.objectValue, object["warc"]?.stringValue == warc,
                  case .int(let size)? = object["warc_bytes"], let digest = object["warc_sha256"]?.stringValue,
                  let actual = try? FileManager.default.attributesOfItem(atPath: warcPath)[.size] as? Int64, actual == size,
                  (try? FileDigest.sha256(path: warcPath)) == digest,
                  Self.everyLineIsAnItem(path: path)
            else { return nil }
            lines = LineReader(input)
        }

        /// Whether every line before the trailer is an item: an index damaged since it was written (its WARC
        /// unchanged) is then not used at all, so that the reader falls back to the WARC before yielding a page.
        /// A pass over the small index, not the WARC.
        static func everyLineIsAnItem(path: String) -> Bool {
            guard let input = try? FileInput(path: path) else { return false }
            let lines = LineReader(input)
            while true {
                // nil: the end of the file; .some(nil): the trailer; .some(isItem): a line before it.
                let line: Bool??
                do {
                    line = try lines.withNextLine { line -> Bool? in
                        if line.starts(with: trailerStart) { return nil }
                        guard let value = try? JSONValue.parse(bytes: line) else { return false }
                        return Item(jsonValue: value) != nil
                    }
                } catch { return false }
                switch line {
                case .none: return false
                case .some(.none): return true
                case .some(.some(let isItem)): if !isItem { return false }
                }
            }
        }

        /// The file's last line (the trailer), when the file ends with a newline.
        static func lastLine(path: String) -> [UInt8]? {
            let fd = open(path, O_RDONLY | O_CLOEXEC)
            guard fd >= 0 else { return nil }
            defer { close(fd) }
            let end = lseek(fd, 0, SEEK_END)
            let count = Int(min(end, 4096))
            guard count > 1 else { return nil }
            var tail = [UInt8](repeating: 0, count: count)
            guard tail.withUnsafeMutableBytes({ pread(fd, $0.baseAddress!, count, end - off_t(count)) }) == count,
                  tail.last == UInt8(ascii: "\n") else { return nil }
            tail.removeLast()
            guard let newline = tail.lastIndex(of: UInt8(ascii: "\n")) else { return end == off_t(count) ? tail : nil }
            return Array(tail[(newline + 1)...])
        }

        /// The next item; nil at the trailer. A line that is not an item is an error (the index was written whole).
        public func next() throws -> Item? {
            let item = try lines.withNextLine { line -> Item? in
                if line.starts(with: Self.trailerStart) { return nil }
                guard let value = try? JSONValue.parse(bytes: line), let item = Item(jsonValue: value) else {
                    return Item(skip: nil, offset: -1, length: -1)
                }
                return item
            }
            guard let found = item ?? nil else { return nil }
            guard found.offset >= 0 else { throw LakeError(.malformedRecord, "a line of a WARC page index is not an item") }
            return found
        }
    }

    /// The record `item` points to in the WARC at `warcPath`.
    public static func record(at item: Item, warcPath: String) throws -> WARCRecord {
        let fd = open(warcPath, O_RDONLY | O_CLOEXEC)
        if fd < 0 { throw LakeError.posix("cannot open for reading", path: warcPath) }
        defer { close(fd) }
        var bytes = [UInt8](repeating: 0, count: item.length)
        try bytes.withUnsafeMutableBytes { raw in try readExactly(fd, offset: item.offset, into: raw, path: warcPath) }
        guard let record = try WARCReader(bytes: bytes, label: warcPath).next() else {
            throw LakeError(.malformedRecord, "no record at byte \(item.offset)", path: warcPath)
        }
        return record
    }
}
