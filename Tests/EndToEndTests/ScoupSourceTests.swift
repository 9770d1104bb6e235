import Foundation
import TestSupport
import Testing

/// Scoup as a source, through the built binary against the loopback Scoup-compatible fake: the shipped
/// Scoup pipeline (preset, records, store, aggregate with no parse stage), `scoup info` and `doctor`.
@Suite struct ScoupSourceTests {
    static let key = "sk-scoup-source-7d21"
    static let repository = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
        .deletingLastPathComponent().path

    func env(_ base: String) -> [String: String] { ["SCOUP_BASE_URL": base, "SCOUP_API_KEY": Self.key] }

    func json(_ text: String) -> Any? { try? JSONSerialization.jsonObject(with: Data(text.utf8)) }

    /// pipelines/scoup_products.yaml validates, and runs against a loopback Scoup: the preset's selectors
    /// (with the pipeline's own price selector) go out, Scoup's customData comes back as records that a
    /// materialize and an aggregate stage read directly.
    @Test func theShippedScoupPipelineRunsWithoutAParseStage() async throws {
        let project = try Project()
        try project.run(["init", "datalake"])
        let pipeline = try String(contentsOfFile: Self.repository + "/pipelines/scoup_products.yaml", encoding: .utf8)
        try project.write("pipelines/scoup_products.yaml", pipeline)
        let validate = try project.run(["validate", "pipelines/scoup_products.yaml"])
        #expect(validate.status == 0, "\(validate.stdout)\(validate.stderr)")

        try await FakeScoup.with(token: Self.key) { base, fake in
            let run = try await project.runDetached(["run", "pipelines/scoup_products.yaml", "--json"], environment: env(base),
                                                    clearing: "SCOUP_")
            #expect(run.status == 0, "\(run.stdout)\(run.stderr)")
            let manifest = json(run.stdout) as? [String: Any] ?? [:]
            #expect(Project.statuses(manifest) == ["crawl": "ran", "store": "ran", "by_availability": "ran"])

            let scrapes = await fake.calls.filter { $0.path == "/scrape" }
            #expect(scrapes.count == 2)
            let options = scrapes.first?.body?["options"] as? [String: Any] ?? [:]
            let selectors = options["customSelectors"] as? [String: String] ?? [:]
            #expect(selectors["price"] == ".price-box .price", "the pipeline's selector wins over the preset's")
            #expect(selectors["name"] == "h1, [itemprop=name]" && selectors["availability"] != nil, "the preset's selectors")
            #expect(options["extractImages"] as? Bool == true, "the preset's extract flag")
            #expect(options["waitFor"] as? Int == 500)
            #expect(options["extractText"] as? Bool == false)
        }
        let records = try project.run(["query", "SELECT url, status, name, price, availability, images FROM "
                                       + "'scraped_data/products/*/scoup_products.jsonl.gz' ORDER BY url", "--json"])
        #expect(records.status == 0, "\(records.stderr)")
        let rows = json(records.stdout) as? [[String: Any]] ?? []
        #expect(rows.map { $0["url"] as? String } == ["https://shop.example/products/1", "https://shop.example/products/2"])
        #expect(rows.first?["name"] as? String == "value of name")
        #expect(rows.first?["price"] as? String == "value of price")
        #expect(rows.first?["status"] as? Int == 200)
        #expect((rows.first?["images"] as? String)?.contains("i.png") == true)

        let stored = try project.run(["query", "SELECT url, name, availability FROM store.scoup_products ORDER BY url", "--json"])
        #expect(stored.status == 0, "\(stored.stderr)")
        let storedRows = json(stored.stdout) as? [[String: Any]] ?? []
        #expect(storedRows.count == 2)
        #expect(storedRows.first?["availability"] as? String == "value of availability")
        let aggregate = try project.run(["query", "SELECT * FROM 'processed_data/aggregations/scoup_by_availability/*/part.csv'", "--json"])
        let groups = json(aggregate.stdout) as? [[String: Any]] ?? []
        #expect(groups.count == 1 && groups.first?["pages"] as? Int == 2, "\(aggregate.stdout)\(aggregate.stderr)")
    }

    /// `scoup info` shows the fields of Scoup's answer, from inside its `{success, data}` envelope (it
    /// printed `{}` when the answer did not have the flat shape expected), and `--json` the answer as sent.
    @Test func infoShowsTheFieldsOfScoupsAnswer() async throws {
        let project = try Project()
        try await FakeScoup.with(token: Self.key) { base, _ in
            let url = "https://shop.example/enveloped"
            let human = try await project.runDetached(["scoup", "info", url], environment: env(base), clearing: "SCOUP_")
            #expect(human.status == 0, "\(human.stderr)")
            let lines = human.stdout.split(separator: "\n").map { $0.split(separator: " ").joined(separator: " ") }
            #expect(lines.contains("status 200"))
            #expect(lines.contains("title Enveloped title"))
            #expect(lines.contains("contentType text/html; charset=utf-8"))
            #expect(lines.contains("meta description An enveloped page"))
            #expect(lines.contains("responseTime 120"))
            #expect(lines.contains("url \(url)"))

            let raw = try await project.runDetached(["scoup", "info", url, "--json"], environment: env(base), clearing: "SCOUP_")
            #expect(raw.status == 0, "\(raw.stderr)")
            let answer = json(raw.stdout) as? [String: Any] ?? [:]
            #expect(answer["success"] as? Bool == true)
            let data = answer["data"] as? [String: Any] ?? [:]
            #expect(data["title"] as? String == "Enveloped title" && data["responseTime"] as? Int == 120)
            #expect(!raw.stdout.contains(Self.key) && !human.stdout.contains(Self.key))
        }
    }

    /// `doctor --network` shows what Scoup's /health says: status, version, uptime…, in the table and as
    /// an object under the check in `--json`.
    @Test func doctorShowsScoupsHealthAsData() async throws {
        let project = try Project()
        try project.run(["init", "datalake"])
        try await FakeScoup.with(token: Self.key) { base, _ in
            let human = try await project.runDetached(["doctor", "--network"], environment: env(base), clearing: "SCOUP_")
            let line = human.stdout.split(separator: "\n").first { $0.contains("scoup") }.map(String.init) ?? ""
            #expect(line.contains("status ok") && line.contains("version 1.4.0") && line.contains("uptime 3600"), "\(human.stdout)")
            #expect(line.contains(#"browser {"pages":2}"#))

            let report = try await project.runDetached(["doctor", "--network", "--json"], environment: env(base), clearing: "SCOUP_")
            let checks = json(report.stdout) as? [[String: Any]] ?? []
            let scoup = try #require(checks.first { $0["check"] as? String == "scoup" }, "\(report.stdout)")
            #expect(scoup["status"] as? String == "ok")
            let data = scoup["data"] as? [String: Any] ?? [:]
            #expect(data["status"] as? String == "ok" && data["version"] as? String == "1.4.0" && data["uptime"] as? Int == 3600)
            #expect((data["browser"] as? [String: Any])?["pages"] as? Int == 2)
            #expect(!report.stdout.contains(Self.key))
        }
    }
}

extension ScoupSourceTests {
    /// `scoup scrape --preset` sends the preset's selectors and flags, with the command's own options over them.
    @Test func scrapeTakesAPreset() async throws {
        let project = try Project()
        try await FakeScoup.with(token: Self.key) { base, fake in
            let result = try await project.runDetached(["scoup", "scrape", "https://shop.example/p/1", "--preset", "blog_article",
                                                        "--selector", "author=.byline"], environment: env(base), clearing: "SCOUP_")
            #expect(result.status == 0, "\(result.stderr)")
            let options = (await fake.calls).last?.body?["options"] as? [String: Any] ?? [:]
            let selectors = options["customSelectors"] as? [String: String] ?? [:]
            #expect(selectors["author"] == ".byline" && selectors["headline"] == "article h1, h1")
            #expect(options["extractText"] as? Bool == true)
            let bad = try await project.runDetached(["scoup", "scrape", "https://shop.example/p/1", "--preset", "webshop"],
                                                    environment: env(base), clearing: "SCOUP_")
            #expect(bad.status == 64 && bad.stderr.contains("--preset: expected one of ecommerce_product"), "\(bad.stderr)")
        }
    }
}
