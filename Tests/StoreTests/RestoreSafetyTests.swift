import Foundation
import Lake
import Testing
import TestSupport
@testable import Store

/// Hostile and subverted dumps: each is refused naming what it held, nothing is written outside
/// the scratch file, and the live store is untouched.
@Suite(.serialized) struct RestoreSafetyTests {
    /// A lake-like folder with a populated store and one SQL dump of it, plus an `outside` folder
    /// a hostile dump aims at.
    struct Setup {
        let dir: TemporaryDirectory
        let live: String
        let dump: DumpResult
        let before: [String: [[SQLValue]]]
        var outside: String { dir.file("outside") }

        init(format: DumpFormat = .sql, prepare: (Store) throws -> Void = { _ in }) throws {
            dir = try TemporaryDirectory()
            live = dir.file("lake/store/agentshop.sqlite")
            do {
                let store = try makePopulatedStore(at: live)
                try prepare(store)
            }
            dump = try #require(try StoreDumper(storePath: live).dump(to: dir.file("lake/db_dumps/manual"),
                                                                        formats: [format]).first)
            try FileManager.default.createDirectory(atPath: dir.file("outside"), withIntermediateDirectories: true)
            before = try snapshot(of: live)
        }

        /// Rewrites the SQL dump's text and signs the result, as an attacker who can write the folder would.
        func rewriteSQL(_ change: (String) -> String) throws {
            let text = change(String(decoding: try GzipReaderAll(dump.path), as: UTF8.self))
            let file = try AtomicFile(path: dump.path)
            let gzip = try GzipWriter(file.output)
            try gzip.write(text)
            try gzip.finish()
            try file.commit()
            var sidecar = dump.sidecar
            sidecar.sha256 = try FileDigest.sha256(path: dump.path)
            sidecar.bytes = Int64(try FileInput.readAll(path: dump.path).count)
            try AtomicFile.write(try sidecar.encoded(), to: dump.sidecarPath)
        }

        /// Restores and expects a refusal whose text holds `expected`; then checks nothing changed.
        /// Restores the dump over the live store and hands the restored store to `check`.
        func expectRestored(_ check: (Database) throws -> Void) throws {
            _ = try StoreRestorer().restore(dumpPath: dump.path, to: live)
            try check(try Database(path: live, mode: .readOnly))
            #expect(try FileManager.default.contentsOfDirectory(atPath: outside).isEmpty)
        }

        func expectRefused(_ expected: String, sourceLocation: SourceLocation = #_sourceLocation) throws {
            let error = expectStoreError(.restore, sourceLocation: sourceLocation) {
                _ = try StoreRestorer().restore(dumpPath: dump.path, to: live)
            }
            #expect(error?.description.contains(expected) == true, "\(error.map { "\($0)" } ?? "no error")",
                    sourceLocation: sourceLocation)
            #expect(try FileManager.default.contentsOfDirectory(atPath: outside).isEmpty, sourceLocation: sourceLocation)
            #expect(try snapshot(of: live) == before, sourceLocation: sourceLocation)
            #expect(!FileManager.default.fileExists(atPath: live + ".pre-restore"), sourceLocation: sourceLocation)
            let leftovers = try FileManager.default.contentsOfDirectory(atPath: (live as NSString).deletingLastPathComponent)
                .filter { $0.contains(AtomicFile.temporaryMarker) }
            #expect(leftovers.isEmpty, sourceLocation: sourceLocation)
            // A deep check says the same without any store.
            #expect(throws: StoreError.self, sourceLocation: sourceLocation) {
                _ = try StoreRestorer().verifyRestores(dumpPath: dump.path)
            }
        }
    }

    static let begin = "BEGIN TRANSACTION;\n"
    static let commit = "COMMIT;\n"

    @Test func attachIsRefusedAndWritesNothingOutside() throws {
        let setup = try Setup()
        let target = setup.outside + "/stolen.db"
        try setup.rewriteSQL {
            $0.replacingOccurrences(of: Self.begin, with: "ATTACH '\(target)' AS loot;\nCREATE TABLE loot.t(x);\n" + Self.begin)
        }
        try setup.expectRefused("ATTACH (or VACUUM INTO) '\(target)'")
        try setup.expectRefused("line 2:")
    }

    @Test func vacuumIntoIsRefusedAndWritesNothingOutside() throws {
        let setup = try Setup()
        try setup.rewriteSQL { $0 + "VACUUM INTO '\(setup.outside)/copy.db';\n" }
        try setup.expectRefused("VACUUM INTO")
    }

    @Test func anExtraTriggerIsRefusedByName() throws {
        let setup = try Setup()
        try setup.rewriteSQL {
            $0.replacingOccurrences(of: Self.commit, with: """
                CREATE TRIGGER steal_orders AFTER INSERT ON orders BEGIN DELETE FROM order_items; END;
                \(Self.commit)
                """)
        }
        try setup.expectRefused("CREATE TRIGGER steal_orders ON orders")
    }

    /// A plain table of the user's own (as materialize `create:` makes) is data: restored with its
    /// rows and index. A virtual table (its module is code) and a trigger on it are refused.
    @Test func aTableOfTheUsersOwnIsRestoredButAVirtualTableOrATriggerOnItIsRefused() throws {
        let own = try Setup { store in
            try store.database.execute("""
                CREATE TABLE upload_products(slug TEXT UNIQUE, price REAL);
                INSERT INTO upload_products VALUES('a', 1.5);
                CREATE INDEX upload_products_price ON upload_products(price);
                """)
        }
        try own.expectRestored { database in
            let price = try database.scalar("SELECT price FROM upload_products WHERE slug = 'a'")
            #expect(price == .real(1.5))
        }
        let virtual = try Setup()
        try virtual.rewriteSQL { $0.replacingOccurrences(of: Self.commit, with: "CREATE VIRTUAL TABLE backdoor USING fts5(x);\n" + Self.commit) }
        try virtual.expectRefused("CREATE VIRTUAL TABLE backdoor")
        let trigger = try Setup()
        try trigger.rewriteSQL { $0.replacingOccurrences(of: Self.commit, with:
            "CREATE TABLE mine(x);\nCREATE TRIGGER mine_t AFTER INSERT ON mine BEGIN DELETE FROM orders; END;\n" + Self.commit) }
        try trigger.expectRefused("CREATE TRIGGER mine_t")
    }

    @Test(arguments: ["PRAGMA writable_schema = ON;", "PRAGMA journal_mode = WAL;", "ANALYZE;",
                      "SAVEPOINT s;", "CREATE TEMP TABLE t(x);", "DROP TABLE products;",
                      "SELECT load_extension('/tmp/x.so');"])
    func otherStatementsADumpNeverHoldsAreRefused(_ statement: String) throws {
        let setup = try Setup()
        try setup.rewriteSQL { $0.replacingOccurrences(of: Self.commit, with: statement + "\n" + Self.commit) }
        try setup.expectRefused("a statement no dump of the store contains")
    }

    @Test func aKnownTriggerWithAnotherBodyIsRefusedBySchemaComparison() throws {
        let setup = try Setup()
        let name = try #require(KnownSchema.objects(atVersion: MarketplaceSchema.latestVersion).first { $0.type == "trigger" }).name
        try setup.rewriteSQL { text in
            // Drop the real trigger's statement and put one of the same name with another body in its place.
            var lines = text.components(separatedBy: "\n")
            guard let start = lines.firstIndex(where: { $0.hasPrefix("CREATE TRIGGER \(name) ") }),
                  let end = lines[start...].firstIndex(where: { $0.hasSuffix("END;") }) else { return text }
            lines.replaceSubrange(start...end, with: ["CREATE TRIGGER \(name) AFTER UPDATE ON products BEGIN DELETE FROM orders; END;"])
            return lines.joined(separator: "\n")
        }
        try setup.expectRefused("trigger \(name) on products differs from the marketplace schema's")
    }

    /// A SQL restore checks the file with quick_check, a binary one keeps integrity_check (bench/STORE_BENCH.md):
    /// here two indexes of one table trade their b-trees, so the schema text is the marketplace's and every page
    /// is sound, and only integrity_check sees that the index entries disagree with the rows.
    @Test func aBinaryDumpWhoseIndexesTradedTheirEntriesIsRefusedByIntegrityCheck() throws {
        let setup = try Setup(format: .sqlite) { store in
            let db = store.database
            let category = try #require(try db.scalar("SELECT rootpage FROM sqlite_schema WHERE name = 'products_category'")?.int64)
            let url = try #require(try db.scalar("SELECT rootpage FROM sqlite_schema WHERE name = 'products_source_url'")?.int64)
            try db.execute("""
                PRAGMA writable_schema = ON;
                UPDATE sqlite_schema SET rootpage = \(url) WHERE name = 'products_category';
                UPDATE sqlite_schema SET rootpage = \(category) WHERE name = 'products_source_url';
                PRAGMA writable_schema = OFF;
                """)
        }
        try setup.expectRefused("integrity_check")
    }

    @Test func aBinaryDumpWithAnExtraTriggerAndViewIsRefusedByName() throws {
        let setup = try Setup(format: .sqlite) { store in
            try store.database.execute("""
                CREATE TRIGGER wipe AFTER INSERT ON orders BEGIN DELETE FROM order_items; END;
                CREATE VIEW peek AS SELECT email FROM customers;
                """)
        }
        // The live store was built with them; take them out so that the test sees the restore refuse, not agree.
        try Database(path: setup.live).execute("DROP TRIGGER wipe; DROP VIEW peek")
        let live = try snapshot(of: setup.live)
        let error = expectStoreError(.restore) { _ = try StoreRestorer().restore(dumpPath: setup.dump.path, to: setup.live) }
        #expect(error?.description.contains("an extra trigger wipe on orders") == true, "\(error.map { "\($0)" } ?? "")")
        #expect(error?.description.contains("an extra view peek") == true)
        #expect(try snapshot(of: setup.live) == live)
    }

    @Test(arguments: DumpFormat.allCases)
    func anHonestDumpPassesTheDeepCheckAndLeavesNoScratch(_ format: DumpFormat) throws {
        let setup = try Setup(format: format)
        let sidecar = try StoreRestorer().verifyRestores(dumpPath: setup.dump.path)
        #expect(sidecar == setup.dump.sidecar)
        let folder = (setup.dump.path as NSString).deletingLastPathComponent
        #expect(try FileManager.default.contentsOfDirectory(atPath: folder).filter { $0.hasPrefix(".") }.isEmpty)
    }

    @Test func theDeepCheckCatchesADumpWhoseChecksumIsFine() throws {
        let setup = try Setup()
        try setup.rewriteSQL { $0.replacingOccurrences(of: "INSERT INTO \"products\" VALUES(1,", with: "INSERT INTO \"products\" VALUES(100001,") }
        let catalog = DumpCatalog(root: setup.dir.file("lake/db_dumps"))
        let entry = try #require(catalog.entries().first)
        #expect(catalog.verify(entry) == .ok)
        #expect(DumpCatalog.Verification.ok.rawValue == "checksum ok")
        let error = expectStoreError(.restore) { _ = try StoreRestorer().verifyRestores(dumpPath: entry.path) }
        #expect(error?.description.contains("foreign_key_check") == true || error?.description.contains("row counts") == true,
                "\(error.map { "\($0)" } ?? "")")
    }

    @Test func aKilledDumpsLeftoversAreRemovedByTheNextDump() throws {
        let dir = try TemporaryDirectory()
        let live = dir.file("store/agentshop.sqlite")
        _ = try makePopulatedStore(at: live)
        let folder = dir.file("db_dumps/manual")
        try FileManager.default.createDirectory(atPath: folder, withIntermediateDirectories: true)
        // What a `db dump` killed by SIGKILL leaves: its snapshot (with journal) and a half-written dump,
        // named with a pid that is gone. A live process's temporaries are left alone.
        let dead = Self.deadPID()
        let leftovers = [".agentshop_20261125T000000Z.snapshot\(AtomicFile.temporaryMarker)\(dead)-1",
                         ".agentshop_20261125T000000Z.snapshot\(AtomicFile.temporaryMarker)\(dead)-1-journal",
                         ".agentshop_20261125T000000Z.sqlite.gz\(AtomicFile.temporaryMarker)\(dead)-2"]
        let alive = ".agentshop_20261125T000001Z.sqlite.gz\(AtomicFile.temporaryMarker)\(getppid())-3"
        for name in leftovers + [alive] { try AtomicFile.write(Array(repeating: 7, count: 1000), to: folder + "/" + name) }
        _ = try StoreDumper(storePath: live).dump(to: folder, formats: [.sqlite])
        let names = try FileManager.default.contentsOfDirectory(atPath: folder)
        #expect(names.filter { $0.contains(AtomicFile.temporaryMarker) } == [alive])
        // The catalog cleans every frequency's folder, for `db backups`, `db restore`…
        try AtomicFile.write([1], to: dir.file("db_dumps/daily/") + leftovers[0])
        #expect(DumpCatalog(root: dir.file("db_dumps")).removeDeadTemporaries() == [dir.file("db_dumps/daily/") + leftovers[0]])
    }

    /// A pid no process has: a child that has exited and been reaped.
    static func deadPID() -> pid_t {
        let process = Process()
        process.executableURL = URL(fileURLWithPath: "/bin/true")
        try? process.run()
        process.waitUntilExit()
        return process.processIdentifier
    }
}

/// The store's lock between processes (`flock` the command plays the other process) and within one.
@Suite(.serialized) struct StoreLockTests {
    /// Holds `<store>.lock` in another process (`flock` from util-linux, running `cat`) until
    /// `stop` closes the pipe `cat` reads.
    final class OtherHolder {
        let process = Process()
        let input = Pipe()
        init(store: String, exclusive: Bool) throws {
            process.executableURL = URL(fileURLWithPath: "/usr/bin/flock")
            process.arguments = [exclusive ? "-x" : "-s", StoreLock.path(forStore: store), "cat"]
            process.standardInput = input
            process.standardOutput = FileHandle.nullDevice
            try process.run()
            // Wait until it holds the lock: an exclusive try of ours fails from then on.
            let deadline = Date().addingTimeInterval(10)
            while Date() < deadline {
                let fd = open(StoreLock.path(forStore: store), O_RDONLY)
                defer { if fd >= 0 { close(fd) } }
                if fd >= 0 && flock(fd, LOCK_EX | LOCK_NB) != 0 { return }
                if fd >= 0 { flock(fd, LOCK_UN) }
                usleep(10_000)
            }
        }
        func stop() {
            try? input.fileHandleForWriting.close()
            process.waitUntilExit()
        }
        deinit { if process.isRunning { stop() } }
    }

    @Test func aRestoreWaitsForAWriterThenGivesUpWithLockedAndTouchesNothing() throws {
        try #require(FileManager.default.isExecutableFile(atPath: "/usr/bin/flock"))
        let dir = try TemporaryDirectory()
        let live = dir.file("store/agentshop.sqlite")
        _ = try makePopulatedStore(at: live)
        let dump = try #require(try StoreDumper(storePath: live).dump(to: dir.file("d"), formats: [.sqlite]).first)
        try Database(path: live).run("INSERT INTO products (slug, name) VALUES ('after-dump', 'After')")
        let before = try snapshot(of: live)
        let writer = try OtherHolder(store: live, exclusive: false)
        let started = Date()
        let error = expectStoreError(.locked) {
            _ = try StoreRestorer().restore(dumpPath: dump.path, to: live, wait: .milliseconds(400))
        }
        #expect(Date().timeIntervalSince(started) >= 0.4)
        #expect(error?.description.contains("in use by flock -s \(StoreLock.path(forStore: live)) (pid \(writer.process.processIdentifier))") == true,
                "\(error.map { "\($0)" } ?? "")")
        #expect(try snapshot(of: live) == before)
        #expect(!FileManager.default.fileExists(atPath: live + ".pre-restore"))
        writer.stop()
        _ = try StoreRestorer().restore(dumpPath: dump.path, to: live)
        #expect(try snapshot(of: live)["products"]?.count == 50)
    }

    @Test func aWriterWaitsWhileTheStoreIsBeingReplaced() throws {
        try #require(FileManager.default.isExecutableFile(atPath: "/usr/bin/flock"))
        let dir = try TemporaryDirectory()
        let live = dir.file("store/agentshop.sqlite")
        _ = try makePopulatedStore(at: live)
        let restore = try OtherHolder(store: live, exclusive: true)
        expectStoreError(.locked) { _ = try Store.open(path: live, busyTimeout: .milliseconds(200)) }
        restore.stop()
        #expect(try Store.open(path: live, busyTimeout: .milliseconds(200)).schemaVersion() == MarketplaceSchema.latestVersion)
    }

    @Test func withinOneProcessTheLockIsCounted() throws {
        let dir = try TemporaryDirectory()
        let store = dir.file("a.sqlite")
        do {
            let a = try StoreLock(store: store, mode: .shared, wait: .zero)
            let b = try StoreLock(store: store, mode: .shared, wait: .zero)
            // An open Store in this process keeps a restore out, like any other writer's.
            expectStoreError(.locked) { _ = try StoreLock(store: store, mode: .exclusive, wait: .zero) }
            withExtendedLifetime((a, b)) {}
        }
        let outer = try StoreLock(store: store, mode: .exclusive, wait: .zero)
        let inner = try StoreLock(store: store, mode: .exclusive, wait: .zero)
        let writer = try StoreLock(store: store, mode: .shared, wait: .zero)
        withExtendedLifetime((inner, writer)) {}
        #expect(try String(contentsOfFile: outer.path, encoding: .utf8).contains("pid \(getpid())"))
    }
}
