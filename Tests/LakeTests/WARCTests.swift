import Foundation
import Testing
import TestSupport
@testable import Lake

func gunzip(_ bytes: [UInt8]) throws -> [UInt8] {
    let reader = try GzipReader(MemoryInput(bytes))
    var out: [UInt8] = []
    var chunk = [UInt8](repeating: 0, count: 65536)
    while true {
        let n = try chunk.withUnsafeMutableBytes { try reader.read(into: $0) }
        if n == 0 { return out }
        out.append(contentsOf: chunk[0..<n])
    }
}

func isMalformed(_ error: any Error) -> Bool { (error as? LakeError)?.code == .malformedRecord }

struct DigestTests {
    @Test(arguments: [
        ("", "da39a3ee5e6b4b0d3255bfef95601890afd80709"),
        ("abc", "a9993e364706816aba3e25717850c26c9cd0d89d"),
        ("abcdbcdecdefdefgefghfghighijhijkijkljklmklmnlmnomnopnopq", "84983e441c3bd26ebaae4aa1f95129e5e54670f1"),
        (String(repeating: "a", count: 1000), "291e9a6c66994949b57ba5e650361e98fc36b1ba"),
    ])
    func sha1MatchesFIPSVectors(input: String, hex: String) {
        var hasher = SHA1()
        // Feed in uneven pieces to exercise the buffering.
        let bytes = Array(input.utf8)
        var i = 0
        while i < bytes.count { let n = min(7 + i % 13, bytes.count - i); hasher.update(Array(bytes[i..<(i + n)])); i += n }
        #expect(SHA256.hex(hasher.finalize()) == hex)
    }

    @Test func sha1OfAMillionA() {
        var hasher = SHA1()
        hasher.update([UInt8](repeating: UInt8(ascii: "a"), count: 1_000_000))
        #expect(SHA256.hex(hasher.finalize()) == "34aa973cd4c4daa4f61eeb2bdbad27316534016f")
    }

    @Test(arguments: [("", ""), ("f", "MY======"), ("fo", "MZXQ===="), ("foo", "MZXW6==="), ("foob", "MZXW6YQ="),
                      ("fooba", "MZXW6YTB"), ("foobar", "MZXW6YTBOI======")])
    func base32MatchesRFC4648(input: String, encoded: String) {
        #expect(Base32.encode(Array(input.utf8)) == encoded)
    }

    @Test func warcDigestIsSHA1Base32() {
        #expect(WARCRecord.sha1Digest(Array("abc".utf8)) == "sha1:VGMT4NSHA2AWVOR6EVYXQUGCNSONBWE5")
    }
}

struct WARCTests {
    static let date = Date(timeIntervalSince1970: 1_764_064_800)  // 2025-11-25T10:00:00Z

    @Test func roundTripsEveryRecordKind() throws {
        let tmp = try TemporaryDirectory()
        let folder = tmp.path
        let path = folder + "/pages.warc.gz"
        let writer = try WARCWriter(path: path)
        let info = try writer.writeWarcinfo(fields: [("software", "agentshop test"), ("format", "WARC File Format 1.1")], date: Self.date)
        let body = Array("<html><body><h1>Kettle</h1></body></html>".utf8)
        let request = try writer.writeRequest(targetURI: "https://shop.example/p/1?x=1#frag", date: Self.date,
                                              headers: [("Host", "shop.example"), ("User-Agent", "agentshop")])
        let response = try writer.writeResponse(targetURI: "https://shop.example/p/1?x=1#frag", date: Self.date,
                                                statusLine: "HTTP/1.1 200 OK",
                                                headers: [("Content-Type", "text/html; charset=utf-8"),
                                                          ("Content-Length", "\(body.count)")],
                                                body: body, ipAddress: "127.0.0.1", concurrentTo: request)
        try writer.writeMetadata(targetURI: "https://shop.example/p/1?x=1#frag", date: Self.date, refersTo: response,
                                 fields: [("fetchTimeMs", "12"), ("outlink", "https://shop.example/p/2")])
        try writer.writeResource(targetURI: "file:///site/a.html", date: Self.date, contentType: "text/html", content: body)
        #expect(!FileManager.default.fileExists(atPath: path), "nothing under the final name before commit")
        try writer.commit()
        #expect(writer.recordCount == 5)
        // For checking with other tools by hand: AGENTSHOP_KEEP_WARC=/tmp/x.warc.gz, then `warcio check -v /tmp/x.warc.gz`.
        if let keep = ProcessInfo.processInfo.environment["AGENTSHOP_KEEP_WARC"] {
            try? FileManager.default.removeItem(atPath: keep)
            try FileManager.default.copyItem(atPath: path, toPath: keep)
        }

        let reader = try WARCReader(path: path)
        var records: [WARCRecord] = []
        while let record = try reader.next() { records.append(record) }
        #expect(records.map(\.type) == [.warcinfo, .request, .response, .metadata, .resource])
        #expect(records.map(\.recordID) == [info, request, response, records[3].recordID, records[4].recordID])
        #expect(Set(records.compactMap(\.recordID)).count == 5)
        for record in records {
            #expect(record.recordID?.hasPrefix("<urn:uuid:") == true)
            #expect(record.date == "2025-11-25T10:00:00Z")
            #expect(record.headers["Content-Length"] == String(record.block.count))
            #expect(record.headers["WARC-Block-Digest"] == WARCRecord.sha1Digest(record.block))
            if record.type != .warcinfo { #expect(record.headers["WARC-Warcinfo-ID"] == info) }
        }
        #expect(records[0].headers["WARC-Filename"] == "pages.warc.gz")
        #expect(String(decoding: records[0].block, as: UTF8.self) == "software: agentshop test\r\nformat: WARC File Format 1.1\r\n")
        #expect(String(decoding: records[1].block, as: UTF8.self).hasPrefix("GET /p/1?x=1 HTTP/1.1\r\nHost: shop.example\r\n"))
        let http = try #require(records[2].httpMessage())
        #expect(http.statusCode == 200)
        #expect(http.headers["content-type"] == "text/html; charset=utf-8")
        #expect(http.body == body)
        #expect(records[2].headers["WARC-Payload-Digest"] == WARCRecord.sha1Digest(body))
        #expect(records[2].headers["WARC-Concurrent-To"] == request)
        #expect(records[2].headers["WARC-IP-Address"] == "127.0.0.1")
        #expect(records[2].targetURI == "https://shop.example/p/1?x=1#frag")
        #expect(records[3].headers["WARC-Refers-To"] == response)
        #expect(records[4].headers["WARC-Payload-Digest"] == WARCRecord.sha1Digest(body))
        #expect(records[4].block == body)
    }

    @Test func writesOneGzipMemberPerRecord() throws {
        let sink = MemorySink()
        let writer = try WARCWriter(sink: sink)
        var ends: [Int] = []
        for i in 0..<3 {
            try writer.writeResource(targetURI: "https://x.org/\(i)", date: Self.date, contentType: "text/plain",
                                     content: Array(String(repeating: "record \(i) ", count: 100).utf8))
            ends.append(sink.bytes.count)
        }
        try writer.commit()
        var start = 0
        for (i, end) in ends.enumerated() {
            // Each member decompresses on its own to exactly one record: readers can seek to offsets.
            let text = String(decoding: try gunzip(Array(sink.bytes[start..<end])), as: UTF8.self)
            #expect(text.hasPrefix("WARC/1.1\r\nWARC-Type: resource\r\n"))
            #expect(text.hasSuffix("\r\n\r\n"))
            #expect(text.components(separatedBy: "WARC/1.1\r\n").count == 2)
            #expect(text.contains("WARC-Target-URI: https://x.org/\(i)\r\n"))
            start = end
        }
    }

    @Test func readsUncompressedAndLFOnlyFiles() throws {
        let tmp = try TemporaryDirectory()
        let folder = tmp.path
        let path = folder + "/plain.warc"
        let text = "WARC/1.0\nWARC-Type: resource\nWARC-Target-URI: http://a/\nContent-Length: 5\n\nhello\n\n\n"
            + "WARC/1.1\r\nWARC-Type: metadata\r\nContent-Length: 0\r\n\r\n\r\n\r\n"
        try AtomicFile.write(text, to: path)
        let reader = try WARCReader(path: path)
        let first = try #require(try reader.next())
        #expect(first.block == Array("hello".utf8))
        #expect(first.targetURI == "http://a/")
        let second = try #require(try reader.next())
        #expect(second.type == .metadata && second.block.isEmpty)
        #expect(try reader.next() == nil)
    }

    @Test func refusesTruncatedRecords() throws {
        let tmp = try TemporaryDirectory()
        let folder = tmp.path
        let path = folder + "/cut.warc"
        try AtomicFile.write("WARC/1.1\r\nWARC-Type: resource\r\nContent-Length: 100\r\n\r\nshort", to: path)
        let reader = try WARCReader(path: path)
        #expect(performing: { try reader.next() }, throws: isMalformed)
        try AtomicFile.write("GET / HTTP/1.1\r\n\r\n", to: path)
        #expect(performing: { try WARCReader(path: path).next() }, throws: isMalformed)
    }

    @Test func decodesChunkedAndGzippedBodies() throws {
        let html = Array("<p>compressed</p>".utf8)
        let sink = MemorySink()
        let gzip = try GzipWriter(sink)
        try gzip.write(html)
        try gzip.finish()
        var chunked: [UInt8] = []
        let half = sink.bytes.count / 2
        for piece in [Array(sink.bytes[..<half]), Array(sink.bytes[half...])] {
            chunked += Array((String(piece.count, radix: 16) + ";ext=1\r\n").utf8) + piece + Array("\r\n".utf8)
        }
        chunked += Array("0\r\n\r\n".utf8)
        let raw = Array("HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\nContent-Encoding: gzip\r\n\r\n".utf8) + chunked
        let message = try #require(HTTPMessage.parse(raw))
        #expect(try message.decodedBody() == html)
        // A fetcher that already decompressed, but kept the header: passed through.
        let decoded = HTTPMessage(startLine: "HTTP/1.1 200 OK", headers: [("Content-Encoding", "gzip")], body: html)
        #expect(try decoded.decodedBody() == html)
        let brotli = HTTPMessage(startLine: "HTTP/1.1 200 OK", headers: [("Content-Encoding", "br")], body: html)
        #expect(throws: LakeError.self) { try brotli.decodedBody() }
    }

    @Test func refusesLineBreaksInFields() throws {
        let writer = try WARCWriter(sink: MemorySink())
        #expect(performing: {
            try writer.write(WARCRecord(type: .resource, headers: [("WARC-Target-URI", "http://a/\r\nX: y")], block: []))
        }, throws: isMalformed)
    }

    @Test(arguments: [("Content-Type", "content-type", true), ("WARC-DATE", "warc-date", true), ("Content-Type", "Content-Typ", false),
                      ("a", "b", false), ("[", "{", false), ("@", "`", false), ("Ö", "ö", true), ("", "", true)])
    func fieldNamesCompareIgnoringCase(a: String, b: String, same: Bool) {
        #expect(WARCHeaders.sameName(a, b) == same)
        #expect(WARCHeaders.sameName(b, a) == same)
        #expect(WARCHeaders.sameName(a, b) == (a.caseInsensitiveCompare(b) == .orderedSame))
    }

    @Test func parsesHTTPHeadsFieldByField() throws {
        let head = "HTTP/1.1 200 OK\r\nContent-Type:  text/html \t\r\nX-Folded: one\r\n  two \r\nno colon here\r\n"
            + "X-Wide: \u{A0}nbsp\u{A0}\r\n: empty name\r\nX-Colons: a:b:c\r\nX-Bad: \u{FF}\r\n\r\nbody\r\n\r\n"
        var bytes = Array(head.utf8)
        // An invalid UTF-8 byte stays a replacement character, as before.
        let bad = try #require(bytes.firstIndex(of: 0xC3).flatMap { i in bytes[i...].firstIndex(of: 0xBF) })
        bytes.replaceSubrange(bad - 1...bad, with: [0xFF])
        let message = try #require(HTTPMessage.parse(bytes))
        #expect(message.startLine == "HTTP/1.1 200 OK")
        #expect(message.headers.fields.map(\.name) == ["Content-Type", "X-Folded", "X-Wide", "", "X-Colons", "X-Bad"])
        #expect(message.headers["content-type"] == "text/html")
        #expect(message.headers["X-Folded"] == "one two")
        #expect(message.headers["X-Wide"] == "nbsp")
        #expect(message.headers["X-Colons"] == "a:b:c")
        #expect(message.headers["X-Bad"] == "\u{FFFD}")
        #expect(message.body == Array("body\r\n\r\n".utf8))
        let lf = try #require(HTTPMessage.parse(Array("HTTP/1.0 404 Not Found\nA: b\n\nx".utf8)))
        #expect(lf.statusCode == 404 && lf.headers["a"] == "b" && lf.body == [UInt8(ascii: "x")])
        #expect(HTTPMessage.parse(Array("HTTP/1.1 200 OK\r\nA: b".utf8)) == nil)
    }

    /// A writer over a sink restarted between pages writes each page as a fresh writer would.
    @Test func aRestartedWriterWritesWhatAFreshOneWrites() throws {
        func records(_ warc: WARCWriter, _ i: Int) throws -> Int64 {
            // Record IDs given: a writer makes up random ones otherwise.
            try warc.write(WARCRecord(type: .request, headers: [("WARC-Record-ID", "<urn:x:q\(i)>"), ("WARC-Date", "2025-11-25T10:00:00Z"),
                                                                ("WARC-Target-URI", "https://x.org/\(i)"),
                                                                ("Content-Type", "application/http; msgtype=request")],
                                      block: HTTPMessage(startLine: "GET /\(i) HTTP/1.1", headers: [("Host", "x.org")], body: []).bytes))
            let at = warc.fileOffset
            let body = Array(String(repeating: "page \(i) ", count: 50).utf8)
            try warc.write(WARCRecord(type: .response, headers: [("WARC-Record-ID", "<urn:x:r\(i)>"), ("WARC-Date", "2025-11-25T10:00:00Z"),
                                                                 ("WARC-Target-URI", "https://x.org/\(i)"),
                                                                 ("Content-Type", "application/http; msgtype=response")],
                                      block: HTTPMessage(startLine: "HTTP/1.1 200 OK", headers: [("Content-Type", "text/html")], body: body).bytes))
            return at
        }
        for gzip in [true, false] {
            let shared = MemorySink()
            let reused = try WARCWriter(sink: shared, gzip: gzip, gzipLevel: 1)
            var start = 0
            for i in 0..<3 {
                let fresh = MemorySink()
                let writer = try WARCWriter(sink: fresh, gzip: gzip, gzipLevel: 1)
                let expected = try records(writer, i)
                #expect(try records(reused, i) == expected)
                #expect(reused.recordCount == 2)
                #expect(Array(shared.bytes[start...]) == fresh.bytes)
                start = shared.bytes.count
                reused.restart()
                #expect(reused.fileOffset == 0 && reused.recordCount == 0)
            }
        }
    }
}
