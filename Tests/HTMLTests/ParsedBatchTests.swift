import HTML
import Lake
import Testing

/// HTML's batch parse, without a stage: records in page order with `url` and `fetched_at`, a page over
/// the size limit rejected with its reason, and a page whose extraction was kept not parsed again.
@Suite struct ParsedBatchTests {
    static func page(_ url: String, _ html: String) -> FetchedPage {
        FetchedPage(url: url, fetchedAt: "2026-01-02T03:04:05Z", bytes: Array(html.utf8), contentType: "text/html",
                    file: "raw/pages.warc.gz")
    }

    @Test func parsesPagesInOrderAndRejectsATooLargePage() {
        let fields = [FieldSpec(name: "title", source: .css("h1::text"))]
        let pages = [Self.page("https://a.test/1", "<h1>One</h1>"),
                     Self.page("https://a.test/2", "<h1>" + String(repeating: "x", count: 200) + "</h1>"),
                     Self.page("https://a.test/3", "<h1>Three</h1>")]
        let batch = ParsedBatch.parse(pages, fields: fields, records: nil, maxPageBytes: 100)
        #expect(batch.records.map { $0["title"] } == [.string("One"), .string("Three")])
        #expect(batch.records.map { $0["url"] } == [.string("https://a.test/1"), .string("https://a.test/3")])
        #expect(batch.records.first?["fetched_at"] == .string("2026-01-02T03:04:05Z"))
        #expect(batch.rejects.map(\.url) == ["https://a.test/2"])
        #expect(batch.rejects.first?.reason.contains("more than the 100") == true)
        #expect(batch.counts["pages_parsed"] == 2 && batch.counts["pages_rejected"] == 1)
    }

    @Test func aKeptExtractionIsNotParsedAgain() throws {
        let fields = [FieldSpec(name: "title", source: .css("h1::text"))]
        let kept = try PageExtractor(fields: fields, records: nil)
            .extract(HTMLDocument(bytes: Array("<h1>Kept</h1>".utf8), url: "https://a.test/1", contentType: "text/html"))
        let batch = ParsedBatch.parse([Self.page("https://a.test/1", "<h1>Fresh</h1>")], fields: fields, records: nil,
                                      kept: { $0.url == "https://a.test/1" ? kept : nil })
        #expect(batch.records.map { $0["title"] } == [.string("Kept")])
        #expect(batch.counts["pages_from_crawl"] == 1)
    }
}
