import Foundation
import Lake

/// A sitemap (sitemaps.org 0.9): a `urlset` of page URLs or a `sitemapindex` of further sitemaps,
/// plain or gzip-compressed.
///
/// Read by a small XML scanner of our own rather than a full XML parser: a sitemap needs no DTD,
/// so a document that declares one (`<!DOCTYPE`) is refused outright, and only the five predefined
/// entities and character references are expanded. External entities (XXE) and entity expansion
/// bombs therefore cannot happen, whatever the sitemap holds.
public struct Sitemap: Sendable, Equatable {
    public enum Kind: String, Sendable, Equatable {
        case urlset
        case index = "sitemapindex"
    }

    public var kind: Kind
    /// The `<loc>` values, in document order, trimmed.
    public var locations: [String]

    public init(kind: Kind, locations: [String]) {
        self.kind = kind
        self.locations = locations
    }

    /// The protocol's limit on an uncompressed sitemap; past it the file is refused.
    public static let maxBytes: Int64 = 50 * 1024 * 1024

    /// Parses a sitemap, gunzipping it first when it starts with the gzip magic bytes.
    public static func parse(_ bytes: [UInt8], url: String = "sitemap") throws -> Sitemap {
        var text = bytes
        if bytes.count >= 2 && bytes[0] == 0x1F && bytes[1] == 0x8B {
            do {
                let reader = try GzipReader(MemoryInput(bytes), label: url, maxOutputBytes: maxBytes)
                text = try reader.readAll()
            } catch {
                throw SitemapError(url: url, message: "cannot gunzip: \(error)")
            }
        } else if Int64(bytes.count) > maxBytes {
            throw SitemapError(url: url, message: "larger than \(maxBytes) bytes")
        }
        var scanner = XMLScanner(bytes: text, url: url)
        return try scanner.sitemap()
    }
}

/// Why a sitemap could not be read.
public struct SitemapError: Error, CustomStringConvertible, Sendable, Equatable {
    public let url: String
    public let message: String
    public var description: String { "sitemap \(url): \(message)" }
}

extension ByteSource {
    /// Every byte left in the source.
    func readAll() throws -> [UInt8] {
        var out: [UInt8] = []
        var buffer = [UInt8](repeating: 0, count: 64 * 1024)
        while true {
            let n = try buffer.withUnsafeMutableBytes { try read(into: $0) }
            if n == 0 { return out }
            out.append(contentsOf: buffer[0..<n])
        }
    }
}

/// Just enough XML for sitemaps: elements, text, comments, CDATA, processing instructions.
private struct XMLScanner {
    let bytes: [UInt8]
    let url: String
    var index = 0

    init(bytes: [UInt8], url: String) {
        self.bytes = bytes
        self.url = url
    }

    func fail(_ message: String) -> SitemapError { SitemapError(url: url, message: message) }

    mutating func sitemap() throws -> Sitemap {
        var stack: [String] = []
        var kind: Sitemap.Kind?
        var locations: [String] = []
        var text: [UInt8]?  // collecting inside <loc>
        if bytes.starts(with: [0xEF, 0xBB, 0xBF]) { index = 3 }
        while index < bytes.count {
            if bytes[index] != UInt8(ascii: "<") {
                let start = index
                while index < bytes.count && bytes[index] != UInt8(ascii: "<") { index += 1 }
                if text != nil { text! += try decodeEntities(bytes[start..<index]) }
                continue
            }
            if starts("<!--") {
                try skip(past: "-->")
            } else if starts("<![CDATA[") {
                index += 9
                let start = index
                try skip(past: "]]>")
                if text != nil { text! += bytes[start..<(index - 3)] }
            } else if starts("<?") {
                try skip(past: "?>")
            } else if starts("<!") {
                // <!DOCTYPE …> (or any other declaration): a sitemap has no use for a DTD, and a DTD is
                // where external entities and expansion bombs live.
                throw fail("declares a DTD (<!DOCTYPE>); refused: sitemaps need none and DTDs allow XML entity attacks")
            } else if starts("</") {
                index += 2
                let name = readName()
                try skip(past: ">")
                guard let open = stack.popLast(), open == name else { throw fail("mismatched end tag </\(name)>") }
                if localName(name) == "loc", let collected = text {
                    let value = String(decoding: collected, as: UTF8.self).trimmingCharacters(in: .whitespacesAndNewlines)
                    let parent = stack.last.map(localName)
                    if !value.isEmpty, parent == "url" || parent == "sitemap" { locations.append(value) }
                    text = nil
                }
            } else {
                index += 1
                let name = readName()
                guard !name.isEmpty else { throw fail("malformed tag at byte \(index)") }
                // Attributes are not needed: skip to the end of the tag, minding quotes.
                var quote: UInt8?
                var selfClosing = false
                while index < bytes.count {
                    let byte = bytes[index]
                    if let q = quote {
                        if byte == q { quote = nil }
                    } else if byte == UInt8(ascii: "\"") || byte == UInt8(ascii: "'") {
                        quote = byte
                    } else if byte == UInt8(ascii: ">") {
                        selfClosing = index > 0 && bytes[index - 1] == UInt8(ascii: "/")
                        break
                    }
                    index += 1
                }
                guard index < bytes.count else { throw fail("unterminated tag <\(name)") }
                index += 1
                if stack.isEmpty {
                    guard kind == nil else { throw fail("more than one root element") }
                    guard let root = Sitemap.Kind(rawValue: localName(name)) else {
                        throw fail("the root element is <\(name)>, not <urlset> or <sitemapindex>")
                    }
                    kind = root
                }
                if !selfClosing {
                    stack.append(name)
                    if localName(name) == "loc" { text = [] }
                }
            }
        }
        guard let kind else { throw fail("no <urlset> or <sitemapindex> element") }
        guard stack.isEmpty else { throw fail("unclosed <\(stack.last!)>") }
        return Sitemap(kind: kind, locations: locations)
    }

    func starts(_ prefix: String) -> Bool {
        let p = Array(prefix.utf8)
        return index + p.count <= bytes.count && bytes[index..<(index + p.count)].elementsEqual(p)
    }

    mutating func skip(past terminator: String) throws {
        let t = Array(terminator.utf8)
        while index + t.count <= bytes.count {
            if bytes[index..<(index + t.count)].elementsEqual(t) {
                index += t.count
                return
            }
            index += 1
        }
        throw fail("unterminated markup (expected \(terminator))")
    }

    mutating func readName() -> String {
        let start = index
        while index < bytes.count {
            let b = bytes[index]
            if b == UInt8(ascii: ">") || b == UInt8(ascii: "/") || b == 0x20 || b == 0x09 || b == 0x0A || b == 0x0D { break }
            index += 1
        }
        return String(decoding: bytes[start..<index], as: UTF8.self)
    }

    func localName(_ name: String) -> String {
        name.split(separator: ":").last.map(String.init) ?? name
    }

    /// Expands `&amp; &lt; &gt; &quot; &apos;` and `&#…;` / `&#x…;`; any other entity is an error, since
    /// nothing could have defined it.
    func decodeEntities(_ slice: ArraySlice<UInt8>) throws -> [UInt8] {
        guard slice.contains(UInt8(ascii: "&")) else { return Array(slice) }
        var out: [UInt8] = []
        var i = slice.startIndex
        while i < slice.endIndex {
            guard slice[i] == UInt8(ascii: "&") else { out.append(slice[i]); i += 1; continue }
            guard let semi = slice[i...].firstIndex(of: UInt8(ascii: ";")), semi - i <= 12 else {
                throw fail("a bare '&' in text")
            }
            let name = String(decoding: slice[(i + 1)..<semi], as: UTF8.self)
            switch name {
            case "amp": out.append(UInt8(ascii: "&"))
            case "lt": out.append(UInt8(ascii: "<"))
            case "gt": out.append(UInt8(ascii: ">"))
            case "quot": out.append(UInt8(ascii: "\""))
            case "apos": out.append(UInt8(ascii: "'"))
            default:
                var scalar: UInt32?
                if name.hasPrefix("#x") || name.hasPrefix("#X") {
                    scalar = UInt32(name.dropFirst(2), radix: 16)
                } else if name.hasPrefix("#") {
                    scalar = UInt32(name.dropFirst(), radix: 10)
                }
                guard let scalar, let character = Unicode.Scalar(scalar) else {
                    throw fail("undefined entity &\(name); (entities are never loaded)")
                }
                out.append(contentsOf: Array(String(Character(character)).utf8))
            }
            i = semi + 1
        }
        return out
    }
}
