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

/// What a field does with text that does not convert to its type (`type: int` on "No reviews yet").
public enum FieldErrorPolicy: String, Sendable, CaseIterable {
    /// The field is null (a list drops the item); the record is kept and the null is counted.
    case null
    /// The field's `default` is used instead.
    case `default`
    /// The whole record is rejected (to the rejects file, with the reason).
    case reject
}

/// One declared field: where its text comes from, how it is cleaned and typed.
public struct FieldSpec: Sendable {
    public var name: String
    /// The first source; `fallbacks` are tried in order when it gives nothing.
    public var source: FieldSource
    /// Further sources, tried in order: the first that gives a non-empty value wins.
    public var fallbacks: [FieldSource] = []
    /// Every source in the order tried.
    public var sources: [FieldSource] { [source] + fallbacks }
    /// What a value that does not convert does; nil: `reject` for a required field, else `null`.
    public var onError: FieldErrorPolicy?
    /// The resolved policy.
    public var errorPolicy: FieldErrorPolicy { onError ?? (required ? .reject : .null) }
    /// For money: the name of the currency column (default `<name>_currency`).
    public var currencyField: String?
    /// The currency column's name for a money field.
    public var currencyName: String { currencyField ?? name + "_currency" }
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
    /// Per field: values that did not convert and were set to null (`on_error: null`) in kept records.
    public var nulledOnError: [String: Int] = [:]
    /// Per field: values that did not convert and were replaced by the default (`on_error: default`).
    public var defaultedOnError: [String: Int] = [:]
    /// Per field: kept records in which the field is null because nothing was found.
    public var nullNotFound: [String: Int] = [:]

    public init() {}
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
        var sources: [CompiledSource]
        var regex: NSRegularExpression?
    }

    private struct CompiledSource {
        var source: FieldSource
        var xpath: XPathExpression?
        var jsonPath: JSONLDPath?
        /// Where the source is a CSS selector the native matcher takes: its index in `natives`.
        var native: Int?
        /// Where the source is an XPath path the native matcher takes (`SimpleXPath`): its index in
        /// `pageNatives`, used when the page is the record.
        var pageNative: Int?
    }

    /// The CSS selectors of all fields that the native matcher takes, matched in one walk per record.
    private let natives: CSSMatchProgram?
    /// When the page is the record: `natives` (same indices), then the fields' simple XPath paths,
    /// then the elements structured data and `<base>` read (`pageElements`), all in one walk.
    private let pageNatives: CSSMatchProgram?
    private let pageElements: Int

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
        var natives: [NativeSelector] = []
        var pathNatives: [(field: Int, source: Int, selector: NativeSelector)] = []
        for spec in fields {
            var c = Compiled(spec: spec, sources: [])
            for source in spec.sources {
                var cs = CompiledSource(source: source)
                switch source {
                case .css(let s):
                    let selector = try CSSSelector(s)
                    cs.xpath = try selector.xpath
                    if let native = selector.native {
                        cs.native = natives.count
                        natives.append(native)
                    }
                case .xpath(let s):
                    cs.xpath = try XPathExpression(s)
                    if let native = SimpleXPath.native(s) { pathNatives.append((compiled.count, c.sources.count, native)) }
                case .itemprop(let name):
                    cs.xpath = try XPathExpression("descendant-or-self::*[contains(concat(' ', normalize-space(@itemprop), ' '), \(literal(" " + name + " ")))]")
                case .jsonLD(let p): cs.jsonPath = try JSONLDPath(p)
                case .meta: break
                }
                c.sources.append(cs)
            }
            if let pattern = spec.regex {
                do { c.regex = try NSRegularExpression(pattern: pattern) }
                catch { throw HTMLError(.selector, "invalid regular expression", subject: pattern, cause: "\(error)") }
            }
            compiled.append(c)
        }
        var pageSelectors = natives
        for path in pathNatives {
            compiled[path.field].sources[path.source].pageNative = pageSelectors.count
            pageSelectors.append(path.selector)
        }
        pageElements = pageSelectors.count
        pageSelectors.append(Self.pageElementsSelector)
        self.compiled = compiled
        self.natives = natives.isEmpty ? nil : CSSMatchProgram(natives)
        pageNatives = recordQuery == nil ? CSSMatchProgram(pageSelectors) : nil
        var parts: StructuredData.Parts = []
        for spec in fields {
            for source in spec.sources {
                switch source {
                case .jsonLD: parts.insert(.jsonLD)
                case .meta: parts.insert(.meta)
                default: break
                }
            }
        }
        structuredParts = parts
    }

    /// The elements `StructuredData` and `HTMLDocument.baseURL` read.
    private static let pageElementsSelector: NativeSelector = {
        guard let native = try? CSSSelector("script, meta, title, link, base").native else { fatalError("the page elements selector") }
        return native
    }()

    /// Applies the fields to a page.
    public func extract(_ document: HTMLDocument) -> PageExtraction {
        var result = PageExtraction()
        // The page as the record: the fields' selectors and the page-level elements in one walk.
        let pageMatched = pageNatives.map { CSSMatcher.match($0, scope: document.handle.raw) }
        let elements = pageMatched?[pageElements]?.map { HTMLNode(document: document, raw: $0) }
        if let elements { document.noteBaseElements(elements) }
        let structured: StructuredData?
        if structuredParts.isEmpty {
            structured = nil
        } else if let elements {
            structured = StructuredData(document: document, parts: structuredParts, elements: elements)
        } else {
            structured = StructuredData(document: document, parts: structuredParts)
        }
        if let structured { result.warnings.append(contentsOf: structured.warnings) }
        let contexts: [HTMLNode]
        if let recordQuery {
            do { contexts = try document.evaluate(recordQuery, in: nil).nodes }
            catch { result.failures.append("records: \(error)"); return result }
        } else {
            contexts = [document.document]
        }
        for (index, node) in contexts.enumerated() {
            var tally = FieldTally()
            let matched = pageMatched ?? natives.map { CSSMatcher.match($0, scope: node.raw) } ?? []
            switch extractRecord(document, node, structured, matched, &tally) {
            case .success(let record):
                result.records.append(record)
                for name in tally.nulled { result.nulledOnError[name, default: 0] += 1 }
                for name in tally.defaulted { result.defaultedOnError[name, default: 0] += 1 }
                for name in tally.notFound { result.nullNotFound[name, default: 0] += 1 }
            case .failure(let failure):
                result.failures.append(recordQuery == nil ? failure.message : "record \(index + 1): \(failure.message)")
            }
        }
        return result
    }

    struct FieldFailure: Error { var message: String }

    /// Which fields of one record were nulled or defaulted, counted only if the record is kept.
    struct FieldTally {
        var nulled: [String] = []
        var defaulted: [String] = []
        var notFound: [String] = []
    }

    private func extractRecord(_ document: HTMLDocument, _ node: HTMLNode, _ structured: StructuredData?,
                               _ matched: [[UnsafeMutableRawPointer]?], _ tally: inout FieldTally) -> Result<JSONObject, FieldFailure> {
        var record = JSONObject()
        for field in compiled {
            let spec = field.spec
            // The sources in order: the first giving a non-empty value (after the regex) wins.
            var texts: [String] = []
            for source in field.sources {
                do {
                    texts = try rawTexts(source, spec, document, node, structured, matched)
                } catch {
                    return .failure(FieldFailure(message: "\(spec.name): \(error)"))
                }
                if let regex = field.regex { texts = texts.compactMap { Self.apply(regex, $0) }.filter { !$0.isEmpty } }
                // An empty attribute (`alt=""`) is a found string, as parsel gives it; no other type reads one.
                if spec.type != .string { texts = texts.filter { !$0.isEmpty } }
                if !texts.isEmpty { break }
            }
            if texts.isEmpty, let d = spec.defaultValue { texts = [d] }
            if texts.isEmpty {
                if spec.required {
                    let tried = spec.sources.map(\.description).joined(separator: ", ")
                    return .failure(FieldFailure(message: "\(spec.name): required field not found (\(tried))"))
                }
                record[spec.name] = spec.list ? .array([]) : .null
                if spec.type == .money && !spec.list { record[spec.currencyName] = .null }
                tally.notFound.append(spec.name)
                continue
            }
            /// A value that did not convert: per the field's `on_error`, its default, null (nil) or a failure.
            func recover(_ failure: FieldFailure) -> Result<(JSONValue, String?)?, FieldFailure> {
                switch spec.errorPolicy {
                case .reject: return .failure(failure)
                case .null:
                    tally.nulled.append(spec.name)
                    return .success(nil)
                case .default:
                    guard let d = spec.defaultValue else { return .failure(failure) }
                    switch convert(d, spec, document) {
                    case .success(let converted):
                        tally.defaulted.append(spec.name)
                        return .success(converted)
                    case .failure(let f): return .failure(FieldFailure(message: "\(failure.message); the default: \(f.message)"))
                    }
                }
            }
            if spec.list {
                var values: [JSONValue] = []
                var nulled = false
                for text in texts {
                    var converted: (JSONValue, String?)?
                    switch convert(text, spec, document) {
                    case .success(let c): converted = c
                    case .failure(let f):
                        switch recover(f) {
                        case .success(let c): converted = c; if c == nil { nulled = true }
                        case .failure(let f): return .failure(f)
                        }
                    }
                    // Under `on_error: null` a list drops the item that does not convert.
                    guard let (value, currency) = converted else { continue }
                    values.append(spec.type == .money ? .object(JSONObject([("amount", value), ("currency", currency.map(JSONValue.string) ?? .null)])) : value)
                }
                if nulled, tally.nulled.last == spec.name {
                    // One count per record and field, however many items were dropped.
                    while tally.nulled.last == spec.name { tally.nulled.removeLast() }
                    tally.nulled.append(spec.name)
                }
                record[spec.name] = .array(values)
            } else {
                var converted: (JSONValue, String?)?
                switch convert(texts[0], spec, document) {
                case .success(let c): converted = c
                case .failure(let f):
                    switch recover(f) {
                    case .success(let c): converted = c
                    case .failure(let f): return .failure(f)
                    }
                }
                record[spec.name] = converted?.0 ?? .null
                if spec.type == .money { record[spec.currencyName] = converted?.1.map(JSONValue.string) ?? .null }
            }
        }
        return .success(record)
    }

    /// The field's candidate texts, in document order. For a single value of a selector that
    /// yields text nodes (`::text`), the text nodes are joined, so `h1::text` over
    /// `<h1>Big <b>red</b> ball</h1>` gives "Big ball" and `.price ::text` gives the whole price.
    private func rawTexts(_ field: CompiledSource, _ spec: FieldSpec, _ document: HTMLDocument, _ node: HTMLNode,
                          _ structured: StructuredData?, _ matched: [[UnsafeMutableRawPointer]?]) throws(HTMLError) -> [String] {
        switch field.source {
        case .css, .xpath:
            let value: XPathValue
            if let index = field.native ?? (recordQuery == nil ? field.pageNative : nil), let nodes = matched[index] {
                value = .nodes(nodes.map { HTMLNode(document: document, raw: $0) })
            } else {
                value = try document.evaluate(field.xpath!, in: node)
            }
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
