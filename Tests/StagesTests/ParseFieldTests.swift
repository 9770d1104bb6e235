import Foundation
import HTML
import Lake
import Pipeline
import Testing
@testable import Stages

/// Field settings that keep records: `on_error`, ordered `sources`, a named `currency_field`.
struct ParseFieldTests {
    typealias TestLake = ParseStageTests.TestLake

    /// Three shop pages: one with a review count, one saying "No reviews yet", one with the price
    /// only in a meta tag and JSON-LD.
    static func writePages(_ lake: TestLake) throws {
        let folder = lake.lake.root + "/raw_data/uploads/shop"
        try FileManager.default.createDirectory(atPath: folder, withIntermediateDirectories: true)
        let pages = [
            "a.html": """
                <html><head><meta property="product:price:amount" content="99.00"></head><body>
                <h1>Alpha</h1><p class="price">$12.50</p><p class="reviews">14 reviews</p></body></html>
                """,
            "b.html": """
                <html><body><h1>Beta</h1><p class="price">$3.55</p><p class="reviews">No reviews yet</p></body></html>
                """,
            "c.html": """
                <html><head><meta property="product:price:amount" content="7.25"><meta property="product:price:currency" content="EUR">
                <script type="application/ld+json">{"@type":"Product","offers":{"price":"8.00"}}</script></head>
                <body><h1>Gamma</h1><p class="reviews">many</p></body></html>
                """,
        ]
        for (name, html) in pages {
            _ = FileManager.default.createFile(atPath: folder + "/" + name, contents: Data(html.utf8))
        }
    }

    static func pipeline(_ fields: String) -> String {
        """
        pipeline: shop
        stages:
          products:
            parse:
              from: raw_data/uploads/shop/*.html
              base_url: https://shop.example/
              fields:
        \(fields.split(separator: "\n").map { "        " + $0 }.joined(separator: "\n"))
            out: scraped_data/products/p.jsonl
        """
    }

    /// Before: "No reviews yet" under `type: int` rejected the whole product. Now an optional field
    /// is null (counted per field in the manifest), `default` uses the default, `reject` rejects.
    @Test func aFieldThatDoesNotConvertIsNullNotARejectedRecord() async throws {
        let lake = try TestLake()
        try Self.writePages(lake)
        let manifest = try await lake.run(Self.pipeline("""
            name: "h1::text"
            reviews: { css: ".reviews::text", type: int }
            """))
        #expect(manifest.status == .succeeded, "\(manifest.stages.map { $0.error ?? "" })")
        let records = try lake.records("scraped_data/products/p.jsonl")
        #expect(records.map { $0["name"] } == ["Alpha", "Beta", "Gamma"])
        #expect(records.map { $0["reviews"] } == [.int(14), .null, .null])
        let stage = try #require(manifest.stages.first)
        #expect(stage.counts["rejected"] == 0)
        #expect(stage.counts["values_nulled_on_error"] == 2)
        let nulls = stage.details?.objectValue?["null_fields"]?.objectValue?["reviews"]?.objectValue
        #expect(nulls?["not_converted"] == .int(2), "\(String(describing: stage.details))")

        let defaulted = try TestLake()
        try Self.writePages(defaulted)
        let manifest2 = try await defaulted.run(Self.pipeline("""
            name: "h1::text"
            reviews: { css: ".reviews::text", type: int, on_error: default, default: 0 }
            """))
        #expect(try defaulted.records("scraped_data/products/p.jsonl").map { $0["reviews"] } == [.int(14), .int(0), .int(0)])
        #expect(manifest2.stages.first?.counts["values_defaulted_on_error"] == 2)

        let strict = try TestLake()
        try Self.writePages(strict)
        let manifest3 = try await strict.run(Self.pipeline("""
            name: "h1::text"
            reviews: { css: ".reviews::text", type: int, on_error: reject }
            """))
        #expect(try strict.records("scraped_data/products/p.jsonl").map { $0["name"] } == ["Alpha"])
        #expect(manifest3.stages.first?.counts["rejected"] == 2)

        // A required field rejects by default, as before.
        let required = try TestLake()
        try Self.writePages(required)
        let manifest4 = try await required.run(Self.pipeline("""
            name: "h1::text"
            reviews: { css: ".reviews::text", type: int, required: true }
            """))
        #expect(manifest4.stages.first?.counts["rejected"] == 2)

        // …unless it says otherwise: found but unreadable is then null (YAML's `null` is read as the policy name).
        let lenient = try TestLake()
        try Self.writePages(lenient)
        let manifest5 = try await lenient.run(Self.pipeline("""
            name: "h1::text"
            reviews: { css: ".reviews::text", type: int, required: true, on_error: null }
            """))
        #expect(manifest5.stages.first?.counts["rejected"] == 0)
        #expect(try lenient.records("scraped_data/products/p.jsonl").map { $0["reviews"] } == [.int(14), .null, .null])
    }

    /// `sources:` are tried in order and the first non-empty value wins.
    @Test func sourcesAreTriedInOrder() async throws {
        let lake = try TestLake()
        try Self.writePages(lake)
        let manifest = try await lake.run(Self.pipeline("""
            name: "h1::text"
            price: { sources: [{ css: ".price::text" }, { meta: "product:price:amount" }, { jsonld: Product.offers.price }], type: money, currency: USD }
            offer: { sources: [".nothing::text", { jsonld: Product.offers.price }], type: number }
            """))
        #expect(manifest.status == .succeeded, "\(manifest.stages.map { $0.error ?? "" })")
        let records = try lake.records("scraped_data/products/p.jsonl")
        #expect(records.map { $0["price"] } == [.double(12.5), .double(3.55), .double(7.25)])
        #expect(records.map { $0["offer"] } == [.null, .null, .double(8)])
    }

    /// `currency_field:` names the currency column; clashes are refused at their position.
    @Test func theCurrencyColumnCanBeNamed() async throws {
        let lake = try TestLake()
        try Self.writePages(lake)
        let manifest = try await lake.run(Self.pipeline("""
            price: { css: ".price::text", type: money, currency_field: cur }
            """))
        #expect(manifest.status == .succeeded, "\(manifest.stages.map { $0.error ?? "" })")
        let record = try #require(try lake.records("scraped_data/products/p.jsonl").first)
        #expect(record["cur"] == "USD" && record["price"] == .double(12.5))
        #expect(record["price_currency"] == nil)

        let messages = lake.validationErrors(Self.pipeline("""
            price: { css: ".price::text", type: money, currency_field: name }
            name: "h1::text"
            sale: { css: ".s::text", type: money, currency_field: url }
            old: { css: ".o::text", type: money, currency_field: cur }
            older: { css: ".o::text", type: money, currency_field: cur }
            title: { css: "h1::text", currency_field: t }
            reviews: { css: ".r::text", type: int, on_error: default }
            stock: { css: ".s::text", on_error: maybe }
            both: { css: ".s::text", sources: [".t::text"] }
            """)).map(\.description)
        func has(_ line: Int, _ text: String) -> Bool {
            messages.contains { $0.contains("bad.yaml:\(line):") && $0.contains(text) }
        }
        #expect(has(8, "writes 'name' too"), "\(messages)")
        #expect(has(10, "which every record has"), "\(messages)")
        #expect(has(12, "both write their currency to 'cur'"), "\(messages)")
        #expect(has(13, "'currency_field' names the currency column of a 'type: money' field"), "\(messages)")
        #expect(has(14, "'on_error: default' needs a 'default: …'"), "\(messages)")
        #expect(has(15, "expected one of null, default, reject"), "\(messages)")
        #expect(has(16, "list them under 'sources'"), "\(messages)")
    }
}
