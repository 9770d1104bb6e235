import Foundation
import Testing
import Lake

/// End-to-end: `agentshop lake …` and `agentshop report` on a lake a pipeline wrote.
@Suite struct LakeCommandTests {
    static let pipeline = """
    pipeline: shop
    stages:
      products:
        import: { from: raw_data/imports/products.csv }
        out: scraped_data/products/dt={run_date}/products.jsonl.gz
      by_category:
        aggregate: { from: products, group_by: [category], measures: { n: count(), avg_price: avg(price) }, order_by: [category] }
        out: processed_data/aggregations/by_category/dt={run_date}.csv
      report:
        report: { charts: [{ dataset: by_category, type: bar, x: category, y: n }] }
        after: [by_category]
        out: processed_data/reports/dt={run_date}/shop.html
    """

    static let day1 = """
    slug,name,category,price
    a,Red shoe with a very long name indeed,shoes,10
    b,Blue shoe,shoes,20
    c,Cook book,books,5.5

    """

    static let day2 = """
    slug,name,category,price
    a,Red shoe with a very long name indeed,shoes,12
    c,Cook book,books,5.5
    d,Lamp,home,30

    """

    func makeProject() throws -> (Project, day1: String, day2: String) {
        let project = try Project()
        #expect(try project.run(["init", "--quiet"]).status == 0)
        try project.write("pipelines/shop.yaml", Self.pipeline)
        try project.write("datalake/raw_data/imports/products.csv", Self.day1)
        let (first, m1) = try project.runPipeline("shop", ["--date", "2026-11-24"])
        #expect(first.status == 0, "\(first.stderr)")
        try project.write("datalake/raw_data/imports/products.csv", Self.day2)
        let (second, m2) = try project.runPipeline("shop", ["--date", "2026-11-25"])
        #expect(second.status == 0, "\(second.stderr)")
        return (project, m1["run_id"] as? String ?? "", m2["run_id"] as? String ?? "")
    }

    @Test func lsShowsDatasetsThenFilesWithTheirWriters() throws {
        let (project, run1, run2) = try makeProject()
        let ls = try project.run(["lake", "ls"], environment: ["COLUMNS": "200"])
        #expect(ls.status == 0, "\(ls.stderr)")
        let lines = ls.stdout.split(separator: "\n").map(String.init)
        #expect(lines[0].hasPrefix("DATASET") && lines[0].contains("PARTITIONS") && lines[0].contains("WRITTEN BY"))
        #expect(lines[1].allSatisfy { $0 == "-" || $0 == " " })
        let products = try #require(lines.first { $0.hasPrefix("scraped_data/products/*/products.jsonl.gz ") })
        let cells = products.split(separator: " ", omittingEmptySubsequences: true).map(String.init)
        #expect(cells[1] == "2" && cells[2] == "2")                         // files, partitions
        #expect(cells.contains("6") && cells.contains("shop:products") && cells.contains(run2))  // records, newest writer
        #expect(!ls.stdout.contains("README.md"))

        let json = try project.run(["lake", "ls", "scraped_data/products", "--json"])
        let files = try #require(try JSONSerialization.jsonObject(with: Data(json.stdout.utf8)) as? [[String: Any]])
        #expect(files.map { $0["partition"] as? String } == ["dt=2026-11-24", "dt=2026-11-25"])
        #expect(files.map { $0["run_id"] as? String } == [run1, run2])
        #expect(files.map { $0["records"] as? Int } == [3, 3])
    }

    @Test func showAsTableThatFitsCSVJSONAndWhere() throws {
        let (project, _, _) = try makeProject()
        let csv = try project.run(["lake", "show", "shop:products", "--format", "csv", "--where", "price > 10 or category = 'home'"])
        #expect(csv.status == 0, "\(csv.stderr)")
        #expect(csv.stdout == "slug,name,category,price\na,Red shoe with a very long name indeed,shoes,12\nd,Lamp,home,30\n")
        let json = try project.run(["lake", "show", "scraped_data/products/*/products.jsonl.gz", "--format", "jsonl", "--head", "2"])
        #expect(json.stdout == """
        {"slug":"a","name":"Red shoe with a very long name indeed","category":"shoes","price":10}
        {"slug":"b","name":"Blue shoe","category":"shoes","price":20}

        """)
        let table = try project.run(["lake", "show", "shop:products", "--format", "table"], environment: ["COLUMNS": "40"])
        let rows = table.stdout.split(separator: "\n").map(String.init)
        #expect(rows.count == 5)
        #expect(rows.allSatisfy { $0.count <= 40 }, "\(rows)")
        #expect(rows[0].hasPrefix("slug  name"))
        #expect(rows[2].contains("…"))
        #expect(table.stderr.contains("(3 records)"))
        let bad = try project.run(["lake", "show", "shop:products", "--where", "price >"])
        #expect(bad.status == 2)
        #expect(bad.stderr.contains("--where: "))
        let missing = try project.run(["lake", "show", "shop:nothing"])
        #expect(missing.status == 2)
    }

    @Test func showListsWARCRecords() throws {
        let (project, _, _) = try makeProject()
        let path = project.lake + "/scraped_data/products/dt=2026-11-25/pages.warc.gz"
        let writer = try WARCWriter(path: path)
        let date = Date(timeIntervalSince1970: 1_795_000_000)
        _ = try writer.writeWarcinfo(fields: [("software", "test")], date: date)
        _ = try writer.writeRequest(targetURI: "https://shop.example/a", date: date, headers: [("Host", "shop.example")])
        _ = try writer.writeResponse(targetURI: "https://shop.example/a", date: date, statusLine: "HTTP/1.1 200 OK",
                                     headers: [("Content-Type", "text/html")], body: Array("<p>hi</p>".utf8))
        _ = try writer.writeResponse(targetURI: "https://shop.example/gone", date: date, statusLine: "HTTP/1.1 404 Not Found",
                                     headers: [], body: [])
        try writer.commit()
        let result = try project.run(["lake", "show", "scraped_data/products/dt=2026-11-25/pages.warc.gz", "--format", "csv"])
        #expect(result.status == 0, "\(result.stderr)")
        let lines = result.stdout.split(separator: "\n").map { $0.split(separator: ",", omittingEmptySubsequences: false).map(String.init) }
        #expect(lines[0] == ["type", "url", "status", "length", "date", "offset"])
        #expect(lines.dropFirst().map { $0[0] } == ["warcinfo", "request", "response", "response"])
        #expect(lines.dropFirst().map { $0[1] } == ["", "https://shop.example/a", "https://shop.example/a", "https://shop.example/gone"])
        #expect(lines.dropFirst().map { $0[2] } == ["", "", "200", "404"])
        #expect(lines[3][4] == "2026-11-18T11:06:40Z")
        #expect(Int(lines[3][3])! > 9)
        let errors = try project.run(["lake", "show", "scraped_data/products/dt=2026-11-25/pages.warc.gz", "--format", "jsonl", "--where", "status >= 400"])
        #expect(errors.stdout.split(separator: "\n").count == 1)
        #expect(errors.stdout.contains("\"url\":\"https://shop.example/gone\""))
    }

    @Test func schemaLineageAndDiff() throws {
        let (project, run1, run2) = try makeProject()
        try project.write("datalake/raw_data/imports/late.jsonl", "{\"a\":1}\n{\"a\":2}\n{\"a\":null,\"b\":{\"c\":\"x\"}}\n")
        let schema = try project.run(["lake", "schema", "raw_data/imports/late.jsonl"], environment: ["COLUMNS": "200"])
        #expect(schema.status == 0, "\(schema.stderr)")
        let rows = schema.stdout.split(separator: "\n").map { $0.split(separator: " ", omittingEmptySubsequences: true).map(String.init) }
        #expect(rows[0] == ["3", "records", "in", "1", "file"])
        #expect(rows[1] == ["FIELD", "TYPES", "NULLS", "MISSING", "DISTINCT", "EXAMPLE"])
        #expect(rows[3] == ["a", "integer", "1", "0", "2", "1"])
        #expect(rows[4] == ["b", "object", "0", "2", "{\"c\":\"x\"}"])
        #expect(rows[5] == ["b.c", "string", "0", "2", "1", "\"x\""])

        let lineage = try project.run(["lake", "lineage", "processed_data/aggregations/by_category/dt=2026-11-24.csv"])
        #expect(lineage.status == 0, "\(lineage.stderr)")
        let text = lineage.stdout.split(separator: "\n").map(String.init)
        #expect(text[0].hasPrefix("processed_data/aggregations/by_category/dt=2026-11-24.csv  ← shop:by_category (aggregate) run \(run1)"))
        #expect(text[1].hasPrefix("    scraped_data/products/dt=2026-11-24/products.jsonl.gz  ← shop:products (import) run \(run1)"))
        #expect(text[2] == "        raw_data/imports/products.csv  (raw source)")
        #expect(text.contains("built from it:"))
        #expect(text.contains { $0.hasPrefix("    processed_data/reports/dt=2026-11-24/shop.html  ← shop:report (report)") })

        let diff = try project.run(["lake", "diff", "shop:products", "scraped_data/products/dt=2026-11-24/products.jsonl.gz", "--key", "slug"])
        #expect(diff.status == 0, "\(diff.stderr)")
        #expect(diff.stdout == """
        1 added, 1 removed, 1 changed, 1 unchanged (key: slug)

        added:
        + b  {"slug":"b","name":"Blue shoe","category":"shoes","price":20}

        removed:
        - d  {"slug":"d","name":"Lamp","category":"home","price":30}

        changed:
        ~ a
            price: 12 → 10

        """)
        _ = run2
        let noKey = try project.run(["lake", "diff", "shop:products", "shop:products", "--key", "nope"])
        #expect(noKey.status == 2)
        #expect(noKey.stderr.contains("has no value for nope"))
    }

    @Test func gcDryRunRemovesNothingAndGcKeepsWhatTheLatestRunUses() throws {
        let (project, run1, run2) = try makeProject()
        try project.write("datalake/.agentshop/retention.yaml", "retention:\n  processed_data: 30d\n")
        let old = Date().addingTimeInterval(-400 * 86_400)
        let enumerator = FileManager.default.enumerator(atPath: project.lake)!
        while let path = enumerator.nextObject() as? String {
            if path.hasPrefix(".agentshop") { continue }
            try? FileManager.default.setAttributes([.modificationDate: old], ofItemAtPath: project.lake + "/" + path)
        }
        let day1 = [
            "scraped_data/products/dt=2026-11-24/products.jsonl.gz",
            "processed_data/aggregations/by_category/dt=2026-11-24.csv",
            "processed_data/reports/dt=2026-11-24/shop.html",
            "raw_data/logs/shop/\(run1).manifest.json",
        ]
        let dry = try project.run(["lake", "gc", "--dry-run"])
        #expect(dry.status == 0, "\(dry.stderr)")
        for path in day1 { #expect(dry.stdout.contains("would remove \(path)"), "\(dry.stdout)") }
        #expect(dry.stdout.contains("kept raw_data/imports/products.csv"))
        #expect(!dry.stdout.contains("would remove raw_data/imports/products.csv"))
        #expect(!dry.stdout.split(separator: "\n").contains { $0.hasPrefix("would remove") && ($0.contains("dt=2026-11-25") || $0.contains(run2)) })
        #expect(dry.stdout.contains("kept raw_data/logs/shop/\(run2).manifest.json"))
        #expect(dry.stdout.contains("would free"))
        #expect(dry.stderr.contains(".agentshop/retention.yaml"))
        for path in day1 { #expect(project.exists("datalake/" + path)) }

        let gc = try project.run(["lake", "gc", "--json"])
        #expect(gc.status == 0, "\(gc.stderr)")
        let summary = try #require(try JSONSerialization.jsonObject(with: Data(gc.stdout.utf8)) as? [String: Any])
        let removed = (summary["removed"] as? [[String: Any]] ?? []).compactMap { $0["path"] as? String }
        #expect(Set(day1).isSubset(of: Set(removed)))
        #expect((summary["bytes_freed"] as? Int ?? 0) > 0)
        for path in day1 { #expect(!project.exists("datalake/" + path)) }
        #expect(project.exists("datalake/scraped_data/products/dt=2026-11-25/products.jsonl.gz"))
        #expect(project.exists("datalake/processed_data/reports/dt=2026-11-25/shop.html"))
        #expect(project.exists("datalake/raw_data/imports/products.csv"))
        #expect(project.exists("datalake/raw_data/logs/shop/\(run2).manifest.json"))
        // The latest run still reads fine afterwards: nothing it needs was removed.
        let (again, manifest) = try project.runPipeline("shop", ["--date", "2026-11-25"])
        #expect(again.status == 0)
        #expect(Set(Project.statuses(manifest).values) == ["skipped"])

        try project.write("datalake/.agentshop/retention.yaml", "retention:\n  db_dumps: 1d\n")
        let invalid = try project.run(["lake", "gc"])
        #expect(invalid.status == 2)
        #expect(invalid.stderr.contains("retention.yaml:2:13: retention.db_dumps: dumps follow the dump stage"))
    }

    @Test func reportOfARunByIdOrPipeline() throws {
        let (project, run1, _) = try makeProject()
        let html = try project.read("datalake/processed_data/reports/dt=2026-11-25/shop.html")
        #expect(html.hasPrefix("<!DOCTYPE html>"))
        #expect(html.contains("<section id=\"datasets\">") && html.contains("<svg"))
        let byID = try project.run(["report", String(run1.prefix(22)), "--out", "r1.html"])
        #expect(byID.status == 0, "\(byID.stderr)")
        let page = try project.read("r1.html")
        #expect(page.contains(run1) && page.contains("<section id=\"timeline\">"))
        #expect(page.contains("No fetch stage wrote a crawl log in this run"))
        // The pipeline's report stage declares a chart of by_category: drawn over run 1's file.
        #expect(page.contains("From <code>by_category</code> (processed_data/aggregations/by_category/dt=2026-11-24.csv)"))
        let latest = try project.run(["report", "--pipeline", "shop"])
        #expect(latest.status == 0)
        #expect(latest.stdout.hasSuffix(".html\n") && latest.stdout.contains("/processed_data/reports/shop/"))
        let unknown = try project.run(["report", "nope"])
        #expect(unknown.status == 2)
        #expect(unknown.stderr.contains("no run with id 'nope'"))
    }
}
