import Foundation
import Lake

/// The journal's and `urls.jsonl`'s lines without Foundation's coders: a crawl writes each entry
/// twice (journal, per-URL state) and reads it back once (outputs), and JSONEncoder/JSONDecoder were
/// about 9% of a crawl's CPU (bench/CRAWL_RESULTS.md).
///
/// The writer gives the bytes JSONEncoder gives with `[.sortedKeys, .withoutEscapingSlashes]`
/// (keys in sorted order, nil values left out), so journals of either read the same. The reader
/// takes lines of this version's shape (snake_case keys); anything else (a camelCase line of an
/// earlier version, Scoup's `extracted` value, a type it does not expect) goes to the `Decodable`
/// path, which decides as before.
extension FetchEntry {
    /// The entry as one JSON line (without its newline).
    var jsonLine: [UInt8] {
        // Scoup's open-ended fields: rare (via: scoup), left to the encoder.
        if extracted != nil { return FetchState.encodeWithFoundation(self) }
        var w = EntryJSONWriter(out: [])
        w.out.reserveCapacity(512 + headers.count * 64)
        w.open()
        w.key("attempt"); w.int(attempt)
        if let bodySHA256 { w.key("body_sha256"); w.string(bodySHA256) }
        w.key("bytes"); w.int(bytes)
        if let contentType { w.key("content_type"); w.string(contentType) }
        w.key("depth"); w.int(depth)
        if let error { w.key("error"); w.string(error) }
        w.key("fetched_at"); w.string(fetchedAt)
        if let finalURL { w.key("final_url"); w.string(finalURL) }
        w.key("from_cache"); w.bool(fromCache)
        w.key("headers"); w.headers(headers)
        w.key("is_file"); w.bool(isFile)
        if let links {
            w.key("links")
            w.out.append(UInt8(ascii: "["))
            for (i, link) in links.enumerated() {
                if i > 0 { w.out.append(UInt8(ascii: ",")) }
                w.string(link)
            }
            w.out.append(UInt8(ascii: "]"))
        }
        w.key("ms"); w.int(ms)
        w.key("not_modified"); w.bool(notModified)
        w.key("redirects")
        w.out.append(UInt8(ascii: "["))
        for (i, hop) in redirects.enumerated() {
            if i > 0 { w.out.append(UInt8(ascii: ",")) }
            var h = EntryJSONWriter(out: [])
            h.open()
            h.key("headers"); h.headers(hop.headers)
            h.key("status"); h.int(hop.status)
            h.key("url"); h.string(hop.url)
            h.close()
            w.out.append(contentsOf: h.out)
        }
        w.out.append(UInt8(ascii: "]"))
        w.key("request_headers"); w.headers(requestHeaders)
        w.key("robots_disallowed"); w.bool(robotsDisallowed)
        if let scoup { w.key("scoup"); w.headers(scoup) }
        if let status { w.key("status"); w.int(status) }
        if let stored {
            w.key("stored")
            var s = EntryJSONWriter(out: [])
            s.open()
            s.key("length"); s.int(stored.length)
            s.key("offset"); s.int(stored.offset)
            s.key("pack"); s.string(stored.pack)
            if let pages = stored.pages {
                s.key("pages")
                s.out.append(UInt8(ascii: "["))
                for (i, item) in pages.enumerated() {
                    if i > 0 { s.out.append(UInt8(ascii: ",")) }
                    var p = EntryJSONWriter(out: [])
                    p.open()
                    if let bytes = item.bytes { p.key("bytes"); p.int(bytes) }
                    if let contentType = item.contentType { p.key("content_type"); p.string(contentType) }
                    if let fetchedAt = item.fetchedAt { p.key("fetched_at"); p.string(fetchedAt) }
                    p.key("length"); p.int(item.length)
                    p.key("offset"); p.int(item.offset)
                    if let sha256 = item.sha256 { p.key("sha256"); p.string(sha256) }
                    if let skip = item.skip { p.key("skip"); p.string(skip) }
                    if let url = item.url { p.key("url"); p.string(url) }
                    p.close()
                    s.out.append(contentsOf: p.out)
                }
                s.out.append(UInt8(ascii: "]"))
            }
            s.key("records"); s.int(stored.records)
            s.key("response_offset"); s.int(stored.responseOffset)
            s.close()
            w.out.append(contentsOf: s.out)
        }
        if let title { w.key("title"); w.string(title) }
        w.key("url"); w.string(url)
        w.key("via"); w.string(via)
        if let wireStatus { w.key("wire_status"); w.int(wireStatus) }
        w.close()
        return w.out
    }

    /// An entry from a line of this version's shape; nil for anything else (the caller then decodes
    /// it with JSONDecoder, which reads older spellings and reports what is wrong).
    init?(jsonLine bytes: UnsafeRawBufferPointer) {
        guard let value = try? LakeJSONValue.parse(bytes: bytes), case .object(let object) = value else { return nil }
        self.init(url: "", depth: 0, fetchedAt: "", via: "")
        // The keys JSONDecoder requires, one bit each: all must be there.
        var required = 0
        for entry in object.entries {
            let v = entry.value
            // JSONDecoder's decodeIfPresent takes null as absent.
            if case .null = v {
                switch entry.key {
                case "final_url", "status", "wire_status", "body_sha256", "stored", "error", "content_type", "scoup", "links",
                     "title":
                    continue
                default: return nil
                }
            }
            switch entry.key {
            case "url": guard let s = v.stringValue else { return nil }; url = s; required |= 1 << 0
            case "depth": guard let i = Self.int(v) else { return nil }; depth = i; required |= 1 << 1
            case "fetched_at": guard let s = v.stringValue else { return nil }; fetchedAt = s; required |= 1 << 2
            case "via": guard let s = v.stringValue else { return nil }; via = s; required |= 1 << 3
            case "headers": guard let h = Self.headerList(v) else { return nil }; headers = h; required |= 1 << 4
            case "request_headers": guard let h = Self.headerList(v) else { return nil }; requestHeaders = h; required |= 1 << 5
            case "redirects":
                guard let items = v.arrayValue else { return nil }
                var hops: [Hop] = []
                for item in items {
                    guard let o = item.objectValue, let u = o["url"]?.stringValue, let s = o["status"].flatMap(Self.int),
                          let h = o["headers"].flatMap(Self.headerList), o.count == 3 else { return nil }
                    hops.append(Hop(url: u, status: s, headers: h))
                }
                redirects = hops
                required |= 1 << 6
            case "bytes": guard let i = Self.int(v) else { return nil }; self.bytes = i; required |= 1 << 7
            case "ms": guard let i = Self.int(v) else { return nil }; ms = i; required |= 1 << 8
            case "attempt": guard let i = Self.int(v) else { return nil }; attempt = i; required |= 1 << 9
            case "from_cache": guard case .bool(let b) = v else { return nil }; fromCache = b; required |= 1 << 10
            case "not_modified": guard case .bool(let b) = v else { return nil }; notModified = b; required |= 1 << 11
            case "robots_disallowed": guard case .bool(let b) = v else { return nil }; robotsDisallowed = b; required |= 1 << 12
            case "is_file": guard case .bool(let b) = v else { return nil }; isFile = b; required |= 1 << 13
            case "final_url": guard let s = v.stringValue else { return nil }; finalURL = s
            case "status": guard let i = Self.int(v) else { return nil }; status = i
            case "wire_status": guard let i = Self.int(v) else { return nil }; wireStatus = i
            case "body_sha256": guard let s = v.stringValue else { return nil }; bodySHA256 = s
            case "stored":
                guard let o = v.objectValue, o.count == (o["pages"] == nil ? 5 : 6), let pack = o["pack"]?.stringValue,
                      let offset = o["offset"].flatMap(Self.int), let length = o["length"].flatMap(Self.int),
                      let responseOffset = o["response_offset"].flatMap(Self.int), let records = o["records"].flatMap(Self.int)
                else { return nil }
                var pages: [WARCPageIndex.Item]?
                if let list = o["pages"] {
                    guard let items = list.arrayValue else { return nil }
                    pages = []
                    for item in items {
                        guard let read = WARCPageIndex.Item(jsonValue: item) else { return nil }
                        pages!.append(read)
                    }
                }
                stored = StoredPage(pack: pack, offset: Int64(offset), length: length, responseOffset: Int64(responseOffset),
                                    records: records, pages: pages)
            case "error": guard let s = v.stringValue else { return nil }; error = s
            case "content_type": guard let s = v.stringValue else { return nil }; contentType = s
            case "scoup": guard let h = Self.headerList(v) else { return nil }; scoup = h
            case "links":
                guard let items = v.arrayValue else { return nil }
                var out: [String] = []
                for item in items { guard let s = item.stringValue else { return nil }; out.append(s) }
                links = out
            case "title": guard let s = v.stringValue else { return nil }; title = s
            default: return nil  // `extracted`, or a key of another version
            }
        }
        guard required == (1 << 14) - 1 else { return nil }
    }

    private static func int(_ value: LakeJSONValue) -> Int? {
        if case .int(let i) = value, let n = Int(exactly: i) { return n }
        return nil
    }

    private static func headerList(_ value: LakeJSONValue) -> [Header]? {
        guard let items = value.arrayValue else { return nil }
        var out: [Header] = []
        out.reserveCapacity(items.count)
        for item in items {
            guard let o = item.objectValue, o.count == 2, let name = o["name"]?.stringValue, let value = o["value"]?.stringValue
            else { return nil }
            out.append(Header(name, value))
        }
        return out
    }
}

/// Appends JSON as JSONEncoder writes it (compact, slashes unescaped).
private struct EntryJSONWriter {
    var out: [UInt8]
    private var first = true

    init(out: [UInt8]) { self.out = out }

    mutating func open() { out.append(UInt8(ascii: "{")); first = true }
    mutating func close() { out.append(UInt8(ascii: "}")) }

    mutating func key(_ name: StaticString) {
        if !first { out.append(UInt8(ascii: ",")) }
        first = false
        out.append(UInt8(ascii: "\""))
        name.withUTF8Buffer { out.append(contentsOf: $0) }
        out.append(UInt8(ascii: "\""))
        out.append(UInt8(ascii: ":"))
    }

    mutating func int<I: BinaryInteger>(_ value: I) { out.append(contentsOf: String(value).utf8) }

    mutating func bool(_ value: Bool) { out.append(contentsOf: (value ? "true" : "false").utf8) }

    mutating func string(_ value: String) {
        out.append(UInt8(ascii: "\""))
        var copy = value
        copy.withUTF8 { utf8 in
            var runStart = 0
            for i in 0..<utf8.count {
                let byte = utf8[i]
                guard byte < 0x20 || byte == UInt8(ascii: "\"") || byte == UInt8(ascii: "\\") else { continue }
                if i > runStart { out.append(contentsOf: UnsafeBufferPointer(rebasing: utf8[runStart..<i])) }
                runStart = i + 1
                switch byte {
                case UInt8(ascii: "\""): out.append(contentsOf: #"\""#.utf8)
                case UInt8(ascii: "\\"): out.append(contentsOf: #"\\"#.utf8)
                case 0x0A: out.append(contentsOf: #"\n"#.utf8)
                case 0x0D: out.append(contentsOf: #"\r"#.utf8)
                case 0x09: out.append(contentsOf: #"\t"#.utf8)
                case 0x08: out.append(contentsOf: #"\b"#.utf8)
                case 0x0C: out.append(contentsOf: #"\f"#.utf8)
                default:
                    let hex = Array("0123456789abcdef".utf8)
                    out.append(contentsOf: #"\u00"#.utf8)
                    out.append(hex[Int(byte >> 4)])
                    out.append(hex[Int(byte & 0x0F)])
                }
            }
            if utf8.count > runStart { out.append(contentsOf: UnsafeBufferPointer(rebasing: utf8[runStart...])) }
        }
        out.append(UInt8(ascii: "\""))
    }

    mutating func headers(_ list: [Header]) {
        out.append(UInt8(ascii: "["))
        for (i, header) in list.enumerated() {
            if i > 0 { out.append(UInt8(ascii: ",")) }
            out.append(contentsOf: #"{"name":"#.utf8)
            string(header.name)
            out.append(contentsOf: #","value":"#.utf8)
            string(header.value)
            out.append(UInt8(ascii: "}"))
        }
        out.append(UInt8(ascii: "]"))
    }
}
