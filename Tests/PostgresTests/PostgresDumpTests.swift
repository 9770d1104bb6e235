import Foundation
import Lake
import Postgres
import Store
import TestSupport
import Testing

/// `pg_dump --format=custom` dumps with sidecars, verified restores swapped in by renaming databases, retention.
@Suite struct PostgresDumpTests {
    static func insertProducts(_ slugs: [String], url: PostgresURL) throws {
        let db = try PGConnection(url: url)
        for slug in slugs { try db.run("INSERT INTO products (slug, name) VALUES ($1, $1)", [slug]) }
    }

    @Test func dumpThenRestoreIntoAScratchDatabaseThenSwap() throws {
        guard let database = try PostgresServer.database() else { return }
        defer { database.drop() }
        let url = try PostgresURL(database.url)
        let folder = NSTemporaryDirectory() + "agentshop-pgdump-" + UUID().uuidString
        defer { try? FileManager.default.removeItem(atPath: folder) }
        let result: PostgresDumps.Result = try {
            let store = try PostgresStore.openMigrated(url: url)
            try Self.insertProducts(["a", "b", "c"], url: url)
            return try PostgresDumps.dump(store, to: folder)
        }()
        #expect(result.path.hasSuffix(".pgdump"))
        #expect(result.sidecar.tables["products"] == 3)
        #expect(result.sidecar.tables["product_categories"] == 5)
        #expect(result.sidecar.schemaVersion == PostgresSchema.latestVersion)
        #expect(try FileDigest.sha256(path: result.path) == result.sidecar.sha256)
        let sidecarText = try String(contentsOfFile: result.path + ".json", encoding: .utf8)
        #expect(!sidecarText.contains(url.password ?? "none"))

        try Self.insertProducts(["d"], url: url)
        let restored = try PostgresDumps.restore(result.path, to: url)
        let previous = try #require(restored.previous)
        defer { _ = try? PostgresServer.psql(database.url.replacingOccurrences(of: "/" + database.name, with: "/postgres"),
                                             "DROP DATABASE IF EXISTS \"\(previous)\" WITH (FORCE)") }
        #expect(try PGConnection(url: url).scalar("SELECT string_agg(slug, ',' ORDER BY slug) FROM products") == "a,b,c")
        #expect(try PGConnection(url: url.with(database: previous)).scalar("SELECT count(*) FROM products") == "4")
        // No scratch database is left behind.
        let admin = try PGConnection(url: url.with(database: "postgres"))
        #expect(try admin.scalar("SELECT count(*) FROM pg_database WHERE datname LIKE $1", [database.name + "_restore_%"]) == "0")
    }

    @Test func aDumpWhoseBytesChangedIsRefusedAndTheLiveDatabaseStays() throws {
        guard let database = try PostgresServer.database() else { return }
        defer { database.drop() }
        let url = try PostgresURL(database.url)
        let folder = NSTemporaryDirectory() + "agentshop-pgdump-" + UUID().uuidString
        defer { try? FileManager.default.removeItem(atPath: folder) }
        let result = try PostgresDumps.dump(try PostgresStore.openMigrated(url: url), to: folder)
        let handle = try #require(FileHandle(forUpdatingAtPath: result.path))
        try handle.seek(toOffset: 100)
        try handle.write(contentsOf: Data([0xFF, 0x00, 0xFF]))
        try handle.close()
        try Self.insertProducts(["kept"], url: url)
        expectError(StoreError.checksum) { _ = try PostgresDumps.restore(result.path, to: url) }
        #expect(try PGConnection(url: url).scalar("SELECT count(*) FROM products") == "1")
    }

    @Test func retentionKeepsRecentDumpsAndTheNewestOfEach() throws {
        let lakeRoot = NSTemporaryDirectory() + "agentshop-pgdump-lake-" + UUID().uuidString
        defer { try? FileManager.default.removeItem(atPath: lakeRoot) }
        let catalog = DumpCatalog(lake: Lake(root: lakeRoot))
        let daily = catalog.folder(.daily)
        try FileManager.default.createDirectory(atPath: daily, withIntermediateDirectories: true)
        for name in ["agentshop_20260101T000000Z", "agentshop_20261101T000000Z", "agentshop_20261201T000000Z"] {
            _ = FileManager.default.createFile(atPath: "\(daily)/\(name).pgdump", contents: Data("x".utf8))
            _ = FileManager.default.createFile(atPath: "\(daily)/\(name).pgdump.json", contents: Data("{}".utf8))
        }
        let now = try #require(DumpCatalog.parseName("agentshop_20261206T000000Z.sqlite.gz")?.0)
        let removed = try PostgresDumps.applyRetention(catalog, RetentionPolicy(dailyDays: 30, weeklyWeeks: 4), now: now)
        #expect(removed.map { ($0 as NSString).lastPathComponent }.sorted()
                == ["agentshop_20260101T000000Z.pgdump", "agentshop_20260101T000000Z.pgdump.json",
                    "agentshop_20261101T000000Z.pgdump", "agentshop_20261101T000000Z.pgdump.json"])
        #expect(PostgresDumps.entries(catalog).count == 1)
    }
}
