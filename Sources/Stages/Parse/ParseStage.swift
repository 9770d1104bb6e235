import Foundation
import HTML
import Lake
import Logging
import Pipeline

/// `parse`: turns fetched pages (WARC files, or HTML files) into typed records.
///
/// ```yaml
/// products:
///   parse:
///     from: crawl                       # a stage, or lake paths/globs of .warc.gz or .html files
///     url: "https://shop.example/p/*"   # optional: only pages whose URL matches (glob; a list is any-of)
///     base_url: https://shop.example/   # optional, HTML files only: page URL = base_url + path under the glob's folder
///     records: ".review"                # optional: many records per page, one per matching element (css or {xpath: …})
///     batch: 32                         # optional: pages per parsing task (tasks run on every core; output order is kept)
///     max_rejects: 5%                   # optional: more rejects (a count, or a share of records) fails the stage
///     currency: CAD                     # optional: the site's currency for money fields that name none (and which `$` means)
///     max_page_bytes: 32MB              # optional: a larger page is rejected with the reason, not parsed
///     fields:
///       name: "h1::text"                # shorthand for { css: … }
///       price: { css: ".price ::text", type: money, required: true, currency: EUR }
///       sku: { jsonld: Product.sku }
///       image: { meta: "og:image", type: url }
///       tags: { css: ".tag::text", list: true }
///       rating: { xpath: "//span[@class='r']/text()", regex: "([0-9.]+)", type: number, default: "0" }
///       reviews: { css: ".reviews::text", type: int, on_error: null }   # null (the default), default or reject
///       sale: { sources: [{ css: ".sale::text" }, { meta: "product:price:amount" }], type: money, currency_field: sale_cur }
///   out: scraped_data/products/dt={run_date}/products.jsonl.gz
/// ```
///
/// Each record starts with `url` and `fetched_at`; a money field `price` adds `price_currency`
/// (or the column named by `currency_field`). `sources:` lists sources tried in order, the first
/// giving a non-empty value wins. A value that does not convert follows the field's `on_error`:
/// `null` (the default for optional fields; counted per field in the manifest), `default` (its
/// `default:`), or `reject` (the default for `required: true`). A page (or, with `records:`, a
/// record) missing a required field or rejected on error goes to the run's rejects file with the
/// reason and URL; the run goes on.
public enum ParseStage {
    public static let kind = StageKind(spec: spec) { config, context in configure(config, context) }

    static let fieldKeys = ["css", "xpath", "jsonld", "meta", "itemprop"]

    struct Definition: StageDefinition {
        var inputs: [StageInput]
        var fields: [FieldSpec]
        var records: FieldSource?
        var urlPatterns: [String]
        var baseURL: String?
        /// Pages per parsing task (a tuning knob: output does not depend on it).
        var batchPages = 32
        /// More rejects than this fails the stage (its output is not published).
        var maxRejects: RejectLimit?
        /// A larger page is rejected with the reason instead of parsed (libxml2 takes ~30x a page's size).
        var maxPageBytes = HTMLDocument.defaultMaxBytes

        /// Extraction rules live in code: a change to them must invalidate earlier outputs.
        func fingerprintExtra(lake: Lake) throws -> String { "parse-stage/2" }

        /// What a page's extraction depends on besides the page: the fields and records rule as read
        /// (selectors, types, currencies, defaults), the page size limit and this code. A fetch stage keeps
        /// the extractions it makes for this stage under it (`SharedExtraction`).
        var extractionKey: String {
            SHA256.hex(of: "parse-stage/2 \(ToolVersion.current)\n\(fields)\n\(records.map { "\($0)" } ?? "page")\n\(maxPageBytes)")
        }

        /// Of a fetch stage's outputs only the pages are read: its crawl log (timings, cache flags) is not.
        func fingerprints(input path: String) -> Bool { PageFiles.isWARC(path) || PageFiles.isHTML(path) }

        func run(_ context: StageContext) async throws -> StageReport {
            if let queue = context.environment.variables[QueuedEnrich.queueVariable], !queue.isEmpty, QueuedParse.canQueue(context) {
                return try await QueuedParse.coordinate(self, context: context, url: queue)  // spread over workers
            }
            return try await ParseRun(definition: self, context: context).run()
        }
    }

    static func configure(_ config: ConfigValue, _ context: StageConfigContext) -> (any StageDefinition)? {
        guard config.expectMapping() else { return nil }
        let inputs = context.inputs(config.value("from", required: true))
        var patterns: [String] = []
        if let url = config.value("url") { patterns = url.asStrings() ?? [] }
        let baseURL = config.string("base_url")
        let batchPages = config.int("batch", min: 1, max: 10_000) ?? 32
        let maxRejectsValue = config.value("max_rejects")
        let maxRejects = maxRejectsValue.flatMap { RejectLimit.read($0) }
        let stageCurrency = readCurrency(config)
        let maxPageBytes = config.byteSize("max_page_bytes", max: 1 << 30) ?? HTMLDocument.defaultMaxBytes
        if let value = config.value("base_url"), let baseURL, URLResolver.resolve(".", against: baseURL) == nil {
            value.error("expected an absolute URL such as https://shop.example/, found '\(baseURL)'")
        }

        var records: FieldSource?
        if let value = config.value("records") {
            records = readSelector(value, allowed: ["css", "xpath"])
        }

        var fields: [FieldSpec] = []
        var ok = inputs != nil && (maxRejectsValue == nil || maxRejects != nil)
        if let fieldsValue = config.value("fields", required: true), let entries = fieldsValue.entries() {
            if entries.isEmpty { fieldsValue.error("declare at least one field") }
            let reserved = ["url", "fetched_at"]
            // Column name → the money field whose currency column it is.
            var currencyColumns: [String: String] = [:]
            for (name, value) in entries {
                if reserved.contains(name) { value.error("'\(name)' is added to every record; choose another field name"); ok = false; continue }
                if var spec = readField(name: name, value) {
                    if spec.type == .money && spec.currency == nil { spec.currency = stageCurrency }
                    if spec.type == .money && !spec.list {
                        let column = spec.currencyName
                        let at = value.value("currency_field") ?? value
                        if reserved.contains(column) {
                            at.error("the money field '\(name)' cannot write its currency to '\(column)', which every record has")
                            ok = false
                        } else if entries.contains(where: { $0.key == column }) {
                            at.error("a money field '\(name)' writes '\(column)' too, which another field already uses"
                                     + (spec.currencyField == nil ? "; name it with 'currency_field: …'" : ""))
                            ok = false
                        } else if let other = currencyColumns[column] {
                            at.error("the money fields '\(other)' and '\(name)' both write their currency to '\(column)'")
                            ok = false
                        }
                        currencyColumns[column] = name
                    }
                    fields.append(spec)
                } else {
                    ok = false
                }
            }
        } else {
            ok = false
        }
        // Compile every selector now so that `validate` reports bad ones with their position.
        if ok {
            do {
                _ = try PageExtractor(fields: fields, records: records)
            } catch {
                config.error("\(error)")
                return nil
            }
        }
        guard ok, let inputs else { return nil }
        return Definition(inputs: inputs, fields: fields, records: records, urlPatterns: patterns, baseURL: baseURL,
                          batchPages: batchPages, maxRejects: maxRejects, maxPageBytes: maxPageBytes)
    }

    /// `"h1::text"` or `{ css: … }` / `{ xpath: … }`.
    static func readSelector(_ value: ConfigValue, allowed: [String]) -> FieldSource? {
        if value.isScalar {
            guard let text = value.asString() else { return nil }
            return checkedSource(.css(text), at: value)
        }
        guard let entries = value.entries() else { return nil }
        guard entries.count == 1, let (key, inner) = entries.first, allowed.contains(key) else {
            value.error("expected one of \(allowed.joined(separator: ", "))")
            return nil
        }
        guard let text = inner.asString() else { return nil }
        return checkedSource(key == "css" ? .css(text) : .xpath(text), at: inner)
    }

    static func readField(name: String, _ value: ConfigValue) -> FieldSpec? {
        if value.isScalar {
            guard let text = value.asString(), let source = checkedSource(.css(text), at: value) else { return nil }
            return FieldSpec(name: name, source: source)
        }
        guard value.expectMapping() else { return nil }
        var sources: [FieldSource] = []
        var sourceCount = 0
        var sourcesOK = true
        for key in fieldKeys {
            guard let inner = value.value(key) else { continue }
            sourceCount += 1
            if let source = readSource(key: key, inner) { sources.append(source) } else { sourcesOK = false }
        }
        if let list = value.value("sources") {
            sourceCount += 1
            if let items = list.asList() {
                if items.isEmpty { list.error("list at least one source, such as { css: \".price::text\" }") }
                for item in items {
                    if item.isScalar {
                        guard let text = item.asString(), let source = checkedSource(.css(text), at: item) else { sourcesOK = false; continue }
                        sources.append(source)
                        continue
                    }
                    guard let entries = item.entries() else { sourcesOK = false; continue }
                    guard entries.count == 1, let (key, inner) = entries.first, fieldKeys.contains(key) else {
                        item.error("a source is one of \(fieldKeys.joined(separator: ", ")), such as { meta: \"product:price:amount\" }")
                        sourcesOK = false
                        continue
                    }
                    if let source = readSource(key: key, inner) { sources.append(source) } else { sourcesOK = false }
                }
            } else {
                sourcesOK = false
            }
        }
        if sourceCount == 0 { value.error("a field needs one of \(fieldKeys.joined(separator: ", ")) (or a list of them under 'sources')") }
        if sourceCount > 1 {
            value.error("a field takes exactly one of \(fieldKeys.joined(separator: ", ")); for several in order, list them under 'sources'")
        }
        let type = value.choice("type", FieldType.allCases.map(\.rawValue)).flatMap(FieldType.init(rawValue:))
        let regex = value.string("regex")
        if let regexValue = value.value("regex"), let regex {
            if (try? NSRegularExpression(pattern: regex)) == nil { regexValue.error("invalid regular expression '\(regex)'") }
        }
        let defaultValue = value.value("default").map { $0.jsonValue().plainText }
        let required = value.bool("required") ?? false
        let list = value.bool("list") ?? false
        let currency = readCurrency(value)
        let dayFirst = value.bool("day_first") ?? false
        var ok = true
        let onError = value.choice("on_error", FieldErrorPolicy.allCases.map(\.rawValue)).flatMap(FieldErrorPolicy.init(rawValue:))
        if let onErrorValue = value.value("on_error"), onError == .default, defaultValue == nil {
            onErrorValue.error("'on_error: default' needs a 'default: …' value on the field")
            ok = false
        }
        let currencyField = value.string("currency_field")
        if let cfValue = value.value("currency_field"), let currencyField {
            if type != .money { cfValue.error("'currency_field' names the currency column of a 'type: money' field"); ok = false }
            else if currencyField.isEmpty || currencyField == name { cfValue.error("expected a column name other than '\(name)'"); ok = false }
        }
        value.rejectUnknownKeys()
        guard ok, sourcesOK, sourceCount == 1, let first = sources.first else { return nil }
        var spec = FieldSpec(name: name, source: first, type: type ?? .string)
        spec.fallbacks = Array(sources.dropFirst())
        spec.regex = regex
        spec.defaultValue = defaultValue
        spec.required = required
        spec.list = list
        spec.currency = currency
        spec.dayFirst = dayFirst
        spec.onError = onError
        spec.currencyField = currencyField
        return spec
    }

    /// One source under its key (`css`, `xpath`, `jsonld`, `meta`, `itemprop`), checked at its position.
    static func readSource(key: String, _ inner: ConfigValue) -> FieldSource? {
        guard let text = inner.asString() else { return nil }
        let candidate: FieldSource
        switch key {
        case "css": candidate = .css(text)
        case "xpath": candidate = .xpath(text)
        case "jsonld": candidate = .jsonLD(text)
        case "meta": candidate = .meta(text)
        default: candidate = .itemprop(text)
        }
        return checkedSource(candidate, at: inner)
    }

    /// `currency:` (on a field, or on the stage for every money field): an ISO 4217 code, checked
    /// against the whole ISO table at its position.
    static func readCurrency(_ value: ConfigValue) -> String? {
        guard let currency = value.string("currency") else { return nil }
        if let currencyValue = value.value("currency"), !Money.isCurrencyCode(currency) {
            currencyValue.error("expected an ISO 4217 code such as USD or EUR, found '\(currency)'")
            return nil
        }
        return currency
    }

    /// Compiles a selector to report a bad one at its place in the file.
    static func checkedSource(_ source: FieldSource, at value: ConfigValue) -> FieldSource? {
        do {
            switch source {
            case .css(let s): _ = try CSSSelector(s).xpath
            case .xpath(let s): _ = try XPathExpression(s)
            case .jsonLD(let s): _ = try JSONLDPath(s)
            case .meta(let s), .itemprop(let s):
                if s.isEmpty { value.error("expected a name"); return nil }
            }
            return source
        } catch {
            value.error("\(error)")
            return nil
        }
    }
}

/// A batch of pages parsed with this stage's fields (HTML's `ParsedBatch`), taking the extractions a fetch
/// stage kept for it (parse once) instead of parsing those pages again.
extension ParsedBatch {
    static func parse(_ pages: [FetchedPage], _ definition: ParseStage.Definition,
                      shared: [SharedExtractionIndex] = []) -> ParsedBatch {
        parse(pages, fields: definition.fields, records: definition.records, maxPageBytes: definition.maxPageBytes,
              kept: { page in shared.lazy.compactMap { $0.extraction(of: page) }.first })
    }
}

/// One run of a parse stage: streams pages from the input files in batches to as many parsing
/// tasks as there are cores, and writes their records and rejects in input order, so the output
/// is the same whatever the number of cores.
final class ParseRun {
    let definition: ParseStage.Definition
    let context: StageContext
    let rejects: RejectsFile
    var counts: [String: Int] = ["pages_in": 0, "pages_parsed": 0, "pages_skipped": 0, "records_out": 0,
                                 "rejected": 0, "pages_rejected": 0]
    var warnings = 0
    var nulledOnError: [String: Int] = [:]
    var defaultedOnError: [String: Int] = [:]
    var nullNotFound: [String: Int] = [:]
    static let batchBytes = 8 << 20

    init(definition: ParseStage.Definition, context: StageContext) throws {
        self.definition = definition
        self.context = context
        rejects = RejectsFile(path: context.rejectsPath, stage: context.stage)
    }

    func run() async throws -> StageReport {
        let (output, type) = try context.singleRecordOutput(kind: "parse")
        guard type.format == .jsonl else {
            throw StageError("\(output.relative): parse writes JSON Lines; name the output .jsonl or .jsonl.gz")
        }
        let writer = try RecordWriter(path: output.absolute)
        let workers = max(1, min(ProcessInfo.processInfo.activeProcessorCount, 8))
        let definition = self.definition
        let shared = sharedExtractions()
        do {
            // Bounded memory: at most two batches per worker in flight or waiting.
            try await orderedConcurrentMap(window: workers * 2 + 1, deliver: { (batches: [ParsedBatch]) in try write(batches, writer) }) { submit in
                var batch: [PendingPage] = []
                var batchBytes = 0
                /// A page read (or listed by the WARC's page index) goes into the batch of the next task.
                func add(_ page: PendingPage, bytes: Int) async throws {
                    counts["pages_in", default: 0] += 1
                    if !definition.urlPatterns.isEmpty
                        && !definition.urlPatterns.contains(where: { fnmatch($0, page.url, 0) == 0 }) {
                        counts["pages_skipped", default: 0] += 1
                        return
                    }
                    batch.append(page)
                    batchBytes += bytes
                    guard batch.count >= definition.batchPages || batchBytes >= Self.batchBytes else { return }
                    let pages = batch
                    try await submit { try Self.parse(pages, definition, shared: shared) }
                    batch = []
                    batchBytes = 0
                }
                for input in context.inputs {
                    let root = Self.globRoot(input.input)
                    let pageIndex = shared.isEmpty ? nil : pageIndexPath(of: input)
                    for file in input.files {
                        // A fetch stage's outputs include its crawl log: only its pages are read.
                        if case .stage = input.input, !PageFiles.isWARC(file.relative), !PageFiles.isHTML(file.relative) { continue }
                        // Parse once: the crawl's index of its WARC lists the pages, whose fields it extracted.
                        if let pageIndex, PageFiles.isWARC(file.relative),
                           let index = WARCPageIndex.Reader(path: pageIndex, warc: file.relative, warcPath: file.absolute) {
                            while let item = try index.next() {
                                try Task.checkCancellation()
                                guard let url = item.url, let fetchedAt = item.fetchedAt, let sha256 = item.sha256,
                                      let bytes = item.bytes else {
                                    counts["pages_skipped", default: 0] += 1
                                    continue
                                }
                                let page = FetchedPage(url: url, fetchedAt: fetchedAt, bytes: [], contentType: item.contentType,
                                                       file: file.relative)
                                counts["pages_from_index", default: 0] += 1
                                try await add(.indexed(page, sha256: sha256, at: item, warc: file.absolute), bytes: bytes)
                            }
                            continue
                        }
                        let reader = try PageReader(path: file.absolute, displayPath: file.relative,
                                                    url: pageURL(for: file, root: root))
                        while let item = try reader.next() {
                            try Task.checkCancellation()
                            guard case .page(let page) = item else {
                                if case .skipped(_, let reason) = item, reason != .notAPage { counts["pages_skipped", default: 0] += 1 }
                                continue
                            }
                            try await add(.read(page), bytes: page.bytes.count)
                        }
                    }
                }
                if !batch.isEmpty {
                    let pages = batch
                    try await submit { try Self.parse(pages, definition, shared: shared) }
                }
            }
            try rejects.commit()
            let rejected = counts["rejected", default: 0]
            try RejectLimit.check(definition.maxRejects, key: "max_rejects", bad: rejected,
                                  of: counts["records_out", default: 0] + rejected, what: "pages or records rejected",
                                  rejects: rejected > 0 ? context.rejectsPath.relative : nil)
            try writer.commit()
        } catch {
            writer.abandon()
            rejects.abandon()
            throw error
        }
        if counts["rejected"]! > 0 {
            context.logger.warning("some pages or records were rejected", metadata: [
                "rejected": "\(counts["rejected"]!)", "rejects": "\(context.rejectsPath.relative)"])
        }
        counts["json_ld_warnings"] = warnings
        counts["values_nulled_on_error"] = nulledOnError.values.reduce(0, +)
        counts["values_defaulted_on_error"] = defaultedOnError.values.reduce(0, +)
        if nulledOnError.values.reduce(0, +) > 0 {
            context.logger.warning("some values did not convert and were written as null (on_error: null)", metadata: [
                "fields": "\(nulledOnError.sorted { $0.key < $1.key }.map { "\($0.key)=\($0.value)" }.joined(separator: " "))"])
        }
        // Per field, in declaration order: nulls written because a value did not convert or nothing was found.
        var nulls = JSONObject()
        for spec in definition.fields {
            let bad = nulledOnError[spec.name, default: 0], missing = nullNotFound[spec.name, default: 0]
            let defaulted = defaultedOnError[spec.name, default: 0]
            guard bad + missing + defaulted > 0 else { continue }
            nulls[spec.name] = .object(JSONObject([("not_converted", .int(Int64(bad))), ("not_found", .int(Int64(missing))),
                                                   ("defaulted", .int(Int64(defaulted)))]))
        }
        var details = JSONObject()
        if rejects.count > 0 { details["rejects"] = .string(context.rejectsPath.relative) }
        if !nulls.entries.isEmpty { details["null_fields"] = .object(nulls) }
        return StageReport(counts: counts, recordsPerOutput: [output.relative: writer.recordCount],
                           details: details.entries.isEmpty ? nil : .object(details))
    }

    /// A page to parse: read from its file, or listed by a crawl's index of its WARC (not read yet).
    enum PendingPage: Sendable {
        case read(FetchedPage)
        /// Its bytes are read from the WARC only if no crawl kept its extraction.
        case indexed(FetchedPage, sha256: String, at: WARCPageIndex.Item, warc: String)

        var url: String {
            switch self {
            case .read(let page), .indexed(let page, _, _, _): return page.url
            }
        }
    }

    /// Parses a task's pages, in order, taking the extractions kept for the indexed ones; a page the index
    /// lists without one is read from the WARC and parsed.
    static func parse(_ pending: [PendingPage], _ definition: ParseStage.Definition,
                      shared: [SharedExtractionIndex]) throws -> [ParsedBatch] {
        var out: [ParsedBatch] = []
        var toParse: [FetchedPage] = []
        // Consecutive pages with kept extractions, parsed in one call; a page is told apart by its URL, date
        // and content type (what a kept page's record is made of), so a second one alike starts a new run.
        var kept: [FetchedPage] = []
        var keptBy: [String: PageExtraction] = [:]
        func identity(_ page: FetchedPage) -> String { page.url + "\u{0}" + page.fetchedAt + "\u{0}" + (page.contentType ?? "\u{1}") }
        func flushParsed() {
            guard !toParse.isEmpty else { return }
            out.append(ParsedBatch.parse(toParse, definition, shared: shared))
            toParse = []
        }
        func flushKept() {
            guard !kept.isEmpty else { return }
            let made = keptBy
            out.append(ParsedBatch.parse(kept, fields: definition.fields, records: definition.records,
                                         maxPageBytes: definition.maxPageBytes, kept: { made[identity($0)] }))
            kept = []
            keptBy = [:]
        }
        for item in pending {
            switch item {
            case .read(let page):
                flushKept()
                toParse.append(page)
            case .indexed(let page, let sha256, let at, let warc):
                if let extraction = shared.lazy.compactMap({ $0.extraction(url: page.url, contentType: page.contentType, sha256: sha256) }).first {
                    flushParsed()
                    if keptBy[identity(page)] != nil { flushKept() }
                    keptBy[identity(page)] = extraction
                    kept.append(page)
                    continue
                }
                flushKept()
                let record = try WARCPageIndex.record(at: at, warcPath: warc)
                guard case .page(let url, let fetchedAt, let contentType, let body) = record.pageOutcome,
                      url == page.url, fetchedAt == page.fetchedAt, contentType == page.contentType, body.count == at.bytes else {
                    throw StageError("\(page.file): the page index of the crawl does not match the WARC at byte \(at.offset)")
                }
                toParse.append(FetchedPage(url: url, fetchedAt: fetchedAt, bytes: body, contentType: contentType, file: page.file))
            }
        }
        flushParsed()
        flushKept()
        return out
    }

    /// The page index a fetch stage this stage reads keeps for its WARC (nil for files).
    func pageIndexPath(of input: ResolvedInput) -> String? {
        guard case .stage(let name) = input.input else { return nil }
        let state = StageContext.stateFolder(lake: context.lake, pipeline: context.pipeline, stage: name)
        return SharedExtraction.pageIndexPath(fetchState: state)
    }

    /// The extractions the fetch stages this stage reads made for it while crawling (parse once).
    func sharedExtractions() -> [SharedExtractionIndex] {
        let key = definition.extractionKey
        return context.inputs.compactMap { input in
            guard case .stage(let name) = input.input else { return nil }
            let state = StageContext.stateFolder(lake: context.lake, pipeline: context.pipeline, stage: name)
            return SharedExtractionIndex(path: SharedExtraction.path(fetchState: state, extractionKey: key), extractionKey: key)
        }
    }

    func write(_ batches: [ParsedBatch], _ writer: RecordWriter) throws {
        for batch in batches { try write(batch, writer) }
    }

    func write(_ batch: ParsedBatch, _ writer: RecordWriter) throws {
        for record in batch.records { try writer.write(record) }
        for reject in batch.rejects { try rejects.add(reject) }
        counts["records_out", default: 0] += batch.records.count
        counts["rejected", default: 0] += batch.rejects.count
        for (key, value) in batch.counts { counts[key, default: 0] += value }
        for (field, n) in batch.nulledOnError { nulledOnError[field, default: 0] += n }
        for (field, n) in batch.defaultedOnError { defaultedOnError[field, default: 0] += n }
        for (field, n) in batch.nullNotFound { nullNotFound[field, default: 0] += n }
        for (url, warning) in batch.warnings {
            warnings += 1
            context.logger.debug("\(warning)", metadata: ["url": "\(url)"])
        }
        context.progress(counts["pages_parsed", default: 0] + counts["pages_rejected", default: 0])
    }

    /// For HTML files under `base_url`: the URL is the base plus the path below the glob's fixed folder.
    func pageURL(for file: LakePath, root: String?) -> String? {
        guard let base = definition.baseURL else { return nil }
        var relative = file.relative
        if let root, relative.hasPrefix(root + "/") { relative = String(relative.dropFirst(root.count + 1)) }
        else { relative = file.fileName }
        return URLResolver.resolve(relative, against: base.hasSuffix("/") ? base : base + "/")
    }

    /// The folder part of a glob before its first wildcard: `raw_data/site/**/*.html` → `raw_data/site`.
    static func globRoot(_ input: StageInput) -> String? {
        guard case .files(let pattern) = input else { return nil }
        var parts: [Substring] = []
        for part in pattern.split(separator: "/") {
            if part.contains(where: { "*?[".contains($0) }) { break }
            parts.append(part)
        }
        if parts.count == pattern.split(separator: "/").count { parts.removeLast() }  // a plain file: its folder
        return parts.isEmpty ? nil : parts.joined(separator: "/")
    }
}
