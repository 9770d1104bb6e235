import Foundation
import Testing

/// End-to-end: a pipeline with an aggregate stage, then `agentshop export` of its datasets.
@Suite struct ExportTests {
    static let pipeline = """
    pipeline: shop
    stages:
      products:
        import: { from: raw_data/imports/products.csv }
        out: scraped_data/products/dt={run_date}/products.jsonl.gz
      by_category:
        aggregate:
          from: products
          group_by: [category]
          where: "category != 'hidden'"
          measures: { n: count(), avg_price: avg(price), p90_price: p90(price) }
          order_by: [n desc]
        out: processed_data/aggregations/by_category/dt={run_date}/part.csv
      lines:
        aggregate:
          from: raw_data/uploads/lines.jsonl
          measures: { n: count(), total: sum(qty) }
          on_error: skip
        out: processed_data/aggregations/lines.jsonl
    """

    static let products = """
    slug,category,price
    a,shoes,10
    b,shoes,20
    c,books,5.5
    d,shoes,
    e,hidden,1

    """

    func makeProject() throws -> Project {
        let project = try Project()
        #expect(try project.run(["init"]).status == 0)
        try project.write("pipelines/shop.yaml", Self.pipeline)
        try project.write("datalake/raw_data/imports/products.csv", Self.products)
        try project.write("datalake/raw_data/uploads/lines.jsonl", "{\"qty\":2}\nnot json\n{\"qty\":3}\n")
        let (result, _) = try project.runPipeline("shop", ["--date", "2026-11-25"])
        #expect(result.status == 0, "\(result.stderr)")
        return project
    }

    @Test func aggregateStageOutputAndRejects() throws {
        let project = try makeProject()
        // shoes: 10, 20 and one empty price (null: counted, not zero); books: 5.5. p90 of [10, 20] = 19.
        #expect(try project.read("datalake/processed_data/aggregations/by_category/dt=2026-11-25/part.csv")
                == "category,n,avg_price,p90_price,price_nulls\nshoes,3,15.0,19.0,1\nbooks,1,5.5,5.5,0\n")
        #expect(try project.read("datalake/processed_data/aggregations/lines.jsonl") == "{\"n\":2,\"total\":5,\"qty_nulls\":0}\n")
        let logs = try FileManager.default.contentsOfDirectory(atPath: project.lake + "/raw_data/logs/shop")
        let rejects = try #require(logs.first { $0.hasSuffix(".lines.rejects.jsonl") })
        let reject = try project.read("datalake/raw_data/logs/shop/" + rejects)
        #expect(reject.contains("\"file\":\"raw_data/uploads/lines.jsonl\",\"line\":2"), "\(reject)")
    }

    @Test func exportsAStageAsJSONToStdout() throws {
        let project = try makeProject()
        let result = try project.run(["export", "shop:by_category", "--format", "json"])
        #expect(result.status == 0, "\(result.stderr)")
        #expect(result.stdout == """
        [
        {"category":"shoes","n":3,"avg_price":15.0,"p90_price":19.0,"price_nulls":1},
        {"category":"books","n":1,"avg_price":5.5,"p90_price":5.5,"price_nulls":0}
        ]

        """)
    }

    @Test func exportsAGlobAsCSVToAFileAtomically() throws {
        let project = try makeProject()
        let result = try project.run(["export", "scraped_data/products/*/products.jsonl.gz", "--out", "exports/products.csv"])
        #expect(result.status == 0, "\(result.stderr)")
        #expect(result.stderr.contains("exported 5 records from 1 file to exports/products.csv"))
        // The import kept the CSV's cells as typed values; CSV output writes them back as text (null empty).
        #expect(try project.read("exports/products.csv") == "slug,category,price\na,shoes,10\nb,shoes,20\nc,books,5.5\nd,shoes,\ne,hidden,1\n")
        let leftovers = try FileManager.default.contentsOfDirectory(atPath: project.folder + "/exports").filter { $0.hasPrefix(".") }
        #expect(leftovers.isEmpty)

        let jsonl = try project.run(["export", "shop:lines", "--format", "jsonl"])
        #expect(jsonl.stdout == "{\"n\":2,\"total\":5,\"qty_nulls\":0}\n")
    }

    @Test func csvInputBecomesTypedJSONLines() throws {
        let project = try makeProject()
        let result = try project.run(["export", "raw_data/imports/products.csv", "--format", "jsonl"])
        #expect(result.status == 0)
        #expect(result.stdout.split(separator: "\n").first == "{\"slug\":\"a\",\"category\":\"shoes\",\"price\":10}")
        #expect(result.stdout.contains("{\"slug\":\"d\",\"category\":\"shoes\",\"price\":null}"))
    }

    @Test func unknownDatasetsAndMalformedInputExitTwo() throws {
        let project = try makeProject()
        let missingStage = try project.run(["export", "shop:nothing", "--format", "csv"])
        #expect(missingStage.status == 2)
        #expect(missingStage.stderr.contains("no successful run of pipeline 'shop' has written outputs for stage 'nothing'"))

        let missingFiles = try project.run(["export", "processed_data/none/*.csv", "--format", "csv"])
        #expect(missingFiles.status == 2)
        #expect(missingFiles.stderr.contains("no file in the lake matches 'processed_data/none/*.csv'"))

        let outside = try project.run(["export", "../etc/passwd", "--format", "csv"])
        #expect(outside.status == 2)

        let malformed = try project.run(["export", "raw_data/uploads/lines.jsonl", "--out", "lines.json"])
        #expect(malformed.status == 2)
        #expect(malformed.stderr.contains("raw_data/uploads/lines.jsonl: line 2: invalid JSON"), "\(malformed.stderr)")
        #expect(!project.exists("lines.json"))

        let skipped = try project.run(["export", "raw_data/uploads/lines.jsonl", "--out", "lines.json", "--on-error", "skip"])
        #expect(skipped.status == 0)
        #expect(skipped.stderr.contains("raw_data/uploads/lines.jsonl: line 2: invalid JSON"))
        #expect(try project.read("lines.json") == "[\n{\"qty\":2},\n{\"qty\":3}\n]\n")

        let usage = try project.run(["export", "shop:lines", "--out", "x.parquet"])
        #expect(usage.status == 64)
    }

    /// CSV cells: shortest round-trip doubles, 2^64 and beyond with all their digits, null told
    /// apart from "" with --null-value, and --excel-safe guarding formula-looking text (not numbers).
    @Test func csvCellsAreExactAndCanBeMadeSafe() throws {
        let project = try Project()
        #expect(try project.run(["init"]).status == 0)
        try project.write("datalake/raw_data/uploads/cells.jsonl", """
            {"id":18446744073709551617,"price":3.55,"ratio":0.1,"note":"=HYPERLINK(\\\"http://x\\\")","empty":"","gone":null}
            {"id":1,"price":-2.5,"ratio":1e21,"note":"-12.5","empty":"@SUM(A1)","gone":"+x"}

            """)
        let plain = try project.run(["export", "raw_data/uploads/cells.jsonl", "--format", "csv"])
        #expect(plain.status == 0, "\(plain.stderr)")
        #expect(plain.stdout == """
            id,price,ratio,note,empty,gone
            18446744073709551617,3.55,0.1,"=HYPERLINK(""http://x"")",,
            1,-2.5,1e+21,-12.5,@SUM(A1),+x

            """)
        let safe = try project.run(["export", "raw_data/uploads/cells.jsonl", "--format", "csv", "--excel-safe", "--null-value", "\\N"])
        #expect(safe.status == 0, "\(safe.stderr)")
        #expect(safe.stdout == """
            id,price,ratio,note,empty,gone
            18446744073709551617,3.55,0.1,"'=HYPERLINK(""http://x"")",,\\N
            1,-2.5,1e+21,-12.5,'@SUM(A1),'+x

            """)
        let wrong = try project.run(["export", "raw_data/uploads/cells.jsonl", "--format", "json", "--excel-safe"])
        #expect(wrong.status == 64)
    }

    /// The stage setting: `csv: { null_value, excel_safe }` on a stage writing CSV; refused on one writing none.
    @Test func aStagesCSVOutputsTakeTheNullTextAndTheFormulaGuard() throws {
        let project = try Project()
        #expect(try project.run(["init"]).status == 0)
        try project.write("datalake/raw_data/uploads/cells.jsonl", """
            {"slug":"a","note":"=1+2","price":3.55,"gone":null,"empty":""}
            {"slug":"b","note":"-4","price":-4.0,"gone":"@x","empty":"ok"}

            """)
        try project.write("pipelines/cells.yaml", """
            pipeline: cells
            stages:
              sheet:
                import: { from: raw_data/uploads/cells.jsonl }
                csv: { null_value: '\\N', excel_safe: true }
                out: processed_data/exports/dt={run_date}/cells.csv
            """)
        let (result, _) = try project.runPipeline("cells", ["--date", "2026-11-25"])
        #expect(result.status == 0, "\(result.stderr)")
        #expect(try project.read("datalake/processed_data/exports/dt=2026-11-25/cells.csv") == """
            slug,note,price,gone,empty
            a,'=1+2,3.55,\\N,
            b,-4,-4.0,'@x,ok

            """)

        try project.write("pipelines/bad.yaml", """
            pipeline: bad
            stages:
              lines:
                import: { from: raw_data/uploads/cells.jsonl }
                csv: { null_value: x, excel: true }
                out: processed_data/exports/cells.jsonl
            """)
        let bad = try project.run(["validate", "bad"])
        #expect(bad.status != 0)
        #expect(bad.stderr.contains("unknown key 'excel'"), "\(bad.stderr)")
        #expect(bad.stderr.contains("this stage writes none"), "\(bad.stderr)")
    }
}
