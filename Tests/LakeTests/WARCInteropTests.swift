import Foundation
import TestSupport
import Testing
@testable import Lake

/// Our WARC files, checked by another implementation: Python's warcio (TestSupport's `WARCio`).
/// Without it these tests are reported as skipped, with the reason, except where AGENTSHOP_REQUIRE_WARCIO=1
/// (scripts/test.sh, CI) makes them run and fail; they never pass without checking.
@Suite struct WARCInteropTests {
    static let skipReason = Comment(rawValue: WARCio.skipReason)
    static func run(_ arguments: [String]) throws -> (status: Int32, output: String) { try WARCio.check(arguments) }

    @Test(.enabled(if: WARCio.enabled, skipReason))
    func warcioReadsEveryKindOfRecordWeWrite() throws {
        let folder = try TemporaryDirectory()
        let path = folder.file("pages.warc.gz")
        let writer = try WARCWriter(path: path)
        try writer.writeWarcinfo(fields: [("software", "agentshop test"), ("format", "WARC File Format 1.1")])
        let page = Array("<html><body><h1>Café Kettle</h1></body></html>".utf8)
        let request = try writer.writeRequest(targetURI: "https://shop.example/p/1", headers: [("Host", "shop.example")])
        let response = try writer.writeResponse(targetURI: "https://shop.example/p/1", statusLine: "HTTP/1.1 200 OK",
                                                headers: [("Content-Type", "text/html; charset=utf-8"),
                                                          ("Content-Length", "\(page.count)")],
                                                body: page, ipAddress: "127.0.0.1", concurrentTo: request)
        try writer.writeMetadata(targetURI: "https://shop.example/p/1", refersTo: response,
                                 fields: [("fetchTimeMs", "12"), ("outlink", "https://shop.example/p/2")])
        // A body stored as it came on the wire, gzip content coding and all: the payload digest covers those bytes.
        let sink = ArraySink()
        let gzip = try GzipWriter(sink)
        try page.withUnsafeBytes { try gzip.write($0) }
        try gzip.finish()
        let gzipped = sink.bytes
        try writer.writeResponse(targetURI: "https://shop.example/p/2", statusLine: "HTTP/1.1 200 OK",
                                 headers: [("Content-Type", "text/html"), ("Content-Encoding", "gzip"),
                                           ("Content-Length", "\(gzipped.count)")], body: gzipped)
        let binary = (0..<4096).map { UInt8(truncatingIfNeeded: $0 &* 31 &+ 7) }
        try writer.writeResponse(targetURI: "https://shop.example/img/1.png", statusLine: "HTTP/1.1 200 OK",
                                 headers: [("Content-Type", "image/png")], body: binary)
        try writer.writeResponse(targetURI: "https://shop.example/gone", statusLine: "HTTP/1.1 404 Not Found",
                                 headers: [("Content-Length", "0")], body: [])
        try writer.writeResource(targetURI: "file:///site/a.html", contentType: "text/html", content: page)
        try writer.commit()

        let result = try Self.run([path])
        #expect(result.status == 0, "\(result.output)")
        #expect(result.output.contains("ok   \(path) (1 metadata, 1 request, 1 resource, 4 response, 1 warcinfo;"))
        #expect(result.output.hasSuffix("1 passed, 0 failed\n"))
    }

    /// The check can fail: a wrong payload digest, and bytes cut from the end of a file, are both reported.
    @Test(.enabled(if: WARCio.enabled, skipReason))
    func warcioCheckCatchesABadDigestAndATruncatedFile() throws {
        let folder = try TemporaryDirectory()
        let page = Array("<html><body>Kettle</body></html>".utf8)
        let message = HTTPMessage(startLine: "HTTP/1.1 200 OK", headers: [("Content-Type", "text/html")], body: page)
        let badPath = folder.file("bad.warc.gz")
        let bad = try WARCWriter(path: badPath)
        try bad.write(WARCRecord(type: .response, headers: [
            ("WARC-Target-URI", "https://shop.example/p/1"), ("Content-Type", "application/http; msgtype=response"),
            ("WARC-Payload-Digest", WARCRecord.sha1Digest(Array("something else".utf8))),
        ], block: message.bytes))
        try bad.commit()

        let goodPath = folder.file("good.warc.gz")
        let good = try WARCWriter(path: goodPath)
        for i in 0..<20 {
            try good.writeResponse(targetURI: "https://shop.example/p/\(i)", statusLine: "HTTP/1.1 200 OK",
                                   headers: [("Content-Type", "text/html")], body: page)
        }
        try good.commit()
        let bytes = try FileInput.readAll(path: goodPath)
        let cutPath = try folder.write("cut.warc.gz", Array(bytes.dropLast(40)))

        let result = try Self.run([badPath, goodPath, cutPath])
        #expect(result.status == 1, "\(result.output)")
        #expect(result.output.contains("FAIL \(badPath)"))
        #expect(result.output.contains("WARC-Payload-Digest \(WARCRecord.sha1Digest(Array("something else".utf8))), computed \(WARCRecord.sha1Digest(page))"))
        #expect(result.output.contains("ok   \(goodPath) (20 response;"))
        #expect(result.output.contains("FAIL \(cutPath)"))
        #expect(result.output.hasSuffix("1 passed, 2 failed\n"))
    }
}
