import Foundation
import Lake

/// Structured data embedded in a page: schema.org JSON-LD, `<meta>` (OpenGraph, Twitter,
/// description…) and microdata `itemprop` values.
public struct StructuredData {
    /// Every JSON-LD item: top-level objects, the members of top-level arrays and of `@graph`.
    /// Nested items (a Product's `offers`) stay inside their parent and are found by type search.
    public var jsonLD: [JSONValue] = []
    /// Problems met on the way (malformed JSON-LD blocks, which are skipped).
    public var warnings: [String] = []
    /// `<meta>` values by `property`, `name` or `itemprop` (lowercased), first one wins; plus
    /// `title` (the `<title>`) and `canonical` (`<link rel=canonical>`, absolute) when present.
    public var meta: [String: String] = [:]
    /// Microdata: `itemprop` name to values in document order (content, href, src, datetime or text).
    public var microdata: [String: [String]] = [:]

    public init() {}

    /// The kinds of structured data, to extract only what is needed.
    public struct Parts: OptionSet, Sendable {
        public let rawValue: Int
        public init(rawValue: Int) { self.rawValue = rawValue }
        public static let jsonLD = Parts(rawValue: 1)
        public static let meta = Parts(rawValue: 2)
        public static let microdata = Parts(rawValue: 4)
        public static let all: Parts = [.jsonLD, .meta, .microdata]
    }

    /// Extracts `parts` (everything by default) from `document`.
    public init(document: HTMLDocument, parts: Parts = .all) {
        var names: [String] = []
        if parts.contains(.jsonLD) { names.append("script") }
        if parts.contains(.meta) { names += ["meta", "title", "link"] }
        // One walk finds the scripts, metas, title and links that both parts read.
        self.init(document: document, parts: parts, elements: names.isEmpty ? [] : document.elements(named: names))
    }

    /// Extracts `parts` from `document`, given (in document order) at least its `script` elements
    /// for JSON-LD and its `meta`, `title` and `link` elements for meta; other elements are ignored.
    init(document: HTMLDocument, parts: Parts, elements: [HTMLNode]) {
        self.init()
        if parts.contains(.jsonLD) { extractJSONLD(elements.filter { $0.name == "script" }) }
        if parts.contains(.meta) { extractMeta(document, elements) }
        if parts.contains(.microdata) { extractMicrodata(document) }
    }

    // MARK: JSON-LD

    mutating func extractJSONLD(_ scripts: [HTMLNode]) {
        let blocks = scripts.filter { TextNormalizer.trim($0.attribute("type")?.lowercased() ?? "") == "application/ld+json" }
        for (index, script) in blocks.enumerated() {
            let text = script.rawText
            guard let value = Self.parseLenient(text) else {
                warnings.append("JSON-LD block \(index + 1) is not valid JSON; skipped")
                continue
            }
            append(value)
        }
    }

    private mutating func append(_ value: JSONValue) {
        switch value {
        case .array(let items): for item in items { append(item) }
        case .object(let object):
            if let graph = object["@graph"] {
                append(graph)
                // An object holding @graph may carry its own @type too.
                if object["@type"] != nil { jsonLD.append(value) }
            } else {
                jsonLD.append(value)
            }
        default: break
        }
    }

    /// Parses JSON as sites write it: HTML comments or CDATA around it, raw newlines inside
    /// strings, trailing commas. Returns nil when it is still not JSON.
    static func parseLenient(_ text: String) -> JSONValue? {
        var body = TextNormalizer.trim(text)
        if body.isEmpty { return nil }
        if let value = try? JSONValue.parse(body) { return value }
        for (open, close) in [("<!--", "-->"), ("//<![CDATA[", "//]]>"), ("<![CDATA[", "]]>")] {
            if body.hasPrefix(open), body.hasSuffix(close) {
                body = TextNormalizer.trim(String(body.dropFirst(open.count).dropLast(close.count)))
            }
        }
        // Raw control characters inside strings become spaces; trailing commas go.
        var out = ""
        out.reserveCapacity(body.utf8.count)
        var inString = false
        var escaped = false
        var pendingComma = false
        var pendingSpace = ""
        for ch in body.unicodeScalars {
            if inString {
                if escaped { escaped = false }
                else if ch == "\\" { escaped = true }
                else if ch == "\"" { inString = false }
                else if ch.value < 0x20 { out.unicodeScalars.append(" "); continue }
                out.unicodeScalars.append(ch)
                continue
            }
            if pendingComma {
                if ch.properties.isWhitespace { pendingSpace.unicodeScalars.append(ch); continue }
                if ch != "}" && ch != "]" { out += "," }
                out += pendingSpace
                pendingComma = false
                pendingSpace = ""
            }
            if ch == "," { pendingComma = true; continue }
            if ch == "\"" { inString = true }
            out.unicodeScalars.append(ch)
        }
        return try? JSONValue.parse(out)
    }

    /// Values at a JSON-LD path such as `Product.offers.price` or `AggregateRating.ratingValue`.
    ///
    /// A first segment starting with an uppercase letter names a schema.org `@type`, found at any
    /// depth; otherwise the path starts at each top-level item. Arrays fan out.
    public func jsonLD(_ path: JSONLDPath) -> [JSONValue] {
        var current: [JSONValue]
        var keys = path.segments[...]
        if path.startsWithType {
            current = []
            for item in jsonLD { Self.collect(type: path.segments[0], in: item, into: &current) }
            keys = keys.dropFirst()
        } else {
            current = jsonLD
        }
        for key in keys {
            var next: [JSONValue] = []
            for value in current {
                for item in Self.flatten(value) {
                    guard case .object(let object) = item else { continue }
                    if let found = object[key] ?? object["schema:" + key] { next.append(contentsOf: Self.flatten(found)) }
                }
            }
            current = next
        }
        return current.flatMap(Self.flatten)
    }

    static func flatten(_ value: JSONValue) -> [JSONValue] {
        if case .array(let items) = value { return items.flatMap(flatten) }
        return [value]
    }

    static func collect(type: String, in value: JSONValue, into out: inout [JSONValue]) {
        switch value {
        case .array(let items): for item in items { collect(type: type, in: item, into: &out) }
        case .object(let object):
            if types(of: object).contains(type) { out.append(value) }
            for entry in object where entry.key != "@type" { collect(type: type, in: entry.value, into: &out) }
        default: break
        }
    }

    static func types(of object: JSONObject) -> [String] {
        let raw: [String]
        switch object["@type"] {
        case .string(let s): raw = [s]
        case .array(let items): raw = items.compactMap(\.stringValue)
        default: raw = []
        }
        return raw.map { type in
            for prefix in ["http://schema.org/", "https://schema.org/", "schema:"] where type.hasPrefix(prefix) {
                return String(type.dropFirst(prefix.count))
            }
            return type
        }
    }

    /// A JSON-LD value as field text: strings decoded and normalised, numbers as written,
    /// objects by their `name`, `@value`, `url` or `@id`.
    public static func text(of value: JSONValue) -> String? {
        switch value {
        case .string(let s):
            let t = TextNormalizer.normalizeDecoding(s)
            return t.isEmpty ? nil : t
        case .int(let i): return String(i)
        case .bigInteger(let digits): return digits
        case .double(let d): return d == d.rounded() && abs(d) < 1e15 ? String(Int64(d)) : String(d)
        case .bool(let b): return b ? "true" : "false"
        case .object(let o):
            for key in ["name", "@value", "url", "@id"] { if let v = o[key], let t = text(of: v) { return t } }
            return nil
        case .array(let items): return items.lazy.compactMap(text(of:)).first
        case .null: return nil
        }
    }

    // MARK: Meta and microdata

    mutating func extractMeta(_ document: HTMLDocument, _ elements: [HTMLNode]) {
        var title: String?
        var canonical: String?
        for node in elements {
            switch node.name {
            case "meta":
                guard let content = node.attribute("content"),
                      let key = node.attribute("property") ?? node.attribute("name") ?? node.attribute("itemprop")
                        ?? node.attribute("http-equiv") else { continue }
                let k = TextNormalizer.trim(key).lowercased()
                if !k.isEmpty && meta[k] == nil { meta[k] = TextNormalizer.normalizeDecoding(content) }
            case "title":
                if title == nil { title = node.text }
            case "link":
                if canonical == nil, node.attribute("rel")?.lowercased().split(separator: " ").contains("canonical") == true,
                   let href = node.attribute("href") {
                    canonical = href
                }
            default: break
            }
        }
        if meta["title"] == nil, let title, !title.isEmpty { meta["title"] = title }
        if let canonical, let absolute = document.absoluteURL(canonical) { meta["canonical"] = absolute }
    }

    mutating func extractMicrodata(_ document: HTMLDocument) {
        guard let props = try? document.xpath("//*[@itemprop]") else { return }
        for node in props.nodes {
            guard let names = node.attribute("itemprop") else { continue }
            let value = Self.microdataValue(node)
            for name in names.split(whereSeparator: \.isWhitespace) {
                microdata[String(name), default: []].append(value)
            }
        }
    }

    /// The property value of an element, per the HTML microdata rules.
    static func microdataValue(_ node: HTMLNode) -> String {
        let document = node.document
        switch node.name {
        case "meta": return TextNormalizer.normalizeDecoding(node.attribute("content") ?? "")
        case "a", "link", "area":
            return node.attribute("href").flatMap(document.absoluteURL) ?? ""
        case "img", "audio", "video", "source", "iframe", "embed", "track":
            return node.attribute("src").flatMap(document.absoluteURL) ?? ""
        case "object": return node.attribute("data").flatMap(document.absoluteURL) ?? ""
        case "time": return node.attribute("datetime") ?? node.text
        case "data", "meter": return node.attribute("value") ?? node.text
        default: return node.attribute("content") ?? node.text
        }
    }
}

/// A path into JSON-LD: `Type.key.key` or `key.key`.
public struct JSONLDPath: Sendable, Equatable, CustomStringConvertible {
    public let segments: [String]
    public let startsWithType: Bool

    public init(_ text: String) throws(HTMLError) {
        let parts = text.split(separator: ".", omittingEmptySubsequences: false).map(String.init)
        for (i, part) in parts.enumerated() where part.isEmpty || part.contains(where: { $0.isWhitespace }) {
            let position = parts[..<i].reduce(0) { $0 + $1.count + 1 } + 1
            throw HTMLError(.jsonPath, part.isEmpty ? "empty segment" : "a segment may not contain spaces",
                            subject: text, position: position)
        }
        segments = parts
        startsWithType = parts[0].first!.isUppercase
    }

    public var description: String { segments.joined(separator: ".") }
}
