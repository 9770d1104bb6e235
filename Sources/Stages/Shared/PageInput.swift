import Foundation
import HTML
import Lake

/// Why a record of a page file was not handed on as a page.
public enum PageSkip: Sendable, Equatable {
    /// Not a page record: warcinfo, request, metadata, revisit.
    case notAPage
    /// An HTTP status other than 2xx.
    case status(Int)
    /// Not HTML (images, JSON, PDFs).
    case contentType(String)
    /// The body could not be decoded (unknown Content-Encoding…).
    case undecodable(String)
}

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
        guard let url = record.targetURI else { return .failure(Skip(reason: .notAPage)) }
        let fetchedAt = record.date ?? ""
        switch record.type {
        case .response?:
            guard let http = record.httpMessage() else {
                return .failure(Skip(reason: .undecodable("the response block is not an HTTP message")))
            }
            if let status = http.statusCode, !(200..<300).contains(status) { return .failure(Skip(reason: .status(status))) }
            let contentType = http.headers["Content-Type"]
            if let contentType, !isHTMLType(contentType) { return .failure(Skip(reason: .contentType(contentType))) }
            do {
                return .success(FetchedPage(url: url, fetchedAt: fetchedAt, bytes: try http.decodedBody(),
                                            contentType: contentType, file: file))
            } catch {
                return .failure(Skip(reason: .undecodable("\(error)")))
            }
        case .resource?:
            let contentType = record.contentType
            if let contentType, !isHTMLType(contentType) { return .failure(Skip(reason: .contentType(contentType))) }
            return .success(FetchedPage(url: url, fetchedAt: fetchedAt, bytes: record.block, contentType: contentType, file: file))
        default:
            return .failure(Skip(reason: .notAPage))
        }
    }

    static func isHTMLType(_ contentType: String) -> Bool {
        contentType.lowercased().contains("html")
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

extension PageSkip: CustomStringConvertible {
    public var description: String {
        switch self {
        case .notAPage: return "not a page record"
        case .status(let s): return "HTTP status \(s)"
        case .contentType(let t): return "not HTML (\(t))"
        case .undecodable(let why): return "cannot decode the body: \(why)"
        }
    }
}

/// An input file the parse stage cannot read.
public struct StageInputError: Error, CustomStringConvertible, Sendable {
    public var reason: String
    public var path: String
    public var description: String { "\(path): \(reason)" }
}
