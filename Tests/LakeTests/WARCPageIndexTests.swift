import Foundation
import Testing
import TestSupport
@testable import Lake

/// The page index a crawl writes beside its WARC says, record for record, what reading the WARC gives.
struct WARCPageIndexTests {
    static let date = "2025-11-25T10:00:00Z"

    /// Records of every kind a page reader tells apart, some with blanks around their field values.
    static func records() -> [WARCRecord] {
        let page = Array("<html><head><title>t</title></head><body>café</body></html>".utf8)
        func response(_ status: String, _ headers: [(String, String)], _ body: [UInt8], url: String) -> WARCRecord {
            let message = HTTPMessage(startLine: "HTTP/1.1 \(status)", headers: headers + [("Content-Length", "\(body.count)")], body: body)
            return WARCRecord(type: .response, headers: [("WARC-Date", date), ("WARC-Target-URI", url),
                                                         ("Content-Type", "application/http; msgtype=response")], block: message.bytes)
        }
        return [
            WARCRecord(type: .request, headers: [("WARC-Date", date), ("WARC-Target-URI", "https://shop.example/a"),
                                                 ("Content-Type", "application/http; msgtype=request")],
                       block: Array("GET /a HTTP/1.1\r\nHost: shop.example\r\n\r\n".utf8)),
            response("301 Moved Permanently", [("Location", "/b")], [], url: "https://shop.example/a"),
            response("200 OK", [("Content-Type", "  text/html; charset=utf-8 ")], page, url: " https://shop.example/b"),
            response("200 OK", [("Content-Type", "image/png")], [0x89, 0x50], url: "https://shop.example/c.png"),
            response("200 OK", [], page, url: "<https://shop.example/d>"),
            response("200 OK", [("Content-Encoding", "br")], page, url: "https://shop.example/e"),
            WARCRecord(type: .resource, headers: [("WARC-Date", date), ("WARC-Target-URI", "file:///site/f.html"),
                                                  ("Content-Type", "text/html")], block: page),
            WARCRecord(type: .metadata, headers: [("WARC-Date", date), ("WARC-Target-URI", "https://shop.example/b"),
                                                  ("Content-Type", "application/warc-fields")], block: Array("via: scoup\r\n".utf8)),
        ]
    }

    @Test func eachItemIsWhatReadingTheWrittenRecordGives() throws {
        let tmp = try TemporaryDirectory()
        let path = tmp.path + "/pages.warc.gz"
        let warc = try WARCWriter(path: path, gzipLevel: 1)
        var items: [WARCPageIndex.Item?] = []
        for record in Self.records() {
            let start = warc.fileOffset
            try warc.write(record)
            items.append(WARCPageIndex.Item.of(record, offset: start, length: Int(warc.fileOffset - start)))
        }
        try warc.commit()
        let reader = try WARCReader(path: path)
        var pages = 0, skipped = 0
        for item in items {
            let read = try #require(try reader.next())
            switch read.pageOutcome {
            case .skipped(.notAPage):
                #expect(item == nil)
            case .skipped(let why):
                skipped += 1
                #expect(item?.skip == "\(why)" && item?.url == nil)
            case .page(let url, let fetchedAt, let contentType, let body):
                pages += 1
                let item = try #require(item)
                #expect(item.skip == nil && item.url == url && item.fetchedAt == fetchedAt && item.contentType == contentType)
                #expect(item.bytes == body.count && item.sha256 == { var h = SHA256(); h.update(body); return h.hexDigest() }())
                // The item points at the record's own gzip member.
                let again = try WARCPageIndex.record(at: item, warcPath: path)
                #expect(again == read)
            }
        }
        #expect(pages == 3 && skipped == 3)
    }

    @Test func anIndexIsTakenOnlyForTheBytesItWasWrittenFor() throws {
        let tmp = try TemporaryDirectory()
        let warcPath = tmp.path + "/pages.warc.gz", indexPath = tmp.path + "/pages-index.jsonl"
        let warc = try WARCWriter(path: warcPath, gzipLevel: 1)
        let index = try WARCPageIndex.Writer(path: indexPath)
        var written: [WARCPageIndex.Item] = []
        for record in Self.records() {
            let start = warc.fileOffset
            try warc.write(record)
            if let item = WARCPageIndex.Item.of(record, offset: 0, length: Int(warc.fileOffset - start)) {
                try index.add([item], base: start)
                var absolute = item
                absolute.offset = start
                written.append(absolute)
            }
        }
        try warc.commit()
        try index.commit(warc: "scraped_data/pages.warc.gz", warcPath: warcPath)

        let reader = try #require(WARCPageIndex.Reader(path: indexPath, warc: "scraped_data/pages.warc.gz", warcPath: warcPath))
        var read: [WARCPageIndex.Item] = []
        while let item = try reader.next() { read.append(item) }
        #expect(read == written)
        // Another file name, or other bytes under the same size: no index.
        #expect(WARCPageIndex.Reader(path: indexPath, warc: "scraped_data/other.warc.gz", warcPath: warcPath) == nil)
        var bytes = try FileInput.readAll(path: warcPath)
        bytes[bytes.count / 2] ^= 0xFF
        try AtomicFile.write(bytes, to: warcPath)
        #expect(WARCPageIndex.Reader(path: indexPath, warc: "scraped_data/pages.warc.gz", warcPath: warcPath) == nil)
    }

    @Test func anIndexMissingAPagesItemsIsNotPublished() throws {
        let tmp = try TemporaryDirectory()
        let warcPath = tmp.path + "/pages.warc.gz", indexPath = tmp.path + "/pages-index.jsonl"
        try AtomicFile.write(Array("stale\n".utf8), to: indexPath)
        let warc = try WARCWriter(path: warcPath)
        try warc.commit()
        let index = try WARCPageIndex.Writer(path: indexPath)
        try index.add([], base: 0)
        try index.add(nil, base: 0)  // a page journalled by an earlier version
        try index.commit(warc: "pages.warc.gz", warcPath: warcPath)
        #expect(!FileManager.default.fileExists(atPath: indexPath))
    }
}
