import Foundation
import Lake
import Store
import Testing

/// The store's operating tables through the built binary: `llm_provider_status` holds the providers
/// `llm providers` lists (names, default models, endpoints, switches) and the figures of the calls a run
/// sent; `llm_usage_stats` has hour, day and month buckets of them; docs/providers.md names the same
/// providers and default models.
@Suite struct OperatingTablesEndToEndTests {
    static let repository = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
        .deletingLastPathComponent().path

    static let pipeline = """
        pipeline: scores
        stages:
          scored:
            enrich: { from: raw_data/imports/reviews.jsonl, provider: offline, task: sentiment, into: s }
            out: processed_data/ml_datasets/scores/dt={run_date}/part.jsonl
        """

    /// `llm providers --json` as provider → (default model, base URL or nil, enabled).
    static func listed(_ project: Project) async throws -> [String: [String?]] {
        let result = try await project.runDetached(["llm", "providers", "--json"], environment: [:])
        #expect(result.status == 0, "\(result.stderr)")
        let rows = try #require(try JSONSerialization.jsonObject(with: Data(result.stdout.utf8)) as? [[String: Any]])
        var out: [String: [String?]] = [:]
        for row in rows {
            let name = row["provider"] as? String ?? ""
            out[name] = [row["default_model"] as? String, name == "offline" ? nil : row["base_url"] as? String,
                         (row["enabled"] as? Bool ?? false) ? "1" : "0"]
        }
        return out
    }

    static func stored(_ project: Project) throws -> [String: [String?]] {
        let db = try Database(path: project.lake + "/store/agentshop.sqlite", mode: .readOnly)
        var out: [String: [String?]] = [:]
        for row in try db.rows("SELECT provider, default_model, base_url, is_enabled FROM llm_provider_status") {
            out[row[0].string ?? ""] = [row[1].string, row[2].string, row[3].int64.map(String.init)]
        }
        return out
    }

    @Test func theStoreListsTheCatalogueAndFollowsSwitchesAndRuns() async throws {
        let project = try Project()
        #expect(try project.run(["init"]).status == 0)
        #expect(try project.run(["db", "init"]).status == 0)
        // One source: the store's rows are the catalogue's, as `llm providers` shows it.
        #expect(try Self.stored(project) == (try await Self.listed(project)))
        #expect(Set(try Self.stored(project).keys) == ["offline", "openai", "anthropic", "ollama", "groq", "perplexity"])

        // A switch is in the store at once.
        #expect(try await project.runDetached(["llm", "disable", "groq"], environment: [:]).status == 0)
        #expect(try Self.stored(project)["groq"]?[2] == "0")
        #expect(try Self.stored(project) == (try await Self.listed(project)))

        // A run's calls: the provider's figures of the day and the usage buckets.
        try project.write("datalake/raw_data/imports/reviews.jsonl",
                          ["great product", "awful, broke at once", "good value", "great product"]
                              .map { #"{"text": "\#($0)"}"# }.joined(separator: "\n") + "\n")
        try project.write("pipelines/scores.yaml", Self.pipeline)
        let (run, _) = try project.runPipeline("scores")
        #expect(run.status == 0, "\(run.stderr)")
        let db = try Database(path: project.lake + "/store/agentshop.sqlite", mode: .readOnly)
        let today = Timestamp.day(Date())
        let offline = try db.rows("""
            SELECT stats_day, requests_today, errors_today, error_rate, cost_today_micro_usd, consecutive_failures, status,
                   last_checked_at IS NOT NULL
            FROM llm_provider_status WHERE provider = 'offline'
            """)
        // Three distinct texts sent; the repeated one is answered once.
        #expect(offline == [[.text(today), .integer(3), .integer(0), .real(0), .integer(0), .integer(0), .text("healthy"), .integer(1)]])
        #expect(try db.rows("SELECT period_type, sum(requests) FROM llm_usage_stats WHERE provider = 'offline' GROUP BY period_type ORDER BY period_type")
            == [[.text("day"), .integer(3)], [.text("hour"), .integer(3)], [.text("month"), .integer(3)]])
        #expect(try db.scalar("SELECT count(*) FROM config_settings WHERE value IS NOT NULL")?.int64 == 0)
    }

    /// docs/providers.md's table names the catalogue's providers and default models.
    @Test func theProvidersPageNamesTheCatalogue() async throws {
        let project = try Project()
        #expect(try project.run(["init"]).status == 0)
        let listed = try await Self.listed(project)
        let page = try String(contentsOfFile: Self.repository + "/docs/providers.md", encoding: .utf8)
        var documented: [String: String] = [:]
        for line in page.split(separator: "\n") where line.hasPrefix("| `") {
            let cells = line.split(separator: "|").map { $0.trimmingCharacters(in: .whitespaces) }
            guard cells.count >= 4, let name = cells.first?.split(separator: "`").first,
                  let model = cells.last?.split(separator: "`").first else { continue }
            if listed[String(name)] != nil { documented[String(name)] = String(model) }
        }
        #expect(documented == listed.mapValues { $0[0] ?? "" })
    }
}
