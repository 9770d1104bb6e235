import Foundation
import Lake
import Testing
import TestSupport
@testable import Store

// One test at a time: each run fsyncs outputs, stores and dumps, and on a 2-core machine the
// cooperative pool has two threads that other suites' time-limited tests need too.
@Suite(.serialized) struct DumpRestoreTests {
    @Test(arguments: DumpFormat.allCases)
    func roundTripEqualsTheOriginalRowByRow(_ format: DumpFormat) throws {
        let dir = try TemporaryDirectory()
        let live = dir.file("store/agentshop.sqlite")
        _ = try makePopulatedStore(at: live)
        let original = try snapshot(of: live)

        let results = try StoreDumper(storePath: live).dump(to: dir.file("db_dumps/manual"), formats: [format])
        let result = try #require(results.first)
        #expect(result.path.hasSuffix(format.fileSuffix))
        #expect((result.path as NSString).lastPathComponent.hasPrefix("agentshop_"))
        #expect(result.sidecar.sha256 == (try FileDigest.sha256(path: result.path)))
        #expect(result.sidecar.schemaVersion == MarketplaceSchema.latestVersion)
        #expect(result.sidecar.tables["products"] == 50)
        #expect(result.sidecar.tables.count == 24)

        let target = dir.file("restored/agentshop.sqlite")
        let restored = try StoreRestorer().restore(dumpPath: result.path, to: target)
        #expect(restored.previousPath == nil)
        #expect(try snapshot(of: target) == original)
    }

    @Test func bothFormatsComeFromOneSnapshot() throws {
        let dir = try TemporaryDirectory()
        let live = dir.file("a.sqlite")
        _ = try makePopulatedStore(at: live)
        let results = try StoreDumper(storePath: live).dump(to: dir.file("dumps"), formats: [.sqlite, .sql])
        #expect(results.count == 2)
        #expect(results[0].sidecar.tables == results[1].sidecar.tables)
        let a = dir.file("a-restored.sqlite"), b = dir.file("b-restored.sqlite")
        _ = try StoreRestorer().restore(dumpPath: results[0].path, to: a)
        _ = try StoreRestorer().restore(dumpPath: results[1].path, to: b)
        #expect(try snapshot(of: a) == snapshot(of: b))
    }

    /// SQL dumps are now gzip members compressed beside the SQL text (ParallelGzipWriter); a dump written
    /// before, one gzip member of the same text, still restores, and the text itself did not change.
    @Test func anSQLDumpOfOneGzipMemberStillRestores() throws {
        let dir = try TemporaryDirectory()
        let live = dir.file("a.sqlite")
        _ = try makePopulatedStore(at: live)
        let dump = try #require(try StoreDumper(storePath: live).dump(to: dir.file("dumps"), formats: [.sql]).first)
        let text = try GzipReaderAll(dump.path)
        #expect(String(decoding: text.prefix(64), as: UTF8.self).hasPrefix("PRAGMA foreign_keys=OFF;\nBEGIN TRANSACTION;"))

        // The old writer: one GzipWriter at level 6 over the same text.
        let file = try AtomicFile(path: dump.path)
        let gzip = try GzipWriter(file.output, level: 6)
        try gzip.write(text)
        try gzip.finish()
        try file.commit()
        var sidecar = dump.sidecar
        sidecar.sha256 = try FileDigest.sha256(path: dump.path)
        sidecar.bytes = Int64(try FileInput.readAll(path: dump.path).count)
        try AtomicFile.write(try sidecar.encoded(), to: dump.sidecarPath)

        let target = dir.file("restored.sqlite")
        _ = try StoreRestorer().restore(dumpPath: dump.path, to: target)
        #expect(try snapshot(of: target) == snapshot(of: live))
    }

    @Test func sqlite3ShellRestoresTheSQLDump() throws {
        // scripts/setup.sh installs the sqlite3 shell: its absence is a failed set-up, not a pass.
        try #require(FileManager.default.isExecutableFile(atPath: "/usr/bin/sqlite3"))
        let dir = try TemporaryDirectory()
        let live = dir.file("a.sqlite")
        _ = try makePopulatedStore(at: live)
        let dump = try #require(try StoreDumper(storePath: live).dump(to: dir.path, formats: [.sql]).first)
        let target = dir.file("shell.sqlite")
        let process = Process()
        process.executableURL = URL(fileURLWithPath: "/bin/sh")
        process.arguments = ["-c", "zcat '\(dump.path)' | sqlite3 -bail '\(target)'"]
        try process.run()
        process.waitUntilExit()
        #expect(process.terminationStatus == 0)
        #expect(try snapshot(of: target) == snapshot(of: live))
    }

    /// The SQL text holds virtual tables and their rows (the sqlite3 shell restores them), but
    /// `StoreRestorer` restores only the marketplace schema: tables of one's own are refused by name.
    @Test func virtualTablesAndTheirRowsSurviveTheSQLDump() throws {
        try #require(FileManager.default.isExecutableFile(atPath: "/usr/bin/sqlite3"))
        let dir = try TemporaryDirectory()
        let live = dir.file("a.sqlite")
        let store = try makePopulatedStore(at: live)
        try store.database.execute("""
            CREATE VIRTUAL TABLE notes_fts USING fts5(title, body);
            INSERT INTO notes_fts (title, body) VALUES ('first', 'apples and pears'), ('second', 'pears only');
            CREATE VIRTUAL TABLE products_fts USING fts5(name, content='products', content_rowid='id');
            INSERT INTO products_fts(products_fts) VALUES ('rebuild');
            """)
        let dump = try #require(try StoreDumper(storePath: live).dump(to: dir.path, formats: [.sql]).first)
        let target = dir.file("b.sqlite")
        let refused = expectStoreError(.restore) { _ = try StoreRestorer().restore(dumpPath: dump.path, to: target) }
        #expect(refused?.description.contains("CREATE VIRTUAL TABLE notes_fts USING fts5") == true)
        let process = Process()
        process.executableURL = URL(fileURLWithPath: "/bin/sh")
        process.arguments = ["-c", "zcat '\(dump.path)' | sqlite3 -bail '\(target)'"]
        try process.run()
        process.waitUntilExit()
        #expect(process.terminationStatus == 0)
        let db = try Database(path: target, mode: .readOnly)
        #expect(try db.rows("SELECT title FROM notes_fts WHERE notes_fts MATCH 'pears' ORDER BY rowid")
                == [[.text("first")], [.text("second")]])
        #expect(try db.scalar("SELECT count(*) FROM products_fts WHERE products_fts MATCH 'product'")?.int64 == 50)
        #expect(try snapshot(of: target)["products"] == snapshot(of: live)["products"])
    }

    @Test(arguments: DumpFormat.allCases)
    func dumpTakenWhileAWriterIsActiveIsConsistent(_ format: DumpFormat) async throws {
        let dir = try TemporaryDirectory()
        let live = dir.file("a.sqlite")
        _ = try makePopulatedStore(at: live, products: 2000)
        // The writer keeps one invariant per transaction: analytics_events rows == 2 × the 'counter' setting.
        try Store.open(path: live).database.run(
            "INSERT INTO config_settings (key, value, value_type) VALUES ('counter', '0', 'integer')")
        try Store.open(path: live).database.run("DELETE FROM analytics_events")
        let stop = StopFlag()
        let writer = Thread {
            do {
                let db = try Database(path: live)
                var n = 0
                while !stop.isSet {
                    n += 1
                    try db.transaction {
                        try db.run("INSERT INTO analytics_events (event_type, occurred_at) VALUES ('a', ?), ('b', ?)",
                                   [.text("t\(n)"), .text("t\(n)")])
                        try db.run("UPDATE config_settings SET value = ? WHERE key = 'counter'", [.text(String(n))])
                    }
                }
                stop.writes = n
            } catch {
                stop.failure = "\(error)"
            }
            stop.done = true
        }
        writer.start()
        while (try? Database(path: live, mode: .readOnly).scalar("SELECT value FROM config_settings WHERE key = 'counter'"))??.string == "0" {
            try await Task.sleep(for: .milliseconds(5))
        }
        var dumps: [DumpResult] = []
        for second in 0..<3 {
            dumps += try StoreDumper(storePath: live)
                .dump(to: dir.file("dumps"), formats: [format], at: Date(timeIntervalSince1970: 1_800_000_000 + Double(second)))
        }
        stop.isSet = true
        while !stop.done { try await Task.sleep(for: .milliseconds(5)) }
        #expect(stop.failure == nil)
        #expect(stop.writes > 0)
        for (i, dump) in dumps.enumerated() {
            let target = dir.file("restored-\(i).sqlite")
            _ = try StoreRestorer().restore(dumpPath: dump.path, to: target)
            let db = try Database(path: target, mode: .readOnly)
            let events = try db.scalar("SELECT count(*) FROM analytics_events")?.int64 ?? -1
            let counter = Int64(try db.scalar("SELECT value FROM config_settings WHERE key = 'counter'")?.string ?? "") ?? -1
            #expect(events == 2 * counter, "dump \(i): \(events) events for counter \(counter)")
            #expect(counter > 0)
            #expect(dump.sidecar.tables["analytics_events"] == Int(events))
        }
    }

    @Test func restoreKeepsThePreviousDatabaseAsPreRestore() throws {
        let dir = try TemporaryDirectory()
        let live = dir.file("a.sqlite")
        let dump: DumpResult
        let dumped: [String: [[SQLValue]]]
        do {
            // Closed before the restore: an open Store holds the store's lock, and a restore waits for it.
            let store = try makePopulatedStore(at: live)
            dump = try #require(try StoreDumper(storePath: live).dump(to: dir.file("d"), formats: [.sqlite]).first)
            dumped = try snapshot(of: live)
            try store.database.run("DELETE FROM order_items")
            try store.database.run("INSERT INTO products (slug, name) VALUES ('after-dump', 'After')")
        }
        let beforeRestore = try snapshot(of: live)
        let result = try StoreRestorer().restore(dumpPath: dump.path, to: live)
        #expect(result.previousPath == live + ".pre-restore")
        #expect(try snapshot(of: live) == dumped)
        #expect(try snapshot(of: live + ".pre-restore") == beforeRestore)
    }

    @Test func restoreIsRefusedWhileAnotherConnectionReadsTheStore() throws {
        let dir = try TemporaryDirectory()
        let live = dir.file("a.sqlite")
        _ = try makePopulatedStore(at: live)
        let dump = try #require(try StoreDumper(storePath: live).dump(to: dir.file("d"), formats: [.sqlite]).first)
        // A reader holds an old snapshot while a writer has added to the WAL: the WAL cannot be folded in.
        let reader = try Database(path: live)
        try reader.execute("BEGIN")
        _ = try reader.scalar("SELECT count(*) FROM products")
        let writer = try Database(path: live)
        try writer.run("INSERT INTO products (slug, name) VALUES ('late', 'Late')")
        let before = try snapshot(of: live)
        expectStoreError(.busy) { _ = try StoreRestorer().restore(dumpPath: dump.path, to: live) }
        try reader.execute("COMMIT")
        #expect(try snapshot(of: live) == before)
        #expect(!FileManager.default.fileExists(atPath: live + ".pre-restore"))
    }

    // MARK: Refusals: each leaves the live database untouched.

    enum Damage: String, CaseIterable, Sendable {
        case truncated, corruptedBytes, wrongChecksum, missingSidecar, newerSchema, notADatabase, truncatedSQL
    }

    @Test(arguments: Damage.allCases)
    func damagedDumpIsRefusedAndTheLiveDatabaseIsUntouched(_ damage: Damage) throws {
        let dir = try TemporaryDirectory()
        let live = dir.file("store/agentshop.sqlite")
        let store = try makePopulatedStore(at: live)
        let format: DumpFormat = damage == .truncatedSQL ? .sql : .sqlite
        if damage == .newerSchema { try store.database.setUserVersion(MarketplaceSchema.latestVersion + 1) }
        let dump = try #require(try StoreDumper(storePath: live).dump(to: dir.file("dumps"), formats: [format]).first)
        if damage == .newerSchema { try store.database.setUserVersion(MarketplaceSchema.latestVersion) }
        let liveBefore = try snapshot(of: live)

        var bytes = try FileInput.readAll(path: dump.path)
        var sidecar = dump.sidecar
        /// Rewrites the sidecar to match damaged bytes, so that the damage itself must be caught.
        func resign() throws {
            var hasher = SHA256()
            hasher.update(bytes)
            sidecar.sha256 = hasher.hexDigest()
            sidecar.bytes = Int64(bytes.count)
            try AtomicFile.write(try sidecar.encoded(), to: dump.sidecarPath)
        }
        switch damage {
        case .truncated:
            bytes = Array(bytes.prefix(bytes.count / 2))
            try AtomicFile.write(bytes, to: dump.path)
            try resign()
        case .corruptedBytes:
            for i in stride(from: bytes.count / 3, to: bytes.count / 3 + 64, by: 1) { bytes[i] ^= 0x5A }
            try AtomicFile.write(bytes, to: dump.path)
            try resign()
        case .wrongChecksum:
            bytes[bytes.count / 2] ^= 0x01
            try AtomicFile.write(bytes, to: dump.path)
        case .missingSidecar:
            try FileManager.default.removeItem(atPath: dump.sidecarPath)
        case .newerSchema:
            break
        case .notADatabase:
            let file = try AtomicFile(path: dump.path)
            let gzip = try GzipWriter(file.output)
            try gzip.write(Array(repeating: UInt8(ascii: "x"), count: 100_000))
            try gzip.finish()
            try file.commit()
            bytes = try FileInput.readAll(path: dump.path)
            try resign()
        case .truncatedSQL:
            // A complete gzip stream whose SQL stops half-way: only the missing COMMIT tells.
            let text = try String(decoding: GzipReaderAll(dump.path), as: UTF8.self)
            let cut = text.prefix(text.count / 2)
            let file = try AtomicFile(path: dump.path)
            let gzip = try GzipWriter(file.output)
            try gzip.write(String(cut.prefix(upTo: cut.lastIndex(of: "\n")!)) + "\n")
            try gzip.finish()
            try file.commit()
            bytes = try FileInput.readAll(path: dump.path)
            try resign()
        }

        let expected: StoreError
        switch damage {
        case .wrongChecksum: expected = .checksum
        case .missingSidecar: expected = .notFound
        case .newerSchema: expected = .schemaTooNew
        default: expected = .restore
        }
        let error = expectStoreError(expected) { _ = try StoreRestorer().restore(dumpPath: dump.path, to: live) }
        let because: [Damage: String] = [
            .truncated: "truncated gzip", .corruptedBytes: "corrupt gzip", .wrongChecksum: "checksum mismatch",
            .missingSidecar: "no readable sidecar", .newerSchema: "newer than this program",
            .notADatabase: "not hold a readable SQLite database", .truncatedSQL: "ends before its COMMIT",
        ]
        #expect(error?.description.contains(because[damage]!) == true, "\(error.map { "\($0)" } ?? "no error")")
        #expect(try snapshot(of: live) == liveBefore)
        #expect(!FileManager.default.fileExists(atPath: live + ".pre-restore"))
        let leftovers = try FileManager.default.contentsOfDirectory(atPath: dir.file("store"))
            .filter { $0.contains(AtomicFile.temporaryMarker) }
        #expect(leftovers.isEmpty)
    }
}

/// Reads a whole gzip file (test data only).
func GzipReaderAll(_ path: String) throws -> [UInt8] {
    let reader = try GzipReader(try FileInput(path: path))
    var out: [UInt8] = []
    var chunk = [UInt8](repeating: 0, count: 65536)
    while true {
        let n = try chunk.withUnsafeMutableBytes { try reader.read(into: $0) }
        if n == 0 { return out }
        out += chunk[0..<n]
    }
}

/// Shared between the test and its writer thread; the test reads it only after `done`.
/// Shared by the writer thread and the test: every field behind one lock (ThreadSanitizer found
/// the plain fields racing).
final class StopFlag: @unchecked Sendable {
    private let lock = NSLock()
    private var _isSet = false, _done = false, _writes = 0
    private var _failure: String?
    var isSet: Bool { get { lock.withLock { _isSet } } set { lock.withLock { _isSet = newValue } } }
    var done: Bool { get { lock.withLock { _done } } set { lock.withLock { _done = newValue } } }
    var writes: Int { get { lock.withLock { _writes } } set { lock.withLock { _writes = newValue } } }
    var failure: String? { get { lock.withLock { _failure } } set { lock.withLock { _failure = newValue } } }
}
