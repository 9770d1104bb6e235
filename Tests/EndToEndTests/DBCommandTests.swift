import Foundation
import Lake
import Store
import Testing

/// `agentshop db status | dump | backups | restore` through the built binary: exit codes, output,
/// and the files each leaves behind; hostile dumps, a restore racing a run, a killed dump.
@Suite(.serialized) struct DBCommandTests {
    static let pipeline = """
    pipeline: shop
    stages:
      products:
        import: { from: raw_data/imports/products.csv, infer_types: true }
        out: scraped_data/products/dt={run_date}/products.jsonl.gz
      store:
        materialize: { from: products, table: products, key: slug,
                       columns: { slug: slug, name: name, price_cents: { from: price, type: money } } }
    """

    func makeProject(products: Int = 5) throws -> Project {
        let project = try Project()
        #expect(try project.run(["init"]).status == 0)
        #expect(try project.run(["db", "init"]).status == 0)
        try project.write("pipelines/shop.yaml", Self.pipeline)
        try writeProducts(project, from: 0, count: products)
        #expect(try project.runPipeline("shop", ["--date", "2026-11-01"]).0.status == 0)
        return project
    }

    func writeProducts(_ project: Project, from start: Int, count: Int) throws {
        var csv = "slug,name,price\n"
        for i in start..<(start + count) { csv += "p\(i),Product \(i),\(10 + i)\n" }
        try project.write("datalake/raw_data/imports/products.csv", csv)
    }

    func store(_ project: Project) -> String { project.lake + "/store/agentshop.sqlite" }

    func slugs(_ path: String) throws -> [String] {
        try Database(path: path, mode: .readOnly).rows("SELECT slug FROM products ORDER BY slug").compactMap { $0[0].string }
    }

    func dumpFiles(_ project: Project, _ frequency: String = "manual") -> [String] {
        ((try? FileManager.default.contentsOfDirectory(atPath: project.lake + "/db_dumps/" + frequency)) ?? [])
            .filter { $0.hasPrefix("agentshop_") }.sorted()
    }

    /// Rewrites a SQL dump's text and signs it again (sha256 and size in the sidecar).
    func tamper(_ path: String, _ change: (String) -> String) throws {
        let reader = try GzipReader(try FileInput(path: path))
        var bytes: [UInt8] = []
        var chunk = [UInt8](repeating: 0, count: 65536)
        while true {
            let n = try chunk.withUnsafeMutableBytes { try reader.read(into: $0) }
            if n == 0 { break }
            bytes += chunk[0..<n]
        }
        let file = try AtomicFile(path: path)
        let gzip = try GzipWriter(file.output)
        try gzip.write(change(String(decoding: bytes, as: UTF8.self)))
        try gzip.finish()
        try file.commit()
        let sidecarPath = path + ".json"
        var sidecar = try JSONSerialization.jsonObject(with: Data(try FileInput.readAll(path: sidecarPath))) as! [String: Any]
        sidecar["sha256"] = try FileDigest.sha256(path: path)
        sidecar["bytes"] = try FileInput.readAll(path: path).count
        try AtomicFile.write(Array(try JSONSerialization.data(withJSONObject: sidecar)), to: sidecarPath)
    }

    @Test func statusDumpBackupsAndRestoreRoundTrip() throws {
        let project = try makeProject()
        let status = try project.run(["db", "status"])
        #expect(status.status == 0)
        #expect(status.stdout.contains("schema version:  \(MarketplaceSchema.latestVersion)"), "\(status.stdout)")
        #expect(status.stdout.contains("products"))
        let json = try project.run(["db", "status", "--json"])
        let object = try JSONSerialization.jsonObject(with: Data(json.stdout.utf8)) as? [String: Any]
        #expect((object?["tables"] as? [String: Any])?["products"] as? Int == 5)

        let dump = try project.run(["db", "dump", "--format", "both"])
        #expect(dump.status == 0, "\(dump.stderr)")
        #expect(dump.stdout.split(separator: "\n").count == 2)
        #expect(dump.stdout.contains("sha256 "))
        let files = dumpFiles(project)
        #expect(files.count == 4, "\(files)")  // two dumps, two sidecars
        #expect(files.filter { $0.hasSuffix(".sqlite.gz") }.count == 1 && files.filter { $0.hasSuffix(".sql.gz") }.count == 1)
        #expect(project.temporaryFiles().isEmpty)

        let backups = try project.run(["db", "backups"])
        #expect(backups.status == 0)
        #expect(backups.stdout.components(separatedBy: "checksum ok").count == 3, "\(backups.stdout)")
        #expect(!backups.stdout.contains("restores ok"))
        let listed = try JSONSerialization.jsonObject(with: Data(try project.run(["db", "backups", "--json"]).stdout.utf8))
            as? [[String: Any]] ?? []
        #expect(listed.count == 2 && listed.allSatisfy { $0["state"] as? String == "checksum ok" && $0["checked"] as? String == "checksum" })
        let deep = try project.run(["db", "backups", "--deep"])
        #expect(deep.status == 0, "\(deep.stdout)\(deep.stderr)")
        #expect(deep.stdout.components(separatedBy: "restores ok").count == 3, "\(deep.stdout)")
        #expect(dumpFiles(project) == files)  // the scratch databases are gone
        #expect(project.temporaryFiles().isEmpty)

        // The store moves on; restoring the dump brings it back and keeps what it replaced.
        try writeProducts(project, from: 5, count: 2)
        #expect(try project.runPipeline("shop", ["--date", "2026-11-02"]).0.status == 0)
        #expect(try slugs(store(project)).count == 7)
        let restore = try project.run(["db", "restore", "latest"])
        #expect(restore.status == 0, "\(restore.stderr)")
        #expect(restore.stdout.contains("restored "), "\(restore.stdout)")
        #expect(restore.stdout.contains("previous store kept as \(store(project)).pre-restore"))
        #expect(try slugs(store(project)) == ["p0", "p1", "p2", "p3", "p4"])
        #expect(try slugs(store(project) + ".pre-restore").count == 7)
        #expect(project.temporaryFiles().isEmpty)

        let missing = try project.run(["db", "restore", "agentshop_20000101T000000Z.sqlite.gz"])
        #expect(missing.status == 2)
        #expect(missing.stderr.contains("no such dump"), "\(missing.stderr)")
    }

    @Test func statusAndDumpWithoutAStoreExit2() throws {
        let project = try Project()
        #expect(try project.run(["init"]).status == 0)
        try FileManager.default.removeItem(atPath: store(project))  // `init` made one
        for command in [["db", "status"], ["db", "dump"], ["db", "migrate"]] {
            let result = try project.run(command)
            #expect(result.status == 2, "\(command): \(result.stderr)")
            #expect(result.stderr.contains("db init"), "\(result.stderr)")
        }
        let backups = try project.run(["db", "backups"])
        #expect(backups.status == 0)
        #expect(backups.stdout.contains("no dumps under"))
    }

    /// A dump that would ATTACH a file outside the lake: its checksum is fine, `--deep` and
    /// `restore` refuse it naming the statement, nothing is written outside, the store is as it was.
    @Test func aHostileSQLDumpIsRefusedAndWritesNothingOutside() throws {
        let project = try makeProject()
        #expect(try project.run(["db", "dump", "--format", "sql"]).status == 0)
        let name = try #require(dumpFiles(project).first { $0.hasSuffix(".sql.gz") })
        let path = project.lake + "/db_dumps/manual/" + name
        let outside = project.folder + "/outside"
        try FileManager.default.createDirectory(atPath: outside, withIntermediateDirectories: true)
        try tamper(path) {
            $0.replacingOccurrences(of: "BEGIN TRANSACTION;\n", with: "ATTACH '\(outside)/loot.db' AS loot;\nBEGIN TRANSACTION;\n")
              + "CREATE TRIGGER later AFTER INSERT ON orders BEGIN DELETE FROM order_items; END;\n"
        }
        try writeProducts(project, from: 5, count: 1)
        #expect(try project.runPipeline("shop", ["--date", "2026-11-02"]).0.status == 0)
        let before = try slugs(store(project))

        let backups = try project.run(["db", "backups"])
        #expect(backups.stdout.contains("checksum ok"))
        let deep = try project.run(["db", "backups", "--deep"])
        #expect(deep.status == 1)
        #expect(deep.stdout.contains("does not restore"), "\(deep.stdout)")
        #expect(deep.stdout.contains("ATTACH (or VACUUM INTO) '\(outside)/loot.db'"), "\(deep.stdout)")

        let restore = try project.run(["db", "restore", name])
        #expect(restore.status == 1)
        #expect(restore.stderr.contains("line 2: the dump holds a statement no dump of the store contains"), "\(restore.stderr)")
        #expect(restore.stderr.contains("ATTACH"), "\(restore.stderr)")
        #expect(try FileManager.default.contentsOfDirectory(atPath: outside).isEmpty)
        #expect(try slugs(store(project)) == before)
        #expect(!project.exists("datalake/store/agentshop.sqlite.pre-restore"))
        #expect(project.temporaryFiles().isEmpty)
    }

    /// The pids holding a `flock` on `path`, from /proc/locks, with the mode (READ or WRITE).
    static func flockHolders(_ path: String) -> [(pid: Int32, mode: String)] {
        var info = stat()
        guard stat(path, &info) == 0, let text = try? String(contentsOfFile: "/proc/locks", encoding: .utf8) else { return [] }
        return text.split(separator: "\n").compactMap { line in
            let fields = line.split(separator: " ", omittingEmptySubsequences: true)
            guard fields.count >= 6, fields[1] == "FLOCK", fields[5].hasSuffix(":\(info.st_ino)"),
                  let pid = Int32(fields[4]) else { return nil }
            return (pid, String(fields[3]))
        }
    }

    /// A run writing the store and `db restore`: the restore exits 75 while the run holds the store,
    /// or with `--wait` swaps after it; the run's committed rows are never written into a file
    /// that was renamed away.
    @Test func restoreWhileARunWritesTheStoreExits75OrWaitsAndNothingIsLost() throws {
        let project = try makeProject()
        #expect(try project.run(["db", "dump"]).status == 0)
        try writeProducts(project, from: 5, count: 3)

        // Hold SQLite's write lock, so that the run's materialize stage stays inside the store.
        let blocker = try Database(path: store(project))
        try blocker.execute("BEGIN IMMEDIATE")
        let (run, runOut, _) = try project.start(["run", "shop", "--date", "2026-11-02", "--json"])
        let lockFile = store(project) + ".lock"
        let deadline = Date().addingTimeInterval(60)
        while Date() < deadline && !Self.flockHolders(lockFile).contains(where: { $0.pid == run.processIdentifier }) {
            usleep(20_000)
        }
        #expect(Self.flockHolders(lockFile).contains { $0.pid == run.processIdentifier && $0.mode == "READ" })

        let refused = try project.run(["db", "restore", "latest"])
        #expect(refused.status == 75, "\(refused.stdout)\(refused.stderr)")
        #expect(refused.stderr.contains("in use by agentshop run shop (pid \(run.processIdentifier)), which may write it"),
                "\(refused.stderr)")
        #expect(!project.exists("datalake/store/agentshop.sqlite.pre-restore"))

        // A restore that waits: it swaps only after the run is done with the store.
        let (waiting, waitingOut, waitingErr) = try project.start(["db", "restore", "latest", "--wait", "60"])
        usleep(300_000)
        #expect(waiting.isRunning)
        try blocker.execute("COMMIT")
        _ = runOut.fileHandleForReading.readDataToEndOfFile()
        run.waitUntilExit()
        #expect(run.terminationStatus == 0)
        let restoredText = String(decoding: waitingOut.fileHandleForReading.readDataToEndOfFile(), as: UTF8.self)
        let restoreErr = String(decoding: waitingErr.fileHandleForReading.readDataToEndOfFile(), as: UTF8.self)
        waiting.waitUntilExit()
        #expect(waiting.terminationStatus == 0, "\(restoredText)\(restoreErr)")
        // The run committed its rows before the swap: they are in the kept store, not lost in a renamed file.
        #expect(try slugs(store(project) + ".pre-restore").count == 8)
        #expect(try slugs(store(project)).count == 5)
        // The store is a new file: the next run loads the lake's rows into it again.
        #expect(try project.runPipeline("shop", ["--date", "2026-11-02"]).0.status == 0)
        #expect(try slugs(store(project)).count == 8)
    }

    /// A writer that comes while the store is being replaced waits (`db migrate` here, through the
    /// binary) and exits 75 when the replacement outlasts its wait.
    @Test func aWriterWhileTheStoreIsReplacedExits75() throws {
        let project = try makeProject()
        // `flock` plays the restore: it holds the lock until the pipe its `cat` reads is closed.
        let holder = Process(), input = Pipe()
        holder.executableURL = URL(fileURLWithPath: "/usr/bin/flock")
        holder.arguments = ["-x", store(project) + ".lock", "cat"]
        holder.standardInput = input
        holder.standardOutput = FileHandle.nullDevice
        try holder.run()
        defer { try? input.fileHandleForWriting.close(); holder.waitUntilExit() }
        let deadline = Date().addingTimeInterval(10)
        while Date() < deadline && !Self.flockHolders(store(project) + ".lock").contains(where: { $0.mode == "WRITE" }) {
            usleep(10_000)
        }
        let started = Date()
        let migrate = try project.run(["db", "migrate"])
        #expect(migrate.status == 75, "\(migrate.stderr)")
        #expect(migrate.stderr.contains("the store is being replaced"), "\(migrate.stderr)")
        #expect(Date().timeIntervalSince(started) >= 9)  // it waited its busy timeout (10 s) first
    }

    /// A `db dump` SIGKILLed half-way leaves its snapshot and half-written files; the next `db`
    /// command removes them.
    @Test func aKilledDumpsTemporariesAreRemovedByTheNextCommand() throws {
        let project = try makeProject()
        do {
            // Large enough that the dump is still writing when it is killed (about 20 MB).
            let db = try Database(path: store(project))
            try db.transaction {
                let insert = try db.prepare("INSERT INTO analytics_events (event_type, occurred_at, properties_json) VALUES (?, ?, ?)")
                for i in 0..<80_000 {
                    try insert.execute([.text("view"), .text("2026-11-25T10:00:00Z"),
                                        .text("{\"n\":\(i),\"pad\":\"\(String(repeating: "x", count: 200))\(i * 7919)\"}")])
                }
            }
            try db.execute("PRAGMA wal_checkpoint(TRUNCATE)")
        }
        let (dump, _, _) = try project.start(["db", "dump", "--format", "both"])
        let deadline = Date().addingTimeInterval(60)
        var seen: [String] = []
        while Date() < deadline && dump.isRunning {
            seen = project.temporaryFiles()
            if seen.contains(where: { $0.hasPrefix("db_dumps/") }) { break }
            usleep(2_000)
        }
        kill(dump.processIdentifier, SIGKILL)
        dump.waitUntilExit()
        let left = project.temporaryFiles()
        #expect(!left.isEmpty, "the dump ended before it could be killed: \(seen)")
        #expect(left.allSatisfy { $0.hasPrefix("db_dumps/manual/") }, "\(left)")

        let next = try project.run(["db", "backups"])
        #expect(next.status == 0)
        #expect(next.stderr.contains("temporary file"), "\(next.stderr)")
        #expect(project.temporaryFiles().isEmpty, "\(project.temporaryFiles())")
        // What is listed is whole: a dump under its final name has a sidecar that verifies.
        #expect(!next.stdout.contains("mismatch"))
    }
}
