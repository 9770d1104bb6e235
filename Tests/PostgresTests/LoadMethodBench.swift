import Foundation
import Postgres
import Store
import TestSupport
import Testing

/// Batched `INSERT … ON CONFLICT` (what `PostgresTableLoader` does) against COPY into a temporary table
/// and one merging `INSERT … SELECT … ON CONFLICT`, for a first load and a rerun with nothing changed.
/// Prints timings; runs only with AGENTSHOP_PG_BENCH=<rows> (docs/scale.md quotes its result).
@Suite struct LoadMethodBench {
    @Test(.enabled(if: ProcessInfo.processInfo.environment["AGENTSHOP_PG_BENCH"] != nil))
    func batchedUpsertAgainstCopyAndMerge() throws {
        guard let database = try PostgresServer.database() else { return }
        defer { database.drop() }
        let n = Int(ProcessInfo.processInfo.environment["AGENTSHOP_PG_BENCH"] ?? "") ?? 20_000
        let store = try PostgresStore.openMigrated(url: try PostgresURL(database.url))
        let db = store.connection
        let rows: [[SQLValue]] = (0..<n).map { i in
            [.text("p-\(i)"), .text("Product \(i) with a longer name"), .integer(Int64(100 + i)), .text("[\"a\",\"b\"]")]
        }
        func time(_ body: () throws -> Void) rethrows -> Double {
            let start = Date()
            try body()
            return Date().timeIntervalSince(start)
        }
        func upsert() throws {
            try db.transaction {
                let loader = try PostgresTableLoader(connection: db, table: "products", keys: ["slug"], mode: .upsert)
                for row in rows {
                    try loader.write([("slug", row[0]), ("name", row[1]), ("price_cents", row[2]), ("tags_json", row[3])])
                }
                try loader.finish()
            }
        }
        func copyMerge() throws {
            try db.transaction {
                try db.execute("CREATE TEMP TABLE staged (slug text, name text, price_cents bigint, tags_json jsonb) ON COMMIT DROP")
                try db.copy("COPY staged FROM STDIN", rows: rows.lazy.map { $0.map { PostgresTableLoaderText.text($0) } })
                try db.run("""
                    INSERT INTO products AS t (slug, name, price_cents, tags_json) SELECT * FROM staged
                    ON CONFLICT (slug) DO UPDATE SET name = EXCLUDED.name, price_cents = EXCLUDED.price_cents, tags_json = EXCLUDED.tags_json
                    WHERE (t.name, t.price_cents, t.tags_json) IS DISTINCT FROM (EXCLUDED.name, EXCLUDED.price_cents, EXCLUDED.tags_json)
                    """)
            }
        }
        let upsertFirst = try time(upsert)
        let upsertRerun = try time(upsert)
        try db.execute("TRUNCATE products CASCADE")
        let copyFirst = try time(copyMerge)
        let copyRerun = try time(copyMerge)
        print(String(format: "LoadMethodBench %d rows: batched upsert %.2fs first, %.2fs rerun; COPY+merge %.2fs first, %.2fs rerun",
                     n, upsertFirst, upsertRerun, copyFirst, copyRerun))
    }
}

/// The text form the loader sends, for the COPY path above.
enum PostgresTableLoaderText {
    static func text(_ value: SQLValue) -> String? {
        switch value {
        case .null: return nil
        case .integer(let i): return String(i)
        case .real(let d): return "\(d)"
        case .text(let s): return s
        case .blob(let bytes): return "\\x" + bytes.map { String(format: "%02x", $0) }.joined()
        }
    }
}
