import Foundation
import Lake
import Pipeline
import Query
@testable import Stages
import Testing
import TestSupport

/// The aggregate stage's binding: its settings, checked, become the engine's plan.
@Suite struct AggregateStageTests {
    final class Fixture {
        let directory: TemporaryDirectory
        var folder: String { directory.path }
        init(files: [String: String]) throws {
            directory = try TemporaryDirectory()
            try FileManager.default.createDirectory(atPath: folder + "/datalake/raw_data/imports", withIntermediateDirectories: true)
            try FileManager.default.createDirectory(atPath: folder + "/pipelines", withIntermediateDirectories: true)
            for (name, text) in files {
                try text.write(toFile: folder + "/datalake/raw_data/imports/" + name, atomically: true, encoding: .utf8)
            }
        }
        func pipeline(_ settings: String) throws -> String {
            let indented = settings.split(separator: "\n", omittingEmptySubsequences: false).map { "      " + $0 }.joined(separator: "\n")
            let text = "pipeline: t\nstages:\n  agg:\n    aggregate:\n\(indented)\n    out: processed_data/aggregations/out.jsonl\n"
            let path = folder + "/pipelines/t.yaml"
            try text.write(toFile: path, atomically: true, encoding: .utf8)
            return path
        }

        func load(_ settings: String) throws(PipelineValidationError) -> AggregateStage.Definition {
            let path = try! pipeline(settings)
            let loader = PipelineLoader(registry: BuiltinStages.registry, environment: PipelineEnvironment(variables: [:]), lake: nil)
            let (spec, _) = try loader.load(file: path)
            return spec.stage(named: "agg")!.definition as! AggregateStage.Definition
        }
    }

    /// The settings reach the engine's plan as written (the engine itself is tested in QueryTests).
    @Test func settingsBecomeThePlan() throws {
        let definition = try Fixture(files: [:]).load("""
        from: raw_data/imports/p.jsonl
        group_by: [category, s.label]
        where: "price > 0"
        measures: { n: count(), p90_price: p90(price), avg_rating: avg(rating) }
        having: "n >= 2"
        order_by: [n desc]
        limit: 3
        quantiles: sketch
        null_counts: false
        """)
        let plan = definition.plan
        #expect(plan.columns == ["category", "s.label", "n", "p90_price", "avg_rating"])
        #expect(plan.groupBy == [DottedPath(["category"]), DottedPath(["s", "label"])])
        #expect(plan.measures.map(\.function) == [.count, .quantile(0.9), .avg])
        #expect(plan.filter == (try FilterExpression.parse("price > 0")))
        #expect(plan.havingColumns == [2])
        #expect(plan.order.map(\.column) == [2] && plan.order.map(\.descending) == [true])
        #expect(plan.limit == 3 && plan.quantiles == .sketch && !plan.nullCounts)
    }

    // MARK: Configuration errors, with positions

    @Test func configurationErrorsPointAtTheConfiguration() throws {
        let fixture = try Fixture(files: [:])
        let path = try fixture.pipeline("""
        from: raw_data/imports/p.jsonl
        group_by: [category, category]
        where: "price >> 3"
        measures: { n: count(), a: avg(), b: p900(price), c: nope(price), d: "avg(price, 2)" }
        having: "n >= 1 and 'missing' != 'x' or missing > 1"
        order_by: [n sideways]
        limit: -1
        """)
        var diagnostics: [Diagnostic] = []
        let loader = PipelineLoader(registry: BuiltinStages.registry, environment: PipelineEnvironment(variables: [:]), lake: nil)
        do { _ = try loader.load(file: path) } catch { diagnostics = error.diagnostics }
        let lines = diagnostics.map { "\($0.line):\($0.column): \($0.keyPath): \($0.message)" }
        // Stage settings start on line 5, column 7 of the generated file.
        #expect(lines.contains { $0.hasPrefix("6:28: stages.agg.aggregate.group_by.1: 'category' is grouped by twice") }, "\(lines)")
        #expect(lines.contains { $0.hasPrefix("7:22: stages.agg.aggregate.where: expected a field or a value, found '>'") }, "\(lines)")
        #expect(lines.contains { $0.hasPrefix("8:38: stages.agg.aggregate.measures.a: avg() needs a field") }, "\(lines)")
        #expect(lines.contains { $0.hasPrefix("8:44: stages.agg.aggregate.measures.b: percentiles go from p0 to p100") }, "\(lines)")
        #expect(lines.contains { $0.hasPrefix("8:60: stages.agg.aggregate.measures.c: unknown function 'nope'") }, "\(lines)")
        #expect(lines.contains { $0.hasPrefix("8:88: stages.agg.aggregate.measures.d: avg() takes one field") }, "\(lines)")
        #expect(lines.contains { $0.hasPrefix("9:47: stages.agg.aggregate.having: 'having' compares output columns; 'missing' is not one") }, "\(lines)")
        #expect(lines.contains { $0.hasPrefix("10:20: stages.agg.aggregate.order_by.0: expected 'asc', 'desc'") }, "\(lines)")
        #expect(lines.contains { $0.hasPrefix("11:14: stages.agg.aggregate.limit: must be at least 0") }, "\(lines)")
        #expect(diagnostics.count == 9, "\(lines)")
    }

    // MARK: Stages reading one file at the same time

    /// Two aggregate stages over one file read it once (`SharedScans`) and write byte for byte what
    /// each writes alone; when one fails on a malformed line, the other still succeeds.
    @Test func stagesReadingOneFileShareTheScanAndWriteWhatEachWritesAlone() async throws {
        let project = try Project()
        var lines = (0..<4000).map { i in
            "{\"category\":\"c\(i % 7)\",\"vendor\":\"v\(i % 31)\",\"price\":\(Double(i % 997) / 4),\"rating\":\(i % 5)}"
        }
        lines.insert("{\"category\": oops}", at: 1234)
        try project.put("raw_data/imports/p.jsonl", lines.joined(separator: "\n") + "\n")
        let pipeline = """
            stages:
              by_category:
                aggregate: { from: raw_data/imports/p.jsonl, group_by: [category], on_error: skip,
                             measures: { n: count(), avg_price: avg(price), p90_price: p90(price), avg_rating: avg(rating) } }
                out: processed_data/aggregations/by_category.csv
              by_vendor:
                aggregate: { from: raw_data/imports/p.jsonl, group_by: [vendor], on_error: ON_ERROR,
                             measures: { n: count(), median_price: median(price), max_rating: max(rating) } }
                out: processed_data/aggregations/by_vendor.csv
            """
        try project.writePipeline(pipeline.replacingOccurrences(of: "ON_ERROR", with: "skip"))
        var alone: [String: String] = [:]
        for stage in ["by_category", "by_vendor"] {
            let run = try await project.run { $0.stages = [stage]; $0.force = true }
            #expect(run.status == .succeeded, "\(run.error ?? "")")
            alone[stage] = try project.read("processed_data/aggregations/\(stage).csv")
        }
        #expect(alone["by_vendor"]!.hasPrefix("vendor,n,median_price,max_rating,price_nulls,rating_nulls\nv0,130,"))

        let logs = LogCapture()
        let both = try await project.run(registry: BuiltinStages.registry, logs: logs) { $0.force = true; $0.runID = "R2" }
        #expect(both.status == .succeeded, "\(both.error ?? "")")
        #expect(logs.lines.contains { $0.hasPrefix("info run finished") && $0.contains("scans_shared=1") }, "\(logs.lines)")
        for stage in ["by_category", "by_vendor"] {
            #expect(try project.read("processed_data/aggregations/\(stage).csv") == alone[stage])
            #expect(try project.records("raw_data/logs/p/R2.\(stage).rejects.jsonl").map { $0["line"] } == [1235])
        }

        // One stage fails on the malformed line; the other reads the shared scan to its end.
        try project.writePipeline(pipeline.replacingOccurrences(of: "ON_ERROR", with: "fail"))
        let failed = try await project.run(registry: BuiltinStages.registry, logs: logs) { $0.force = true; $0.runID = "R3" }
        #expect(failed.status == .failed)
        #expect(failed.stage("by_vendor")?.status == .failed)
        #expect(failed.stage("by_vendor")?.error?.contains("line 1235") == true, "\(failed.stage("by_vendor")?.error ?? "")")
        #expect(failed.stage("by_category")?.status == .ran)
        #expect(try project.read("processed_data/aggregations/by_category.csv") == alone["by_category"])
        #expect(logs.lines.contains { $0.hasPrefix("info run finished") && $0.contains("status=failed") && $0.contains("scans_shared=1") },
                "\(logs.lines)")
    }
}
