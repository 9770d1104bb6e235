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

    /// Writes `sidecar` beside its dump, as the dump wrote it.
    static func rewrite(_ sidecar: PostgresDumps.Sidecar, of path: String) throws {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.prettyPrinted, .sortedKeys]
        try encoder.encode(sidecar).write(to: URL(fileURLWithPath: path + ".json"))
    }

    @Test func deepProofRestoresADumpOnTheServerOrReadsItWholeWithoutOne() throws {
        guard let database = try PostgresServer.database() else { return }
        defer { database.drop() }
        let url = try PostgresURL(database.url)
        let folder = NSTemporaryDirectory() + "agentshop-pgdump-" + UUID().uuidString
        defer { try? FileManager.default.removeItem(atPath: folder) }
        let store = try PostgresStore.openMigrated(url: url)
        try Self.insertProducts(["a", "b", "c", "tab\there", "new\nline"], url: url)
        let result = try PostgresDumps.dump(store, to: folder)

        // Without a server: every data block read, each table's rows and the schema version against the sidecar.
        let counts = try PostgresDumps.verifyReads(result.path)
        #expect(counts["public.products"] == 5)
        #expect(counts["public.product_categories"] == 5)
        // On the server: a scratch database, restored and checked, dropped after.
        try PostgresDumps.verifyRestores(result.path, server: url)
        let admin = try PGConnection(url: url.with(database: "postgres"))
        #expect(try admin.scalar("SELECT count(*) FROM pg_database WHERE datname LIKE $1", [database.name + "_restore_%"]) == "0")
        // A server that cannot host a scratch database says nothing about the dump.
        #expect(throws: PostgresDumps.ScratchUnavailable.self) {
            try PostgresDumps.verifyRestores(result.path, server: try PostgresURL(database.url.replacingOccurrences(
                of: #":[0-9]+/"#, with: ":1/", options: .regularExpression)))
        }

        // A sidecar that disagrees with the rows in the dump: both proofs catch it, the checksum cannot.
        var wrong = result.sidecar
        wrong.tables["products"] = 4
        try Self.rewrite(wrong, of: result.path)
        expectError(StoreError.restore) { try PostgresDumps.verifyReads(result.path) }
        expectError(StoreError.restore) { try PostgresDumps.verifyRestores(result.path, server: url) }
        var newer = result.sidecar
        newer.schemaVersion += 1
        try Self.rewrite(newer, of: result.path)
        expectError(StoreError.restore) { try PostgresDumps.verifyReads(result.path) }

        // An archive cut short whose checksum was taken after the cut (the bytes are the ones written, and
        // they do not read): the read proof fails where the checksum passes.
        let bytes = try Data(contentsOf: URL(fileURLWithPath: result.path))
        let cut = bytes.prefix(bytes.count - 200)
        try cut.write(to: URL(fileURLWithPath: result.path))
        var truncated = result.sidecar
        truncated.sha256 = try FileDigest.sha256(path: result.path)
        truncated.bytes = Int64(cut.count)
        try Self.rewrite(truncated, of: result.path)
        expectError(StoreError.restore) { try PostgresDumps.verifyReads(result.path) }
    }

    @Test func dbBackupsDeepProvesPostgresDumps() throws {
        guard let database = try PostgresServer.database() else { return }
        defer { database.drop() }
        let url = try PostgresURL(database.url)
        let folder = NSTemporaryDirectory() + "agentshop-pgbackups-" + UUID().uuidString
        try FileManager.default.createDirectory(atPath: folder, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(atPath: folder) }
        #expect(try PostgresFlagshipTests.agentshop(["init", "datalake"], in: folder).status == 0)
        _ = try PostgresStore.openMigrated(url: url)
        try Self.insertProducts(["a", "b"], url: url)
        let dump = try PostgresFlagshipTests.agentshop(["db", "dump", "--lake", "datalake", "--store", database.url], in: folder)
        #expect(dump.status == 0, "\(dump.stderr)")

        func state(_ output: PostgresFlagshipTests.Output) throws -> (state: String, checked: String, problem: String?) {
            let rows = try #require(try JSONSerialization.jsonObject(with: Data(output.stdout.utf8)) as? [[String: Any]])
            let row = try #require(rows.first { $0["format"] as? String == "pgdump" })
            return (row["state"] as? String ?? "", row["checked"] as? String ?? "", row["problem"] as? String)
        }
        let read = try PostgresFlagshipTests.agentshop(["db", "backups", "--deep", "--json", "--lake", "datalake"], in: folder)
        #expect(read.status == 0, "\(read.stderr)")
        #expect(try state(read) == ("reads ok", "read", nil))
        let restored = try PostgresFlagshipTests.agentshop(["db", "backups", "--deep", "--json", "--lake", "datalake"], in: folder,
                                              environment: ["AGENTSHOP_STORE_URL": database.url])
        #expect(restored.status == 0, "\(restored.stderr)")
        #expect(try state(restored) == ("restores ok", "restore", nil))
        #expect(!restored.stdout.contains(url.password ?? "none") && !restored.stderr.contains(url.password ?? "none"))
        let text = try PostgresFlagshipTests.agentshop(["db", "backups", "--deep", "--lake", "datalake", "--store", database.url], in: folder)
        #expect(text.status == 0 && text.stdout.contains("restores ok"), "\(text.stdout) \(text.stderr)")

        // A dump whose rows disagree with its sidecar fails the deep check, with the table named; exit 1.
        let entry = try #require(try FileManager.default.contentsOfDirectory(atPath: folder + "/datalake/db_dumps/manual")
            .first { $0.hasSuffix(".pgdump") })
        let path = folder + "/datalake/db_dumps/manual/" + entry
        var sidecar = try JSONDecoder().decode(PostgresDumps.Sidecar.self, from: Data(contentsOf: URL(fileURLWithPath: path + ".json")))
        sidecar.tables["products"] = 3
        try Self.rewrite(sidecar, of: path)
        let bad = try PostgresFlagshipTests.agentshop(["db", "backups", "--deep", "--json", "--lake", "datalake"], in: folder)
        #expect(bad.status == 1)
        let (badState, _, problem) = try state(bad)
        #expect(badState == "does not read" && problem?.contains("2 rows of table products, the sidecar says 3") == true, "\(bad.stdout)")
        let badRestore = try PostgresFlagshipTests.agentshop(["db", "backups", "--deep", "--json", "--lake", "datalake", "--store", database.url],
                                                in: folder)
        #expect(badRestore.status == 1)
        #expect(try state(badRestore).state == "does not restore")
        // Without --deep, the checksum still passes: that is all it proves.
        #expect(try state(try PostgresFlagshipTests.agentshop(["db", "backups", "--json", "--lake", "datalake"], in: folder)).state == "checksum ok")
    }
}
