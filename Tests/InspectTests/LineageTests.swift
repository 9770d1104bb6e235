import Foundation
import Testing
import Lake
import Pipeline
@testable import Inspect

@Suite struct LineageTests {
    static let pipeline = """
    pipeline: p
    stages:
      raw:
        import: { from: raw_data/imports/products.csv }
        out: scraped_data/products/dt={run_date}/products.jsonl.gz
      clean:
        import: { from: raw }
        out: processed_data/ml_datasets/products/dt={run_date}/part.jsonl
      by_category:
        aggregate: { from: clean, group_by: [category], measures: { n: count(), avg_price: avg(price) } }
        out: processed_data/aggregations/by_category/dt={run_date}.csv
    """

    @Test func chainAcrossThreeStagesBackToTheRawSourceAndForward() async throws {
        let t = try TestLake()
        try t.put("raw_data/imports/products.csv", "slug,category,price\na,shoes,10\nb,books,5\nc,shoes,20\n")
        let first = try await t.run(Self.pipeline, date: "2026-01-02")
        #expect(first.status == .succeeded)
        // A second day with different raw data: the first day's aggregate still traces to the first run.
        try t.put("raw_data/imports/products.csv", "slug,category,price\na,shoes,11\n")
        let second = try await t.run(Self.pipeline, date: "2026-01-03")
        #expect(second.status == .succeeded)

        let history = LakeHistory(lake: t.lake)
        let lineage = Lineage(file: "processed_data/aggregations/by_category/dt=2026-01-02.csv", history: history)
        let top = lineage.upstream
        #expect(top.producer?.name == "p:by_category")
        #expect(top.producer?.runID == first.runID)
        #expect(top.records == 2)
        let clean = try #require(top.children.first)
        #expect(clean.path == "processed_data/ml_datasets/products/dt=2026-01-02/part.jsonl")
        #expect(clean.producer?.name == "p:clean")
        let raw = try #require(clean.children.first)
        #expect(raw.path == "scraped_data/products/dt=2026-01-02/products.jsonl.gz")
        #expect(raw.producer?.name == "p:raw")
        let source = try #require(raw.children.first)
        #expect(source.path == "raw_data/imports/products.csv")
        #expect(source.producer == nil)
        #expect(source.children.isEmpty)
        #expect(lineage.downstream.isEmpty)

        let text = lineage.render()
        #expect(text.contains("← p:by_category (aggregate) run \(first.runID)"))
        #expect(text.contains("raw_data/imports/products.csv  (raw source)"))

        // Forward from the middle: the first day's cleaned file fed only the first day's aggregate.
        let forward = Lineage(file: "scraped_data/products/dt=2026-01-02/products.jsonl.gz", history: history)
        #expect(forward.downstream.map(\.path) == ["processed_data/ml_datasets/products/dt=2026-01-02/part.jsonl"])
        #expect(forward.downstream.first?.children.map(\.path) == ["processed_data/aggregations/by_category/dt=2026-01-02.csv"])
        #expect(forward.render().contains("built from it:"))

        // The raw CSV: the current version fed the second run only.
        let fromRaw = Lineage(file: "raw_data/imports/products.csv",
                              sha256: try FileDigest.sha256(path: t.lake.root + "/raw_data/imports/products.csv"), history: history)
        #expect(fromRaw.downstream.map(\.path) == ["scraped_data/products/dt=2026-01-03/products.jsonl.gz"])
        #expect(fromRaw.downstream.first?.via?.runID == second.runID)
    }

    @Test func aFileNoManifestMentionsIsARawSource() throws {
        let t = try TestLake()
        let lineage = Lineage(file: "raw_data/imports/x.csv", history: LakeHistory(manifests: []))
        #expect(lineage.upstream.producer == nil)
        #expect(lineage.render().contains("(raw source)"))
        #expect(lineage.json.objectValue?["upstream"]?.objectValue?["raw_source"] == .bool(true))
        _ = t
    }
}
