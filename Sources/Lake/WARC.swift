import Foundation

// WARC 1.1 (ISO 28500:2017): https://iipc.github.io/warc-specifications/specifications/warc-format/warc-1.1/
// A record is "WARC/1.1" CRLF, named fields CRLF, CRLF, a block of Content-Length bytes, CRLF CRLF.
// We write one gzip member per record, so that `zcat`, `warcio index` and random access by offset work.

/// The kinds of WARC record.
public enum WARCRecordType: String, Sendable, CaseIterable {
    case warcinfo, response, resource, request, metadata, revisit, conversion, continuation
}

/// Named fields of a WARC record (or an HTTP message), in order; names compare case-insensitively.
public struct WARCHeaders: Sendable, Equatable, Sequence {
    public private(set) var fields: [(name: String, value: String)]

    public init(_ fields: [(String, String)] = []) { self.fields = fields.map { (name: $0.0, value: $0.1) } }

    public subscript(name: String) -> String? {
        get { fields.first { Self.sameName($0.name, name) }?.value }
        set {
            if let index = fields.firstIndex(where: { Self.sameName($0.name, name) }) {
                if let newValue { fields[index].value = newValue } else { fields.remove(at: index) }
            } else if let newValue {
                fields.append((name: name, value: newValue))
            }
        }
    }

    /// Every value of a field that may repeat.
    public func all(_ name: String) -> [String] {
        fields.filter { Self.sameName($0.name, name) }.map(\.value)
    }

    /// Whether two field names are the same, ignoring case: ASCII names (all that HTTP and WARC allow)
    /// byte by byte, others as Foundation compares them. Foundation's comparison was a visible share of
    /// a crawl's CPU, called for every field looked up in every record.
    public static func sameName(_ a: String, _ b: String) -> Bool {
        var a = a, b = b
        let ascii: Bool? = a.withUTF8 { x in
            b.withUTF8 { y in
                guard x.count == y.count else {
                    // Different lengths differ unless case folding changes a length (non-ASCII only).
                    return x.allSatisfy { $0 < 0x80 } && y.allSatisfy { $0 < 0x80 } ? false : nil
                }
                for i in 0..<x.count {
                    let p = x[i], q = y[i]
                    if p >= 0x80 || q >= 0x80 { return nil }
                    if p == q { continue }
                    let lp = p >= 0x41 && p <= 0x5A ? p | 0x20 : p
                    let lq = q >= 0x41 && q <= 0x5A ? q | 0x20 : q
                    if lp != lq { return false }
                }
                return true
            }
        }
        if let ascii { return ascii }
        return a.caseInsensitiveCompare(b) == .orderedSame
    }

    public mutating func append(_ name: String, _ value: String) { fields.append((name: name, value: value)) }

    public func makeIterator() -> IndexingIterator<[(name: String, value: String)]> { fields.makeIterator() }

    public static func == (a: WARCHeaders, b: WARCHeaders) -> Bool {
        a.fields.count == b.fields.count && zip(a.fields, b.fields).allSatisfy { $0.name == $1.name && $0.value == $1.value }
    }
}

/// One WARC record: its named fields and its content block.
public struct WARCRecord: Sendable, Equatable {
    public var headers: WARCHeaders
    public var block: [UInt8]
    /// Byte offset of the record in the (compressed) file, when read from one.
    public var offset: Int64?

    public init(headers: WARCHeaders, block: [UInt8]) {
        self.headers = headers
        self.block = block
    }

    public init(type: WARCRecordType, headers: [(String, String)] = [], block: [UInt8]) {
        var h = WARCHeaders([("WARC-Type", type.rawValue)])
        for (name, value) in headers { h[name] = value }
        self.init(headers: h, block: block)
    }

    /// nil for a type this reader does not know (kept, not rejected: WARC allows new types).
    public var type: WARCRecordType? { headers["WARC-Type"].flatMap(WARCRecordType.init(rawValue:)) }
    public var recordID: String? { headers["WARC-Record-ID"] }
    public var targetURI: String? { headers["WARC-Target-URI"].map { $0.hasPrefix("<") && $0.hasSuffix(">") ? String($0.dropFirst().dropLast()) : $0 } }
    /// `WARC-Date` as written (ISO 8601 UTC).
    public var date: String? { headers["WARC-Date"] }
    public var contentType: String? { headers["Content-Type"] }

    /// The HTTP message of a `response` or `request` record whose block is `application/http`.
    public func httpMessage() -> HTTPMessage? {
        guard contentType?.lowercased().hasPrefix("application/http") ?? (type == .response || type == .request) else { return nil }
        return HTTPMessage.parse(block)
    }

    public static func == (a: WARCRecord, b: WARCRecord) -> Bool { a.headers == b.headers && a.block == b.block }

    /// `<urn:uuid:…>`, the identifier form WARC 1.1 recommends.
    public static func newRecordID() -> String { "<urn:uuid:\(UUID().uuidString.lowercased())>" }

    /// A WARC-Date: UTC, second precision (what 1.0 readers accept too).
    public static func formatDate(_ date: Date) -> String {
        var t = time_t(date.timeIntervalSince1970.rounded(.down))
        var parts = tm()
        gmtime_r(&t, &parts)
        // By hand rather than String(format:), which goes through Foundation's formatter for every page.
        var out: [UInt8] = []
        out.reserveCapacity(20)
        func digits(_ value: Int32, _ count: Int) {
            var v = Int(value), place = 1
            for _ in 1..<count { place *= 10 }
            if v < 0 || v >= place * 10 { out.append(contentsOf: String(v).utf8); return }
            while place > 0 { out.append(UInt8(ascii: "0") + UInt8(v / place)); v %= place; place /= 10 }
        }
        digits(parts.tm_year + 1900, 4); out.append(UInt8(ascii: "-"))
        digits(parts.tm_mon + 1, 2); out.append(UInt8(ascii: "-"))
        digits(parts.tm_mday, 2); out.append(UInt8(ascii: "T"))
        digits(parts.tm_hour, 2); out.append(UInt8(ascii: ":"))
        digits(parts.tm_min, 2); out.append(UInt8(ascii: ":"))
        digits(parts.tm_sec, 2); out.append(UInt8(ascii: "Z"))
        return String(decoding: out, as: UTF8.self)
    }

    /// `sha1:` + Base32, the labelled digest WARC tools write and verify.
    public static func sha1Digest(_ bytes: UnsafeRawBufferPointer) -> String {
        var hasher = SHA1()
        hasher.update(bytes)
        return "sha1:" + Base32.encode(hasher.finalize())
    }

    public static func sha1Digest(_ bytes: [UInt8]) -> String { bytes.withUnsafeBytes { sha1Digest($0) } }
}

/// An HTTP/1.x message as stored in a WARC block: start line, header fields, body bytes as sent.
public struct HTTPMessage: Sendable {
    public var startLine: String
    public var headers: WARCHeaders
    /// The body as on the wire (possibly chunked or compressed); see `decodedBody()`.
    public var body: [UInt8]

    public init(startLine: String, headers: [(String, String)], body: [UInt8]) {
        self.startLine = startLine
        self.headers = WARCHeaders(headers)
        self.body = body
    }

    /// The status code of a response (`HTTP/1.1 200 OK` → 200).
    public var statusCode: Int? {
        let parts = startLine.split(separator: " ", maxSplits: 2)
        guard parts.count >= 2, parts[0].hasPrefix("HTTP/") else { return nil }
        return Int(parts[1])
    }

    /// The header block: start line, fields, empty line; CRLF throughout.
    public var headBytes: [UInt8] {
        var text = startLine + "\r\n"
        for (name, value) in headers { text += name + ": " + value + "\r\n" }
        text += "\r\n"
        return Array(text.utf8)
    }

    /// Start line, fields and body, ready to be a WARC block.
    public var bytes: [UInt8] { headBytes + body }

    /// Splits a block into head and body. nil when there is no header terminator.
    public static func parse(_ block: [UInt8]) -> HTTPMessage? {
        // Find the end of the head: CRLF CRLF, or LF LF from sloppy writers.
        var end: Int?
        var bodyStart = 0
        var i = 0
        while i < block.count {
            if block[i] == 0x0A {
                if i + 1 < block.count && block[i + 1] == 0x0A { end = i; bodyStart = i + 2; break }
                if i + 2 < block.count && block[i + 1] == 0x0D && block[i + 2] == 0x0A { end = i; bodyStart = i + 3; break }
            }
            i += 1
        }
        guard let end else { return nil }
        // Line by line over the bytes: LF ends a line, a CR before it is dropped.
        var lineStart = 0
        var firstLine: String?
        var fields: [(String, String)] = []
        while lineStart <= end {
            var lineEnd = lineStart
            while lineEnd < end && block[lineEnd] != 0x0A { lineEnd += 1 }
            var stop = lineEnd
            if stop > lineStart && block[stop - 1] == 0x0D { stop -= 1 }
            let line = block[lineStart..<stop]
            lineStart = lineEnd + 1
            guard firstLine != nil else { firstLine = String(decoding: line, as: UTF8.self); continue }
            guard let first = line.first else { continue }
            if (first == 0x20 || first == 0x09), !fields.isEmpty {
                fields[fields.count - 1].1 += " " + fieldText(line)
                continue
            }
            guard let colon = line.firstIndex(of: UInt8(ascii: ":")) else { continue }
            fields.append((fieldText(line[..<colon]), fieldText(line[(colon + 1)...])))
        }
        guard let startLine = firstLine else { return nil }
        return HTTPMessage(startLine: startLine, headers: fields, body: Array(block[bodyStart...]))
    }

    /// A header field's name or value from its bytes, blanks trimmed at both ends as Foundation's
    /// `.whitespaces` trims them (ASCII ends byte by byte; a non-ASCII end through Foundation).
    static func fieldText(_ bytes: ArraySlice<UInt8>) -> String {
        var lo = bytes.startIndex, hi = bytes.endIndex
        while lo < hi && (bytes[lo] == 0x20 || bytes[lo] == 0x09) { lo += 1 }
        while hi > lo && (bytes[hi - 1] == 0x20 || bytes[hi - 1] == 0x09) { hi -= 1 }
        let text = String(decoding: bytes[lo..<hi], as: UTF8.self)
        if lo < hi && (bytes[lo] >= 0x80 || bytes[hi - 1] >= 0x80) { return text.trimmingCharacters(in: .whitespaces) }
        return text
    }

    /// The body with transfer coding (chunked) and content coding (gzip, deflate) undone.
    /// Bodies already decoded by the fetcher (no gzip magic despite the header) pass through.
    public func decodedBody(maxBytes: Int64 = 256 << 20) throws -> [UInt8] {
        var data = body
        if headers["Transfer-Encoding"]?.lowercased().contains("chunked") == true, let dechunked = Self.dechunk(data) {
            data = dechunked
        }
        let coding = headers["Content-Encoding"]?.lowercased().trimmingCharacters(in: .whitespaces) ?? ""
        switch coding {
        case "", "identity": return data
        case "gzip", "x-gzip", "deflate":
            let looksCompressed = coding == "deflate" ? (data.first.map { $0 & 0x0F == 8 } ?? false)
                : (data.count >= 2 && data[0] == 0x1F && data[1] == 0x8B)
            guard looksCompressed else { return data }
            let reader = try GzipReader(MemoryInput(data), label: "HTTP body", maxOutputBytes: maxBytes)
            var out: [UInt8] = []
            var chunk = [UInt8](repeating: 0, count: 64 * 1024)
            while true {
                let n = try chunk.withUnsafeMutableBytes { try reader.read(into: $0) }
                if n == 0 { return out }
                out.append(contentsOf: chunk[0..<n])
            }
        default:
            throw LakeError(.unsupportedFormat, "unsupported Content-Encoding '\(coding)'")
        }
    }

    static func dechunk(_ data: [UInt8]) -> [UInt8]? {
        var out: [UInt8] = []
        var i = 0
        while i < data.count {
            var lineEnd = i
            while lineEnd < data.count && data[lineEnd] != 0x0A { lineEnd += 1 }
            guard lineEnd < data.count else { return nil }
            let sizeText = String(decoding: data[i..<lineEnd], as: UTF8.self)
                .split(separator: ";").first.map { $0.trimmingCharacters(in: .whitespacesAndNewlines) } ?? ""
            guard let size = Int(sizeText, radix: 16) else { return nil }
            i = lineEnd + 1
            if size == 0 { return out }
            guard i + size <= data.count else { return nil }
            out.append(contentsOf: data[i..<(i + size)])
            i += size
            if i < data.count && data[i] == 0x0D { i += 1 }
            if i < data.count && data[i] == 0x0A { i += 1 }
        }
        return out
    }
}

/// Bytes in memory as a `ByteSource`.
public final class MemoryInput: ByteSource {
    private let bytes: [UInt8]
    private var position = 0

    public init(_ bytes: [UInt8]) { self.bytes = bytes }

    public func read(into buffer: UnsafeMutableRawBufferPointer) throws -> Int {
        let n = min(buffer.count, bytes.count - position)
        guard n > 0 else { return 0 }
        bytes.withUnsafeBytes { raw in
            buffer.baseAddress!.copyMemory(from: raw.baseAddress! + position, byteCount: n)
        }
        position += n
        return n
    }
}

/// Writes WARC 1.1 files, gzip-compressed one member per record, appearing atomically on `commit()`.
///
/// Fills in what every record needs: `WARC-Record-ID`, `WARC-Date`, `Content-Length`,
/// `WARC-Block-Digest`, and for HTTP records `WARC-Payload-Digest` (both `sha1:` Base32), and
/// `WARC-Warcinfo-ID` pointing at the file's last warcinfo record.
///
/// ```swift
/// let warc = try WARCWriter(path: lakePath.absolute)
/// try warc.writeWarcinfo(fields: [("software", "agentshop/0.1")])
/// let request = try warc.writeRequest(targetURI: url, headers: [("User-Agent", ua)])
/// try warc.writeResponse(targetURI: url, statusLine: "HTTP/1.1 200 OK", headers: headers, body: body,
///                        concurrentTo: request)
/// try warc.commit()
/// ```
public final class WARCWriter {
    /// The final path (empty for a writer over a sink).
    public let path: String
    private let file: AtomicFile?
    private let counter: CountingSink
    private let sink: ByteSink
    private let gzip: GzipWriter?
    private var warcinfoID: String?
    public private(set) var recordCount = 0

    /// Bytes written so far (compressed): between records, the offset the next record starts at,
    /// which is what a crawl log or a CDX index points to.
    public var fileOffset: Int64 { Int64(counter.count) }

    /// Whether a WARC file at `path` is written gzipped (one member per record): its name ends in `.gz`.
    public static func isGzip(path: String) -> Bool { path.hasSuffix(".gz") }

    /// A WARC file at `path`; gzip unless the name does not end in `.gz`.
    public init(path: String, gzipLevel: Int32 = 6) throws {
        self.path = path
        let atomic = try AtomicFile(path: path)
        file = atomic
        counter = CountingSink(atomic.output)
        if Self.isGzip(path: path) {
            let g = try GzipWriter(counter, level: gzipLevel, label: path)
            gzip = g
            sink = g
        } else {
            gzip = nil
            sink = counter
        }
    }

    /// A WARC stream into any sink (tests, pipes, records made ahead for `append(encoded:records:)`).
    /// `gzip` wraps it in per-record members.
    public init(sink: ByteSink, gzip: Bool = true, gzipLevel: Int32 = 6) throws {
        path = ""
        file = nil
        counter = CountingSink(sink)
        if gzip {
            let g = try GzipWriter(counter, level: gzipLevel, label: "WARC stream")
            self.gzip = g
            self.sink = g
        } else {
            self.gzip = nil
            self.sink = counter
        }
    }

    /// Appends records another writer (over a sink; gzip members when this file is gzip) encoded: so
    /// pages can be compressed by many workers while they arrive, and written here in order with a copy.
    public func append(encoded bytes: UnsafeRawBufferPointer, records: Int) throws {
        try counter.write(bytes)
        recordCount += records
    }

    /// Writes a record, filling in the standard fields it lacks. Returns its `WARC-Record-ID`.
    @discardableResult
    public func write(_ record: WARCRecord) throws -> String {
        var headers = record.headers
        guard let typeName = headers["WARC-Type"] else {
            throw LakeError(.malformedRecord, "a WARC record needs a WARC-Type", path: path)
        }
        let id = headers["WARC-Record-ID"] ?? WARCRecord.newRecordID()
        // Field order as in the spec's examples: type, id, date, then the rest.
        var ordered = WARCHeaders([("WARC-Type", typeName), ("WARC-Record-ID", id),
                                   ("WARC-Date", headers["WARC-Date"] ?? WARCRecord.formatDate(Date()))])
        if typeName != WARCRecordType.warcinfo.rawValue, let info = warcinfoID, headers["WARC-Warcinfo-ID"] == nil {
            headers["WARC-Warcinfo-ID"] = info
        }
        for (name, value) in headers where !Self.filledIn.contains(where: { WARCHeaders.sameName($0, name) }) {
            ordered.append(name, value)
        }
        if ordered["WARC-Block-Digest"] == nil { ordered["WARC-Block-Digest"] = WARCRecord.sha1Digest(record.block) }
        let isHTTP = ordered["Content-Type"]?.lowercased().hasPrefix("application/http") ?? false
        if isHTTP && ordered["WARC-Payload-Digest"] == nil, let message = HTTPMessage.parse(record.block) {
            ordered["WARC-Payload-Digest"] = WARCRecord.sha1Digest(message.body)
        } else if typeName == WARCRecordType.resource.rawValue && ordered["WARC-Payload-Digest"] == nil {
            ordered["WARC-Payload-Digest"] = WARCRecord.sha1Digest(record.block)
        }
        ordered.append("Content-Length", String(record.block.count))

        var head: [UInt8] = []
        head.reserveCapacity(512 + record.block.count + 4)
        head.append(contentsOf: "WARC/1.1\r\n".utf8)
        for (name, value) in ordered {
            guard Self.isFieldName(name), !value.utf8.contains(where: { $0 == 0x0D || $0 == 0x0A }) else {
                throw LakeError(.malformedRecord, "WARC field '\(name)' has a line break or an invalid name", path: path)
            }
            head.append(contentsOf: name.utf8)
            head.append(contentsOf: ": ".utf8)
            head.append(contentsOf: value.utf8)
            head.append(contentsOf: "\r\n".utf8)
        }
        head.append(contentsOf: "\r\n".utf8)
        // One buffer, one write: the compressor is called once per record rather than three times.
        head.append(contentsOf: record.block)
        head.append(contentsOf: "\r\n\r\n".utf8)
        try head.withUnsafeBytes { try sink.write($0) }
        try gzip?.endMember()
        recordCount += 1
        if typeName == WARCRecordType.warcinfo.rawValue { warcinfoID = id }
        return id
    }

    /// The fields `write` fills in itself, whatever the record says.
    private static let filledIn = ["WARC-Type", "WARC-Record-ID", "WARC-Date", "Content-Length"]

    /// A field name: not empty, no `:` and no white space (UTF-8 bytes: CR and LF are single bytes there,
    /// where a Character test would see "\r\n" as one). Names outside ASCII are checked scalar by scalar.
    static func isFieldName(_ name: String) -> Bool {
        guard !name.isEmpty else { return false }
        if name.utf8.allSatisfy({ $0 < 0x80 }) {
            return !name.utf8.contains { $0 == UInt8(ascii: ":") || $0 == 0x20 || ($0 >= 0x09 && $0 <= 0x0D) || $0 == 0x85 }
        }
        return !name.unicodeScalars.contains(where: { $0 == ":" || $0.properties.isWhitespace })
    }

    /// A `warcinfo` record (`application/warc-fields`): software, operator, robots policy…
    /// Later records point to it with `WARC-Warcinfo-ID`.
    @discardableResult
    public func writeWarcinfo(fields: [(String, String)], filename: String? = nil, date: Date = Date()) throws -> String {
        var headers: [(String, String)] = [("WARC-Date", WARCRecord.formatDate(date))]
        if let name = filename ?? (path.isEmpty ? nil : (path as NSString).lastPathComponent) {
            headers.append(("WARC-Filename", name))
        }
        headers.append(("Content-Type", "application/warc-fields"))
        return try write(WARCRecord(type: .warcinfo, headers: headers, block: Self.warcFields(fields)))
    }

    /// A `request` record holding the HTTP request as sent.
    @discardableResult
    public func writeRequest(targetURI: String, date: Date = Date(), method: String = "GET",
                             headers: [(String, String)], body: [UInt8] = [], concurrentTo: String? = nil) throws -> String {
        let target = Self.requestTarget(targetURI)
        let message = HTTPMessage(startLine: "\(method) \(target) HTTP/1.1", headers: headers, body: body)
        var fields: [(String, String)] = [("WARC-Date", WARCRecord.formatDate(date)), ("WARC-Target-URI", targetURI)]
        if let concurrentTo { fields.append(("WARC-Concurrent-To", concurrentTo)) }
        fields.append(("Content-Type", "application/http; msgtype=request"))
        return try write(WARCRecord(type: .request, headers: fields, block: message.bytes))
    }

    /// A `response` record: status line, response headers and body exactly as received.
    @discardableResult
    public func writeResponse(targetURI: String, date: Date = Date(), statusLine: String, headers: [(String, String)],
                              body: [UInt8], ipAddress: String? = nil, concurrentTo: String? = nil,
                              extraFields: [(String, String)] = []) throws -> String {
        let message = HTTPMessage(startLine: statusLine, headers: headers, body: body)
        return try writeResponse(targetURI: targetURI, date: date, httpMessage: message.bytes, ipAddress: ipAddress,
                                 concurrentTo: concurrentTo, extraFields: extraFields)
    }

    /// A `response` record from the raw bytes of an HTTP response (head and body).
    @discardableResult
    public func writeResponse(targetURI: String, date: Date = Date(), httpMessage: [UInt8], ipAddress: String? = nil,
                              concurrentTo: String? = nil, extraFields: [(String, String)] = []) throws -> String {
        var fields: [(String, String)] = [("WARC-Date", WARCRecord.formatDate(date)), ("WARC-Target-URI", targetURI)]
        if let ipAddress { fields.append(("WARC-IP-Address", ipAddress)) }
        if let concurrentTo { fields.append(("WARC-Concurrent-To", concurrentTo)) }
        fields.append(contentsOf: extraFields)
        fields.append(("Content-Type", "application/http; msgtype=response"))
        return try write(WARCRecord(type: .response, headers: fields, block: httpMessage))
    }

    /// A `resource` record: content without HTTP framing (a local file, a `file://` fetch).
    @discardableResult
    public func writeResource(targetURI: String, date: Date = Date(), contentType: String, content: [UInt8]) throws -> String {
        try write(WARCRecord(type: .resource, headers: [("WARC-Date", WARCRecord.formatDate(date)),
                                                        ("WARC-Target-URI", targetURI), ("Content-Type", contentType)],
                             block: content))
    }

    /// A `metadata` record (`application/warc-fields`) about another record: fetch time, outlinks…
    @discardableResult
    public func writeMetadata(targetURI: String, date: Date = Date(), refersTo: String?, fields: [(String, String)]) throws -> String {
        var headers: [(String, String)] = [("WARC-Date", WARCRecord.formatDate(date)), ("WARC-Target-URI", targetURI)]
        if let refersTo {
            headers.append(("WARC-Refers-To", refersTo))
            headers.append(("WARC-Concurrent-To", refersTo))
        }
        headers.append(("Content-Type", "application/warc-fields"))
        return try write(WARCRecord(type: .metadata, headers: headers, block: Self.warcFields(fields)))
    }

    /// Starts afresh over the same sink, for a writer over a sink that encodes one set of records after
    /// another (a crawl's pages): offsets and the record count start again from zero, and the
    /// compressor is set up once rather than per set. Only between records.
    public func restart() {
        counter.reset()
        recordCount = 0
        warcinfoID = nil
    }

    /// Finishes compression and, for a file, makes it appear under its final name.
    public func commit() throws {
        try sink.finish()
        try file?.commit()
    }

    /// Drops the file; the final name is untouched.
    public func abandon() { file?.abandon() }

    static func warcFields(_ fields: [(String, String)]) -> [UInt8] {
        var text = ""
        for (name, value) in fields {
            text += name + ": " + value.replacingOccurrences(of: "\r", with: " ").replacingOccurrences(of: "\n", with: " ") + "\r\n"
        }
        return Array(text.utf8)
    }

    /// The request-target of an absolute URL: path and query (`/` when empty).
    static func requestTarget(_ url: String) -> String {
        guard let schemeEnd = url.range(of: "://") else { return url }
        let afterAuthority = url[schemeEnd.upperBound...]
        guard let slash = afterAuthority.firstIndex(where: { $0 == "/" || $0 == "?" }) else { return "/" }
        var target = String(afterAuthority[slash...])
        if let hash = target.firstIndex(of: "#") { target = String(target[..<hash]) }
        return target.hasPrefix("?") ? "/" + target : target
    }
}

/// Counts the bytes passed through to another sink.
private final class CountingSink: ByteSink {
    let sink: ByteSink
    private(set) var count = 0
    init(_ sink: ByteSink) { self.sink = sink }
    func write(_ bytes: UnsafeRawBufferPointer) throws {
        try sink.write(bytes)
        count += bytes.count
    }
    func finish() throws { try sink.finish() }
    func reset() { count = 0 }
}

/// Reads WARC files (1.0 or 1.1; gzip per record, whole-file gzip, or plain) one record at a time.
/// Memory holds one record, never the file.
public final class WARCReader {
    public let path: String
    private let source: ByteSource
    private var buffer: [UInt8]
    private var start = 0
    private var end = 0
    private var ended = false
    /// A record's block larger than this is an error rather than unbounded memory.
    public let maxRecordBytes: Int
    public private(set) var recordCount = 0

    public init(path: String, maxRecordBytes: Int = 512 << 20) throws {
        self.path = path
        self.maxRecordBytes = maxRecordBytes
        let file = try FileInput(path: path)
        // Decide gzip by the magic bytes, not the name.
        var magic = [UInt8](repeating: 0, count: 2)
        let probe = try FileInput(path: path)
        let n = try magic.withUnsafeMutableBytes { try probe.read(into: $0) }
        source = n == 2 && magic[0] == 0x1F && magic[1] == 0x8B ? try GzipReader(file, label: path) : file
        buffer = [UInt8](repeating: 0, count: 256 * 1024)
    }

    /// Records from bytes in memory (gzip members or plain), such as a range cut from a WARC file.
    public init(bytes: [UInt8], label: String, maxRecordBytes: Int = 512 << 20) throws {
        path = label
        self.maxRecordBytes = maxRecordBytes
        let input = MemoryInput(bytes)
        source = bytes.count >= 2 && bytes[0] == 0x1F && bytes[1] == 0x8B ? try GzipReader(input, label: label) : input
        buffer = [UInt8](repeating: 0, count: 64 * 1024)
    }

    /// The next record, or nil at the end of the file.
    public func next() throws -> WARCRecord? {
        // Skip blank lines between records.
        var versionLine: String?
        while true {
            guard let line = try readLine() else { return nil }
            if line.isEmpty { continue }
            versionLine = String(decoding: line, as: UTF8.self)
            break
        }
        guard let version = versionLine, version.hasPrefix("WARC/") else {
            throw LakeError(.malformedRecord, "record \(recordCount + 1): expected 'WARC/1.1', found '\(versionLine!.prefix(40))'", path: path)
        }
        var headers = WARCHeaders()
        while true {
            guard let line = try readLine() else {
                throw LakeError(.malformedRecord, "record \(recordCount + 1): file ends inside the header", path: path)
            }
            if line.isEmpty { break }
            if (line.first == 0x20 || line.first == 0x09), let last = headers.fields.last {
                headers[last.name] = last.value + " " + HTTPMessage.fieldText(line)
                continue
            }
            guard let colon = line.firstIndex(of: UInt8(ascii: ":")) else {
                let text = String(decoding: line, as: UTF8.self)
                throw LakeError(.malformedRecord, "record \(recordCount + 1): header line without ':': '\(text.prefix(60))'", path: path)
            }
            headers.append(HTTPMessage.fieldText(line[..<colon]), HTTPMessage.fieldText(line[(colon + 1)...]))
        }
        guard let lengthText = headers["Content-Length"], let length = Int(lengthText), length >= 0 else {
            throw LakeError(.malformedRecord, "record \(recordCount + 1): missing or invalid Content-Length", path: path)
        }
        guard length <= maxRecordBytes else {
            throw LakeError(.malformedRecord, "record \(recordCount + 1): block of \(length) bytes exceeds the limit", path: path)
        }
        let block = try readExactly(length)
        guard block.count == length else {
            throw LakeError(.malformedRecord, "record \(recordCount + 1): truncated block (\(block.count) of \(length) bytes)", path: path)
        }
        recordCount += 1
        return WARCRecord(headers: headers, block: block)
    }

    private func fill() throws -> Bool {
        if ended { return false }
        if start > 0 {
            buffer.withUnsafeMutableBytes { raw in
                raw.baseAddress!.copyMemory(from: raw.baseAddress! + start, byteCount: end - start)
            }
            end -= start
            start = 0
        }
        if end == buffer.count { buffer.append(contentsOf: [UInt8](repeating: 0, count: buffer.count)) }
        let n = try buffer.withUnsafeMutableBytes { raw in
            try source.read(into: UnsafeMutableRawBufferPointer(rebasing: raw[end...]))
        }
        if n == 0 { ended = true; return false }
        end += n
        return true
    }

    /// The next line without its CRLF / LF; nil at the end of input.
    private func readLine() throws -> ArraySlice<UInt8>? {
        var scan = start
        while true {
            while scan < end {
                if buffer[scan] == 0x0A {
                    var stop = scan
                    if stop > start && buffer[stop - 1] == 0x0D { stop -= 1 }
                    let line = buffer[start..<stop]
                    start = scan + 1
                    return line
                }
                scan += 1
            }
            if scan - start > 1 << 20 {
                throw LakeError(.malformedRecord, "a WARC header line is longer than 1 MiB", path: path)
            }
            let offset = scan - start
            guard try fill() else {
                guard start < end else { return nil }
                let line = buffer[start..<end]
                start = end
                return line
            }
            scan = start + offset
        }
    }

    private func readExactly(_ count: Int) throws -> [UInt8] {
        var out: [UInt8] = []
        out.reserveCapacity(count)
        while out.count < count {
            if start == end { guard try fill() else { break } }
            let take = min(count - out.count, end - start)
            out.append(contentsOf: buffer[start..<(start + take)])
            start += take
        }
        return out
    }
}
