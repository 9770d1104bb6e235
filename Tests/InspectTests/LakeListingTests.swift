import Foundation
import Testing
import Lake
@testable import Inspect

@Suite struct LakeListingTests {
    @Test(arguments: [
        ("scraped_data/products/dt=2026-11-25/products.jsonl.gz", "scraped_data/products/*/products.jsonl.gz", "dt=2026-11-25"),
        ("processed_data/aggregations/by_category/dt=2026-11-25.csv", "processed_data/aggregations/by_category/*.csv", "dt=2026-11-25"),
        ("a/year=2026/month=11/x.jsonl", "a/*/*/x.jsonl", "year=2026/month=11"),
        ("raw_data/imports/products.csv", "raw_data/imports/products.csv", ""),
        ("raw_data/imports/a=b=c/=x.csv", "raw_data/imports/*/=x.csv", "a=b=c"),
    ])
    func datasetsAndPartitionsFromHivePaths(path: String, dataset: String, partition: String) {
        let (d, p) = LakeListing.datasetAndPartition(of: path)
        #expect(d == dataset)
        #expect(p == partition)
    }

    @Test func filesWithWriterRecordsAndDatasetsGrouped() async throws {
        let t = try TestLake()
        try LakeLayout.create(at: t.lake)
        try t.put("raw_data/imports/products.csv", "slug,category\na,shoes\nb,books\nc,toys\n")
        let yaml = """
        pipeline: p
        stages:
          products:
            import: { from: raw_data/imports/products.csv }
            out: scraped_data/products/dt={run_date}/products.jsonl.gz
        """
        let first = try await t.run(yaml, date: "2026-01-01")
        let second = try await t.run(yaml, date: "2026-01-02")
        try t.put(".agentshop/hidden.txt", "x")
        let history = LakeHistory(lake: t.lake)
        let files = LakeListing.describe(LakeListing.walk(t.lake), in: t.lake, history: history)
        // Layout READMEs, hidden state and the store are not datasets.
        #expect(!files.contains { $0.path.hasSuffix("README.md") || $0.path.hasPrefix(".agentshop") })
        let partitioned = files.filter { $0.dataset == "scraped_data/products/*/products.jsonl.gz" }
        #expect(partitioned.map(\.partition) == ["dt=2026-01-01", "dt=2026-01-02"])
        #expect(partitioned.map { $0.writer?.runID } == [first.runID, second.runID])
        #expect(partitioned.map { $0.writer?.name } == ["p:products", "p:products"])
        #expect(partitioned.map(\.records) == [3, 3])
        let raw = try #require(files.first { $0.path == "raw_data/imports/products.csv" })
        #expect(raw.writer == nil)
        #expect(raw.records == 3)  // counted: no manifest wrote it

        let datasets = LakeListing.datasets(files)
        let products = try #require(datasets.first { $0.dataset == "scraped_data/products/*/products.jsonl.gz" })
        #expect(products.files == 2 && products.partitions == 2 && products.records == 6)
        #expect(products.writer?.runID == second.runID)

        #expect(try LakeListing.files(t.lake, matching: "scraped_data/products") == partitioned.map(\.path))
        #expect(try LakeListing.files(t.lake, matching: "p:products") == ["scraped_data/products/dt=2026-01-02/products.jsonl.gz"])
    }
}
