import Foundation
import Lake
import Testing
@testable import Crawl

/// The journal's lines written and read without Foundation's coders: the same bytes as JSONEncoder
/// wrote (so journals and per-URL state of either read the same), and the same entries back.
struct FetchEntryJSONTests {
    static var entries: [FetchEntry] {
        var plain = FetchEntry(url: "https://x.example/p", depth: 0, fetchedAt: "2026-12-07T01:00:00Z", via: "direct")
        plain.error = "timed out"
        var full = FetchEntry(url: "https://x.example/a/b?q=1&r=/s", depth: 3, finalURL: "https://x.example/c/", status: 200,
                              wireStatus: 304, fetchedAt: "2026-12-07T01:00:01Z", via: "direct")
        full.headers = [Header("Content-Type", "text/html; charset=\"utf-8\""), Header("X-Odd", "tab\there \\ back/slash"),
                        Header("X-Ctl", "bell\u{07} esc\u{1B} nul\u{00} bs\u{08} ff\u{0C} del\u{7F} cr\r lf\n"),
                        Header("X-Unicode", "café — 東京 \u{2028} 🎉")]
        full.requestHeaders = [Header("User-Agent", "AgentShop/0.1"), Header("Accept", "*/*")]
        full.redirects = [FetchEntry.Hop(url: "https://x.example/a", status: 301, headers: [Header("Location", "/c/")]),
                          FetchEntry.Hop(url: "https://x.example/b", status: 302, headers: [])]
        full.bodySHA256 = String(repeating: "ab", count: 32)
        full.stored = StoredPage(pack: "pages-1.pack", offset: 1 << 40, length: 12_345, responseOffset: 678, records: 6)
        full.bytes = 24_000
        full.ms = 12
        full.attempt = 2
        full.fromCache = true
        full.notModified = true
        full.contentType = "text/html"
        full.robotsDisallowed = true
        full.isFile = true
        full.scoup = [Header("title", "T \"quoted\"")]
        full.links = ["https://x.example/1", "https://x.example/\u{E9}"]
        full.title = "Größe: \"ok\""
        var negative = plain
        negative.status = -1
        negative.depth = Int.max
        negative.title = ""
        // A page with what a page reader takes from its records (the WARC's page index).
        var indexed = full
        indexed.stored?.pages = [
            WARCPageIndex.Item(skip: "HTTP status 301", offset: 0, length: 400),
            WARCPageIndex.Item(url: "https://x.example/c/\u{E9}?a=\"b\"", fetchedAt: "2026-12-07T01:00:01Z",
                               contentType: "text/html; charset=\"utf-8\"", bytes: 24_000, sha256: String(repeating: "ab", count: 32),
                               offset: 678, length: 11_667),
            WARCPageIndex.Item(url: "https://x.example/d", fetchedAt: "t", bytes: 0, sha256: "e3", offset: 1 << 33, length: 1),
        ]
        var noPages = full
        noPages.stored?.pages = []
        return [plain, full, negative, indexed, noPages]
    }

    @Test func writesWhatJSONEncoderWrote() {
        for entry in Self.entries {
            let fast = String(decoding: FetchState.encode(entry), as: UTF8.self)
            let foundation = String(decoding: FetchState.encodeWithFoundation(entry), as: UTF8.self)
            #expect(fast == foundation)
        }
    }

    @Test func readsBackTheSameEntries() throws {
        for entry in Self.entries {
            let line = FetchState.encode(entry)
            // Through the fast path, not the fallback.
            let fast = try #require(line.withUnsafeBytes { FetchEntry(jsonLine: $0) })
            #expect(fast == entry)
            #expect(try JSONDecoder().decode(FetchEntry.self, from: Data(line)) == entry)
            #expect(try FetchState.decodeEntry(line) == entry)
        }
    }

    @Test func linesOfOtherShapesGoThroughTheDecoder() throws {
        // camelCase (an earlier version), nulls, a float where an integer is expected, Scoup's extracted value.
        let camel = #"{"attempt":1,"bytes":6,"depth":0,"fetchedAt":"t","fromCache":false,"headers":[],"isFile":false,"ms":4,"#
            + #""notModified":false,"redirects":[],"requestHeaders":[],"robotsDisallowed":false,"url":"u","via":"direct"}"#
        #expect(Array(camel.utf8).withUnsafeBytes { FetchEntry(jsonLine: $0) } == nil)
        #expect(try FetchState.decodeEntry(Array(camel.utf8)).fetchedAt == "t")
        let nulls = #"{"attempt":1,"bytes":6,"depth":0,"error":null,"fetched_at":"t","from_cache":false,"headers":[],"is_file":false,"#
            + #""ms":4,"not_modified":false,"redirects":[],"request_headers":[],"robots_disallowed":false,"status":null,"url":"u","via":"d"}"#
        let read = try #require(Array(nulls.utf8).withUnsafeBytes { FetchEntry(jsonLine: $0) })
        #expect(read.error == nil && read.status == nil && read.attempt == 1)
        #expect(try JSONDecoder().decode(FetchEntry.self, from: Data(nulls.utf8)) == read)
        let float = nulls.replacingOccurrences(of: #""attempt":1"#, with: #""attempt":1.0"#)
        #expect(Array(float.utf8).withUnsafeBytes { FetchEntry(jsonLine: $0) } == nil)
        #expect(try FetchState.decodeEntry(Array(float.utf8)).attempt == 1)
        var scoup = Self.entries[0]
        scoup.extracted = .object(["price": .number(9.5)])
        let line = FetchState.encode(scoup)
        #expect(line == FetchState.encodeWithFoundation(scoup))
        #expect(try FetchState.decodeEntry(line) == scoup)
        let missing = nulls.replacingOccurrences(of: #","via":"d""#, with: "")
        #expect(throws: (any Error).self) { try FetchState.decodeEntry(Array(missing.utf8)) }
    }
}
