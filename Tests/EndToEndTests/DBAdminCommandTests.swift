import Foundation
import Lake
import Store
import Testing

/// `agentshop db migrate | admin | sync-runs` through the built binary: exit codes, output, and what
/// each leaves in the store. README promises guarded: "apply schema migrations (`PRAGMA user_version`)",
/// "set an admin password (PBKDF2, from stdin or `AGENTSHOP_ADMIN_PASSWORD`)", "record every run manifest
/// in the run tables", "if the store is busy or missing, the run still counts, and `db sync-runs` catches
/// up", and the documented exit codes (0 done, 1 refused, 2 missing or invalid input).
@Suite(.serialized) struct DBAdminCommandTests {
    /// A pipeline without a materialize stage: its run does not create the store.
    static let importOnly = """
    pipeline: shop
    stages:
      products:
        import: { from: raw_data/imports/products.csv, infer_types: true }
        out: scraped_data/products/dt={run_date}/products.jsonl.gz
      export:
        import: { from: products }
        out: processed_data/exports/dt={run_date}/products.csv
    """

    func storePath(_ project: Project) -> String { project.lake + "/store/agentshop.sqlite" }

    /// An initialised project whose store has been removed.
    func projectWithoutStore() throws -> Project {
        let project = try Project()
        #expect(try project.run(["init"]).status == 0)
        try FileManager.default.removeItem(atPath: storePath(project))
        return project
    }

    /// Runs the binary with `input` on its standard input.
    func run(_ project: Project, _ arguments: [String], input: String,
             environment: [String: String] = [:]) throws -> Project.Result {
        let process = Process()
        process.executableURL = URL(fileURLWithPath: Project.binary)
        process.arguments = arguments
        process.currentDirectoryURL = URL(fileURLWithPath: project.folder)
        var env = ProcessInfo.processInfo.environment
        env["AGENTSHOP_LAKE"] = nil
        env["AGENTSHOP_ADMIN_PASSWORD"] = nil
        for (k, v) in environment { env[k] = v }
        process.environment = env
        let stdin = Pipe(), out = Pipe(), err = Pipe()
        process.standardInput = stdin
        process.standardOutput = out
        process.standardError = err
        try process.run()
        stdin.fileHandleForWriting.write(Data(input.utf8))
        try stdin.fileHandleForWriting.close()
        let stdout = out.fileHandleForReading.readDataToEndOfFile()
        let stderr = err.fileHandleForReading.readDataToEndOfFile()
        process.waitUntilExit()
        return Project.Result(status: process.terminationStatus, stdout: String(decoding: stdout, as: UTF8.self),
                              stderr: String(decoding: stderr, as: UTF8.self))
    }

    /// Whether `stored` (`pbkdf2_sha256$iterations$salt$base64`) is `password`'s hash, checked by Python's
    /// hashlib: an independent PBKDF2 (and fast, where the debug build's own takes seconds).
    func pythonVerifies(_ password: String, _ stored: String) throws -> Bool {
        let script = """
            import base64, hashlib, sys
            kind, iterations, salt, digest = sys.argv[2].split("$")
            key = hashlib.pbkdf2_hmac("sha256", sys.argv[1].encode(), salt.encode(), int(iterations))
            sys.exit(0 if kind == "pbkdf2_sha256" and base64.b64encode(key).decode() == digest else 1)
            """
        let process = Process()
        process.executableURL = URL(fileURLWithPath: "/usr/bin/env")
        process.arguments = ["python3", "-c", script, password, stored]
        try process.run()
        process.waitUntilExit()
        return process.terminationStatus == 0
    }

    // MARK: db migrate

    /// A store at schema version 0 is migrated to the latest, once; the second call has nothing to do.
    @Test func migrateAppliesPendingMigrationsOnce() throws {
        let project = try projectWithoutStore()
        _ = try Store.open(path: storePath(project))  // an empty store at user_version 0
        #expect(try Database(path: storePath(project), mode: .readOnly).userVersion() == 0)
        let status = try project.run(["db", "status"])
        #expect(status.stdout.contains("pending"), "\(status.stdout)")

        let latest = MarketplaceSchema.latestVersion
        let all = MarketplaceSchema.migrations.map { String($0.version) }.joined(separator: ", ")
        let migrate = try project.run(["db", "migrate"])
        #expect(migrate.status == 0, "\(migrate.stderr)")
        #expect(migrate.stdout.contains("migrated store from schema version 0 to \(latest) (applied \(all))"), "\(migrate.stdout)")
        let db = try Database(path: storePath(project), mode: .readOnly)
        #expect(try db.userVersion() == latest)
        let tables = try db.rows("SELECT name FROM sqlite_master WHERE type = 'table' AND name NOT LIKE 'sqlite_%'")
            .compactMap { $0[0].string }
        #expect(Set(MarketplaceSchema.tableNames).isSubset(of: Set(tables)), "\(tables)")
        #expect(try db.rows("PRAGMA integrity_check").first?[0].string == "ok")

        let again = try project.run(["db", "migrate"])
        #expect(again.status == 0)
        #expect(again.stdout.contains("store is up to date at schema version \(latest)"), "\(again.stdout)")
        let after = try project.run(["db", "status", "--json"])
        let object = try JSONSerialization.jsonObject(with: Data(after.stdout.utf8)) as? [String: Any]
        #expect(object?["schema_version"] as? Int == latest)
        #expect(project.temporaryFiles().isEmpty)
    }

    /// A store from a newer program is refused (exit 1, the reason on stderr) and left as it was.
    @Test func migrateRefusesANewerSchemaAndChangesNothing() throws {
        let project = try Project()
        #expect(try project.run(["init"]).status == 0)
        let newer = MarketplaceSchema.latestVersion + 1
        try Database(path: storePath(project)).setUserVersion(newer)
        let result = try project.run(["db", "migrate"])
        #expect(result.status == 1, "\(result.stdout)\(result.stderr)")
        #expect(result.stderr.contains("newer than this program's"), "\(result.stderr)")
        #expect(result.stdout.isEmpty)
        #expect(try Database(path: storePath(project), mode: .readOnly).userVersion() == newer)
    }

    /// A migration that fails half-way is rolled back: exit 1 naming the migration, user_version still 0,
    /// no table of the migration left behind.
    @Test func aFailingMigrationLeavesTheStoreAsItWas() throws {
        let project = try projectWithoutStore()
        let db = try Database(path: storePath(project))
        // A table in the way of a later CREATE TABLE of migration 1.
        try db.execute("CREATE TABLE products (squatter TEXT)")
        let result = try project.run(["db", "migrate"])
        #expect(result.status == 1, "\(result.stdout)\(result.stderr)")
        #expect(result.stderr.contains("migration 1"), "\(result.stderr)")
        let check = try Database(path: storePath(project), mode: .readOnly)
        #expect(try check.userVersion() == 0)
        let tables = try check.rows("SELECT name FROM sqlite_master WHERE type = 'table' AND name NOT LIKE 'sqlite_%'")
            .compactMap { $0[0].string }
        #expect(tables == ["products"], "\(tables)")
    }

    // MARK: db admin

    /// The password from stdin is stored as PBKDF2 (never in clear, never printed); the same username again
    /// replaces the password and e-mail in the same row; the environment variable works too.
    @Test func adminStoresAPBKDF2HashFromStdinOrTheEnvironment() throws {
        let project = try Project()
        #expect(try project.run(["init"]).status == 0)
        let password = "correct horse battery staple 42"
        let first = try run(project, ["db", "admin", "--username", "ops", "--email", "ops@example.test", "--password-stdin"],
                            input: password + "\n")
        #expect(first.status == 0, "\(first.stderr)")
        #expect(first.stdout.contains("admin 'ops' (id "), "\(first.stdout)")
        #expect(first.stdout.contains("role admin) saved in"))
        #expect(!first.stdout.contains(password) && !first.stderr.contains(password))

        func row() throws -> [SQLValue]? {
            try Database(path: storePath(project), mode: .readOnly)
                .rows("SELECT id, email, password_hash, role FROM admin_users WHERE username = 'ops'").first
        }
        let saved = try #require(try row())
        let hash = try #require(saved[2].string)
        #expect(hash.hasPrefix("pbkdf2_sha256$"), "\(hash)")
        #expect(hash.split(separator: "$").count == 4)
        #expect(try pythonVerifies(password, hash))
        #expect(try !pythonVerifies(password + "x", hash))
        // The clear password is in no file the command left (store, WAL, journal).
        for file in try FileManager.default.contentsOfDirectory(atPath: project.lake + "/store") {
            let bytes = try FileInput.readAll(path: project.lake + "/store/" + file)
            #expect(!String(decoding: bytes, as: UTF8.self).contains(password), "\(file)")
        }

        let second = try project.run(["db", "admin", "--username", "ops", "--email", "new@example.test", "--role", "editor"],
                                     environment: ["AGENTSHOP_ADMIN_PASSWORD": "second-password-99"])
        #expect(second.status == 0, "\(second.stderr)")
        let updated = try #require(try row())
        #expect(updated[0] == saved[0])  // the same account
        #expect(updated[1].string == "new@example.test" && updated[3].string == "editor")
        #expect(try pythonVerifies("second-password-99", updated[2].string ?? ""))
        #expect(try !pythonVerifies(password, updated[2].string ?? ""))
        let count = try Database(path: storePath(project), mode: .readOnly).scalar("SELECT count(*) FROM admin_users")
        #expect(count?.int64 == 1)
    }

    /// No password given: exit 2 with the two ways to give one, and no account. A bad role is a usage
    /// error; a short password is refused. Nothing is hashed here (the debug build's PBKDF2 is slow).
    @Test func adminWithoutAPasswordOrWithABadRoleExitsNonZero() throws {
        let project = try Project()
        #expect(try project.run(["init"]).status == 0)
        let none = try run(project, ["db", "admin", "--username", "ops", "--email", "ops@example.test"], input: "")
        #expect(none.status == 2, "\(none.stderr)")
        #expect(none.stderr.contains("--password-stdin") && none.stderr.contains("AGENTSHOP_ADMIN_PASSWORD"), "\(none.stderr)")
        let role = try run(project, ["db", "admin", "--username", "ops", "--email", "o@e.test", "--role", "root",
                                     "--password-stdin"], input: "pw\n")
        #expect(role.status != 0)
        #expect(role.stderr.contains("--role must be admin, editor or viewer"), "\(role.stderr)")
        let short = try run(project, ["db", "admin", "--username", "ops", "--email", "o@e.test", "--password-stdin"],
                            input: "pw-123\n")
        #expect(short.status != 0)
        #expect(short.stderr.contains("at least 12 characters"), "\(short.stderr)")
        let count = try Database(path: storePath(project), mode: .readOnly).scalar("SELECT count(*) FROM admin_users")
        #expect(count?.int64 == 0)
    }

    // MARK: db sync-runs

    /// Runs made while the store was missing are recorded by sync-runs; a second sync changes nothing
    /// (idempotent); an unreadable manifest is named on stderr and skipped, the rest still recorded.
    @Test func syncRunsCatchesUpIdempotentlyAndSkipsUnreadableManifests() throws {
        let project = try projectWithoutStore()
        try project.write("pipelines/shop.yaml", Self.importOnly)
        try project.write("datalake/raw_data/imports/products.csv", "slug,name,price\np1,One,10\np2,Two,12\n")
        // No store: the run counts (its manifest is in the lake) and nothing records it.
        #expect(try project.runPipeline("shop", ["--date", "2026-11-01"]).0.status == 0)
        #expect(!FileManager.default.fileExists(atPath: storePath(project)))
        #expect(try project.run(["db", "init"]).status == 0)
        let manifests = try FileManager.default.contentsOfDirectory(atPath: project.lake + "/raw_data/logs/shop")
            .filter { $0.hasSuffix(".manifest.json") }
        #expect(manifests.count == 1, "\(manifests)")
        func tasks() throws -> [String] {
            try Database(path: storePath(project), mode: .readOnly)
                .rows("SELECT stage || ' ' || status FROM data_processing_tasks ORDER BY id").compactMap { $0[0].string }
        }
        #expect(try tasks().isEmpty)

        let sync = try project.run(["db", "sync-runs"])
        #expect(sync.status == 0, "\(sync.stderr)")
        #expect(sync.stdout.contains("recorded 2 stage runs from 1 manifests"), "\(sync.stdout)")
        let recorded = try tasks()
        #expect(recorded.count == 2, "\(recorded)")
        #expect(recorded.sorted() == ["export succeeded", "products succeeded"], "\(recorded)")

        let again = try project.run(["db", "sync-runs"])
        #expect(again.status == 0)
        #expect(try tasks() == recorded)

        try project.write("datalake/raw_data/logs/shop/20000101T000000Z-broken.manifest.json", "{not json")
        let broken = try project.run(["db", "sync-runs"])
        #expect(broken.status == 0, "\(broken.stderr)")
        #expect(broken.stderr.contains("skipped unreadable manifest") && broken.stderr.contains("broken.manifest.json"),
                "\(broken.stderr)")
        #expect(broken.stdout.contains("from 1 manifests"), "\(broken.stdout)")
        #expect(try tasks() == recorded)
    }

    /// sync-runs without a store creates it (migrated) and records the runs.
    @Test func syncRunsWithoutAStoreCreatesIt() throws {
        let project = try projectWithoutStore()
        try project.write("pipelines/shop.yaml", Self.importOnly)
        try project.write("datalake/raw_data/imports/products.csv", "slug,name,price\np1,One,10\n")
        #expect(try project.runPipeline("shop", ["--date", "2026-11-01"]).0.status == 0)
        #expect(!FileManager.default.fileExists(atPath: storePath(project)))
        let sync = try project.run(["db", "sync-runs"])
        #expect(sync.status == 0, "\(sync.stderr)")
        #expect(sync.stdout.contains("from 1 manifests"), "\(sync.stdout)")
        let db = try Database(path: storePath(project), mode: .readOnly)
        #expect(try db.userVersion() == MarketplaceSchema.latestVersion)
        #expect((try db.scalar("SELECT count(*) FROM data_processing_tasks")?.int64 ?? 0) >= 1)
    }
}
