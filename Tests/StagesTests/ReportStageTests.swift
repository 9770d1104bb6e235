import Foundation
import HTML
import Testing
import Lake
import Stages
import Pipeline

@Suite struct ReportStageTests {
    static let pipeline = """
    pipeline: p
    stages:
      products:
        import: { from: raw_data/imports/products.csv }
        out: scraped_data/products/dt={run_date}/products.jsonl.gz
      by_category:
        aggregate: { from: products, group_by: [category], measures: { n: count(), avg_price: avg(price) } }
        out: processed_data/aggregations/by_category/dt={run_date}.csv
      report:
        report:
          title: Shop
          charts:
            - { dataset: by_category, type: bar, x: category, y: avg_price }
            - { dataset: products, type: box, x: category, y: price }
        after: [by_category]
        out: processed_data/reports/dt={run_date}/run.html
    """

    @Test func writesTheReportOfItsOwnRunAndSkipsWhenNothingElseRan() async throws {
        let t = try Project()
        try t.put("raw_data/imports/products.csv", "slug,category,price\na,shoes,10\nb,books,5\nc,shoes,20\n")
        let first = try await t.run(Self.pipeline)
        #expect(first.status == .succeeded, "\(first.error ?? "")")
        let doc = try HTMLDocument(html: String(decoding: try FileInput.readAll(path: t.lake.root + "/processed_data/reports/dt=2026-01-02/run.html"), as: UTF8.self))
        #expect(try doc.xpath("//h1").strings == ["Shop"])
        #expect(try doc.xpath("//section[@id='timeline']//tbody/tr/td[1]").strings == ["products", "by_category"])
        if case .nodes(let svgs) = try doc.xpath("//section[@id='datasets']//svg") { #expect(svgs.count == 2) } else { Issue.record("no charts") }
        #expect(first.stages.first { $0.name == "report" }?.counts["charts"] == 2)

        let second = try await t.run(Self.pipeline)
        #expect(second.stages.map(\.status) == [.skipped, .skipped, .skipped])
        try t.put("raw_data/imports/products.csv", "slug,category,price\na,shoes,12\n")
        let third = try await t.run(Self.pipeline)
        #expect(third.stages.first { $0.name == "report" }?.status == .ran)
    }

    @Test func configurationProblemsPointAtTheirKeys() throws {
        let t = try Project()
        try t.writePipeline("""
        pipeline: p
        stages:
          report:
            report:
              charts:
                - { dataset: nowhere, type: pie, y: price }
                - { dataset: raw_data/x.csv, type: bar }
              colour: red
            out: processed_data/reports/r.html
        """)
        do {
            _ = try PipelineLoader(registry: Stages.BuiltinStages.registry, environment: PipelineEnvironment(variables: [:]), lake: t.lake)
                .load(file: t.pipelineFile)
            Issue.record("expected problems")
        } catch {
            let text = error.description
            #expect(text.contains("stages.report.report.charts.0.dataset: no stage named 'nowhere'"))
            #expect(text.contains("stages.report.report.charts.1.y: missing required key 'y'") || text.contains("stages.report.report.charts.1: missing required key 'y'"))
            #expect(text.contains("a bar chart needs x"))
            #expect(text.contains("stages.report.report.colour: unknown key 'colour'"))
        }
    }
}

extension Project {
    /// Writes `yaml` as the pipeline and runs it.
    fileprivate func run(_ yaml: String) async throws -> RunManifest {
        try writePipeline(yaml)
        return try await run()
    }
}
