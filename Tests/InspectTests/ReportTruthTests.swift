import Foundation
import HTML
import Testing
import Lake
import Pipeline
@testable import Inspect

/// The report tells the truth: cache hits are not failures, the status is the run's, records are
/// counted per dataset, charts have readable ticks and nothing is drawn for all-zero values.
@Suite struct ReportTruthTests {
    func manifest(_ id: String, status: RunManifest.Status = .succeeded, calls: [JSONValue] = [],
                  records: Int = 3, enrichMs: Int = 2000) -> RunManifest {
        var m = RunManifest(runID: id, pipeline: "shop", pipelineFile: "pipelines/shop.yaml",
                            startedAt: Timestamp.parse("2026-01-02T10:00:00Z")!, runDate: "2026-01-02", toolVersion: "0.1.0",
                            options: [], logFile: "raw_data/logs/shop/\(id).log")
        m.status = status
        if status != .running { m.finishedAt = "2026-01-02T10:01:00.000Z" }
        var fetch = RunManifest.StageRun(name: "crawl", kind: "fetch", status: .ran, reason: "never run", fingerprint: "f")
        fetch.startedAt = "2026-01-02T10:00:01.000Z"
        fetch.durationMs = 1000
        fetch.outputs = [.init(path: "scraped_data/p/pages.warc.gz", sha256: "a", bytes: 10, records: 500),
                         .init(path: "raw_data/logs/crawl/crawl.jsonl.gz", sha256: "b", bytes: 10, records: 250)]
        var parse = RunManifest.StageRun(name: "products", kind: "parse", status: .ran, reason: "input changed", fingerprint: "p")
        parse.startedAt = "2026-01-02T10:00:02.000Z"
        parse.durationMs = 500
        parse.inputs = fetch.outputs
        parse.outputs = [.init(path: "scraped_data/p/products.jsonl.gz", sha256: "c", bytes: 10, records: records)]
        var enrich = RunManifest.StageRun(name: "enriched", kind: "enrich", status: .ran, reason: "input changed", fingerprint: "e")
        enrich.startedAt = "2026-01-02T10:00:03.000Z"
        enrich.durationMs = enrichMs
        enrich.inputs = parse.outputs
        enrich.outputs = [.init(path: "processed_data/e.jsonl.gz", sha256: "d", bytes: 10, records: records)]
        enrich.details = .object(JSONObject([("llm", .object(JSONObject([("calls", .array(calls))])))]))
        m.stages = [fetch, parse, enrich]
        if status == .running { m.stages.append(.init(name: "report", kind: "report", status: .planned, reason: "", fingerprint: "r")) }
        return m
    }

    func call(_ status: String, cost: Double = 0, cacheHit: Bool = false, minute: Int = 0) -> JSONValue {
        .object(JSONObject([("provider", "offline"), ("model", "m"), ("status", .string(status)), ("tokens_in", 10),
                            ("tokens_out", 5), ("cost_usd", .double(cost)), ("cache_hit", .bool(cacheHit)),
                            ("at", .string(String(format: "2026-01-02T10:%02d:00.000Z", minute)))]))
    }

    func render(_ m: RunManifest, history: [RunManifest] = []) throws -> (String, HTMLDocument) {
        let t = try TestLake()
        var report = RunReport(manifest: m, lake: t.lake, history: history)
        let html = report.render()
        return (html, try HTMLDocument(html: html))
    }

    @Test func cacheHitsAreNotFailuresAndEachFigureStandsApart() throws {
        let calls = (0..<110).map { _ in call("cached", cacheHit: true) } + (0..<7).map { _ in call("success", cost: 0.001) }
            + [call("error"), call("invalid"), call("skipped_budget")]
        let (_, doc) = try render(manifest("r1", calls: calls))
        let row = try doc.xpath("//section[@id='llm']//tbody/tr[1]/td").strings
        #expect(Array(row.prefix(6)) == ["offline · m", "110", "9", "1", "1", "1"], "\(row)")
        let cards = try doc.xpath("//section[@id='summary']//div[@class='card']").strings
        #expect(cards.contains("9LLM requests sent") && cards.contains("110answers from cache"), "\(cards)")
        #expect(cards.contains("1LLM requests failed") && cards.contains("1answers quarantined"))
        #expect(!cards.joined().contains("not ok"))
    }

    @Test func theStatusIsTheRunsAndARunningPageSaysSo() throws {
        let (_, done) = try render(manifest("r1", status: .failed))
        #expect(try done.xpath("//header//b").strings.first == "failed")
        let (_, running) = try render(manifest("r1", status: .running))
        #expect(try running.xpath("//header//b").strings.first == "running when written (3 stages settled so far)")
    }

    @Test func recordsAreCountedPerDatasetNeverSummedAcrossThem() throws {
        let (html, doc) = try render(manifest("r1", records: 42))
        #expect(!html.contains("records written"))
        let labels = try doc.xpath("//section[@id='records']//svg//text").strings
        #expect(labels == ["products", "42", "enriched", "42"], "\(labels)")  // no WARC records, no crawl-log lines
    }

    @Test func zeroCostDrawsNoCostChart() throws {
        let calls = (0..<5).map { call("cached", cacheHit: true, minute: $0) }
        let (html, doc) = try render(manifest("r1", calls: calls))
        #expect(try doc.xpath("//section[@id='summary']//div[@class='card']").strings.contains("no costLLM cost"))
        #expect(!html.contains("Cost over time") && !html.contains("Cost by provider"))
        #expect(html.contains("No cost: every answer came from the cache or a free provider."))
    }

    @Test(arguments: [0.00045, 0.0004, 0.0031, 0.9, 7, 1234, 0.000012])
    func tickLabelsAreDistinctAndReadable(_ top: Double) throws {
        let axis = SVGChart.niceAxis(top)
        var labels: [String] = []
        var tick = 0.0
        while tick <= axis.max + axis.step / 2 { labels.append(SVGChart.tick(tick, step: axis.step)); tick += axis.step }
        #expect(Set(labels).count == labels.count, "\(labels)")
        #expect(labels.allSatisfy { !$0.hasSuffix(".") && !$0.hasSuffix("0") || !$0.contains(".") }, "\(labels)")
        #expect(labels.first == "0")
    }

    @Test func tickLabelsExamples() {
        #expect(SVGChart.tick(0.0002, step: 0.0001) == "0.0002")
        #expect(SVGChart.tick(0.0005, step: 0.0005) == "0.0005")
        #expect(SVGChart.tick(0.4, step: 0.2) == "0.4")
        #expect(SVGChart.tick(2500, step: 500) == "2,500")
    }

    @Test func histogramLabelsDoNotOverlap() throws {
        let labels = ["<50ms", "50–100ms", "100–250ms", "250–500ms", "0.5–1s", "1–2s", "2–5s", "5–10s", ">10s",
                      "a-long-label-1", "a-long-label-2", "a-long-label-3", "a-long-label-4"]
        let svg = SVGChart.stackedColumns(buckets: labels, series: [("n", labels.indices.map(Double.init))], title: "t")
        let doc = try HTMLDocument(html: "<html><body>\(svg)</body></html>")
        let xs = try doc.xpath("//text[@text-anchor='middle']/@x").strings.compactMap(Double.init)
        #expect(xs.count >= 2)
        for (a, b) in zip(xs, xs.dropFirst()) { #expect(b - a >= 14 * 6.6, "labels at \(a) and \(b) overlap") }
    }

    @Test func trendsOverTheLastRunsAndTheGraph() throws {
        let history = (1...4).map { manifest("2026010\($0)T100000Z-aaaaaa", calls: [call("success", cost: 0.01 * Double($0))],
                                             records: $0 * 10, enrichMs: $0 * 1000) }
        let (_, doc) = try render(history.last!, history: history)
        #expect(try doc.xpath("//section[@id='trends']//svg").strings.count == 2)   // duration, cost (no failures: a note)
        let header = try doc.xpath("//section[@id='trends']//thead//th").strings
        #expect(header == ["dataset", "01-01 10:00", "01-02 10:00", "01-03 10:00", "01-04 10:00"], "\(header)")
        #expect(try doc.xpath("//section[@id='trends']//tbody/tr[td[1]='products']/td").strings == ["products", "10", "20", "30", "40"])
        // The graph: three stages, two arrows (crawl → products → enriched).
        #expect(try doc.xpath("//section[@id='graph']//svg/g").strings.count == 3)
        #expect(try doc.xpath("//section[@id='graph']//svg/path[@fill='none']").strings.count == 2)
    }
}
