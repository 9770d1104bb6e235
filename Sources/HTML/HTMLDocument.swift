import Foundation
import Lake

/// A parsed HTML page. Owns libxml2's document, which is freed when the last reference goes.
///
/// Not Sendable: parse and query a page on one task. Parsing never fails on bad markup (libxml2
/// recovers, as browsers do); unclosed tags, stray end tags and huge attributes all give a tree.
public final class HTMLDocument {
    /// The page URL, when known: base for relative links together with `<base href>`.
    public let url: String?
    /// The charset the bytes were read in, and how it was learnt.
    public let charset: Charset.Detection
    let handle: XMLDocHandle
    private var contextHandle: XPathContextHandle?
    private var cachedBaseURL: String??

    /// The largest page parsed unless a caller says otherwise: libxml2's tree takes about thirty
    /// times the page's size, so this bounds a parse at about a gigabyte.
    public static let defaultMaxBytes = 32 << 20

    /// Parses `bytes`. `contentType` is the HTTP `Content-Type` header, whose charset wins over the page's own.
    /// A page larger than `maxBytes` is an error (never a partial parse).
    public convenience init(bytes: UnsafeRawBufferPointer, url: String? = nil, contentType: String? = nil,
                            maxBytes: Int = HTMLDocument.defaultMaxBytes) throws(HTMLError) {
        let (handle, charset) = try Self.parse(bytes, url: url, contentType: contentType, maxBytes: maxBytes)
        self.init(handle: handle, url: url, charset: charset)
    }

    public convenience init(bytes: [UInt8], url: String? = nil, contentType: String? = nil,
                            maxBytes: Int = HTMLDocument.defaultMaxBytes) throws(HTMLError) {
        let result: Result<(XMLDocHandle, Charset.Detection), HTMLError> = bytes.withUnsafeBytes { raw in
            do throws(HTMLError) { return .success(try Self.parse(raw, url: url, contentType: contentType, maxBytes: maxBytes)) }
            catch { return .failure(error) }
        }
        let (handle, charset) = try result.get()
        self.init(handle: handle, url: url, charset: charset)
    }

    /// Parses a string (already Unicode, so any `<meta charset>` in it is ignored).
    public convenience init(html: String, url: String? = nil) throws(HTMLError) {
        try self.init(bytes: Array(html.utf8), url: url, contentType: "text/html; charset=utf-8")
    }

    private init(handle: XMLDocHandle, url: String?, charset: Charset.Detection) {
        self.handle = handle
        self.url = url
        self.charset = charset
    }

    private static func parse(_ bytes: UnsafeRawBufferPointer, url: String?, contentType: String?, maxBytes: Int)
        throws(HTMLError) -> (XMLDocHandle, Charset.Detection) {
        guard bytes.count <= maxBytes else {
            throw HTMLError(.parse, "the page is \(bytes.count) bytes, more than the \(maxBytes) parsed at most",
                            subject: url ?? "page")
        }
        let detection = Charset.detect(bytes, contentType: contentType)
        let parsed: Result<XMLDocHandle, LibXMLFailure>
        if bytes.allSatisfy({ $0 == 0x20 || $0 == 0x09 || $0 == 0x0A || $0 == 0x0D }) {
            // libxml2 builds no document from nothing; an empty page is still a page.
            parsed = Array("<html></html>".utf8).withUnsafeBytes { LibXML.parseHTML(bytes: $0, url: url) }
        } else if detection.name == "utf-8", let body = Charset.validUTF8Body(bytes) {
            // The common case: valid UTF-8 goes to libxml2 as it is, without a copy.
            parsed = withoutNUL(body) { LibXML.parseHTML(bytes: $0, url: url) }
        } else if let utf8 = Charset.utf8Bytes(bytes, charset: detection.name) {
            parsed = utf8.withUnsafeBytes { raw in withoutNUL(raw) { LibXML.parseHTML(bytes: $0, url: url) } }
        } else {
            parsed = LibXML.parseHTML(bytes: bytes, url: url, encoding: detection.name)
        }
        switch parsed {
        case .success(let handle): return (handle, detection)
        case .failure(let failure):
            throw HTMLError(.parse, "cannot parse the page", subject: url ?? "page", cause: failure.message)
        }
    }

    /// libxml2 takes a NUL byte for the end of the input and drops the rest of the page: NULs
    /// become U+FFFD (as an HTML5 parser makes them), in a copy only when there is one.
    private static func withoutNUL<T>(_ bytes: UnsafeRawBufferPointer, _ body: (UnsafeRawBufferPointer) -> T) -> T {
        guard let base = bytes.baseAddress, memchr(base, 0, bytes.count) != nil else { return body(bytes) }
        var copy: [UInt8] = []
        copy.reserveCapacity(bytes.count + 16)
        for byte in bytes {
            if byte == 0 { copy.append(contentsOf: [0xEF, 0xBF, 0xBD]) } else { copy.append(byte) }
        }
        return copy.withUnsafeBytes(body)
    }

    /// The document node: the context for absolute and relative queries alike.
    public var document: HTMLNode { HTMLNode(document: self, raw: handle.raw) }

    /// The `<html>` element (libxml2 adds one to fragments).
    public var root: HTMLNode? { LibXML.rootElement(handle).map { HTMLNode(document: self, raw: $0) } }

    // MARK: Queries

    /// Evaluates an XPath expression with `node` (or the document) as context.
    public func evaluate(_ expression: XPathExpression, in node: HTMLNode? = nil) throws(HTMLError) -> XPathValue {
        if contextHandle == nil {
            guard let created = XPathContextHandle(doc: handle) else {
                throw HTMLError(.xpath, "cannot create an XPath context", subject: expression.text)
            }
            contextHandle = created
        }
        switch LibXML.evaluate(expression.compiled, context: contextHandle!, node: node?.raw) {
        case .success(let raw):
            switch raw {
            case .nodes(let nodes): return .nodes(nodes.map { HTMLNode(document: self, raw: $0) })
            case .string(let s): return .string(s)
            case .number(let n): return .number(n)
            case .boolean(let b): return .boolean(b)
            }
        case .failure(let failure):
            throw HTMLError(.xpath, "evaluation failed", subject: expression.text, cause: failure.message)
        }
    }

    /// Compiles and evaluates an XPath expression.
    public func xpath(_ expression: String, in node: HTMLNode? = nil) throws(HTMLError) -> XPathValue {
        try evaluate(XPathExpression(expression), in: node)
    }

    /// The values a CSS selector yields, parsel-style: text of `::text` nodes, values of
    /// `::attr(name)`, and the normalised text of elements.
    public func css(_ selector: String, in node: HTMLNode? = nil) throws(HTMLError) -> [String] {
        try select(CSSSelector(selector), in: node).map(\.value)
    }

    /// The nodes a CSS selector selects, in document order: through the native matcher where it
    /// takes the selector, otherwise through the selector's XPath (the two answer the same).
    public func select(_ selector: CSSSelector, in node: HTMLNode? = nil) throws(HTMLError) -> [HTMLNode] {
        if let native = selector.native, let nodes = CSSMatcher.match([native], scope: node?.raw ?? handle.raw)[0] {
            return nodes.map { HTMLNode(document: self, raw: $0) }
        }
        return try evaluate(selector.xpath, in: node).nodes
    }

    /// Elements with one of `names` (lowercase) anywhere in the page, in document order.
    public func elements(named names: [String]) -> [HTMLNode] {
        LibXML.elements(named: names, under: handle.raw).map { HTMLNode(document: self, raw: $0) }
    }

    // MARK: Links

    /// The base for relative URLs: `<base href>` resolved against the page URL, or the page URL.
    public var baseURL: String? {
        if let cached = cachedBaseURL { return cached }
        return base(from: elements(named: ["base"]))
    }

    /// Gives `baseURL` the page's elements in document order (a walk made anyway), so that it
    /// need not walk the page for `<base>` itself.
    func noteBaseElements(_ elements: [HTMLNode]) {
        if cachedBaseURL == nil { _ = base(from: elements.filter { $0.kind == .element && $0.name == "base" }) }
    }

    private func base(from bases: [HTMLNode]) -> String? {
        var base = url
        if let href = bases.lazy.compactMap({ $0.attribute("href") }).first {
            let trimmed = TextNormalizer.trim(href)
            if !trimmed.isEmpty { base = URLResolver.resolve(trimmed, against: url) ?? base }
        }
        cachedBaseURL = .some(base)
        return base
    }

    /// The links a crawler follows: absolute `href`s of the `<a>`/`<area>` elements `selector`
    /// matches (every link when nil), in document order, without repeats or fragments; only
    /// http(s) links (no `mailto:`, `javascript:`, `tel:`…; `schemes` widens that, e.g. to `file`
    /// for a saved site), and none marked `rel=nofollow` unless `followNofollow`.
    public func links(_ selector: String? = nil, followNofollow: Bool = false,
                      schemes: Set<String> = ["http", "https"]) throws(HTMLError) -> [String] {
        try links(selector.map { source throws(HTMLError) in try CSSSelector(source) }, followNofollow: followNofollow,
                  schemes: schemes)
    }

    /// `links` with a selector parsed once (a crawler asks every page with the same one).
    public func links(_ selector: CSSSelector?, followNofollow: Bool = false,
                      schemes: Set<String> = ["http", "https"]) throws(HTMLError) -> [String] {
        let nodes = try selector.map { selector throws(HTMLError) in try select(selector) } ?? elements(named: ["a", "area"])
        return links(of: nodes, followNofollow: followNofollow, schemes: schemes)
    }

    /// `links` for the nodes an XPath expression selects (elements with an `href`).
    public func links(xpath expression: XPathExpression, followNofollow: Bool = false,
                      schemes: Set<String> = ["http", "https"]) throws(HTMLError) -> [String] {
        links(of: try evaluate(expression).nodes, followNofollow: followNofollow, schemes: schemes)
    }

    private func links(of nodes: [HTMLNode], followNofollow: Bool, schemes: Set<String>) -> [String] {
        var seen = Set<String>()
        var out: [String] = []
        for node in nodes where node.kind == .element {
            guard let href = node.attribute("href") else { continue }
            if !followNofollow, let rel = node.attribute("rel")?.lowercased(),
               rel.split(whereSeparator: \.isWhitespace).contains("nofollow") {
                continue
            }
            guard var url = absoluteURL(href) else { continue }
            if let hash = url.firstIndex(of: "#") { url = String(url[..<hash]) }
            guard let scheme = URLReference(url).scheme, schemes.contains(scheme) else { continue }
            if seen.insert(url).inserted { out.append(url) }
        }
        return out
    }

    /// `href` made absolute against `baseURL`; nil for `javascript:` and unresolvable values.
    public func absoluteURL(_ href: String) -> String? {
        let trimmed = TextNormalizer.trim(href)
        guard !trimmed.isEmpty else { return nil }
        let lower = trimmed.lowercased()
        if lower.hasPrefix("javascript:") || lower.hasPrefix("data:") { return nil }
        return URLResolver.resolve(trimmed, against: baseURL)
    }
}

/// A node of an `HTMLDocument`: element, text, attribute, comment or the document itself.
/// Keeps its document alive.
public struct HTMLNode {
    public enum Kind: Sendable, Equatable { case element, text, attribute, comment, document, other }

    public let document: HTMLDocument
    let raw: UnsafeMutableRawPointer

    init(document: HTMLDocument, raw: UnsafeMutableRawPointer) {
        self.document = document
        self.raw = raw
    }

    public var kind: Kind { LibXML.kind(raw) }
    /// The element or attribute name, lowercase for HTML.
    public var name: String { LibXML.name(raw) }
    /// Raw text: descendant text of an element, value of an attribute, text of a text node.
    public var rawText: String { LibXML.content(raw) }
    /// Text with whitespace collapsed and trimmed.
    public var text: String { TextNormalizer.normalize(rawText) }
    public func attribute(_ name: String) -> String? { LibXML.attribute(raw, name) }
    /// Attributes in document order.
    public var attributes: [(name: String, value: String)] { LibXML.attributes(raw).map { (name: $0.0, value: $0.1) } }
    public var children: [HTMLNode] { LibXML.children(raw).map { HTMLNode(document: document, raw: $0) } }
    public var elementChildren: [HTMLNode] { children.filter { $0.kind == .element } }
    public var parent: HTMLNode? { LibXML.parent(raw).map { HTMLNode(document: document, raw: $0) } }
    /// The node serialised as HTML (attribute and text nodes give their text).
    public var outerHTML: String { LibXML.outerHTML(raw, doc: document.handle) }

    /// The value of the node as a field: text and attribute nodes verbatim, elements' text normalised.
    public var value: String {
        switch kind {
        case .text, .attribute: return rawText
        default: return text
        }
    }

    public func xpath(_ expression: String) throws(HTMLError) -> XPathValue { try document.xpath(expression, in: self) }
    public func css(_ selector: String) throws(HTMLError) -> [String] { try document.css(selector, in: self) }
}

extension HTMLNode: Equatable {
    public static func == (a: HTMLNode, b: HTMLNode) -> Bool { a.raw == b.raw }
}

/// A compiled XPath 1.0 expression, reusable across documents.
public final class XPathExpression {
    public let text: String
    let compiled: XPathCompiled

    public init(_ text: String) throws(HTMLError) {
        self.text = text
        switch LibXML.compileXPath(text) {
        case .success(let compiled): self.compiled = compiled
        case .failure(let failure): throw HTMLError(.xpath, "does not compile", subject: text, cause: failure.message)
        }
    }
}

/// What an XPath expression evaluates to.
public enum XPathValue {
    case nodes([HTMLNode])
    case string(String)
    case number(Double)
    case boolean(Bool)

    /// Each node's `value`, or the scalar as text (empty strings dropped; numbers without ".0" when whole).
    public var strings: [String] {
        switch self {
        case .nodes(let nodes): return nodes.map(\.value)
        case .string(let s): return s.isEmpty ? [] : [s]
        case .number(let n):
            if n.isNaN { return [] }
            if n == n.rounded(), abs(n) < 1e15 { return [String(Int64(n))] }
            return [String(n)]
        case .boolean(let b): return [b ? "true" : "false"]
        }
    }

    public var nodes: [HTMLNode] { if case .nodes(let n) = self { return n }; return [] }
}
