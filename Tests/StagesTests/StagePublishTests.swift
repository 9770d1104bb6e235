import Foundation
import Lake
import Pipeline
import Testing

/// aggregate and sql publish their output and rejects through Lake's scoped `publish { }`: a run that fails part-way
/// leaves the previous output as it was and no temporary file; a run that succeeds publishes both.
struct StagePublishTests {
    static let good = "{\"category\":\"a\",\"price\":1}\nnot json\n{\"category\":\"b\",\"price\":2}\n"

    @Test func aFailedAggregateKeepsThePreviousOutput() async throws {
        let project = try Project()
        try project.put("raw_data/imports/p/1.jsonl", Self.good)
        let pipeline = """
            stages:
              by_category:
                aggregate: { from: "raw_data/imports/p/*.jsonl", group_by: [category], measures: { n: count() }, on_error: ON_ERROR }
                out: processed_data/aggregations/by_category.csv
            """
        try project.writePipeline(pipeline.replacingOccurrences(of: "ON_ERROR", with: "skip"))
        let first = try await project.run { $0.runID = "R1" }
        #expect(first.status == .succeeded, "\(first.error ?? "")")
        #expect(try project.read("processed_data/aggregations/by_category.csv") == "category,n\na,1\nb,1\n")
        #expect(try project.records("raw_data/logs/p/R1.by_category.rejects.jsonl").map { $0["line"] } == [2])

        // With on_error: fail the malformed line fails the run, after a second file was added.
        try project.put("raw_data/imports/p/2.jsonl", "{\"category\":\"c\",\"price\":3}\n")
        try project.writePipeline(pipeline.replacingOccurrences(of: "ON_ERROR", with: "fail"))
        let failed = try await project.run { $0.runID = "R2" }
        #expect(failed.status == .failed)
        #expect(try project.read("processed_data/aggregations/by_category.csv") == "category,n\na,1\nb,1\n")
        #expect(!project.exists("raw_data/logs/p/R2.by_category.rejects.jsonl"))
        #expect(project.temporaries(in: "processed_data/aggregations").isEmpty)
        #expect(project.temporaries(in: "raw_data/logs/p").isEmpty)
    }

    @Test func aSQLQueryThatFailsWhileRunningKeepsThePreviousOutput() async throws {
        let project = try Project()
        try project.put("raw_data/imports/items.jsonl", Self.good)
        let pipeline = """
            stages:
              q:
                sql: { from: raw_data/imports/items.jsonl, on_error: skip, query: "QUERY" }
                out: processed_data/reports/q.csv
            """
        try project.writePipeline(pipeline.replacingOccurrences(of: "QUERY", with: "SELECT category, price FROM items ORDER BY category"))
        let first = try await project.run { $0.runID = "R1" }
        #expect(first.status == .succeeded, "\(first.error ?? "")")
        #expect(try project.read("processed_data/reports/q.csv") == "category,price\na,1\nb,2\n")
        #expect(try project.records("raw_data/logs/p/R1.q.rejects.jsonl").map { $0["line"] } == [2])

        // abs() of the smallest integer overflows on the second row: the query compiles, then fails half-way.
        let failing = "SELECT category, CASE WHEN price = 2 THEN abs(-9223372036854775807 - 1) ELSE price END AS price FROM items ORDER BY category"
        try project.writePipeline(pipeline.replacingOccurrences(of: "QUERY", with: failing))
        let failed = try await project.run { $0.runID = "R2" }
        #expect(failed.status == .failed)
        #expect(failed.stage("q")?.error?.contains("integer overflow") == true, "\(failed.stage("q")?.error ?? "")")
        #expect(try project.read("processed_data/reports/q.csv") == "category,price\na,1\nb,2\n")
        #expect(!project.exists("raw_data/logs/p/R2.q.rejects.jsonl"))
        #expect(project.temporaries(in: "processed_data/reports").isEmpty)
        #expect(project.temporaries(in: "raw_data/logs/p").isEmpty)
    }

    /// A join loads the tables before the query runs; the CSV header is the query's columns even with no row.
    @Test func aSQLJoinWithNoRowsWritesTheHeader() async throws {
        let project = try Project()
        try project.put("raw_data/imports/items.jsonl", Self.good)
        try project.writePipeline("""
            stages:
              q:
                sql:
                  from: raw_data/imports/items.jsonl
                  on_error: skip
                  query: SELECT a.category AS left_category, b.price AS right_price FROM items a JOIN items b ON a.price > b.price + 5
                out: processed_data/reports/q.csv
            """)
        let manifest = try await project.run()
        #expect(manifest.status == .succeeded, "\(manifest.error ?? "")")
        #expect(try project.read("processed_data/reports/q.csv") == "left_category,right_price\n")
        #expect(manifest.stage("q")?.counts["records_out"] == 0)
    }
}
