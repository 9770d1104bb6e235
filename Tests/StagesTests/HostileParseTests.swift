import Foundation
import Lake
import Pipeline
import Testing
@testable import Stages

/// The parse stage over hostile pages: a deep page keeps its fields; a page over `max_page_bytes`
/// is a reject with the reason and URL; neither is ever a silently emptier record.
struct HostileParseTests {
    @Test func deepPagesKeepTheirFieldsAndOversizedPagesAreRejected() async throws {
        let lake = try ParseStageTests.TestLake()
        let folder = lake.lake.root + "/raw_data/uploads/hostile"
        try FileManager.default.createDirectory(atPath: folder, withIntermediateDirectories: true)
        let deep = "<html><body>" + String(repeating: "<div>", count: 600) + "<h1>Deep</h1><span class=price>$5.00</span></body></html>"
        try Data(deep.utf8).write(to: URL(fileURLWithPath: folder + "/a-deep.html"))
        let big = "<html><body><h1>Big</h1><span class=price>$1.00</span>" + String(repeating: "<p>filler</p>", count: 2000) + "</body></html>"
        try Data(big.utf8).write(to: URL(fileURLWithPath: folder + "/b-big.html"))

        let manifest = try await lake.run("""
            pipeline: shop
            stages:
              products:
                parse:
                  from: raw_data/uploads/hostile/*.html
                  base_url: https://shop.example/
                  max_page_bytes: 16KB
                  fields:
                    name: { css: "h1::text", required: true }
                    price: { css: ".price::text", type: money, required: true }
                out: scraped_data/products/hostile.jsonl
            """)
        #expect(manifest.status == .succeeded, "\(manifest.stages.map { $0.error ?? "" })")
        let records = try lake.records("scraped_data/products/hostile.jsonl")
        #expect(records.map { $0["name"]?.stringValue } == ["Deep"])
        #expect(records.first?["price"] == .double(5))
        let stage = try #require(manifest.stages.first)
        #expect(stage.counts["pages_rejected"] == 1)
        let rejectsFile = try #require(try FileManager.default.contentsOfDirectory(atPath: lake.lake.root + "/raw_data/logs/shop")
            .first { $0.hasSuffix(".products.rejects.jsonl") })
        let rejects = try ParseStageTests.jsonLines(lake.lake.root + "/raw_data/logs/shop/" + rejectsFile)
        #expect(rejects.map { $0["url"]?.stringValue } == ["https://shop.example/b-big.html"])
        // The one rejects format: a page has no line and no raw text.
        #expect(rejects.first?.keys == ["stage", "file", "line", "url", "fetched_at", "reason", "raw"])
        #expect(rejects.first?["stage"] == "products" && rejects.first?["line"] == .null)
        #expect(rejects.first?["reason"]?.stringValue == "https://shop.example/b-big.html: the page is \(big.utf8.count) bytes, more than the 16384 parsed at most")
    }

    @Test func maxPageBytesIsCheckedAtValidation() {
        let lake = try! ParseStageTests.TestLake()
        let diagnostics = lake.validationErrors("""
            pipeline: bad
            stages:
              products:
                parse: { from: raw_data/uploads/site/products/*.html, max_page_bytes: 1e200GB, fields: { name: "h1::text" } }
                out: scraped_data/products/x.jsonl
            """)
        #expect(diagnostics.map(\.message) == ["a size may be at most 1.0 GB, found '1e200GB'"])
    }
}
