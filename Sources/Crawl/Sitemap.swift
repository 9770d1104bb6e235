internal import CXML2
import Foundation
import Lake

/// A sitemap (sitemaps.org 0.9): a `urlset` of page URLs or a `sitemapindex` of further sitemaps,
/// plain or gzip-compressed.
///
/// Read with libxml2's XML reader, network access and entity substitution off. A sitemap needs no
/// DTD, so a document that declares one (`<!DOCTYPE`) is refused outright, and only the five
/// predefined entities and character references are expanded. External entities (XXE) and entity
/// expansion bombs therefore cannot happen, whatever the sitemap holds.
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
        return try SitemapXML.read(text, url: url)
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

/// libxml2's streaming XML reader over a sitemap: network and entity loading off (no
/// `XML_PARSE_NOENT`, no DTD loading, `XML_PARSE_NONET`), and a document that declares a DTD is
/// refused as soon as the reader meets it, before any entity could be referenced.
private enum SitemapXML {
    static func read(_ bytes: [UInt8], url: String) throws -> Sitemap {
        func fail(_ message: String) -> SitemapError { SitemapError(url: url, message: message) }
        guard !bytes.isEmpty else { throw fail("empty document") }
        agentshop_xml_silence()
        xmlResetLastError()
        let options = Int32(XML_PARSE_NONET.rawValue | XML_PARSE_NOERROR.rawValue | XML_PARSE_NOWARNING.rawValue)
        return try bytes.withUnsafeBufferPointer { buffer in
            // The reader reads the buffer in place: it must not outlive this closure.
            guard let reader = buffer.baseAddress!.withMemoryRebound(to: CChar.self, capacity: buffer.count, {
                xmlReaderForMemory($0, Int32(buffer.count), url, nil, options)
            }) else { throw fail(agentshop_xml_load_error().map { String(cString: $0) } ?? "libxml2 could not start reading it") }
            defer { xmlFreeTextReader(reader) }
            var kind: Sitemap.Kind?
            var parents: [String] = []  // local names of the open elements
            var locations: [String] = []
            var text: String?  // collecting inside a <loc>
            while true {
                let step = xmlTextReaderRead(reader)
                if step == 0 { break }
                guard step == 1 else { throw fail(lastError() ?? "not well-formed XML") }
                let name = xmlTextReaderConstLocalName(reader).map { String(cString: $0) } ?? ""
                switch xmlTextReaderNodeType(reader) {
                case Int32(XML_READER_TYPE_DOCUMENT_TYPE.rawValue):
                    // A sitemap has no use for a DTD, and a DTD is where external entities and expansion bombs live.
                    throw fail("declares a DTD (<!DOCTYPE>); refused: sitemaps need none and DTDs allow XML entity attacks")
                case Int32(XML_READER_TYPE_ELEMENT.rawValue):
                    if parents.isEmpty {
                        guard kind == nil else { throw fail("more than one root element") }
                        guard let root = Sitemap.Kind(rawValue: name) else {
                            throw fail("the root element is <\(name)>, not <urlset> or <sitemapindex>")
                        }
                        kind = root
                    }
                    if xmlTextReaderIsEmptyElement(reader) != 1 {
                        if name == "loc" { text = "" }
                        parents.append(name)
                    }
                case Int32(XML_READER_TYPE_END_ELEMENT.rawValue):
                    parents.removeLast()
                    if name == "loc", let collected = text {
                        let value = collected.trimmingCharacters(in: .whitespacesAndNewlines)
                        if !value.isEmpty, parents.last == "url" || parents.last == "sitemap" { locations.append(value) }
                        text = nil
                    }
                case Int32(XML_READER_TYPE_TEXT.rawValue), Int32(XML_READER_TYPE_CDATA.rawValue),
                     Int32(XML_READER_TYPE_SIGNIFICANT_WHITESPACE.rawValue), Int32(XML_READER_TYPE_WHITESPACE.rawValue):
                    if text != nil, let value = xmlTextReaderConstValue(reader) { text! += String(cString: value) }
                case Int32(XML_READER_TYPE_ENTITY_REFERENCE.rawValue):
                    throw fail("an entity reference &\(name); (entities are never loaded)")
                default:
                    break  // comments, processing instructions
                }
            }
            guard let kind else { throw fail("no <urlset> or <sitemapindex> element") }
            return Sitemap(kind: kind, locations: locations)
        }
    }

    /// libxml2's message for the error that stopped the reader.
    static func lastError() -> String? {
        guard let error = xmlGetLastError(), let message = error.pointee.message else { return nil }
        let text = String(cString: message).trimmingCharacters(in: .whitespacesAndNewlines)
        return "line \(error.pointee.line): \(text)"
    }
}
