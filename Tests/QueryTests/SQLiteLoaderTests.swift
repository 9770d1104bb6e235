import Foundation
import Lake
@testable import Query
import Store
import Testing
import TestSupport

/// The SQLite loader: schema inference, loading, and queries over the loaded tables.
@Suite struct SQLiteLoaderTests {
    /// Five products. `price` holds an integer, a real and text ("n/a"): widened to text.
    /// `vendor` is null on line 4; `tags`/`dims` are nested; `discount` first appears on the last line.
    static let products = """
    {"slug":"a","vendor":"x","price":10,"qty":1}
    {"slug":"b","vendor":"y","price":2.5,"qty":2.5}
    {"slug":"c","vendor":"x","price":"n/a","qty":3}
    {"slug":"d","vendor":null,"price":4,"tags":["new"],"dims":{"w":7}}
    {"slug":"e","vendor":"y","price":1,"qty":4,"discount":0.5}

    """

    @Test func schemaIsInferredFromEveryRecordAndWidened() throws {
        let folder = try TemporaryDirectory()
        let lake = Lake(root: folder.path)
        try folder.write("raw_data/imports/products.jsonl.gz", Self.products, gzip: true)
        let file = try lake.resolve("raw_data/imports/products.jsonl.gz")
        let loader = try SQLiteLoader()
        let columns = try loader.inferColumns([file], policy: .fail)
        #expect(columns == [
            SQLColumn(name: "slug", type: .text), SQLColumn(name: "vendor", type: .text),
            SQLColumn(name: "price", type: .text),  // 10, 2.5, "n/a": integer → real → text
            SQLColumn(name: "qty", type: .real),    // 1, 2.5, 3, 4: integer → real
            SQLColumn(name: "tags", type: .json), SQLColumn(name: "dims", type: .json),
            SQLColumn(name: "discount", type: .real),  // first seen on the last line
        ])
        let loaded = try loader.load(SQLTableSource(table: try .init("p"), files: [file]))
        #expect(loaded.rows == 5)
        var rows: [[JSONValue]] = []
        try loader.query("""
            SELECT slug, typeof(price), price, qty, discount, json_extract(dims, '$.w'), tags
            FROM p WHERE slug IN ('b', 'd', 'e') ORDER BY slug
            """, columns: { _ in }, row: { rows.append($0.map(SQLiteLoader.jsonValue)) })
        #expect(rows == [
            ["b", "text", "2.5", 2.5, nil, nil, nil],
            ["d", "text", "4", nil, nil, 7, "[\"new\"]"],
            ["e", "text", "1", 4.0, 0.5, nil, nil],
        ])
        var sum: [JSONValue] = []
        try loader.query("SELECT sum(qty) AS total FROM p", columns: { #expect($0 == ["total"]) },
                         row: { sum = $0.map(SQLiteLoader.jsonValue) })
        #expect(sum == [10.5])
    }

    @Test func aQueryIsExactlyOneStatement() throws {
        let loader = try SQLiteLoader()
        var rows: [[JSONValue]] = []
        try loader.query("SELECT 1 AS a; -- trailing comment\n ;", columns: { _ in }, row: { rows.append($0.map(SQLiteLoader.jsonValue)) })
        #expect(rows == [[1]])
        do {
            try loader.query("SELECT 1 AS a; DROP TABLE x", columns: { _ in }, row: { _ in })
            Issue.record("a second statement was ignored")
        } catch let error as QueryError {
            #expect(error.message == "the query is not valid SQLite SQL: only one statement may be given; it is followed by: DROP TABLE x\n  in: SELECT 1 AS a; DROP TABLE x")
        }
    }

    /// An integer beyond 64 bits is a TEXT column with its exact digits (a REAL would round it).
    @Test func bigIntegersAreTextColumns() {
        let big = JSONValue.bigInteger("12345678901234567890")
        #expect(SQLColumnType.of(big) == .text)
        #expect(SQLColumnType.integer.widened(with: .text) == .text)
        #expect(SQLColumnType.text.sqlValue(big) == .text("12345678901234567890"))
    }

    /// Text is bound with its byte length: a NUL inside it is data, not its end (it was cut there).
    @Test(arguments: ["a\u{0}b", "\u{0}", "x\u{0}\u{0}y\u{0}", "", "plain"])
    func textWithNULBytesRoundTrips(text: String) throws {
        let loader = try SQLiteLoader()
        try loader.database.run("CREATE TABLE t (s TEXT)")
        try loader.database.run("INSERT INTO t VALUES (?)", [.text(text)])
        var rows: [[SQLValue]] = []
        try loader.query("SELECT s, length(CAST(s AS BLOB)) AS n FROM t", columns: { _ in }, row: { rows.append($0) })
        #expect(rows.count == 1)
        #expect(rows.first?.first.map(SQLiteLoader.jsonValue) == .string(text))
        #expect(rows.first?.last == .integer(Int64(text.utf8.count)))
    }
}
