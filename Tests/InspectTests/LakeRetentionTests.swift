import Foundation
import Testing
import Lake
import Pipeline
@testable import Inspect

@Suite struct LakeRetentionTests {
    static let pipeline = """
    pipeline: p
    stages:
      products:
        import: { from: raw_data/imports/products.csv }
        out: scraped_data/products/dt={run_date}/products.jsonl.gz
      by_category:
        aggregate: { from: products, group_by: [category], measures: { n: count() } }
        out: processed_data/aggregations/by_category/dt={run_date}.csv
    """

    @Test func defaultsAndOverridesFromTheLakesPolicyFile() throws {
        let policy = try LakeRetention.parse("""
        retention:
          raw_data/logs: 30d
          processed_data/ml_datasets/golden: keep
          external_apis: 2y
        """, file: "retention.yaml")
        #expect(policy.rule(for: "raw_data/logs/p/x.log")?.rule == .maxAge(30 * 86_400))
        #expect(policy.rule(for: "raw_data/imports/a.csv")?.rule == .maxAge(365 * 86_400))
        #expect(policy.rule(for: "processed_data/ml_datasets/golden/a.jsonl")?.rule == .keep)
        #expect(policy.rule(for: "processed_data/ml_datasets/other/a.jsonl")?.rule == .maxAge(3 * 365 * 86_400))
        #expect(policy.rule(for: "external_apis/llm_responses/a.json")?.rule == .maxAge(30 * 86_400))
        #expect(policy.rule(for: "external_apis/third_party/a.json")?.rule == .maxAge(2 * 365 * 86_400))
        #expect(policy.rule(for: "db_dumps/daily/a.sqlite.gz")?.rule == .dump)
        #expect(policy.rule(for: "store/agentshop.sqlite") == nil)
        #expect(LakeRetention.defaults.rule(for: "raw_data/logs/p/r.manifest.json")?.rule == .maxAge(90 * 86_400))
    }

    @Test func everyProblemInThePolicyFileWithItsPosition() {
        do {
            _ = try LakeRetention.parse("""
            retention:
              raw_data: 3 days
              db_dumps/daily: 30d
              nowhere: 1y
              store: 1y
            extra: 1
            """, file: "retention.yaml")
            Issue.record("expected problems")
        } catch let error as LakeRetention.InvalidPolicy {
            let lines = error.diagnostics.map(\.description)
            #expect(lines.count == 5, "\(lines)")
            #expect(lines.contains { $0.hasPrefix("retention.yaml:2:13: retention.raw_data: expected an age") })
            #expect(lines.contains { $0.hasPrefix("retention.yaml:3:19: retention.db_dumps/daily: dumps follow the dump stage") })
            #expect(lines.contains { $0.hasPrefix("retention.yaml:4:12: retention.nowhere: 'nowhere' is not a lake folder") })
            #expect(lines.contains { $0.hasPrefix("retention.yaml:5:10: retention.store: the store is not governed by gc") })
            #expect(lines.contains { $0.hasPrefix("retention.yaml:6:1: extra: unknown key 'extra'") })
        } catch {
            Issue.record("unexpected \(error)")
        }
    }

    @Test func gcNeverRemovesWhatTheLatestSuccessfulRunUsesAndHonoursItsRules() async throws {
        let t = try TestLake()
        try LakeLayout.create(at: t.lake)
        try t.put("raw_data/imports/products.csv", "slug,category\na,shoes\nb,books\n")
        let old = try await t.run(Self.pipeline, date: "2026-01-01")
        let latest = try await t.run(Self.pipeline, date: "2026-01-02", force: true)
        #expect(old.status == .succeeded && latest.status == .succeeded)
        try t.put("external_apis/llm_responses/ab/old.json", "{}")
        try t.put("external_apis/llm_responses/ab/fresh.json", "{}")
        try t.put("db_dumps/daily/agentshop_20200101T000000Z.sqlite.gz", "x")
        for path in LakeListing.walk(t.lake) { t.age(path, days: 400) }
        t.age("external_apis/llm_responses/ab/fresh.json", days: 29)
        t.age("external_apis/llm_responses/ab/old.json", days: 31)

        let history = LakeHistory(lake: t.lake)
        let plan = LakeRetention.defaults.plan(lake: t.lake, history: history)
        let removals = Set(plan.removals.map(\.path))
        #expect(removals == [
            "scraped_data/products/dt=2026-01-01/products.jsonl.gz",
            "raw_data/logs/p/\(old.runID).manifest.json",
            "external_apis/llm_responses/ab/old.json",
        ])
        // The latest run's input, outputs and manifest are past their age but stay.
        #expect(Set(plan.protected).isSuperset(of: [
            "raw_data/imports/products.csv", "scraped_data/products/dt=2026-01-02/products.jsonl.gz",
            "raw_data/logs/p/\(latest.runID).manifest.json",
        ]))
        #expect(!removals.contains { $0.hasPrefix("db_dumps/") || $0.hasPrefix("processed_data/") })

        let (removed, failed) = plan.apply(lake: t.lake)
        #expect(failed.isEmpty)
        #expect(removed.count == 3)
        #expect(!t.exists("scraped_data/products/dt=2026-01-01"))      // the emptied partition folder goes
        #expect(t.exists("scraped_data/products"))                      // the layout's folders stay
        #expect(t.exists("scraped_data/products/dt=2026-01-02/products.jsonl.gz"))
        #expect(t.exists("processed_data/aggregations/by_category/dt=2026-01-01.csv"))  // 3 years for processed data
        #expect(t.exists("external_apis/llm_responses/ab/fresh.json"))
        #expect(t.exists("db_dumps/daily/agentshop_20200101T000000Z.sqlite.gz"))
        #expect(t.exists("raw_data/imports/products.csv"))
        // A second plan finds nothing more.
        #expect(LakeRetention.defaults.plan(lake: t.lake, history: LakeHistory(lake: t.lake)).removals.isEmpty)
    }
}
