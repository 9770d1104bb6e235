import Lake

/// A page as fetched: where it came from, when, and its bytes as served.
public struct FetchedPage: Sendable {
    public var url: String
    /// ISO 8601 UTC: the WARC-Date of the response, or the file's modification time.
    public var fetchedAt: String
    public var bytes: [UInt8]
    /// The HTTP Content-Type, when the page came with one.
    public var contentType: String?
    /// The file the page was read from (lake-relative where possible).
    public var file: String

    public init(url: String, fetchedAt: String, bytes: [UInt8], contentType: String?, file: String) {
        self.url = url
        self.fetchedAt = fetchedAt
        self.bytes = bytes
        self.contentType = contentType
        self.file = file
    }
}

/// What parsing a batch of pages gives: records and rejects in page order, and counts.
public struct ParsedBatch: Sendable {
    public var records: [JSONObject] = []
    public var rejects: [RejectedPage] = []
    public var counts: [String: Int] = [:]
    /// `(url, message)` for the log.
    public var warnings: [(String, String)] = []
    /// Per field: values set to null or to the default because they did not convert, and nulls for nothing found.
    public var nulledOnError: [String: Int] = [:]
    public var defaultedOnError: [String: Int] = [:]
    public var nullNotFound: [String: Int] = [:]

    public init() {}

    /// Parses pages on the calling task: each page's records carry its `url` and `fetched_at`, then
    /// the `fields` (one record per page, or one per element `records` selects). The extractor is made here, per batch, because libxml2's
    /// compiled XPath belongs to one task at a time; compiling a dozen expressions is cheap next to a batch.
    ///
    /// A page whose extraction was already made from its tree (`kept`: a fetch stage's, parse once) is not parsed again.
    public static func parse(_ pages: [FetchedPage], fields: [FieldSpec], records: FieldSource?,
                             maxPageBytes: Int = HTMLDocument.defaultMaxBytes,
                             kept: (FetchedPage) -> PageExtraction? = { _ in nil }) -> ParsedBatch {
        var out = ParsedBatch()
        var compiled: PageExtractor?
        func extractor() -> PageExtractor {
            if let compiled { return compiled }
            do {
                let made = try PageExtractor(fields: fields, records: records)
                compiled = made
                return made
            } catch {
                // Configuration compiled when the pipeline was validated; failing now is our bug.
                fatalError("parse stage fields no longer compile: \(error)")
            }
        }
        func reject(_ page: FetchedPage, _ reason: String) {
            out.rejects.append(RejectedPage(url: page.url, file: page.file, fetchedAt: page.fetchedAt, reason: reason))
        }
        for page in pages {
            let extraction: PageExtraction
            if let made = kept(page) {
                extraction = made
                out.counts["pages_from_crawl", default: 0] += 1
            } else {
                let document: HTMLDocument
                do {
                    document = try HTMLDocument(bytes: page.bytes, url: page.url, contentType: page.contentType,
                                                maxBytes: maxPageBytes)
                } catch {
                    reject(page, "\(error)")
                    out.counts["pages_rejected", default: 0] += 1
                    continue
                }
                extraction = extractor().extract(document)
            }
            out.counts["pages_parsed", default: 0] += 1
            out.warnings += extraction.warnings.map { (page.url, $0) }
            for failure in extraction.failures { reject(page, failure) }
            for (field, n) in extraction.nulledOnError { out.nulledOnError[field, default: 0] += n }
            for (field, n) in extraction.defaultedOnError { out.defaultedOnError[field, default: 0] += n }
            for (field, n) in extraction.nullNotFound { out.nullNotFound[field, default: 0] += n }
            if records == nil && !extraction.failures.isEmpty { out.counts["pages_rejected", default: 0] += 1 }
            for fields in extraction.records {
                var record = JSONObject([("url", .string(page.url)), ("fetched_at", .string(page.fetchedAt))])
                for entry in fields { record[entry.key] = entry.value }
                out.records.append(record)
            }
        }
        return out
    }
}
