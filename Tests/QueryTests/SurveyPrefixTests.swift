import Foundation
import Lake
@testable import Query
import Store
import TestSupport
import Testing

/// Columns named from a prefix of the files (`SQLiteLoader.surveyPrefix`): every query answers
/// exactly as after a survey of the whole files, whatever the files hold after the prefix.
@Suite struct SurveyPrefixTests {
    struct Answer: Equatable {
        var columns: [String] = []
        var rows: [[SQLValue]] = []
        var rejects: [String] = []
        var error: String?
    }

    /// `sql` over `files` as table `t`; `prefix` nil surveys the whole files first (as before prefixes).
    static func answer(_ sql: String, _ files: [LakePath], prefix: Int?, policy: MalformedPolicy = .fail,
                       cache: SchemaCache? = nil, loader: SQLiteLoader? = nil) throws -> Answer {
        let loader = try loader ?? SQLiteLoader()
        loader.surveyPrefix = prefix
        loader.schemaCache = cache
        var answer = Answer()
        do {
            try loader.declare(SQLTableSource(table: try SQLIdentifier("t"), files: files), policy: policy) { bad in
                answer.rejects.append("\(bad.file):\(bad.line)")
            }
            try loader.query(sql, columns: { answer.columns = $0 }, row: { row in
                // The rejects come out before the first row, as a survey reports them first.
                if answer.rows.isEmpty { answer.rejects.append("rows") }
                answer.rows.append(row)
            })
        } catch {
            answer.error = "\(error)"
        }
        return answer
    }

    /// Lines with an integer column `v` that turns real at `realAt`, a column `mixed` that turns
    /// text at `textAt`, and keys `late` and `rowid` first seen at `lateAt`.
    static func records(_ count: Int, realAt: Int, textAt: Int, lateAt: Int) -> String {
        (1...count).map { i -> String in
            var fields = ["\"id\":\(i)", "\"v\":\(i == realAt ? "2.5" : String(i % 7))",
                          "\"mixed\":\(i == textAt ? "\"x\"" : String(i % 3))", "\"flag\":\(i % 2 == 0)"]
            if i >= lateAt { fields += ["\"late\":\(i)", "\"rowid\":\(-i)"] }
            return "{" + fields.joined(separator: ",") + "}"
        }.joined(separator: "\n") + "\n"
    }

    static let queries = [
        "SELECT sum(v) AS s, typeof(sum(v)) AS ts, avg(v) AS a, max(v) AS hi FROM t",
        "SELECT v FROM t WHERE id <= 3",
        "SELECT v FROM t LIMIT 3",
        "SELECT id FROM t WHERE v = 2.5",
        "SELECT mixed, count(*) AS n, typeof(mixed) AS ty FROM t GROUP BY mixed ORDER BY mixed",
        "SELECT id FROM t WHERE mixed > 1 ORDER BY id LIMIT 5",
        "SELECT count(late) AS n, min(late) AS low FROM t",
        "SELECT late FROM t WHERE late IS NOT NULL LIMIT 2",
        "SELECT * FROM t WHERE id IN (1, 999, 1000)",
        "SELECT nosuch FROM t",
        "SELECT count(*) AS n, sum(flag) AS f FROM t",
        "SELECT id, flag FROM t WHERE id > 990 ORDER BY id",
        // Names that mean something else while the prefix lacks a column of that name: an alias in
        // WHERE, a double-quoted string, the rowid.
        "SELECT v AS late FROM t WHERE late > 5 ORDER BY id LIMIT 3",
        "SELECT count(*) AS n FROM t WHERE \"late\" IS NULL",
        "SELECT rowid AS r, id FROM t WHERE id > 997 ORDER BY id",
        "SELECT category, count(*) AS n FROM (SELECT mixed AS category FROM t) GROUP BY category ORDER BY n DESC, category",
    ]

    @Test(arguments: [("p.jsonl", false), ("p.jsonl.gz", true)])
    func typesAndKeysThatChangeAfterThePrefixAnswerAsAWholeSurvey(name: String, gzip: Bool) throws {
        let folder = try TemporaryDirectory()
        try folder.write(name, Self.records(1000, realAt: 500, textAt: 700, lateAt: 1000), gzip: gzip)
        let files = [try Lake(root: folder.path).resolve(name)]
        for sql in Self.queries {
            let whole = try Self.answer(sql, files, prefix: nil)
            let prefixed = try Self.answer(sql, files, prefix: 100)
            #expect(prefixed == whole, "\(sql)")
            #expect(whole.error == nil || sql.contains("nosuch"), "\(sql): \(whole.error ?? "")")
        }
        // The answers differ from those of the prefix's types: the checks above are not vacuous.
        let first = try Self.answer("SELECT v FROM t LIMIT 1", files, prefix: nil)
        #expect(first.rows == [[.real(1)]])
    }

    @Test func aQueryWhoseColumnsKeepTheirTypesReadsTheFileOnce() throws {
        let folder = try TemporaryDirectory()
        try folder.write("k.jsonl", Self.records(1000, realAt: 0, textAt: 0, lateAt: 1000))
        let files = [try Lake(root: folder.path).resolve("k.jsonl")]
        let loader = try SQLiteLoader()
        let sql = "SELECT v, count(*) AS n FROM t GROUP BY v ORDER BY v"
        let prefixed = try Self.answer(sql, files, prefix: 100, loader: loader)
        #expect(prefixed == (try Self.answer(sql, files, prefix: nil)))
        let table = try #require(loader.streamedTables["t"])
        // Still the prefix's table: no survey of the whole file ran, one scan did.
        #expect(table.provisional && table.scans == 1)
        #expect(table.completedScan?.rows == 1000)
        #expect(prefixed.rows.count == 7)
    }

    @Test func csvCellsThatTurnRealOrTextAfterThePrefix() throws {
        let folder = try TemporaryDirectory()
        var csv = "id,n,m,b\n"
        for i in 1...600 { csv += "\(i),\(i == 400 ? "1.5" : String(i % 5)),\(i == 550 ? "abc" : String(i % 4)),\(i % 2 == 0)\n" }
        try folder.write("c.csv", csv)
        let files = [try Lake(root: folder.path).resolve("c.csv")]
        for sql in ["SELECT sum(n) AS s, typeof(sum(n)) AS t FROM t", "SELECT n FROM t LIMIT 2",
                    "SELECT m, count(*) AS c FROM t GROUP BY m ORDER BY m", "SELECT id FROM t WHERE m > 2 ORDER BY id LIMIT 3",
                    "SELECT sum(b) AS f, min(id) AS low FROM t"] {
            let whole = try Self.answer(sql, files, prefix: nil)
            #expect(whole.error == nil)
            #expect(try Self.answer(sql, files, prefix: 50) == whole, "\(sql)")
        }
    }

    @Test func rejectsAfterThePrefixAreReportedOnceBeforeTheRows() throws {
        let folder = try TemporaryDirectory()
        let good = Self.records(300, realAt: 0, textAt: 0, lateAt: 1000)
        try folder.write("r.jsonl", good + "{oops\n" + good)
        let files = [try Lake(root: folder.path).resolve("r.jsonl")]
        for sql in ["SELECT count(*) AS n, sum(v) AS s FROM t", "SELECT id FROM t WHERE id = 7", "SELECT id FROM t LIMIT 1",
                    "SELECT * FROM t WHERE id = 3"] {
            let whole = try Self.answer(sql, files, prefix: nil, policy: .skip)
            #expect(whole.rejects.first == "r.jsonl:301")
            #expect(try Self.answer(sql, files, prefix: 100, policy: .skip) == whole, "\(sql)")
            // `fail`: the same error, and no row.
            let failed = try Self.answer(sql, files, prefix: 100)
            #expect(failed == (try Self.answer(sql, files, prefix: nil)), "\(sql)")
            #expect(failed.error?.contains("line 301") == true && failed.rows.isEmpty)
        }
    }

    /// A query giving rows while it scans holds them until its columns' types are confirmed; past
    /// the limit of held rows it starts again after a whole survey, and still answers once.
    @Test func manyRowsBeforeATypeWidensAnswerOnceAsAWholeSurvey() throws {
        let folder = try TemporaryDirectory()
        let filler = String(repeating: "z", count: 10_000)
        var lines = (1...1900).map { "{\"v\":\($0),\"s\":\"\(filler)\"}" }
        lines.append("{\"v\":0.5,\"s\":\"\"}")
        try folder.write("w.jsonl", lines.joined(separator: "\n") + "\n")
        let files = [try Lake(root: folder.path).resolve("w.jsonl")]
        let sql = "SELECT v, length(s) AS n FROM t"
        let whole = try Self.answer(sql, files, prefix: nil)
        let prefixed = try Self.answer(sql, files, prefix: 10)
        #expect(whole.rows.count == 1900 + 1)
        #expect(whole.rows.first == [.real(1), .integer(10_000)])
        #expect(prefixed == whole)
    }

    @Test func theSameQueryAnswersAlikeWithAndWithoutTheSchemaCache() throws {
        let folder = try TemporaryDirectory()
        try folder.write("s.jsonl.gz", Self.records(1000, realAt: 900, textAt: 950, lateAt: 990), gzip: true)
        let files = [try Lake(root: folder.path).resolve("s.jsonl.gz")]
        let cachePath = folder.path + "/cache.json"
        for sql in Self.queries {
            let plain = try Self.answer(sql, files, prefix: 100)
            // The first fills the cache (a whole survey), the second reads the columns from it.
            let filling = try Self.answer(sql, files, prefix: nil, cache: SchemaCache(path: cachePath))
            let cached = try Self.answer(sql, files, prefix: 100, cache: SchemaCache(path: cachePath))
            #expect(plain == filling, "\(sql)")
            #expect(cached == filling, "\(sql)")
        }
    }
}
