import Foundation
import Lake
@testable import Query
import Store
import Testing
import TestSupport

/// Lake files as virtual tables (`SQLiteLoader.declare`): the same answers as the copying loader
/// (`load`), read once, only the columns used.
@Suite struct StreamedTableTests {
    /// Integers, reals, text, booleans, nulls, absent keys, nested values, a number beyond 64 bits,
    /// a key first seen on the last line, and a text with a NUL.
    static let records = """
    {"category":"a","price":10,"qty":1,"rating":4.0,"name":"Red shoe","tags":["new"],"ok":true}
    {"category":"a","price":20.5,"qty":2,"rating":null,"name":"Blue shoe","ok":false}
    {"category":"b","price":5,"qty":3,"rating":3,"name":"Pan","dims":{"w":7}}
    {"category":"a","qty":4,"name":"Green shoe","id":12345678901234567890}
    {"category":"b","price":"n/a","qty":5,"rating":5,"name":"Pot\\u0000lid"}
    {"category":null,"price":30,"qty":6,"rating":2.5,"name":""}
    {"category":"c","price":1,"qty":7,"rating":2,"discount":0.5,"name":"Lid"}

    """

    static let csv = "category,price,rating\na,10,4\na,,3\nb,2.5,\nb,7,1\n"

    static let queries = [
        "SELECT category, count(*) AS n, count(price) AS priced, sum(price) AS total, avg(price) AS mean, min(price) AS low, max(price) AS high, sum(qty) AS qty, avg(rating) AS rating FROM t GROUP BY category ORDER BY category",
        "SELECT * FROM t",
        "SELECT typeof(price) AS tp, typeof(qty) AS tq, typeof(rating) AS tr, typeof(ok) AS tok, typeof(id) AS tid, typeof(tags) AS tt FROM t",
        "SELECT name, length(CAST(name AS BLOB)) AS bytes, json_extract(dims, '$.w') AS w, tags, id FROM t WHERE price IS NULL OR price > 6 ORDER BY name",
        "SELECT count(*) AS n, total(price) AS s, group_concat(category, '|') AS g FROM t WHERE category IS NOT NULL AND rating >= 3",
        // Read twice (a subquery): loaded first, so a percentile by rank still works.
        "SELECT rating AS median FROM t WHERE rating IS NOT NULL ORDER BY rating LIMIT 1 OFFSET (SELECT count(rating) / 2 FROM t)",
        // A join of the table with itself.
        "SELECT a.name, b.name AS other FROM t a JOIN t b ON a.category = b.category AND a.qty < b.qty ORDER BY 1, 2",
    ]

    /// The rows of `sql` over `file` as table `t`, declared (streamed) or loaded.
    static func answer(_ sql: String, file: LakePath, streamed: Bool, policy: MalformedPolicy = .fail) throws -> [[SQLValue]] {
        let loader = try SQLiteLoader()
        let source = SQLTableSource(table: try SQLIdentifier("t"), files: [file])
        if streamed { try loader.declare(source, policy: policy) } else { try loader.load(source, policy: policy) }
        var rows: [[SQLValue]] = []
        try loader.query(sql, columns: { _ in }, row: { rows.append($0) })
        return rows
    }

    @Test(arguments: [("t.jsonl", false), ("t.jsonl.gz", true), ("t.csv", false), ("t.csv.gz", true)])
    func streamedAnswersEqualLoadedAnswers(name: String, gzip: Bool) throws {
        let folder = try TemporaryDirectory()
        let text = name.hasPrefix("t.csv") ? Self.csv : Self.records
        try folder.write(name, text, gzip: gzip)
        let file = try Lake(root: folder.path).resolve(name)
        for sql in Self.queries where !(name.hasPrefix("t.csv") && (sql.contains("qty") || sql.contains("tags"))) {
            let loaded = try Self.answer(sql, file: file, streamed: false)
            let streamed = try Self.answer(sql, file: file, streamed: true)
            #expect(!loaded.isEmpty, "\(sql)")
            #expect(streamed == loaded, "\(name): \(sql)")
        }
    }

    @Test func aGroupByReadsTheFileOnceAndOnlyTheColumnsItUses() throws {
        let folder = try TemporaryDirectory()
        try folder.write("t.jsonl.gz", Self.records, gzip: true)
        let file = try Lake(root: folder.path).resolve("t.jsonl.gz")
        let loader = try SQLiteLoader()
        let loaded = try loader.declare(SQLTableSource(table: try SQLIdentifier("t"), files: [file]))
        #expect(loaded.rows == 7)
        #expect(loaded.columns.map(\.name) == ["category", "price", "qty", "rating", "name", "tags", "ok", "dims", "id", "discount"])
        var rows: [[JSONValue]] = []
        try loader.query("SELECT category, count(*) AS n, avg(qty) AS q FROM t WHERE rating > 2 GROUP BY 1 ORDER BY 1",
                         columns: { #expect($0 == ["category", "n", "q"]) }, row: { rows.append($0.map(SQLiteLoader.jsonValue)) })
        #expect(rows == [[nil, 1, 6.0], ["a", 1, 1.0], ["b", 2, 4.0]])
        let table = try #require(loader.streamedTables["t"])
        #expect(table.scans == 1)
        // category, qty and rating: columns 0, 2 and 3.
        #expect(table.usedColumns == 0b1101)
    }

    @Test func aJoinLoadsTheTablesFirstAndAnswersAsBefore() throws {
        let folder = try TemporaryDirectory()
        try folder.write("p.jsonl", Self.records)
        try folder.write("r.csv", "category,label\na,Shoes\nb,Kitchen\n")
        let lake = Lake(root: folder.path)
        let sql = "SELECT r.label, count(*) AS n, sum(p.qty) AS q FROM p JOIN r ON r.category = p.category GROUP BY 1 ORDER BY 1"
        var answers: [[[SQLValue]]] = []
        for streamed in [false, true] {
            let loader = try SQLiteLoader()
            for name in ["p", "r"] {
                let source = SQLTableSource(table: try SQLIdentifier(name), files: [try lake.resolve(name == "p" ? "p.jsonl" : "r.csv")])
                if streamed { try loader.declare(source) } else { try loader.load(source) }
            }
            var rows: [[SQLValue]] = []
            try loader.query(sql, columns: { _ in }, row: { rows.append($0) })
            if streamed { #expect(loader.streamedTables.isEmpty, "the join should have had its tables loaded") }
            answers.append(rows)
        }
        #expect(answers[0] == [[.text("Kitchen"), .integer(2), .integer(8)], [.text("Shoes"), .integer(3), .integer(7)]])
        #expect(answers[1] == answers[0])
    }

    @Test func rejectsAreReportedOnceWhenDeclared() throws {
        let folder = try TemporaryDirectory()
        try folder.write("e.jsonl", "{\"id\":1}\nnot json\n{\"id\":3,\"late\":true}\n[4]\n")
        let file = try Lake(root: folder.path).resolve("e.jsonl")
        let loader = try SQLiteLoader()
        var rejects: [Int] = []
        let loaded = try loader.declare(SQLTableSource(table: try SQLIdentifier("e"), files: [file]), policy: .skip) { rejects.append($0.line) }
        #expect(loaded.rows == 2 && loaded.rejected == 2)
        var rows: [[JSONValue]] = []
        try loader.query("SELECT id, late FROM e ORDER BY id", columns: { _ in }, row: { rows.append($0.map(SQLiteLoader.jsonValue)) })
        try loader.query("SELECT count(*) AS n FROM e", columns: { _ in }, row: { rows.append($0.map(SQLiteLoader.jsonValue)) })
        #expect(rows == [[1, nil], [3, 1], [2]])
        #expect(rejects == [2, 4])

        // Under `fail` the first malformed line stops the declaration, as it stopped the load.
        #expect(throws: LakeError.self) { try loader.declare(SQLTableSource(table: try SQLIdentifier("f"), files: [file])) }
    }

    @Test func aFileGoneBeforeTheQueryFailsWithItsOwnError() throws {
        let folder = try TemporaryDirectory()
        let path = try folder.write("g.jsonl", "{\"a\":1}\n")
        let file = try Lake(root: folder.path).resolve("g.jsonl")
        let loader = try SQLiteLoader()
        try loader.declare(SQLTableSource(table: try SQLIdentifier("g"), files: [file]))
        try FileManager.default.removeItem(atPath: path)
        do {
            try loader.query("SELECT a FROM g", columns: { _ in }, row: { _ in })
            Issue.record("the query ran over a file that is gone")
        } catch {
            #expect(!(error is QueryError), "\(error)")
            #expect("\(error)".contains("g.jsonl"), "\(error)")
        }
    }
}
