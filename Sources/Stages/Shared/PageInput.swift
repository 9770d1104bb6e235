import Foundation
import HTML
import Lake

/// Reads pages from WARC files (the `response` and `resource` records) or from HTML files.
public enum PageFiles {
    /// Whether a file name is one this reader takes.
    public static func isWARC(_ path: String) -> Bool {
        let name = path.lowercased()
        return name.hasSuffix(".warc") || name.hasSuffix(".warc.gz")
    }

    public static func isHTML(_ path: String) -> Bool {
        let name = path.lowercased()
        return name.hasSuffix(".html") || name.hasSuffix(".htm") || name.hasSuffix(".html.gz") || name.hasSuffix(".xhtml")
    }

    /// Calls `page` for each page in `path` and `skipped` for each record passed over.
    /// - Parameters:
    ///   - displayPath: the path in messages and in `FetchedPage.file`.
    ///   - url: for HTML files, the page URL (nil gives a `file://` URL of the absolute path).
    public static func read(path: String, displayPath: String, url: String? = nil,
                            page: (FetchedPage) throws -> Void,
                            skipped: (String?, PageSkip) throws -> Void = { _, _ in }) throws {
        let reader = try PageReader(path: path, displayPath: displayPath, url: url)
        while let item = try reader.next() {
            switch item {
            case .page(let p): try page(p)
            case .skipped(let url, let reason): try skipped(url, reason)
            }
        }
    }

    static func htmlFile(path: String, displayPath: String, url: String?) throws -> FetchedPage {
        var bytes = try FileInput.readAll(path: path)
        if path.lowercased().hasSuffix(".gz") {
            bytes = try HTTPMessage(startLine: "", headers: [("Content-Encoding", "gzip")], body: bytes).decodedBody()
        }
        let attributes = try? FileManager.default.attributesOfItem(atPath: path)
        let modified = (attributes?[.modificationDate] as? Date) ?? Date(timeIntervalSince1970: 0)
        let absolute = path.hasPrefix("/") ? path : FileManager.default.currentDirectoryPath + "/" + path
        return FetchedPage(url: url ?? URLResolver.encode("file://" + absolute), fetchedAt: WARCRecord.formatDate(modified),
                           bytes: bytes, contentType: nil, file: displayPath)
    }

    struct Skip: Error { var reason: PageSkip }

    /// The page in a WARC record, or why there is none.
    public static func page(of record: WARCRecord, file: String) -> Result<FetchedPage, PageSkipError> {
        pageOf(record, file: file).mapError { PageSkipError(reason: $0.reason) }
    }

    static func pageOf(_ record: WARCRecord, file: String) -> Result<FetchedPage, Skip> {
        switch record.pageOutcome {
        case .page(let url, let fetchedAt, let contentType, let body):
            return .success(FetchedPage(url: url, fetchedAt: fetchedAt, bytes: body, contentType: contentType, file: file))
        case .skipped(let why):
            return .failure(Skip(reason: why))
        }
    }
}

/// Pages of one file, one at a time: a WARC is streamed record by record.
public final class PageReader {
    public enum Item: Sendable {
        case page(FetchedPage)
        /// A record passed over (its target URI, and why).
        case skipped(String?, PageSkip)
    }

    private let warc: WARCReader?
    private var single: FetchedPage?
    private let displayPath: String

    /// - Parameter url: for an HTML file, its page URL (nil gives a `file://` URL).
    public init(path: String, displayPath: String, url: String? = nil) throws {
        self.displayPath = displayPath
        if PageFiles.isWARC(path) {
            warc = try WARCReader(path: path)
        } else if PageFiles.isHTML(path) {
            warc = nil
            single = try PageFiles.htmlFile(path: path, displayPath: displayPath, url: url)
        } else {
            throw StageInputError(reason: "expected WARC files (.warc.gz) or HTML files (.html)", path: displayPath)
        }
    }

    /// The next page or skipped record; nil at the end of the file.
    public func next() throws -> Item? {
        guard let warc else {
            defer { single = nil }
            return single.map(Item.page)
        }
        guard let record = try warc.next() else { return nil }
        switch PageFiles.pageOf(record, file: displayPath) {
        case .success(let page): return .page(page)
        case .failure(let skip): return .skipped(record.targetURI, skip.reason)
        }
    }
}

/// A record that holds no usable page, as an error value.
public struct PageSkipError: Error, Sendable {
    public var reason: PageSkip
}

/// An input file the parse stage cannot read.
public struct StageInputError: Error, CustomStringConvertible, Sendable {
    public var reason: String
    public var path: String
    public var description: String { "\(path): \(reason)" }
}
