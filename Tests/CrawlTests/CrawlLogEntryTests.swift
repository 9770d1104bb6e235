import Crawl
import Foundation
import Lake
import Testing

/// The crawl log's one entry type: written by the fetch stage, read by the store and the report.
@Suite struct CrawlLogEntryTests {
    /// Two lines exactly as the fetch stage wrote them before the entry type existed (no `title`).
    static let previousVersionLines = [
        #"{"url":"https://shop.example/p/1","final_url":"https://shop.example/p/1","status":200,"bytes":5120,"ms":35,"attempt":1,"from_cache":false,"error":null,"fetched_at":"2026-11-18T10:00:01Z","depth":1,"content_type":"text/html; charset=utf-8","content_sha256":"ab12","via":"direct","warc_file":"scraped_data/products/dt=2026-11-18/pages.warc.gz","warc_offset":912}"#,
        #"{"url":"https://shop.example/slow","final_url":null,"status":null,"bytes":0,"ms":30000,"attempt":4,"from_cache":false,"error":"timed out","fetched_at":"2026-11-18T10:00:31Z","depth":2,"content_type":null,"content_sha256":null,"via":"direct","warc_file":null,"warc_offset":null}"#,
    ]

    static func object(_ line: String) throws -> JSONObject {
        try #require(try JSONValue.parse(line).objectValue)
    }

    @Test func readsALineThePreviousVersionWrote() throws {
        let page = try #require(CrawlLogEntry(try Self.object(Self.previousVersionLines[0])))
        #expect(page.url == "https://shop.example/p/1" && page.status == 200 && page.bytes == 5120 && page.ms == 35)
        #expect(page.fromCache == false && page.depth == 1 && page.via == "direct" && page.contentSHA256 == "ab12")
        #expect(page.warcFile == "scraped_data/products/dt=2026-11-18/pages.warc.gz" && page.warcOffset == 912)
        // It has no title key: the title was not recorded (its readers look in the WARC).
        #expect(page.title == nil && !page.titleRecorded)
        let failed = try #require(CrawlLogEntry(try Self.object(Self.previousVersionLines[1])))
        #expect(failed.status == nil && failed.error == "timed out" && failed.warcOffset == nil && failed.finalURL == nil)
    }

    @Test func writesTheSameKeysInTheSameOrder() throws {
        for line in Self.previousVersionLines {
            let entry = try #require(CrawlLogEntry(try Self.object(line)))
            #expect(JSONValue.object(entry.object).serialized() == line)
        }
    }

    @Test func theTitleIsWrittenOnEveryLineAfterTheOthers() throws {
        var entry = CrawlLogEntry(url: "https://x.example/", status: 200, title: "Kettle")
        #expect(entry.object.keys.last == "title" && entry.object["title"] == .string("Kettle"))
        entry.title = nil
        #expect(entry.object["title"] == .null)
        let read = try #require(CrawlLogEntry(entry.object))
        #expect(read.titleRecorded && read.title == nil)
    }

    @Test func readingIsLenient() throws {
        // Numbers written as floats, keys left out: what a hand-written or foreign log may hold.
        let entry = try #require(CrawlLogEntry(try Self.object(#"{"url":"https://x.example/","status":200.0,"ms":12.4}"#)))
        #expect(entry.status == 200 && entry.ms == 12 && entry.bytes == nil && entry.warcOffset == nil)
        #expect(CrawlLogEntry(try Self.object(#"{"status":200}"#)) == nil)
    }

    @Test func codableUsesTheLogsKeys() throws {
        let entry = CrawlLogEntry(url: "https://x.example/", status: 404, ms: 3, fromCache: false, fetchedAt: "2026-01-01T00:00:00Z")
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.sortedKeys, .withoutEscapingSlashes]
        let text = String(decoding: try encoder.encode(entry), as: UTF8.self)
        #expect(text.contains(#""from_cache":false"#) && text.contains(#""warc_offset":null"#))
        #expect(try JSONDecoder().decode(CrawlLogEntry.self, from: Data(text.utf8)) == entry)
        // A line of the earlier version (no title key) decodes as one without a recorded title.
        let old = try JSONDecoder().decode(CrawlLogEntry.self, from: Data(Self.previousVersionLines[0].utf8))
        #expect(!old.titleRecorded && old.warcOffset == 912)
    }
}
