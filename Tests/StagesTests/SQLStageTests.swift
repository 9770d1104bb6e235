import Foundation
import Lake
import Pipeline
import Query
import Store
@testable import Stages
import Testing

/// The `sql` stage (its loader is in QueryTests), checked against results computed by hand from small fixtures.
@Suite(.serialized) struct SQLStageTests {
    /// Five products. `price` holds an integer, a real and text ("n/a"): widened to text.
    /// `vendor` is null on line 4; `tags`/`dims` are nested; `discount` first appears on the last line.
    static let products = """
    {"slug":"a","vendor":"x","price":10,"qty":1}
    {"slug":"b","vendor":"y","price":2.5,"qty":2.5}
    {"slug":"c","vendor":"x","price":"n/a","qty":3}
    {"slug":"d","vendor":null,"price":4,"tags":["new"],"dims":{"w":7}}
    {"slug":"e","vendor":"y","price":1,"qty":4,"discount":0.5}

    """

    /// Reviews of a, a, b, an unknown product zz, and c without stars (an empty cell: null).
    static let reviewsCSV = "product,stars\na,5\na,3\nb,4\nzz,1\nc,\n"

    static func gzip(_ text: String) throws -> [UInt8] {
        let sink = ParseStageTests.CollectingSink()
        let writer = try GzipWriter(sink)
        try writer.write(Array(text.utf8))
        try writer.finish()
        return sink.bytes
    }

    /// A project with the products as gzip JSONL and the reviews as gzip CSV.
    static func project(_ function: String = #function) throws -> Project {
        let project = try Project(function)
        let imports = project.lake.root + "/raw_data/imports"
        try FileManager.default.createDirectory(atPath: imports, withIntermediateDirectories: true)
        try Data(gzip(products)).write(to: URL(fileURLWithPath: imports + "/products.jsonl.gz"))
        try Data(gzip(reviewsCSV)).write(to: URL(fileURLWithPath: imports + "/reviews.csv.gz"))
        return project
    }

    @Test func leftJoinOverGzipJSONLAndGzipCSVWithNulls() async throws {
        let project = try Self.project()
        try project.writePipeline("""
            stages:
              per_product:
                sql:
                  from: [raw_data/imports/products.jsonl.gz, raw_data/imports/reviews.csv.gz]
                  query: |
                    SELECT p.slug, p.vendor, count(r.stars) AS reviews, avg(r.stars) AS avg_stars
                    FROM products p LEFT JOIN reviews r ON r.product = p.slug
                    GROUP BY p.slug ORDER BY p.slug
                out: processed_data/reports/per_product.jsonl
            """)
        let manifest = try await project.run { $0.runID = "R1" }
        #expect(manifest.status == .succeeded, "\(manifest.error ?? "")")
        // a: stars 5 and 3 → 2 reviews, 4.0; b: 4; c: one review row whose stars is null → count 0, avg null;
        // d has a null vendor; zz matches no product.
        #expect(try project.read("processed_data/reports/per_product.jsonl") == """
            {"slug":"a","vendor":"x","reviews":2,"avg_stars":4.0}
            {"slug":"b","vendor":"y","reviews":1,"avg_stars":4.0}
            {"slug":"c","vendor":"x","reviews":0,"avg_stars":null}
            {"slug":"d","vendor":null,"reviews":0,"avg_stars":null}
            {"slug":"e","vendor":"y","reviews":0,"avg_stars":null}

            """)
        let counts = try #require(manifest.stage("per_product")?.counts)
        #expect(counts == ["files_in": 2, "records_in": 10, "rejected": 0, "records_out": 5,
                           "rows_products": 5, "rows_reviews": 5])
        #expect(manifest.stage("per_product")?.outputs.first?.records == 5)

        // Nothing changed: the second run skips the stage.
        let again = try await project.run { $0.runID = "R2" }
        #expect(again.stage("per_product")?.status == .skipped)
    }

    @Test func declaredSchemaAndTablesNameInputsFromStagesAndGlobs() async throws {
        let project = try Self.project()
        try project.writePipeline("""
            stages:
              products:
                import: { from: raw_data/imports/products.jsonl.gz }
                out: scraped_data/products/products.jsonl
              by_vendor:
                sql:
                  from: products
                  tables: { revs: "raw_data/imports/*.csv.gz" }
                  schema: { revs: { product: text, stars: real } }
                  query: |
                    SELECT p.vendor, count(*) AS n, sum(r.stars) AS stars, typeof(sum(r.stars)) AS t
                    FROM revs r JOIN products p ON p.slug = r.product
                    GROUP BY p.vendor ORDER BY p.vendor
                out: processed_data/reports/by_vendor.csv
            """)
        let manifest = try await project.run()
        #expect(manifest.status == .succeeded, "\(manifest.error ?? "")")
        // x: a (5, 3) and c (null) → 3 rows, 8.0; y: b → 4.0. Declared real, so sums are real.
        #expect(try project.read("processed_data/reports/by_vendor.csv") == "vendor,n,stars,t\nx,3,8.0,real\ny,1,4.0,real\n")
        #expect(manifest.stage("by_vendor")?.counts["rows_revs"] == 5)
        #expect(manifest.stage("by_vendor")?.counts["rows_products"] == 5)
    }

    @Test func invalidSQLFailsWithTheMessageAndTheQuery() async throws {
        let project = try Self.project()
        try project.writePipeline("""
            stages:
              bad:
                sql:
                  from: raw_data/imports/reviews.csv.gz
                  query: SELECT product, nope FROM reviews
                out: processed_data/reports/bad.csv
            """)
        let manifest = try await project.run()
        #expect(manifest.status == .failed)
        let error = try #require(manifest.stage("bad")?.error)
        #expect(error.contains("the query is not valid SQLite SQL: no such column: nope"), "\(error)")
        #expect(error.contains("in: SELECT product, nope FROM reviews"), "\(error)")
        #expect(!project.exists("processed_data/reports/bad.csv"))
        #expect(project.temporaries(in: "processed_data/reports").isEmpty)
    }

    @Test func duplicateResultColumnsAreRefused() async throws {
        let project = try Self.project()
        try project.writePipeline("""
            stages:
              dup:
                sql:
                  from: raw_data/imports/reviews.csv.gz
                  query: SELECT product, product FROM reviews
                out: processed_data/reports/dup.csv
            """)
        let manifest = try await project.run()
        #expect(manifest.status == .failed)
        #expect(manifest.stage("dup")?.error?.contains("two columns named 'product'; rename one with AS") == true)
    }

    @Test func malformedLinesAreRejectedWithLineNumbers() async throws {
        let project = try Project()
        try project.put("raw_data/imports/events.jsonl", "{\"id\":1}\nnot json\n{\"id\":3,\"late\":true}\n[4]\n")
        try project.writePipeline("""
            stages:
              events:
                sql:
                  from: raw_data/imports/events.jsonl
                  on_error: skip
                  query: SELECT id, late FROM events ORDER BY id
                out: processed_data/events.csv
            """)
        let manifest = try await project.run { $0.runID = "R1" }
        #expect(manifest.status == .succeeded, "\(manifest.error ?? "")")
        // `late` (a boolean, stored as 1) first appears after a rejected line.
        #expect(try project.read("processed_data/events.csv") == "id,late\n1,\n3,1\n")
        let rejects = try project.records("raw_data/logs/p/R1.events.rejects.jsonl")
        #expect(rejects.map { $0["line"] } == [2, 4])  // each once, though inference reads the file twice
        #expect(manifest.stage("events")?.counts["rejected"] == 2)
        #expect(manifest.stage("events")?.counts["records_in"] == 4)

        try project.writePipeline("""
            stages:
              events:
                sql: { from: raw_data/imports/events.jsonl, query: SELECT * FROM events }
                out: processed_data/events.csv
            """)
        let failed = try await project.run()
        #expect(failed.status == .failed)
        #expect(failed.stage("events")?.error?.hasPrefix("raw_data/imports/events.jsonl: line 2: ") == true,
                "\(failed.stage("events")?.error ?? "")")
    }

    /// One table is read on the columns of its files' first records (`SQLiteLoader.surveyPrefix`)
    /// and counted by the query's own scan; two tables are surveyed whole first. Past the prefix:
    /// a type that widens, a key first seen late, a rejected line. The outputs, rejects and
    /// counts of the two ways are the same.
    @Test func oneTableOnThePrefixGivesTheOutputsAndCountsOfAWholeSurvey() async throws {
        let project = try Project()
        let total = SQLiteLoader.defaultSurveyPrefix + 4_000
        var lines = (1...total).map { i in
            "{\"id\":\(i),\"v\":\(i == total - 1_000 ? "2.5" : String(i % 9)),\"k\":\"c\(i % 4)\"" + (i > total - 500 ? ",\"late\":\(i)" : "") + "}"
        }
        lines[total - 2_000] = "{oops"
        try project.put("raw_data/imports/events.jsonl", lines.joined(separator: "\n") + "\n")
        try project.put("raw_data/imports/one.csv", "x\n1\n")
        let queries = ["SELECT count(*) AS n, max(id) AS hi, sum(id % 7) AS s FROM events",  // the prefix's types hold
                       "SELECT k, count(*) AS n, sum(v) AS s, typeof(sum(v)) AS t FROM events GROUP BY k ORDER BY k",  // v turns real
                       "SELECT count(late) AS n, max(late) AS hi FROM events",  // a key past the prefix
                       "SELECT id, k FROM events WHERE id % 5000 = 1 ORDER BY id LIMIT 3"]
        var stages = "stages:\n"
        for (n, query) in queries.enumerated() {
            for (suffix, from) in [("one", "raw_data/imports/events.jsonl"), ("two", "[raw_data/imports/events.jsonl, raw_data/imports/one.csv]")] {
                stages += """
                      q\(n)_\(suffix):
                        sql: { from: \(from), on_error: skip, query: "\(query)" }
                        out: processed_data/q\(n)_\(suffix).csv

                    """
            }
        }
        try project.writePipeline(stages)
        let manifest = try await project.run { $0.runID = "R1" }
        #expect(manifest.status == .succeeded, "\(manifest.error ?? "")")
        for n in queries.indices {
            let one = try project.read("processed_data/q\(n)_one.csv")
            #expect(one == (try project.read("processed_data/q\(n)_two.csv")), "\(queries[n])")
            #expect(one.split(separator: "\n").count > 1)
            let rejects = try project.records("raw_data/logs/p/R1.q\(n)_one.rejects.jsonl")
            #expect(rejects.map { $0["line"] } == [.int(Int64(total - 2_000 + 1))])
            #expect(rejects == (try project.records("raw_data/logs/p/R1.q\(n)_two.rejects.jsonl")).map { record in
                JSONObject(record.map { ($0.key, $0.key == "stage" ? JSONValue.string("q\(n)_one") : $0.value) })
            })
            let counts = try #require(manifest.stage("q\(n)_one")?.counts)
            #expect(counts == ["files_in": 1, "records_in": total, "rejected": 1, "records_out": counts["records_out"] ?? -1,
                               "rows_events": total - 1], "\(queries[n])")
            let two = try #require(manifest.stage("q\(n)_two")?.counts)
            #expect(two["rows_events"] == counts["rows_events"] && two["rejected"] == 1 && two["records_out"] == counts["records_out"])
        }
        #expect(try project.read("processed_data/q2_one.csv") == "n,hi\n500,\(total)\n")
    }

    @Test func configurationProblemsPointAtTheirKeys() throws {
        let project = try Project()
        try project.writePipeline("""
            stages:
              src:
                import: { from: raw_data/imports/a.csv }
                out: scraped_data/a.jsonl
              q:
                sql:
                  from: [src, "raw_data/imports/*.csv", raw_data/imports/bad-name.csv]
                  tables: { src: raw_data/imports/b.csv, "1x": raw_data/imports/c.csv }
                  schema: { srcs: { id: integer }, src: { id: number } }
                  qurey: SELECT 1
                out: processed_data/q.csv
            """)
        let problems = try project.problems()
        #expect(problems.contains("7:19: stages.q.sql.from.1: cannot name a table after 'raw_data/imports/*.csv'; give it a name under tables: { name: raw_data/imports/*.csv }"), "\(problems)")
        #expect(problems.contains { $0 == "7:45: stages.q.sql.from.2: cannot name a table after 'raw_data/imports/bad-name.csv'; give it a name under tables: { name: raw_data/imports/bad-name.csv }" }, "\(problems)")
        #expect(problems.contains("8:22: stages.q.sql.tables.src: two inputs load into a table named 'src'; name one under tables:"), "\(problems)")
        #expect(problems.contains { $0.hasPrefix("8:52: stages.q.sql.tables.1x: '1x' cannot be a table name") }, "\(problems)")
        #expect(problems.contains { $0.hasPrefix("9:23: stages.q.sql.schema.srcs: no input is loaded as table 'srcs'") }, "\(problems)")
        #expect(problems.contains { $0 == "9:51: stages.q.sql.schema.src.id: expected one of integer, real, text, json, found 'number'" }, "\(problems)")
        #expect(problems.contains { $0 == "7:7: stages.q.sql: missing required key 'query'" }, "\(problems)")
        #expect(problems.contains { $0.hasPrefix("10:7: stages.q.sql.qurey: unknown key 'qurey'") }, "\(problems)")
    }
}
