import Foundation
import HTML
import Lake

/// Parse once: a fetch stage extracts the fields of the parse stages that read it from the tree it
/// already parsed for links, as pages arrive, and keeps them in its state folder; those parse stages
/// take them instead of parsing the pages again.
///
/// An extraction is a function of the page (its bytes, URL and content type), the parse stage's
/// fields and this code, so each is kept under a key derived from exactly those: a parse stage only
/// ever takes one that it would have computed itself, and parses every page it finds none for (a
/// page fetched before its fields changed, a run of the parse stage alone). Its records, rejects and
/// counts are therefore the same, byte for byte and in the same order, with or without sharing.
///
/// `<fetch state>/extracted/<extraction key>.jsonl`, JSON Lines, one per page:
/// `{"page":"<64-hex page key>","extraction":{…}}`, the key first at a fixed place so the parse
/// stage indexes the file without parsing it. Written afresh by every run of the fetch stage (under a
/// temporary name, published when the crawl is), so it holds the pages of its last crawl.
///
/// Beside them, `<fetch state>/pages-index.jsonl` (`WARCPageIndex`) lists the pages of the WARC the crawl
/// wrote, each with its SHA-256, in file order: the parse stage reads that instead of gunzipping the WARC
/// when it describes the WARC's exact bytes, and reads a page's record only when no extraction was kept
/// for it. The page key is made from the page's SHA-256, so a page known from the index needs no reading.
enum SharedExtraction {
    static let folderName = "extracted"
    /// A line's opening up to the page key, and from the key to the extraction.
    static let lineStart = Array(#"{"page":""#.utf8), keyEnd = Array(#"","extraction":"#.utf8)
    static let keyLength = 64

    /// The file a fetch stage whose state is in `fetchState` writes for a parse stage's `extractionKey`.
    static func path(fetchState: String, extractionKey: String) -> String {
        fetchState + "/" + folderName + "/" + extractionKey + ".jsonl"
    }

    /// Where a fetch stage whose state is in `fetchState` keeps the index of its WARC's pages (`WARCPageIndex`).
    static func pageIndexPath(fetchState: String) -> String { fetchState + "/pages-index.jsonl" }

    /// The key of one page's extraction under a parse stage's `extractionKey`, from the page's URL, content
    /// type and SHA-256 (hex), so that a page known by its digest (the WARC's page index) needs no reading.
    static func pageKey(extractionKey: String, url: String, contentType: String?, sha256: String) -> String {
        SHA256.hex(of: "parse-once/2\n\(extractionKey)\n\(url)\n" + (contentType.map { "=" + $0 } ?? "none") + "\n" + sha256)
    }

    static func sha256(_ body: [UInt8]) -> String {
        var hasher = SHA256()
        body.withUnsafeBytes { hasher.update($0) }
        return hasher.hexDigest()
    }

    static func encode(_ extraction: PageExtraction) -> JSONValue {
        func counts(_ map: [String: Int]) -> JSONValue {
            .object(JSONObject(map.sorted { $0.key < $1.key }.map { ($0.key, .int(Int64($0.value))) }))
        }
        return .object(JSONObject([
            ("records", .array(extraction.records.map(JSONValue.object))),
            ("failures", .array(extraction.failures.map(JSONValue.string))),
            ("warnings", .array(extraction.warnings.map(JSONValue.string))),
            ("nulled_on_error", counts(extraction.nulledOnError)),
            ("defaulted_on_error", counts(extraction.defaultedOnError)),
            ("null_not_found", counts(extraction.nullNotFound)),
        ]))
    }

    /// Nil for anything `encode` did not write (a torn line): the page is then parsed.
    static func decode(_ value: JSONValue) -> PageExtraction? {
        guard let object = value.objectValue,
              let records = object["records"]?.arrayValue, let failures = object["failures"]?.arrayValue,
              let warnings = object["warnings"]?.arrayValue else { return nil }
        func counts(_ key: String) -> [String: Int]? {
            guard let map = object[key]?.objectValue else { return nil }
            var out: [String: Int] = [:]
            for entry in map {
                guard case .int(let n) = entry.value else { return nil }
                out[entry.key] = Int(n)
            }
            return out
        }
        var extraction = PageExtraction()
        for record in records {
            guard let fields = record.objectValue else { return nil }
            extraction.records.append(fields)
        }
        for failure in failures {
            guard let text = failure.stringValue else { return nil }
            extraction.failures.append(text)
        }
        for warning in warnings {
            guard let text = warning.stringValue else { return nil }
            extraction.warnings.append(text)
        }
        guard let nulled = counts("nulled_on_error"), let defaulted = counts("defaulted_on_error"),
              let notFound = counts("null_not_found") else { return nil }
        extraction.nulledOnError = nulled
        extraction.defaultedOnError = defaulted
        extraction.nullNotFound = notFound
        return extraction
    }
}

/// The fetch stage's side: extracts a parse stage's fields from each page's tree and appends them
/// to the file that stage will read. Called from the crawl's workers at once; the file is published
/// by `commit()` once the crawl is.
final class SharedExtractionWriter: @unchecked Sendable {
    let definition: ParseStage.Definition
    /// `definition.extractionKey`, worked out once: it describes every field (a few hundred microseconds),
    /// and each page's key starts from it.
    let extractionKey: String
    private let file: AtomicFile
    private let lock = NSLock()
    /// Compiled extractors, one per worker at a time (libxml2's compiled XPath is not shared).
    private var idle: [PageExtractor] = []
    private var failed: Error?

    init(definition: ParseStage.Definition, fetchState: String) throws {
        self.definition = definition
        extractionKey = definition.extractionKey
        file = try AtomicFile(path: SharedExtraction.path(fetchState: fetchState, extractionKey: extractionKey))
    }

    /// Extracts the fields from `document`, the tree of `page` as fetched from `url`, unless the parse
    /// stage would not parse it (its `url:` patterns, its `max_page_bytes`).
    func add(_ document: HTMLDocument, page: [UInt8], url: String, contentType: String?, sha256: String? = nil) {
        guard page.count <= definition.maxPageBytes else { return }
        if !definition.urlPatterns.isEmpty && !definition.urlPatterns.contains(where: { fnmatch($0, url, 0) == 0 }) { return }
        guard let extractor = lock.withLock({ idle.popLast() })
                ?? (try? PageExtractor(fields: definition.fields, records: definition.records)) else { return }
        let extraction = extractor.extract(document)
        lock.withLock { idle.append(extractor) }
        var line = SharedExtraction.lineStart
        line.append(contentsOf: SharedExtraction.pageKey(extractionKey: extractionKey, url: url, contentType: contentType,
                                                         sha256: sha256 ?? SharedExtraction.sha256(page)).utf8)
        line.append(contentsOf: SharedExtraction.keyEnd)
        line.append(contentsOf: SharedExtraction.encode(extraction).serialized().utf8)
        line.append(contentsOf: Array("}\n".utf8))
        lock.withLock {
            guard failed == nil else { return }
            do { try file.output.write(line) } catch { failed = error }
        }
    }

    /// Publishes the file (a write that failed leaves none: the parse stage then parses every page).
    func commit() throws {
        if failed != nil { file.abandon(); return }
        try file.commit()
    }

    func abandon() { file.abandon() }

    /// Removes the files of parse stages that no longer read this fetch stage (or no longer have these fields).
    static func removeOthers(in fetchState: String, keeping keys: Set<String>) {
        let folder = fetchState + "/" + SharedExtraction.folderName
        for name in (try? FileManager.default.contentsOfDirectory(atPath: folder)) ?? []
        where name.hasSuffix(".jsonl") && !keys.contains(String(name.dropLast(".jsonl".count))) {
            try? FileManager.default.removeItem(atPath: folder + "/" + name)
        }
    }
}

/// The parse stage's side: the extractions a fetch stage left for this parse stage, by page key.
final class SharedExtractionIndex: @unchecked Sendable {
    private let file: AppendOnlyFile
    private let extractionKey: String
    /// Page key → where its extraction's JSON is in the file.
    private let index: [String: (offset: Int64, length: Int)]

    /// Nil when there is no such file (the fetch stage did not run with this parse stage's fields).
    init?(path: String, extractionKey: String) {
        guard FileManager.default.fileExists(atPath: path), let input = try? FileInput(path: path),
              let file = try? AppendOnlyFile(path: path, opening: .existing) else { return nil }
        let lines = LineReader(input)
        var index: [String: (offset: Int64, length: Int)] = [:]
        var offset: Int64 = 0
        do {
            let start = SharedExtraction.lineStart, end = SharedExtraction.keyEnd
            let keyAt = start.count, valueAt = start.count + SharedExtraction.keyLength + end.count
            while let length = try lines.withNextLine({ line -> Int in
                // `{"page":"<key>","extraction":` … `}`: anything else (a torn line) is left out.
                if line.count > valueAt + 1, line.starts(with: start), line[line.count - 1] == UInt8(ascii: "}"),
                   line[(keyAt + SharedExtraction.keyLength)...].starts(with: end) {
                    let key = String(decoding: UnsafeRawBufferPointer(rebasing: line[keyAt..<(keyAt + SharedExtraction.keyLength)]), as: UTF8.self)
                    index[key] = (offset + Int64(valueAt), line.count - valueAt - 1)
                }
                return line.count
            }) {
                offset += Int64(length) + 1
            }
        } catch {
            return nil
        }
        self.file = file
        self.extractionKey = extractionKey
        self.index = index
    }

    var count: Int { index.count }

    /// The extraction kept for `page`, or nil (it is then parsed).
    func extraction(of page: FetchedPage) -> PageExtraction? {
        extraction(url: page.url, contentType: page.contentType, sha256: SharedExtraction.sha256(page.bytes))
    }

    /// The extraction kept for the page of this URL, content type and SHA-256, or nil.
    func extraction(url: String, contentType: String?, sha256: String) -> PageExtraction? {
        let key = SharedExtraction.pageKey(extractionKey: extractionKey, url: url, contentType: contentType, sha256: sha256)
        guard let (offset, length) = index[key] else { return nil }
        var bytes: [UInt8] = []
        guard (try? file.read(offset: offset, count: length, into: &bytes)) != nil,
              let value = try? bytes.withUnsafeBytes({ raw throws(JSONParseError) in try JSONValue.parse(bytes: raw) })
        else { return nil }
        return SharedExtraction.decode(value)
    }
}
