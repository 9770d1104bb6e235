import Foundation
import Lake

/// Where a field's text comes from.
public enum FieldSource: Sendable, Equatable, CustomStringConvertible {
    /// A CSS selector (with parsel's `::text` / `::attr(name)`), relative to the record.
    case css(String)
    /// An XPath 1.0 expression, relative to the record.
    case xpath(String)
    /// A JSON-LD path such as `Product.offers.price` (page level).
    case jsonLD(String)
    /// A `<meta>` value by property or name (`og:title`, `description`), or `title` / `canonical` (page level).
    case meta(String)
    /// Microdata `itemprop` values inside the record.
    case itemprop(String)

    public var description: String {
        switch self {
        case .css(let s): return "css '\(s)'"
        case .xpath(let s): return "xpath '\(s)'"
        case .jsonLD(let s): return "jsonld '\(s)'"
        case .meta(let s): return "meta '\(s)'"
        case .itemprop(let s): return "itemprop '\(s)'"
        }
    }
}

/// The type a field's text is converted to.
public enum FieldType: String, Sendable, CaseIterable {
    case string, int, number, bool, money, date, url
}

/// One declared field: where its text comes from, how it is cleaned and typed.
public struct FieldSpec: Sendable {
    public var name: String
    public var source: FieldSource
    public var type: FieldType = .string
    /// Applied to the text; the first capture group (or the whole match) is kept.
    public var regex: String?
    /// Used (and typed) when nothing is found.
    public var defaultValue: String?
    public var required = false
    /// All matches as an array, instead of the first.
    public var list = false
    /// The currency for money without one (and which dollar `$` means).
    public var currency: String?
    /// For dates like 03/04/2026: day first (European) rather than month first.
    public var dayFirst = false

    public init(name: String, source: FieldSource, type: FieldType = .string) {
        self.name = name
        self.source = source
        self.type = type
    }
}

/// What came out of one page.
public struct PageExtraction {
    /// Records that have every required field and typed every value.
    public var records: [JSONObject] = []
    /// Why records were refused (one entry per refused record).
    public var failures: [String] = []
    /// Non-fatal problems (malformed JSON-LD skipped…).
    public var warnings: [String] = []
}

/// A set of fields compiled once and applied to many pages. Not Sendable (holds libxml2 objects):
/// make one per task.
public final class PageExtractor {
    public let fields: [FieldSpec]
    private let recordQuery: XPathExpression?
    private let compiled: [Compiled]
    private let structuredParts: StructuredData.Parts

    private struct Compiled {
        var spec: FieldSpec
        var xpath: XPathExpression?
        var jsonPath: JSONLDPath?
        var regex: NSRegularExpression?
    }

    /// - Parameter records: a CSS selector or XPath choosing each record's element; nil for one record per page.
    public init(fields: [FieldSpec], records: FieldSource? = nil) throws(HTMLError) {
        self.fields = fields
        switch records {
        case nil: recordQuery = nil
        case .css(let s)?: recordQuery = try CSSSelector(s).xpath
        case .xpath(let s)?: recordQuery = try XPathExpression(s)
        case let other?: throw HTMLError(.selector, "records must be chosen by css or xpath, not \(other)")
        }
        var compiled: [Compiled] = []
        for spec in fields {
            var c = Compiled(spec: spec)
            switch spec.source {
            case .css(let s): c.xpath = try CSSSelector(s).xpath
            case .xpath(let s): c.xpath = try XPathExpression(s)
            case .itemprop(let name):
                c.xpath = try XPathExpression("descendant-or-self::*[contains(concat(' ', normalize-space(@itemprop), ' '), \(literal(" " + name + " ")))]")
            case .jsonLD(let p): c.jsonPath = try JSONLDPath(p)
            case .meta: break
            }
            if let pattern = spec.regex {
                do { c.regex = try NSRegularExpression(pattern: pattern) }
                catch { throw HTMLError(.selector, "invalid regular expression", subject: pattern, cause: "\(error)") }
            }
            compiled.append(c)
        }
        self.compiled = compiled
        var parts: StructuredData.Parts = []
        for spec in fields {
            switch spec.source {
            case .jsonLD: parts.insert(.jsonLD)
            case .meta: parts.insert(.meta)
            default: break
            }
        }
        structuredParts = parts
    }

    /// Applies the fields to a page.
    public func extract(_ document: HTMLDocument) -> PageExtraction {
        var result = PageExtraction()
        let structured = structuredParts.isEmpty ? nil : StructuredData(document: document, parts: structuredParts)
        if let structured { result.warnings.append(contentsOf: structured.warnings) }
        let contexts: [HTMLNode]
        if let recordQuery {
            do { contexts = try document.evaluate(recordQuery, in: nil).nodes }
            catch { result.failures.append("records: \(error)"); return result }
        } else {
            contexts = [document.document]
        }
        for (index, node) in contexts.enumerated() {
            switch extractRecord(document, node, structured) {
            case .success(let record): result.records.append(record)
            case .failure(let failure):
                result.failures.append(recordQuery == nil ? failure.message : "record \(index + 1): \(failure.message)")
            }
        }
        return result
    }

    struct FieldFailure: Error { var message: String }

    private func extractRecord(_ document: HTMLDocument, _ node: HTMLNode, _ structured: StructuredData?)
        -> Result<JSONObject, FieldFailure> {
        var record = JSONObject()
        for field in compiled {
            let spec = field.spec
            var texts: [String]
            do {
                texts = try rawTexts(field, document, node, structured)
            } catch {
                return .failure(FieldFailure(message: "\(spec.name): \(error)"))
            }
            if let regex = field.regex { texts = texts.compactMap { Self.apply(regex, $0) }.filter { !$0.isEmpty } }
            // An empty attribute (`alt=""`) is a found string, as parsel gives it; no other type reads one.
            if spec.type != .string { texts = texts.filter { !$0.isEmpty } }
            if texts.isEmpty, let d = spec.defaultValue { texts = [d] }
            if texts.isEmpty {
                if spec.required { return .failure(FieldFailure(message: "\(spec.name): required field not found (\(spec.source))")) }
                record[spec.name] = spec.list ? .array([]) : .null
                if spec.type == .money && !spec.list { record[spec.name + "_currency"] = .null }
                continue
            }
            if spec.list {
                var values: [JSONValue] = []
                for text in texts {
                    switch convert(text, spec, document) {
                    case .success(let (value, currency)):
                        values.append(spec.type == .money ? .object(JSONObject([("amount", value), ("currency", currency.map(JSONValue.string) ?? .null)])) : value)
                    case .failure(let f): return .failure(f)
                    }
                }
                record[spec.name] = .array(values)
            } else {
                switch convert(texts[0], spec, document) {
                case .success(let (value, currency)):
                    record[spec.name] = value
                    if spec.type == .money { record[spec.name + "_currency"] = currency.map(JSONValue.string) ?? .null }
                case .failure(let f): return .failure(f)
                }
            }
        }
        return .success(record)
    }

    /// The field's candidate texts, in document order. For a single value of a selector that
    /// yields text nodes (`::text`), the text nodes are joined, so `h1::text` over
    /// `<h1>Big <b>red</b> ball</h1>` gives "Big ball" and `.price ::text` gives the whole price.
    private func rawTexts(_ field: Compiled, _ document: HTMLDocument, _ node: HTMLNode, _ structured: StructuredData?)
        throws(HTMLError) -> [String] {
        let spec = field.spec
        switch spec.source {
        case .css, .xpath:
            let value = try document.evaluate(field.xpath!, in: node)
            if case .nodes(let nodes) = value, !spec.list, !nodes.isEmpty, nodes.allSatisfy({ $0.kind == .text }) {
                let joined = TextNormalizer.normalize(nodes.map(\.rawText).joined(separator: " "))
                return joined.isEmpty ? [] : [joined]
            }
            return FieldValues.texts(of: value)
        case .itemprop:
            return try document.evaluate(field.xpath!, in: node).nodes.map(StructuredData.microdataValue).filter { !$0.isEmpty }
        case .jsonLD:
            return structured?.jsonLD(field.jsonPath!).compactMap(StructuredData.text(of:)) ?? []
        case .meta(let key):
            return structured?.meta[key.lowercased()].map { [$0] }?.filter { !$0.isEmpty } ?? []
        }
    }

    static func apply(_ regex: NSRegularExpression, _ text: String) -> String? {
        let range = NSRange(text.startIndex..., in: text)
        guard let match = regex.firstMatch(in: text, range: range) else { return nil }
        let group = match.numberOfRanges > 1 && match.range(at: 1).location != NSNotFound ? 1 : 0
        guard let r = Range(match.range(at: group), in: text) else { return nil }
        return TextNormalizer.normalize(String(text[r]))
    }

    private func convert(_ text: String, _ spec: FieldSpec, _ document: HTMLDocument)
        -> Result<(JSONValue, String?), FieldFailure> {
        func fail(_ what: String) -> Result<(JSONValue, String?), FieldFailure> {
            .failure(FieldFailure(message: "\(spec.name): cannot read '\(text.prefix(80))' as \(what)"))
        }
        switch spec.type {
        case .string: return .success((.string(text), nil))
        case .int:
            guard let number = FieldValues.number(text) else { return fail("an integer") }
            guard number == number.rounded(), abs(number) < 9e18 else { return fail("an integer") }
            return .success((.int(Int64(number)), nil))
        case .number:
            guard let number = FieldValues.number(text) else { return fail("a number") }
            return .success((.double(number), nil))
        case .bool:
            guard let b = FieldValues.bool(text) else { return fail("true or false") }
            return .success((.bool(b), nil))
        case .money:
            guard let money = Money.parse(text, defaultCurrency: spec.currency) else { return fail("money") }
            return .success((.double(money.amountValue), money.currency))
        case .date:
            guard let date = DateText.parse(text, dayFirst: spec.dayFirst) else { return fail("a date") }
            return .success((.string(date), nil))
        case .url:
            guard let url = document.absoluteURL(text) else { return fail("a URL") }
            return .success((.string(url), nil))
        }
    }
}

/// Conversions of field text shared by the extractor and its tests.
public enum FieldValues {
    /// What a selector's matches give as field text, normalised: elements their text, text nodes
    /// their text, attributes their value. Empty or whitespace-only text is no match, but an
    /// attribute that is present with an empty value (`alt=""`) gives "", as in parsel.
    public static func texts(of value: XPathValue) -> [String] {
        guard case .nodes(let nodes) = value else { return value.strings.map(TextNormalizer.normalize).filter { !$0.isEmpty } }
        return nodes.compactMap { node in
            let text = node.kind == .text || node.kind == .attribute ? TextNormalizer.normalize(node.rawText) : node.text
            return text.isEmpty && node.kind != .attribute ? nil : text
        }
    }

    /// The first number in the text, with the same separator rules as money (`1.234,5` → 1234.5).
    public static func number(_ text: String) -> Double? {
        guard let found = Money.findNumber(text), let decimal = Money.interpret(found.text) else { return nil }
        let value = Double(decimal.description) ?? NSDecimalNumber(decimal: decimal).doubleValue
        return found.negative ? -value : value
    }

    /// Yes/no words, availability phrases and schema.org `ItemAvailability` values.
    public static func bool(_ text: String) -> Bool? {
        var t = TextNormalizer.trim(text.lowercased())
        for prefix in ["http://schema.org/", "https://schema.org/", "schema:"] where t.hasPrefix(prefix) {
            t = String(t.dropFirst(prefix.count))
        }
        switch t {
        case "true", "yes", "y", "1", "on", "instock", "in stock", "available", "in_stock", "limitedavailability",
             "onlineonly", "presale", "preorder", "ja", "oui", "sí", "si":
            return true
        case "false", "no", "n", "0", "off", "outofstock", "out of stock", "sold out", "soldout", "unavailable",
             "discontinued", "out_of_stock", "nein", "non":
            return false
        default:
            return nil
        }
    }
}
