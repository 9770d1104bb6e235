// The Store side of bench/store_bench.sh: each subcommand does one thing, so the script can
// time it exactly as it times the sqlite3 shell doing the same thing.
//
//   store-bench populate DB ROWS     a migrated store with ROWS products (~200 bytes each)
//   store-bench dump DB DIR FORMAT   one dump (sqlite | sql) into DIR, with its sidecar
//   store-bench restore DUMP TARGET  verify and restore DUMP to TARGET
import Foundation
import Lake
import Logging
import Store

LoggingSystem.bootstrap { _ in SwiftLogNoOpLogHandler() }

func fail(_ message: String) -> Never {
    FileHandle.standardError.write(Data(("store-bench: " + message + "\n").utf8))
    exit(1)
}

let arguments = CommandLine.arguments.dropFirst()
do {
    switch arguments.first {
    case "populate":
        guard arguments.count == 3, let rows = Int(arguments[arguments.startIndex + 2]) else { fail("usage: populate DB ROWS") }
        let store = try Store.openMigrated(path: arguments[arguments.startIndex + 1])
        let db = store.database
        let words = ["red", "blue", "steel", "oak", "travel", "compact", "pro", "ultra", "classic", "smart", "eco", "mini"]
        try db.transaction {
            let insert = try db.prepare("""
                INSERT INTO products (slug, sku, name, description, category_id, brand, price_cents, currency,
                                      stock_quantity, source_url, tags_json, sentiment_score, scraped_at)
                VALUES (?, ?, ?, ?, ?, ?, ?, 'USD', ?, ?, ?, ?, ?)
                """)
            var generator = SystemRandomNumberGenerator()
            for i in 0..<rows {
                let a = words[i % words.count], b = words[(i / 7) % words.count], c = words[(i / 49) % words.count]
                try insert.execute([
                    .text("product-\(i)"), .text(String(format: "SKU-%08d", i)), .text("\(a.capitalized) \(b) \(c) \(i)"),
                    .text("A \(a) \(b) item for everyday use; \(c) finish, model \(i % 997), ships in \(i % 5 + 1) days."),
                    .integer(Int64(i % 5 + 1)), .text("Brand\(i % 211)"), .integer(Int64.random(in: 99...99_999, using: &generator)),
                    .integer(Int64(i % 500)), .text("https://shop.example/p/\(i)"), .text("[\"\(a)\",\"\(b)\"]"),
                    .real(Double(i % 1000) / 1000), .text("2026-11-\(String(format: "%02d", i % 28 + 1))T10:00:00.000Z"),
                ])
            }
        }
        try db.execute("PRAGMA wal_checkpoint(TRUNCATE)")
    case "dump":
        guard arguments.count == 4, let format = DumpFormat(rawValue: arguments[arguments.startIndex + 3]) else {
            fail("usage: dump DB DIR sqlite|sql")
        }
        let results = try StoreDumper(storePath: arguments[arguments.startIndex + 1])
            .dump(to: arguments[arguments.startIndex + 2], formats: [format])
        print(results[0].path)
    case "restore":
        guard arguments.count == 3 else { fail("usage: restore DUMP TARGET") }
        _ = try StoreRestorer().restore(dumpPath: arguments[arguments.startIndex + 1], to: arguments[arguments.startIndex + 2])
    default:
        fail("usage: store-bench populate|dump|restore …")
    }
} catch {
    fail("\(error)")
}
