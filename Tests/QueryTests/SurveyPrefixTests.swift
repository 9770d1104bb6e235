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

    /// Keys that differ only in case are two columns, named as DuckDB's `read_json` names them
    /// (SQLite, like DuckDB, compares column names without case): the later key gets `_1`, `_2`…
    @Test func keysDifferingOnlyInCaseAreNamedAsDuckDBNamesThem() throws {
        #expect(SQLColumn.uniqueNames(["Price", "name", "price"]) == ["Price", "name", "price_1"])
        // Both checked against DuckDB 2.0.1's read_json_auto (a taken name is numbered again).
        #expect(SQLColumn.uniqueNames(["Price", "price_1", "price", "PRICE"]) == ["Price", "price_1", "price_1_1", "PRICE_2"])
        #expect(SQLColumn.uniqueNames(["Price", "price", "PRICE", "price_1"]) == ["Price", "price_1", "PRICE_2", "price_1_1"])
        // Only ASCII letters fold, as in SQLite and DuckDB.
        #expect(SQLColumn.uniqueNames(["\u{C9}", "\u{E9}"]) == ["\u{C9}", "\u{E9}"])
        #expect(SQLiteLoader.numberedBase(of: "price_1_2") == "price_1" && SQLiteLoader.numberedBase(of: "price_1") == "price")
        #expect(SQLiteLoader.numberedBase(of: "_1") == nil && SQLiteLoader.numberedBase(of: "v2") == nil)

        let folder = try TemporaryDirectory()
        try folder.write("c.jsonl", "{\"Price\":1,\"name\":\"a\"}\n{\"price\":2.5,\"name\":\"b\"}\n{\"Price\":3,\"price\":4,\"name\":\"c\"}\n")
        let files = [try Lake(root: folder.path).resolve("c.jsonl")]
        for prefix in [nil, 1] {
            let all = try Self.answer("SELECT * FROM t", files, prefix: prefix)
            #expect(all.columns == ["Price", "name", "price_1"])
            #expect(all.rows == [[.integer(1), .text("a"), .null], [.null, .text("b"), .real(2.5)],
                                 [.integer(3), .text("c"), .real(4)]])
            let sums = try Self.answer("SELECT sum(price) AS a, sum(PRICE_1) AS b FROM t", files, prefix: prefix)
            #expect(sums.rows == [[.integer(4), .real(6.5)]], "\(sums)")
        }
    }

    /// A key first seen in another case after the prefix: both paths give the whole survey's
    /// answer, over one file and over files whose first-seen order the prefixes do not show.
    @Test(arguments: [false, true])
    func aKeyFirstSeenInAnotherCaseAfterThePrefixAnswersAsAWholeSurvey(gzip: Bool) throws {
        let folder = try TemporaryDirectory()
        let ext = gzip ? ".jsonl.gz" : ".jsonl"
        // One file: `Price` throughout, `price` (and `price_1`) from record 500.
        let one = (1...1000).map { i in
            "{\"id\":\(i),\"Price\":\(i % 10)" + (i >= 500 ? ",\"price\":\(i).5" : "") + (i >= 800 ? ",\"price_1\":\"x\"" : "") + "}"
        }
        try folder.write("one" + ext, one.joined(separator: "\n") + "\n", gzip: gzip)
        // Two files: `price` in the second's prefix, `Price` in the first past its prefix, so the
        // whole survey names `Price` first and `price` becomes `price_1`.
        try folder.write("a" + ext, (1...300).map { "{\"id\":\($0)" + ($0 > 200 ? ",\"Price\":\($0)" : "") + "}" }.joined(separator: "\n") + "\n", gzip: gzip)
        try folder.write("b" + ext, (1...300).map { "{\"id\":\($0),\"price\":\($0 % 5)}" }.joined(separator: "\n") + "\n", gzip: gzip)
        let lake = try Lake(root: folder.path)
        let queries = ["SELECT sum(price) AS s, count(price) AS n FROM t", "SELECT count(*) AS n FROM t WHERE PRICE > 3",
                       "SELECT price_1 AS p, count(*) AS n FROM t GROUP BY p ORDER BY p", "SELECT price FROM t LIMIT 3",
                       "SELECT id, price FROM t WHERE id = 250", "SELECT * FROM t WHERE id = 900",
                       "SELECT sum(price_1_1) AS s FROM t", "SELECT max(id) AS hi FROM t"]
        for files in [[try lake.resolve("one" + ext)], [try lake.resolve("a" + ext), try lake.resolve("b" + ext)]] {
            for sql in queries {
                let whole = try Self.answer(sql, files, prefix: nil)
                #expect(whole.error == nil || sql.contains("_1_1"), "\(sql): \(whole.error ?? "")")
                #expect(try Self.answer(sql, files, prefix: 100) == whole, "\(files.map(\.relative)) \(sql)")
            }
        }
        // The whole survey's names, and the quick path gave way to it when a variant came late.
        let names = try Self.answer("SELECT * FROM t WHERE id = 1", [try lake.resolve("a" + ext), try lake.resolve("b" + ext)], prefix: 100)
        #expect(names.columns == ["id", "Price", "price_1"])
        let loader = try SQLiteLoader()
        _ = try Self.answer("SELECT sum(price) AS s FROM t", [try lake.resolve("one" + ext)], prefix: 100, loader: loader)
        #expect(loader.streamedTables["t"]?.provisional == false)
        // Without a late variant the same query stays on the prefix's columns, one scan.
        let quick = try SQLiteLoader()
        _ = try Self.answer("SELECT sum(Price) AS s FROM t", [try lake.resolve("b" + ext)], prefix: 100, loader: quick)
        let table = try #require(quick.streamedTables["t"])
        #expect(table.provisional && table.scans == 1)
    }

    /// `true` and `false` are SQLite's 1 and 0 unless a column takes the name: the quick path
    /// answers with them when no key of that name (in any case) comes after the prefix.
    @Test(arguments: [false, true])
    func trueAndFalseAnswerOnThePrefixColumnsAsAWholeSurvey(lateKey: Bool) throws {
        let folder = try TemporaryDirectory()
        var lines = Self.records(1000, realAt: 0, textAt: 0, lateAt: 2000).split(separator: "\n").map(String.init)
        if lateKey { lines[600] = "{\"id\":601,\"v\":1,\"mixed\":0,\"flag\":false,\"True\":7}" }
        try folder.write("b.jsonl", lines.joined(separator: "\n") + "\n")
        let files = [try Lake(root: folder.path).resolve("b.jsonl")]
        for sql in ["SELECT count(*) AS n FROM t WHERE flag = true", "SELECT count(*) AS n FROM t WHERE flag = FALSE",
                    "SELECT true AS yes, false AS no, count(*) AS n FROM t WHERE v > 3",
                    "SELECT id FROM t WHERE flag IS NOT true ORDER BY id LIMIT 3",
                    "SELECT flag = true AS same, count(*) AS n FROM t GROUP BY same ORDER BY same"] {
            let whole = try Self.answer(sql, files, prefix: nil)
            #expect(whole.error == nil, "\(sql): \(whole.error ?? "")")
            let loader = try SQLiteLoader()
            #expect(try Self.answer(sql, files, prefix: 100, loader: loader) == whole, "\(sql)")
            // Read once, on the prefix's columns, unless a key `True` came late and the query names
            // `true` (or a LIMIT stopped the scan).
            if !sql.contains("LIMIT") {
                let shadowed = lateKey && sql.lowercased().contains("true")
                let table = try #require(loader.streamedTables["t"])
                #expect(table.provisional == !shadowed && (shadowed || table.scans == 1), "\(sql)")
            }
        }
        // The late key is a column the whole survey reads instead of the literal: not vacuous.
        if lateKey {
            let whole = try Self.answer("SELECT count(*) AS n FROM t WHERE flag = true", files, prefix: nil)
            #expect(whole.rows == [[.integer(0)]])
        }
    }

    /// The `sql` stage's counts: a table declared from a prefix is counted by the query's scan (no
    /// second read when its answer stands), or by the whole survey that replaced it, as the
    /// whole survey first counts it, rejects included.
    @Test func wholeCountsAreTheWholeSurveysWhicheverWayTheQueryWent() throws {
        let folder = try TemporaryDirectory()
        let good = Self.records(300, realAt: 250, textAt: 0, lateAt: 280)
        try folder.write("n.jsonl", good + "{oops\n" + good + "[1]\n")
        let files = [try Lake(root: folder.path).resolve("n.jsonl")]
        let whole = try SQLiteLoader()
        let surveyed = try whole.declare(SQLTableSource(table: try SQLIdentifier("t"), files: files), policy: .skip)
        #expect(!surveyed.partial && surveyed.rows == 600 && surveyed.rejected == 2)
        // Stands on the prefix; widens after it; a LIMIT; reads no column; a name a late key takes.
        for (sql, stands) in [("SELECT count(*) AS n, max(id) AS hi FROM t", true), ("SELECT sum(v) AS s FROM t", false),
                              ("SELECT id FROM t LIMIT 2", false), ("SELECT 1 AS one", false),
                              ("SELECT count(*) AS n FROM t WHERE late > 0", false)] {
            let loader = try SQLiteLoader()
            loader.surveyPrefix = 100
            var rejects: [Int] = []
            let loaded = try loader.declare(SQLTableSource(table: try SQLIdentifier("t"), files: files), policy: .skip) {
                rejects.append($0.line)
            }
            #expect(loaded.partial && loaded.rows == 100)
            try loader.query(sql, columns: { _ in }, row: { _ in })
            let counts = try loader.wholeCounts(of: loaded)
            #expect(counts.rows == 600 && counts.rejected == 2, "\(sql)")
            #expect(rejects == [301, 602], "\(sql)")
            #expect(loader.streamedTables["t"]?.provisional == stands, "\(sql)")
        }
    }
}
