import Foundation
import HTML
import Lake
import Testing
@testable import Stages

struct ExtractPreviewTests {
    static let page = FetchedPage(
        url: "https://shop.example/p/1", fetchedAt: "2026-11-25T10:00:00Z",
        bytes: Array("""
            <html><head><title>Kettle</title><meta property="og:title" content="OG">
            <script type="application/ld+json">{"@type":"Product","name":"K"}</script>
            <script type="application/ld+json">{broken</script></head>
            <body><h1> Kettle <b>XL</b> </h1><span class=price>$5</span>
            <div class=r><i>1</i></div><div class=r><i>x</i></div></body></html>
            """.utf8),
        contentType: "text/html", file: "page.html")

    @Test func showsSelectorMatchesNormalised() throws {
        #expect(try ExtractPreview.run(.css("h1 ::text"), on: Self.page).lines == ["Kettle", "XL"])
        #expect(try ExtractPreview.run(.xpath("count(//div)"), on: Self.page).lines == ["2"])
        #expect(try ExtractPreview.run(.css(".none"), on: Self.page).lines == [])
    }

    @Test func showsStructuredData() throws {
        let jsonld = try ExtractPreview.run(.jsonLD, on: Self.page)
        #expect(jsonld.lines == ["{\"@type\":\"Product\",\"name\":\"K\"}"])
        #expect(jsonld.problems == ["JSON-LD block 2 is not valid JSON; skipped"])
        #expect(try ExtractPreview.run(.meta, on: Self.page).lines == ["meta og:title: OG", "meta title: Kettle"])
    }

    @Test func showsAStagesRecordsAndRejections() throws {
        var n = FieldSpec(name: "n", source: .css("i::text"), type: .int)
        n.required = true
        let result = try ExtractPreview.run(.fields([n], records: .css(".r")), on: Self.page)
        #expect(result.lines == ["{\"url\":\"https://shop.example/p/1\",\"fetched_at\":\"2026-11-25T10:00:00Z\",\"n\":1}"])
        #expect(result.problems == ["rejected: record 2: n: cannot read 'x' as an integer"])
    }
}
