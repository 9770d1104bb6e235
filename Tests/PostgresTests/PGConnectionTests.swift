import Foundation
import Postgres
import TestSupport
import Testing

/// Against a real server (TestSupport's PostgresServer): each test gets its own database.
@Suite struct PGConnectionTests {
    @Test func parameterisedQueriesTransactionsAndNulls() throws {
        guard let database = try PostgresServer.database() else { return }
        defer { database.drop() }
        let db = try PGConnection(database.url)
        #expect(db.serverVersion >= 100000)
        try db.execute("CREATE TABLE t (id bigint PRIMARY KEY, name text, price numeric)")
        #expect(try db.run("INSERT INTO t VALUES ($1, $2, $3), ($4, $5, $6)", ["1", "a'b", "1.50", "2", nil, nil]) == 2)
        let rows = try db.query("SELECT id, name, price FROM t ORDER BY id")
        #expect(rows.columns == ["id", "name", "price"])
        #expect(rows.rows == [["1", "a'b", "1.50"], ["2", nil, nil]])
        // A failing body rolls back; a nested transaction is a savepoint.
        #expect(throws: PGError.self) {
            try db.transaction {
                try db.run("INSERT INTO t VALUES (3, 'c', 1)")
                try db.run("INSERT INTO t VALUES (1, 'duplicate', 1)")
            }
        }
        try db.transaction {
            try db.run("INSERT INTO t VALUES (4, 'd', 1)")
            _ = try? db.transaction { try db.run("INSERT INTO t VALUES (1, 'x', 1)") }
        }
        #expect(try db.scalar("SELECT string_agg(id::text, ',' ORDER BY id) FROM t") == "1,2,4")
        #expect(!db.inTransaction)
    }

    @Test func errorsCarrySQLStateMessageAndRedactedURL() throws {
        guard let database = try PostgresServer.database() else { return }
        defer { database.drop() }
        let db = try PGConnection(database.url)
        try db.execute("CREATE TABLE u (k text UNIQUE)")
        try db.run("INSERT INTO u VALUES ('x')")
        do {
            try db.run("INSERT INTO u VALUES ($1)", ["x"])
            Issue.record("expected a unique violation")
        } catch let error as PGError {
            #expect(error.sqlState == "23505")
            #expect(error.isConstraintViolation)
            #expect(error.message.contains("duplicate key"))
            #expect(error.sql == "INSERT INTO u VALUES ($1)")
            let password = try PostgresURL(database.url).password ?? "none"
            #expect(!error.description.contains(password))
            #expect(error.description.contains("***"))
        }
    }

    @Test func aWrongPasswordFailsToConnectWithoutShowingIt() throws {
        guard let database = try PostgresServer.database() else { return }
        defer { database.drop() }
        let url = try PostgresURL(database.url)
        let wrong = url.conninfo.replacingOccurrences(of: ":" + (url.password ?? "") + "@", with: ":wrong-password-1@")
        do {
            _ = try PGConnection(wrong)
            Issue.record("connected with a wrong password")
        } catch let error as PGError {
            #expect(PGError.connect ~= error)
            #expect(!error.description.contains("wrong-password-1"))
        }
    }

    @Test func passwordFromPGPASSWORDWhenTheURLHasNone() throws {
        guard let database = try PostgresServer.database() else { return }
        defer { database.drop() }
        let url = try PostgresURL(database.url)
        let withoutPassword = url.conninfo.replacingOccurrences(of: ":" + (url.password ?? "") + "@", with: "@")
        // libpq reads PGPASSWORD itself; set it for this process only while connecting.
        let previous = ProcessInfo.processInfo.environment["PGPASSWORD"]
        setenv("PGPASSWORD", url.password ?? "", 1)
        defer { if let previous { setenv("PGPASSWORD", previous, 1) } else { unsetenv("PGPASSWORD") } }
        let db = try PGConnection(withoutPassword)
        #expect(try db.scalar("SELECT current_database()") == database.name)
    }

    @Test func copyFromStdinEscapesEverything() throws {
        guard let database = try PostgresServer.database() else { return }
        defer { database.drop() }
        let db = try PGConnection(database.url)
        try db.execute("CREATE TABLE c (a text, b text)")
        let rows: [[String?]] = [["tab\there", "line\nbreak"], ["back\\slash", nil], ["é ü", "\r"]]
        #expect(try db.copy("COPY c (a, b) FROM STDIN", rows: rows) == 3)
        #expect(try db.query("SELECT a, b FROM c ORDER BY a").rows == rows.sorted { $0[0]! < $1[0]! })
        #expect(throws: PGError.self) { try db.copy("COPY c (a) FROM STDIN", rows: [["x", "too many"]]) }
        #expect(try db.scalar("SELECT count(*) FROM c") == "3")
    }
}
