import Foundation
import Testing
import TestSupport
@testable import Store

@Suite struct DatabaseTests {
    @Test func opensInWALWithForeignKeysOn() throws {
        let dir = try TemporaryDirectory()
        let db = try Database(path: dir.file("a.sqlite"))
        #expect(try db.scalar("PRAGMA journal_mode")?.string == "wal")
        #expect(try db.scalar("PRAGMA foreign_keys")?.int64 == 1)
    }

    @Test func errorsCarryTheSQLAndSQLiteMessage() throws {
        let dir = try TemporaryDirectory()
        let db = try Database(path: dir.file("a.sqlite"))
        let sql = "SELEKT 1"
        do {
            _ = try db.prepare(sql)
            Issue.record("a syntax error was accepted")
        } catch let error as StoreError {
            #expect(error.sql == sql)
            #expect(error.cause?.contains("syntax error") == true)
            #expect(error.description.contains(sql))
        }
    }

    @Test func constraintViolationsAreTyped() throws {
        let dir = try TemporaryDirectory()
        let db = try Database(path: dir.file("a.sqlite"))
        try db.execute("CREATE TABLE t (id INTEGER PRIMARY KEY, v TEXT NOT NULL UNIQUE)")
        try db.run("INSERT INTO t (v) VALUES (?)", [.text("x")])
        expectStoreError(StoreError.constraint) { try db.run("INSERT INTO t (v) VALUES (?)", [.text("x")]) }
    }

    @Test func transactionRollsBackWhenTheBodyThrows() throws {
        let dir = try TemporaryDirectory()
        let db = try Database(path: dir.file("a.sqlite"))
        try db.execute("CREATE TABLE t (v INTEGER)")
        struct Boom: Error {}
        #expect(throws: Boom.self) {
            try db.transaction {
                try db.run("INSERT INTO t VALUES (1)")
                throw Boom()
            }
        }
        #expect(try db.scalar("SELECT count(*) FROM t")?.int64 == 0)
        #expect(db.isAutocommit)
    }

    @Test func nestedTransactionUndoesOnlyTheInnerWork() throws {
        let dir = try TemporaryDirectory()
        let db = try Database(path: dir.file("a.sqlite"))
        try db.execute("CREATE TABLE t (v INTEGER)")
        struct Boom: Error {}
        try db.transaction {
            try db.run("INSERT INTO t VALUES (1)")
            _ = try? db.transaction {
                try db.run("INSERT INTO t VALUES (2)")
                throw Boom()
            }
        }
        #expect(try db.rows("SELECT v FROM t") == [[.integer(1)]])
    }

    @Test func bindsAndReadsEveryStorageClass() throws {
        let dir = try TemporaryDirectory()
        let db = try Database(path: dir.file("a.sqlite"))
        try db.execute("CREATE TABLE t (a, b, c, d, e)")
        let values: [SQLValue] = [.null, .integer(Int64.max), .real(-0.5), .text("héllo 'x'"), .blob([0, 255, 7])]
        try db.run("INSERT INTO t VALUES (?, ?, ?, ?, ?)", values)
        #expect(try db.rows("SELECT * FROM t") == [values])
    }

    @Test func wrongParameterCountIsAnError() throws {
        let dir = try TemporaryDirectory()
        let db = try Database(path: dir.file("a.sqlite"))
        expectStoreError(StoreError.sqlite) { try db.run("SELECT ?, ?", [.integer(1)]) }
    }

    @Test(arguments: ["products", "order_items", "_private", "T1"])
    func acceptsPlainIdentifiers(_ name: String) throws {
        #expect(try SQLIdentifier(name).quoted == "\"\(name)\"")
    }

    @Test(arguments: ["", "1abc", "products; DROP TABLE x", "a\"b", "na me", "sqlite_master", "ünï",
                      String(repeating: "a", count: 65)])
    func rejectsOtherIdentifiers(_ name: String) {
        expectStoreError(StoreError.invalidIdentifier) { _ = try SQLIdentifier(name) }
    }
}
