import Foundation
import HTML
import Lake
import Pipeline

/// What `agentshop extract` shows: a selector's matches on one page, or a parse stage's records,
/// the way `scrapy shell` / parsel let selectors be tried before a pipeline runs.
public enum ExtractPreview {
    public enum Query: Sendable {
        /// Every match of a CSS selector (parsel semantics: `::text`, `::attr(name)`).
        case css(String)
        /// Every node, or the scalar, an XPath expression yields.
        case xpath(String)
        /// The page's JSON-LD items, one per line.
        case jsonLD
        /// `<meta>` values, `title` and `canonical`, and microdata `itemprop` values.
        case meta
        /// A parse stage's fields (and `records:` selector), as the stage would write them.
        case fields([FieldSpec], records: FieldSource?)
    }

    /// The preview's lines for one page, and problems for stderr.
    public static func run(_ query: Query, on page: FetchedPage) throws -> (lines: [String], problems: [String]) {
        let document = try HTMLDocument(bytes: page.bytes, url: page.url, contentType: page.contentType)
        switch query {
        case .css(let selector):
            // Normalised as the parse stage would store them; empty (whitespace-only) text dropped,
            // an empty attribute value (`alt=""`) kept.
            return (FieldValues.texts(of: try document.xpath(CSSSelector.toXPath(selector))), [])
        case .xpath(let expression):
            return (FieldValues.texts(of: try document.xpath(expression)), [])
        case .jsonLD:
            let data = StructuredData(document: document)
            return (data.jsonLD.map { $0.serialized() }, data.warnings)
        case .meta:
            let data = StructuredData(document: document)
            let meta = data.meta.sorted { $0.key < $1.key }.map { "meta \($0.key): \($0.value)" }
            let items = data.microdata.sorted { $0.key < $1.key }.flatMap { key, values in values.map { "itemprop \(key): \($0)" } }
            return (meta + items, data.warnings)
        case .fields(let fields, let records):
            let extraction = try PageExtractor(fields: fields, records: records).extract(document)
            let lines = extraction.records.map { fields -> String in
                var record = JSONObject([("url", .string(page.url)), ("fetched_at", .string(page.fetchedAt))])
                for entry in fields { record[entry.key] = entry.value }
                return JSONValue.object(record).serialized()
            }
            return (lines, extraction.failures.map { "rejected: \($0)" } + extraction.warnings)
        }
    }

    /// The pages of a file (HTML or WARC); with `url`, only the page with that URL.
    public static func pages(file: String, url: String?) throws -> [FetchedPage] {
        var pages: [FetchedPage] = []
        let isWARC = PageFiles.isWARC(file)
        try PageFiles.read(path: file, displayPath: file, url: isWARC ? nil : url, page: { page in
            if !isWARC || url == nil || page.url == url { pages.append(page) }
        })
        return pages
    }
}

extension ParseStage {
    /// The fields and `records:` selector of a configured parse stage (nil for another kind).
    public static func fieldSet(of definition: any StageDefinition) -> (fields: [FieldSpec], records: FieldSource?)? {
        guard let parse = definition as? Definition else { return nil }
        return (parse.fields, parse.records)
    }
}
