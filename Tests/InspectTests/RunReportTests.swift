import Foundation
import HTML
import Testing
import Lake
import Pipeline
@testable import Inspect

@Suite struct RunReportTests {
    /// A manifest as a run with fetch, enrich, aggregate and a failing stage would leave it, with
    /// a crawl log and LLM call details in the shapes those stages record.
    func fixture(_ t: TestLake) throws -> RunManifest {
        let log = "scraped_data/products/dt=2026-01-02/crawl.jsonl.gz"
        var crawl: [JSONObject] = []
        for i in 0..<40 {
            let status: JSONValue = i < 30 ? 200 : (i < 35 ? 404 : (i < 38 ? 503 : .null))
            crawl.append(JSONObject([
                ("url", .string("https://shop\(i % 2).example/p/\(i)")), ("final_url", .string("https://shop\(i % 2).example/p/\(i)")),
                ("status", status), ("bytes", .int(Int64(1000 + i))), ("ms", .int(Int64(20 + i * 150))), ("attempt", 1),
                ("from_cache", .bool(i % 4 == 0)), ("error", i >= 38 ? "timeout <after 30s>" : .null),
                ("fetched_at", "2026-01-02T10:00:00Z"), ("depth", 1), ("content_type", "text/html"), ("content_sha256", "ab"),
                ("via", "direct"), ("warc_file", "scraped_data/products/dt=2026-01-02/pages.warc.gz"), ("warc_offset", .int(Int64(i * 100))),
            ]))
        }
        try t.putRecords(log, crawl)
        try t.put("processed_data/aggregations/by_vendor.csv", "vendor,reviews,price\n<b>Evil & \"Co\"</b>,12,10\nacme,30,20\nglobex,7,\n")

        var calls: [JSONValue] = []
        let models = [("openai", "gpt-4o-mini", 0.0004), ("claude", "claude-3-haiku", 0.0009), ("ollama", "llama3", 0.0)]
        for i in 0..<30 {
            let (provider, model, cost) = models[i % 3]
            calls.append(.object(JSONObject([
                ("request_key", .string("k\(i)")), ("provider", .string(provider)), ("model", .string(model)), ("task", "sentiment"),
                ("prompt_sha256", "cd"), ("status", i == 7 ? "error" : "ok"), ("tokens_in", 120), ("tokens_out", 30),
                ("cost_usd", .double(cost)), ("latency_ms", .int(Int64(300 + i))), ("cache_hit", .bool(i % 5 == 0)),
                ("finish_reason", "stop"), ("error", .null), ("at", .string(String(format: "2026-01-02T10:%02d:00.000Z", i * 2))),
            ])))
        }

        var manifest = RunManifest(runID: "20260102T100000Z-abcdef", pipeline: "shop", pipelineFile: "pipelines/shop.yaml",
                                   startedAt: Timestamp.parse("2026-01-02T10:00:00Z")!, runDate: "2026-01-02", toolVersion: "0.1.0",
                                   options: [], logFile: "raw_data/logs/shop/20260102T100000Z-abcdef.log")
        manifest.status = .failed
        manifest.finishedAt = "2026-01-02T11:00:00.000Z"
        manifest.error = "stage 'load' failed: <script>alert(1)</script>"
        var fetch = RunManifest.StageRun(name: "crawl", kind: "fetch", status: .ran, reason: "never run", fingerprint: "f")
        fetch.startedAt = "2026-01-02T10:00:01.000Z"
        fetch.durationMs = 600_000
        fetch.outputs = [.init(path: "scraped_data/products/dt=2026-01-02/pages.warc.gz", sha256: "a", bytes: 10),
                         .init(path: log, sha256: "b", bytes: 10, records: 40)]
        var enrich = RunManifest.StageRun(name: "enriched", kind: "enrich", status: .ran, reason: "input changed", fingerprint: "e")
        enrich.startedAt = "2026-01-02T10:10:01.000Z"
        enrich.durationMs = 3_000_000
        enrich.outputs = [.init(path: "processed_data/ml_datasets/e.jsonl.gz", sha256: "c", bytes: 10, records: 30)]
        enrich.details = .object(JSONObject([("llm", .object(JSONObject([("calls", .array(calls))])))]))
        let skipped = RunManifest.StageRun(name: "by_vendor", kind: "aggregate", status: .skipped, reason: "up to date", fingerprint: "s")
        var failed = RunManifest.StageRun(name: "load", kind: "materialize", status: .failed, reason: "never run", fingerprint: "l")
        failed.startedAt = "2026-01-02T10:59:00.000Z"
        failed.durationMs = 1200
        failed.error = "<script>alert(1)</script>"
        manifest.stages = [fetch, enrich, skipped, failed]
        return manifest
    }

    func render(_ t: TestLake, _ manifest: RunManifest) throws -> (String, [String]) {
        var report = RunReport(manifest: manifest, lake: t.lake, title: "Shop <run>", charts: [
            (ReportChart(kind: .bar, dataset: "by_vendor", x: "vendor", y: "reviews", title: "Top vendors"),
             [try t.path("processed_data/aggregations/by_vendor.csv")]),
            (ReportChart(kind: .histogram, dataset: "by_vendor", x: nil, y: "price", bins: 4),
             [try t.path("processed_data/aggregations/by_vendor.csv")]),
        ], generatedAt: Date(timeIntervalSince1970: 1_767_355_200))
        let html = report.render()
        return (html, report.warnings)
    }

    @Test func sectionsChartsAndEscapingOnAFullRun() throws {
        let t = try TestLake()
        let (html, warnings) = try render(t, try fixture(t))
        #expect(warnings.isEmpty, "\(warnings)")
        let doc = try HTMLDocument(html: html)
        func count(_ xpath: String) throws -> Int {
            if case .nodes(let nodes) = try doc.xpath(xpath) { return nodes.count }
            return -1
        }
        #expect(try doc.xpath("//section/@id").strings == ["summary", "timeline", "graph", "records", "crawl", "llm", "trends", "datasets"])
        #expect(try count("//section[@id='timeline']//svg") == 1)
        #expect(try count("//section[@id='timeline']//table/tbody/tr") == 4)
        #expect(try count("//section[@id='records']//svg") == 1)
        #expect(try count("//section[@id='crawl']//svg") == 3)  // status codes, times, hosts
        #expect(try count("//section[@id='llm']//svg") == 3)    // cost by model, calls and cost over time
        #expect(try count("//section[@id='llm']//table/tbody/tr") == 3)
        #expect(try count("//section[@id='datasets']//svg") == 2)
        #expect(try count("//section[@id!='trends']//p[@class='empty']") == 0)
        #expect(try count("//script") == 0)
        // Status codes as bars, with the failed fetches as "error".
        #expect(try doc.xpath("//section[@id='crawl']//svg[1]//text").strings.prefix(8) == ["200", "30", "404", "5", "503", "3", "error", "2"])
        #expect(try doc.xpath("//section[@id='crawl']//table//td[1]").strings == ["timeout <after 30s>"])
        // The cost table: claude first (most expensive); cached, sent (of which failed), quarantined, over budget.
        let claude = try doc.xpath("//section[@id='llm']//tbody/tr[1]/td").strings
        #expect(claude == ["claude · claude-3-haiku", "2", "8", "1", "0", "0", "1,200", "300", "0.0090", "315ms"], "\(claude)")
        #expect(try doc.xpath("//section[@id='llm']//tbody/tr/td[4]").strings == ["1", "0", "0"])
        // Data text is escaped: it arrives as text, never as markup.
        #expect(!html.contains("<script>"))
        #expect(html.contains("&lt;script&gt;alert(1)&lt;/script&gt;"))
        #expect(try doc.xpath("//title").strings.first?.hasPrefix("Shop <run>") == true)
        #expect(try doc.xpath("//section[@id='datasets']//svg[1]//text").strings.contains("<b>Evil & \"Co\"</b>"))
        #expect(try doc.xpath("//section[@id='datasets']//svg[1]//text").strings.prefix(2) == ["acme", "30"])
    }

    @Test func wellFormedAndSelfContainedByAnIndependentParser() throws {
        let t = try TestLake()
        let (html, _) = try render(t, try fixture(t))
        try t.put("report.html", html)
        let result = try checkReport(t.lake.root + "/report.html")
        #expect(result.status == 0, "\(result.output)")
        // The checker does catch a reference and a broken nesting.
        try t.put("bad.html", html.replacingOccurrences(of: "</footer>", with: "<img src=\"https://cdn.example/x.png\"/></footer>")
            .replacingOccurrences(of: "</header>", with: "</div></header>"))
        let bad = try checkReport(t.lake.root + "/bad.html")
        #expect(bad.status == 1)
        #expect(bad.output.contains("refers outside the page"))
        #expect(bad.output.contains("</div> closes <header>"))
        // No src/href at all, no CSS fetches, and a policy that blocks anything that slips through.
        #expect(!html.contains(" src=") && !html.contains(" href=") && !html.contains("url(") && !html.contains("@import"))
        #expect(html.contains("default-src 'none'"))
    }

    @Test func sectionsWithoutDataSaySo() throws {
        let t = try TestLake()
        var manifest = RunManifest(runID: "r1", pipeline: "p", pipelineFile: "p.yaml", startedAt: Date(), runDate: "2026-01-02",
                                   toolVersion: "0.1.0", options: [], logFile: "raw_data/logs/p/r1.log")
        manifest.stages = [RunManifest.StageRun(name: "a", kind: "import", status: .skipped, reason: "up to date", fingerprint: "x")]
        var report = RunReport(manifest: manifest, lake: t.lake)
        let doc = try HTMLDocument(html: report.render())
        let empty = try doc.xpath("//p[@class='empty']").strings
        #expect(empty.contains("No stage ran in this run (every stage was up to date or blocked)."))
        #expect(empty.contains("No fetch stage wrote a crawl log in this run, so there is no crawl data."))
        #expect(empty.contains("No stage of this run recorded LLM calls, so there is no LLM data."))
        #expect(empty.contains("No dataset charts are configured (charts: in the report stage)."))
        #expect(empty.contains("No stage of this run wrote a dataset with record counts."))
    }

    @Test func aMissingCrawlLogIsAWarningOnThePageNotAFailure() throws {
        let t = try TestLake()
        var manifest = try fixture(t)
        manifest.stages[0].outputs[1].path = "scraped_data/products/dt=2026-01-02/gone.jsonl"
        var report = RunReport(manifest: manifest, lake: t.lake)
        let html = report.render()
        #expect(report.warnings == ["scraped_data/products/dt=2026-01-02/gone.jsonl: the crawl log is gone"])
        #expect(try HTMLDocument(html: html).xpath("//section[@id='warnings']//li").strings.count == 1)
    }

    /// Runs scripts/check_report.py (Python's html.parser) on a file.
    func checkReport(_ path: String) throws -> (status: Int32, output: String) {
        var root = URL(fileURLWithPath: #filePath)
        while !FileManager.default.fileExists(atPath: root.appendingPathComponent("Package.swift").path) { root.deleteLastPathComponent() }
        let process = Process()
        process.executableURL = URL(fileURLWithPath: "/usr/bin/env")
        process.arguments = ["python3", root.appendingPathComponent("scripts/check_report.py").path, path]
        let pipe = Pipe()
        process.standardOutput = pipe
        process.standardError = pipe
        try process.run()
        let output = String(decoding: pipe.fileHandleForReading.readDataToEndOfFile(), as: UTF8.self)
        process.waitUntilExit()
        return (process.terminationStatus, output)
    }
}
