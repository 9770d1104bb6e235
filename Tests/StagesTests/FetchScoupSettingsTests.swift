import Crawl
import Foundation
import Lake
import Pipeline
import TestSupport
import Testing
@testable import Stages

/// `fetch: { via: scoup, scoup: {…} }`: the preset and page options go into every `POST /scrape`, and
/// Scoup's customData (with text, links, images when asked) comes out as records beside the WARC.
@Suite struct FetchScoupSettingsTests {
    static let warc = "scraped_data/products/dt=2026-01-02/pages.warc.gz"
    static let log = "raw_data/logs/crawl/dt=2026-01-02/crawl.jsonl.gz"
    static let records = "scraped_data/products/dt=2026-01-02/products.jsonl.gz"
    static let token = "sk-scoup-settings"

    static func pipeline(_ fetch: String, records: Bool = true) -> String {
        """
        pipeline: p
        stages:
          crawl:
            fetch:
        \(fetch.split(separator: "\n").map { "      " + $0 }.joined(separator: "\n"))
            out:
              - \(warc)
              - \(log)
        \(records ? "      - \(Self.records)" : "")
        """
    }

    @Test func thePresetAndEveryPageOptionGoIntoScoupsRequest() async throws {
        let project = try Project()
        try await FakeScoup.with(token: Self.token) { base, fake in
            project.environment = ["SCOUP_BASE_URL": base, "SCOUP_API_KEY": Self.token]
            try project.writePipeline(Self.pipeline("""
                via: scoup
                seeds: [https://shop.example/p/1]
                scoup:
                  preset: ecommerce_product
                  custom_selectors: { price: ".price-box .price", badge: ".badge" }
                  wait_for: "#app"
                  javascript: true
                  mobile: true
                  screenshot: true
                  cookies: { session: abc }
                  proxy: http://proxy.example:8080
                  headers: { X-Test: "1" }
                  user_agent: ScoupBot/2.0
                  extract_links: true
                  extract_text: true
                """))
            let manifest = try await project.run()
            #expect(manifest.stage("crawl")?.status == .ran, "\(manifest.stage("crawl")?.error ?? "")")
            let scrape = try #require(await fake.calls.first { $0.path == "/scrape" })
            let options = scrape.body?["options"] as? [String: Any] ?? [:]
            let selectors = options["customSelectors"] as? [String: String] ?? [:]
            #expect(selectors["price"] == ".price-box .price")
            #expect(selectors["badge"] == ".badge")
            #expect(selectors["sku"] == ScoupPreset.ecommerceProduct.options.customSelectors?["sku"])
            #expect(Set(selectors.keys) == Set(ScoupPreset.ecommerceProduct.options.customSelectors!.keys).union(["badge"]))
            #expect(options["extractImages"] as? Bool == true, "from the preset")
            #expect(options["waitFor"] as? String == "#app")
            #expect(options["javascript"] as? Bool == true && options["mobile"] as? Bool == true)
            #expect(options["screenshot"] as? Bool == true)
            #expect(options["cookies"] as? [String: String] == ["session": "abc"])
            #expect(options["proxy"] as? String == "http://proxy.example:8080")
            #expect(options["headers"] as? [String: String] == ["X-Test": "1"])
            #expect(options["userAgent"] as? String == "ScoupBot/2.0")
            #expect(options["extractLinks"] as? Bool == true && options["extractText"] as? Bool == true)
        }
    }

    /// Without `scoup:` the request is what it was: the stage's user agent and links, nothing else.
    @Test func withoutScoupSettingsOnlyLinksAndTheUserAgentAreAsked() async throws {
        let project = try Project()
        try await FakeScoup.with(token: Self.token) { base, fake in
            project.environment = ["SCOUP_BASE_URL": base, "SCOUP_API_KEY": Self.token]
            try project.writePipeline(Self.pipeline("via: scoup\nseeds: [https://shop.example/p/1]\nuser_agent: Plain/1.0", records: false))
            let manifest = try await project.run()
            #expect(manifest.stage("crawl")?.status == .ran, "\(manifest.stage("crawl")?.error ?? "")")
            let scrape = try #require(await fake.calls.first { $0.path == "/scrape" })
            let options = scrape.body?["options"] as? [String: Any] ?? [:]
            #expect(Set(options.keys) == ["userAgent", "extractLinks"])
            #expect(options["userAgent"] as? String == "Plain/1.0")
        }
    }

    @Test(arguments: ScoupPreset.allCases)
    func everyPresetSendsItsSelectors(preset: ScoupPreset) async throws {
        let project = try Project()
        try await FakeScoup.with(token: Self.token) { base, fake in
            project.environment = ["SCOUP_BASE_URL": base, "SCOUP_API_KEY": Self.token]
            try project.writePipeline(Self.pipeline("via: scoup\nseeds: [https://shop.example/p/1]\nscoup: { preset: \(preset.rawValue) }"))
            let manifest = try await project.run()
            #expect(manifest.stage("crawl")?.status == .ran, "\(manifest.stage("crawl")?.error ?? "")")
            let scrape = try #require(await fake.calls.first { $0.path == "/scrape" })
            let options = scrape.body?["options"] as? [String: Any] ?? [:]
            #expect(options["customSelectors"] as? [String: String] == preset.options.customSelectors)
            // The record holds one field per selector.
            let record = try #require(try project.records(Self.records).first)
            for name in preset.options.customSelectors!.keys { #expect(record[name]?.stringValue == "value of \(name)") }
        }
    }

    /// customData's fields, the text and the images (asked), links (asked) and the screenshot URL land in the
    /// records output, one record per page answered 2xx; the crawl log stays as it was.
    @Test func customDataReachesTheRecords() async throws {
        let project = try Project()
        try await FakeScoup.with(token: Self.token) { base, _ in
            project.environment = ["SCOUP_BASE_URL": base, "SCOUP_API_KEY": Self.token]
            try project.writePipeline(Self.pipeline("""
                via: scoup
                seeds: [https://shop.example/p/1, https://shop.example/bad-request]
                scoup: { custom_selectors: { price: .price, name: h1 }, extract_text: true, extract_images: true, screenshot: true }
                min_pages: 1
                """))
            let manifest = try await project.run()
            let stage = try #require(manifest.stage("crawl"))
            #expect(stage.status == .ran, "\(stage.error ?? "")")
            #expect(stage.outputs.first { $0.path == Self.records }?.records == 1)
            let records = try project.records(Self.records)
            #expect(records.count == 1, "the page Scoup could not answer has no record")
            let record = try #require(records.first)
            #expect(record.keys == ["url", "final_url", "status", "fetched_at", "title", "images", "name", "price",
                                    "screenshot_url", "text"])
            #expect(record["url"]?.stringValue == "https://shop.example/p/1")
            #expect(record["status"] == .int(200))
            #expect(record["title"]?.stringValue == "Page")
            #expect(record["price"]?.stringValue == "value of price")
            #expect(record["name"]?.stringValue == "value of name")
            #expect(record["text"]?.stringValue == "Page")
            #expect(record["images"] == .array([.string("https://shop.example/i.png")]))
            #expect(record["screenshot_url"]?.stringValue == "https://scoup.local/shot.png")
            #expect(record["links"] == nil, "links were not asked for the records")
            #expect(try project.records(Self.log).count == 2)
        }
    }

    @Test func scoupSettingsAreCheckedAtTheirPlace() throws {
        let project = try Project()
        try project.writePipeline(Self.pipeline("""
            via: scoup
            seeds: [https://shop.example/]
            scoup:
              preset: webshop
              custom_selectors: [price]
              wait_for: -5
              javascript: maybe
              proxy: ftp://proxy.example/
              headers: { "Bad Header": x }
              cookies: 42
              user_agnet: x
            """))
        let problems = try project.problems()
        #expect(problems.contains { $0.hasPrefix("8:17: stages.crawl.fetch.scoup.preset: expected one of ecommerce_product, blog_article") })
        #expect(problems.contains { $0.hasPrefix("9:27: stages.crawl.fetch.scoup.custom_selectors: expected a mapping") })
        #expect(problems.contains { $0.hasPrefix("10:19: stages.crawl.fetch.scoup.wait_for: expected milliseconds") })
        #expect(problems.contains { $0.hasPrefix("11:21: stages.crawl.fetch.scoup.javascript: expected true or false") })
        #expect(problems.contains { $0.hasPrefix("12:16: stages.crawl.fetch.scoup.proxy: expected a proxy URL") })
        #expect(problems.contains { $0.contains("stages.crawl.fetch.scoup.headers.Bad Header: 'Bad Header' is not a header name") })
        #expect(problems.contains { $0.hasPrefix("14:18: stages.crawl.fetch.scoup.cookies: expected a mapping of cookie name") })
        #expect(problems.contains { $0.contains("stages.crawl.fetch.scoup.user_agnet: unknown key 'user_agnet'") })

        try project.writePipeline(Self.pipeline("seeds: [https://shop.example/]\nscoup: { javascript: true }"))
        #expect(try project.problems().contains { $0.hasPrefix("6:14: stages.crawl.fetch.scoup: Scoup's page options need via: scoup") })
    }

    /// The Scoup settings key the crawl journal: an interrupted crawl under other selectors is not resumed.
    @Test func scoupSettingsKeyTheJournal() throws {
        let project = try Project()
        func key(_ scoup: String) throws -> String {
            try project.writePipeline(Self.pipeline("via: scoup\nseeds: [https://shop.example/]\(scoup)"))
            let definition = try project.load().0.stages[0].definition as! FetchStage.Definition
            return definition.crawlKey
        }
        let plain = try key("")
        let preset = try key("\nscoup: { preset: blog_article }")
        let selectors = try key("\nscoup: { preset: blog_article, custom_selectors: { a: b } }")
        #expect(Set([plain, preset, selectors]).count == 3)
    }
}
