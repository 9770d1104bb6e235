import ArgumentParser
import Foundation
import Lake
import Postgres
import Stages
import Store

/// `agentshop db …`: the marketplace store — create, migrate, inspect, dump, list and restore.
struct DBCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "db",
        abstract: "Manage the marketplace store (<lake>/store/agentshop.sqlite): init, migrate, status, dump, backups, restore, rebuild, admin, sync-runs.",
        discussion: """
        The store is SQLite, materialised from the lake. Dumps go to db_dumps/<daily|weekly|manual>/ as
        agentshop_<UTC time>.sqlite.gz (binary snapshot) or .sql.gz (SQL text, also restorable with
        `zcat FILE | sqlite3 NEW.db`), each with a .json sidecar holding its sha256, size, schema version
        and row counts. Every command that writes the store holds its lock (<store>.lock) shared; restore and
        rebuild hold it exclusively while they replace the file, so no write is lost to the swap. Exit codes:
        0 ok, 1 the operation failed or was refused, 2 no lake, store or dump, 75 the store is locked by another
        process (try again, or pass --wait SECONDS).

        Examples:
          agentshop db status
          agentshop db dump --to daily
          agentshop db restore latest
        """,
        subcommands: [Init.self, Migrate.self, Status.self, Dump.self, Backups.self, Restore.self, Rebuild.self, Admin.self, SyncRuns.self]
    )

    struct Init: AsyncParsableCommand {
        static let configuration = CommandConfiguration(abstract: "Create the store and apply every migration.",
            discussion: "Examples:\n  agentshop db init\n  agentshop db init --lake /srv/lake")
        @OptionGroup var global: GlobalOptions

        @Option(help: ArgumentHelp("A PostgreSQL store (postgres://…) instead of the lake's; default $AGENTSHOP_STORE_URL.", valueName: "url"))
        var store: String?

        func run() async throws {
            if let postgres = try DBCommand.postgresLocation(store) {
                return try DBCommand.withPostgres(postgres, migrate: false) { store in
                    let applied = try store.migrate()
                    ProviderStatusSync.update(lake: try global.openLake(mustExist: false),
                                              environment: global.environment(projectFolder: nil).variables, postgres: store)
                    print(applied.isEmpty ? "store \(postgres) already exists at schema version \(try store.schemaVersion())"
                          : "created store \(postgres) at schema version \(try store.schemaVersion())")
                }
            }
            try DBCommand.guarded {
                let lake = try DBCommand.openLake(global)
                let existed = FileManager.default.fileExists(atPath: lake.storePath)
                let store = try Store.open(path: lake.storePath)
                let applied = try store.migrate()
                let version = try store.schemaVersion()
                ProviderStatusSync.update(lake: lake, environment: global.environment(projectFolder: nil).variables)
                if existed && applied.isEmpty {
                    print("store \(lake.storePath) already exists at schema version \(version)")
                } else {
                    print("created store \(lake.storePath) at schema version \(version)")
                }
            }
        }
    }

    struct Migrate: AsyncParsableCommand {
        static let configuration = CommandConfiguration(abstract: "Apply pending schema migrations.",
            discussion: "Examples:\n  agentshop db migrate")
        @OptionGroup var global: GlobalOptions

        @Option(help: ArgumentHelp("A PostgreSQL store (postgres://…) instead of the lake's; default $AGENTSHOP_STORE_URL.", valueName: "url"))
        var store: String?

        func run() async throws {
            if let postgres = try DBCommand.postgresLocation(store) {
                return try DBCommand.withPostgres(postgres, migrate: false) { store in
                    let before = try store.schemaVersion()
                    let applied = try store.migrate()
                    ProviderStatusSync.update(lake: try global.openLake(mustExist: false),
                                              environment: global.environment(projectFolder: nil).variables, postgres: store)
                    print(applied.isEmpty ? "store is up to date at schema version \(before)"
                          : "migrated store from schema version \(before) to \(applied.last!)")
                }
            }
            try DBCommand.guarded {
                let lake = try DBCommand.openLake(global)
                let store = try Store.open(path: lake.storePath, create: false)
                let before = try store.schemaVersion()
                let applied = try store.migrate()
                ProviderStatusSync.update(lake: lake, environment: global.environment(projectFolder: nil).variables)
                if applied.isEmpty {
                    print("store is up to date at schema version \(before)")
                } else {
                    print("migrated store from schema version \(before) to \(applied.last!) "
                          + "(applied \(applied.map(String.init).joined(separator: ", ")))")
                }
            }
        }
    }

    struct Status: AsyncParsableCommand {
        static let configuration = CommandConfiguration(abstract: "Show the schema version, pending migrations and row counts.",
                                                        discussion: "Examples:\n  agentshop db status\n  agentshop db status --store other.sqlite --json")
        @OptionGroup var global: GlobalOptions

        @Option(help: ArgumentHelp("Any SQLite file, or a PostgreSQL store (postgres://…), instead of the lake's store.", valueName: "path"))
        var store: String?

        func run() async throws {
            if let postgres = try DBCommand.postgresLocation(store) {
                return try DBCommand.withPostgres(postgres, migrate: false) { store in
                    DBCommand.printPostgresStatus(try store.status(), json: global.json)
                }
            }
            try DBCommand.guarded {
                let path = try store ?? DBCommand.openLake(global).storePath
                let status = try Store.openReadOnly(path: path).status()
                if global.json {
                    let object = JSONObject([
                        ("path", .string(status.path)),
                        ("schema_version", .int(Int64(status.schemaVersion))),
                        ("latest_version", .int(Int64(status.latestVersion))),
                        ("pending_migrations", .array(status.pendingMigrations.map { .int(Int64($0)) })),
                        ("bytes", .int(status.bytes)),
                        ("journal_mode", .string(status.journalMode)),
                        ("sqlite_version", .string(status.sqliteVersion)),
                        ("tables", .object(JSONObject(status.tables.map { ($0.name, .int(Int64($0.rows))) }))),
                        ("views", .array(status.views.map { .string($0) })),
                    ])
                    print(JSONValue.object(object).serialized())
                    return
                }
                print("store:           \(status.path)")
                print("schema version:  \(status.schemaVersion) (this program: \(status.latestVersion))"
                      + (status.pendingMigrations.isEmpty ? "" : "; pending: \(status.pendingMigrations.map(String.init).joined(separator: ", ")) — run `agentshop db migrate`"))
                print("size:            \(ByteSize.text(status.bytes)) (journal \(status.journalMode), SQLite \(status.sqliteVersion))")
                print("tables:")
                let width = status.tables.map(\.name.count).max() ?? 0
                for table in status.tables {
                    print("  " + table.name.padding(toLength: width, withPad: " ", startingAt: 0) + "  \(table.rows)")
                }
                print("views:           \(status.views.joined(separator: ", "))")
            }
        }
    }

    struct Dump: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Dump the store consistently (safe while pipelines write), then apply retention.",
            discussion: """
            With --store, any SQLite file is dumped into the lake's db_dumps/ as it is: a database without \
            AgentShop's schema is not migrated.

            Examples:
              agentshop db dump --to daily
              agentshop db dump --store exports/other.sqlite --format both
            """)
        @OptionGroup var global: GlobalOptions

        @Option(help: ArgumentHelp("Dump this SQLite file instead of the lake's store.", valueName: "path"))
        var store: String?

        @Option(help: ArgumentHelp("Folder under db_dumps/: daily, weekly or manual.", valueName: "frequency"))
        var to: String = "manual"

        @Option(help: ArgumentHelp("sqlite (binary snapshot), sql (SQL text) or both.", valueName: "format"))
        var format: String = "sqlite"

        @Option(help: ArgumentHelp("Keep daily dumps this many days.", valueName: "days"))
        var keepDailyDays: Int = RetentionPolicy.default.dailyDays

        @Option(help: ArgumentHelp("Keep weekly dumps this many weeks.", valueName: "weeks"))
        var keepWeeklyWeeks: Int = RetentionPolicy.default.weeklyWeeks

        @Flag(help: "Do not remove expired dumps.")
        var noPrune = false

        func validate() throws {
            guard DumpFrequency(rawValue: to) != nil else { throw ValidationError("--to must be daily, weekly or manual") }
            guard ["sqlite", "sql", "both"].contains(format) else { throw ValidationError("--format must be sqlite, sql or both") }
            guard keepDailyDays >= 1, keepWeeklyWeeks >= 1 else { throw ValidationError("retention must keep at least 1 day / 1 week") }
        }

        func run() async throws {
            if let postgres = try DBCommand.postgresLocation(store) {
                return try DBCommand.withPostgres(postgres, migrate: true) { store in
                    let lake = try DBCommand.openLake(global)
                    let catalog = DumpCatalog(lake: lake)
                    let result = try PostgresDumps.dump(store, to: catalog.folder(DumpFrequency(rawValue: to)!))
                    let removed = noPrune ? [] : try PostgresDumps.applyRetention(
                        catalog, RetentionPolicy(dailyDays: keepDailyDays, weeklyWeeks: keepWeeklyWeeks))
                    let rows = result.sidecar.tables.values.reduce(0, +)
                    print("\(result.path)  \(ByteSize.text(result.sidecar.bytes))  \(rows) rows  sha256 \(result.sidecar.sha256)")
                    for path in removed where !path.hasSuffix(DumpSidecar.suffix) { print("expired: \(path)") }
                }
            }
            try DBCommand.guarded {
                let lake = try DBCommand.openLake(global)
                let storePath = self.store ?? lake.storePath
                // Only AgentShop's own store is brought to the current schema before a dump; another
                // database (no schema version) is dumped untouched.
                var ownStore = self.store == nil
                if !ownStore { ownStore = try Store.openReadOnly(path: storePath).status().schemaVersion > 0 }
                if ownStore {
                    let store = try Store.open(path: storePath, create: false)
                    try store.migrate()
                }
                let catalog = DumpCatalog(lake: lake)
                let formats: [DumpFormat] = format == "both" ? [.sqlite, .sql] : [DumpFormat(rawValue: format)!]
                let results = try StoreDumper(storePath: storePath)
                    .dump(to: catalog.folder(DumpFrequency(rawValue: to)!), formats: formats)
                let removed = noPrune ? [] : try catalog.applyRetention(
                    RetentionPolicy(dailyDays: keepDailyDays, weeklyWeeks: keepWeeklyWeeks))
                for result in results {
                    let rows = result.sidecar.tables.values.reduce(0, +)
                    print("\(result.path)  \(ByteSize.text(result.sidecar.bytes))  \(rows) rows  sha256 \(result.sidecar.sha256)")
                }
                for path in removed where !path.hasSuffix(DumpSidecar.suffix) { print("expired: \(path)") }
            }
        }
    }

    struct Backups: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "List dumps with age, size and what was verified: 'checksum ok', or with --deep 'restores ok'.",
            discussion: """
            By default each dump's bytes are hashed and compared with its sidecar ('checksum ok'): that proves the
            file is the one written, not that it restores. --deep restores each dump into a scratch database beside
            it (removed after) and checks what `db restore` checks: integrity_check (quick_check for SQL), foreign_key_check, the schema
            and the row counts the sidecar recorded ('restores ok'). With --deep the exit code is 1 when a dump
            fails.

            A PostgreSQL dump (.pgdump) with --deep: with a PostgreSQL store (--store or AGENTSHOP_STORE_URL) it is
            restored into a scratch database on that server (pg_restore --single-transaction, dropped after) and its
            schema version and row counts checked against the sidecar ('restores ok'). Without one, or when that
            server cannot host a scratch database, pg_restore reads the whole archive without a server (every data
            block decompressed) and each table's rows and the schema version are counted against the sidecar
            ('reads ok': the bytes decode into the rows dumped; not proof that a server accepts them).

            Examples:
              agentshop db backups
              agentshop db backups --json
            """)
        @OptionGroup var global: GlobalOptions

        @Flag(help: "Skip re-hashing each dump (faster; state shows as 'unchecked').")
        var noVerify = false

        @Flag(help: "Prove each dump restores: restore it into a scratch database and check it as `db restore` does.")
        var deep = false

        @Option(help: ArgumentHelp("With --deep, the PostgreSQL server to restore .pgdump files on (default: AGENTSHOP_STORE_URL).",
                                   valueName: "url"))
        var store: String?

        func validate() throws {
            if deep && noVerify { throw ValidationError("--deep and --no-verify exclude each other") }
        }

        func run() async throws {
            try DBCommand.guarded {
                let lake = try DBCommand.openLake(global)
                let catalog = DumpCatalog(lake: lake)
                let entries = catalog.entries()
                let now = Date()
                var rows: [JSONValue] = []
                let nameWidth = entries.map(\.name.count).max() ?? 0
                var failed = 0
                for entry in entries {
                    var state = noVerify ? "unchecked" : catalog.verify(entry).rawValue
                    var problem: String?
                    if deep && state == DumpCatalog.Verification.ok.rawValue {
                        do {
                            _ = try StoreRestorer().verifyRestores(dumpPath: entry.path)
                            state = "restores ok"
                        } catch {
                            state = "does not restore"
                            problem = (error as? StoreError)?.description ?? "\(error)"
                        }
                    }
                    if deep && state != "restores ok" { failed += 1 }
                    let sidecar = try? DumpSidecar.read(path: entry.sidecarPath)
                    if global.json {
                        rows.append(.object(JSONObject([
                            ("path", .string(entry.path)), ("frequency", .string(entry.frequency.rawValue)),
                            ("format", .string(entry.format.rawValue)), ("taken_at", .string(Timestamp.iso(entry.takenAt))),
                            ("age_seconds", .int(Int64(now.timeIntervalSince(entry.takenAt)))), ("bytes", .int(entry.bytes)),
                            ("state", .string(state)),
                            ("checked", .string(noVerify ? "nothing" : deep ? "restore" : "checksum")),
                            ("problem", problem.map { .string($0) } ?? .null),
                            ("schema_version", sidecar.map { .int(Int64($0.schemaVersion)) } ?? .null),
                        ])))
                    } else {
                        print([entry.frequency.rawValue.padding(toLength: 7, withPad: " ", startingAt: 0),
                               entry.name.padding(toLength: nameWidth, withPad: " ", startingAt: 0),
                               DBCommand.formatAge(now.timeIntervalSince(entry.takenAt)).padding(toLength: 8, withPad: " ", startingAt: 0),
                               ByteSize.text(entry.bytes).padding(toLength: 10, withPad: " ", startingAt: 0),
                               state].joined(separator: "  "))
                        if let problem { print("  " + problem) }
                    }
                }
                // PostgreSQL dumps (pg_dump --format=custom): their checksum; with --deep a restore into a scratch
                // database on the store's server, or without one a full read of the archive.
                let postgresDumps = PostgresDumps.entries(catalog)
                var proveServer = deep && !postgresDumps.isEmpty ? try DBCommand.postgresLocation(store)?.postgresURL : nil
                func proveRestores(_ path: String, server: PostgresURL) -> (String, String, String?) {
                    do {
                        try PostgresDumps.verifyRestores(path, server: server)
                        return ("restores ok", "restore", nil)
                    } catch let unavailable as PostgresDumps.ScratchUnavailable {
                        Console.error("warning: \(server.redacted) cannot host a scratch database (\(unavailable)); "
                                      + "PostgreSQL dumps are read, not restored")
                        proveServer = nil
                        return proveReads(path)
                    } catch {
                        return ("does not restore", "restore", (error as? StoreError)?.description ?? "\(error)")
                    }
                }
                func proveReads(_ path: String) -> (String, String, String?) {
                    do {
                        try PostgresDumps.verifyReads(path)
                        return ("reads ok", "read", nil)
                    } catch {
                        return ("does not read", "read", (error as? StoreError)?.description ?? "\(error)")
                    }
                }
                for entry in postgresDumps {
                    let name = (entry.path as NSString).lastPathComponent
                    let sidecar = (try? Data(contentsOf: URL(fileURLWithPath: entry.path + DumpSidecar.suffix)))
                        .flatMap { try? JSONDecoder().decode(PostgresDumps.Sidecar.self, from: $0) }
                    let bytes = (try? FileManager.default.attributesOfItem(atPath: entry.path)[.size] as? Int64) ?? 0
                    var state = "unchecked"
                    if !noVerify {
                        if let sidecar {
                            state = (try? FileDigest.sha256(path: entry.path)) == sidecar.sha256 ? "checksum ok" : "checksum mismatch"
                        } else {
                            state = "no sidecar"
                        }
                    }
                    var problem: String?
                    var checked = noVerify ? "nothing" : "checksum"
                    if deep && state == "checksum ok" {
                        (state, checked, problem) = proveServer.map { proveRestores(entry.path, server: $0) } ?? proveReads(entry.path)
                    }
                    if deep && !["restores ok", "reads ok"].contains(state) { failed += 1 }
                    if global.json {
                        rows.append(.object(JSONObject([
                            ("path", .string(entry.path)), ("frequency", .string(entry.frequency.rawValue)),
                            ("format", .string("pgdump")), ("taken_at", .string(Timestamp.iso(entry.takenAt))),
                            ("age_seconds", .int(Int64(now.timeIntervalSince(entry.takenAt)))), ("bytes", .int(bytes)),
                            ("state", .string(state)), ("checked", .string(checked)),
                            ("problem", problem.map { .string($0) } ?? .null),
                            ("schema_version", sidecar.map { .int(Int64($0.schemaVersion)) } ?? .null),
                        ])))
                    } else {
                        print([entry.frequency.rawValue.padding(toLength: 7, withPad: " ", startingAt: 0),
                               name.padding(toLength: max(nameWidth, name.count), withPad: " ", startingAt: 0),
                               DBCommand.formatAge(now.timeIntervalSince(entry.takenAt)).padding(toLength: 8, withPad: " ", startingAt: 0),
                               ByteSize.text(bytes).padding(toLength: 10, withPad: " ", startingAt: 0),
                               state].joined(separator: "  "))
                        if let problem { print("  " + problem) }
                    }
                }
                if global.json { print(JSONValue.array(rows).serialized()) }
                else if entries.isEmpty && postgresDumps.isEmpty { print("no dumps under \(catalog.root)") }
                if failed > 0 {
                    DBCommand.printError("\(failed) of \(entries.count + postgresDumps.count) dumps failed the deep check")
                    throw ExitStatus.runFailed
                }
            }
        }
    }

    struct Restore: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Verify a dump and swap it in atomically, keeping the previous store as <store>.pre-restore.",
            discussion: """
            The dump's checksum, integrity_check (quick_check for SQL), foreign_key_check, schema version and row counts are checked
            on a temporary copy first; a damaged or newer-schema dump is refused and the store is untouched. A SQL
            dump runs under an authorizer that refuses any statement a dump does not hold (ATTACH, VACUUM INTO,
            unknown tables or triggers, other pragmas), and the restored schema must be the marketplace schema:
            an extra or changed table, index, view or trigger is refused by name. The swap holds the store's lock
            exclusively: while a process writes the store, restore waits up to --wait seconds, then exits 75.

            Examples:
              agentshop db restore latest
              agentshop db restore latest --store /tmp/copy.sqlite --wait 30
            """)
        @OptionGroup var global: GlobalOptions

        @Argument(help: ArgumentHelp("A dump file, a dump's name, or 'latest' (the newest dump that verifies).", valueName: "dump"))
        var dump: String

        @Option(help: ArgumentHelp("Restore to this database file instead of the lake's store.", valueName: "path"))
        var to: String?

        @Option(help: ArgumentHelp("The same as --to: the SQLite file to restore into.", valueName: "path"))
        var store: String?

        @Option(help: ArgumentHelp("Seconds to wait for processes writing the store (default 0: exit 75 at once).",
                                   valueName: "seconds"))
        var wait: Double = 0

        func validate() throws {
            guard wait >= 0, wait <= 86_400 * 7 else { throw ValidationError("--wait must be between 0 and 604800 seconds") }
        }

        func run() async throws {
            if let postgres = try DBCommand.postgresLocation(to ?? store) {
                return try DBCommand.guardedPostgres {
                    let lake = try DBCommand.openLake(global)
                    let path = dump == "latest" ? try PostgresDumps.entries(DumpCatalog(lake: lake)).first?.path
                        ?? { throw StoreError.notFound }() : try DumpCatalog(lake: lake).resolvePostgres(dump)
                    let result = try PostgresDumps.restore(path, to: postgres.postgresURL!)
                    print("restored \(path) to \(postgres) (\(result.tables.values.reduce(0, +)) rows)")
                    if let previous = result.previous { print("previous database kept as \(previous)") }
                }
            }
            try DBCommand.guarded {
                let lake = try DBCommand.openLake(global)
                let path = try DumpCatalog(lake: lake).resolve(dump)
                let target = to ?? store ?? lake.storePath
                let result = try StoreRestorer().restore(dumpPath: path, to: target, wait: .milliseconds(Int64(wait * 1000)))
                let rows = result.sidecar.tables.values.reduce(0, +)
                print("restored \(path) to \(result.restoredPath) (\(rows) rows, schema version \(result.sidecar.schemaVersion))")
                if !result.migrated.isEmpty {
                    print("migrated to schema version \(result.migrated.last!)")
                }
                if let previous = result.previousPath { print("previous store kept as \(previous)") }
            }
        }
    }

    struct Rebuild: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Recreate the store's lake-derived tables from the lake alone, keeping the previous store as <store>.pre-rebuild.",
            discussion: """
            Replays every run manifest in the lake, oldest first: each materialize stage that ran is loaded \
            again from the files it read (with its current configuration), and each run's processing tasks, \
            crawl jobs and pages (from crawl logs) and LLM calls are recorded. The result equals the \
            incrementally built store, row for row, apart from created_at/updated_at. Tables the lake does not \
            fill (customers, orders, settings…) are kept. The work happens on a copy that must pass \
            integrity_check and foreign_key_check before it replaces the store. Every file a load read must \
            still be there with the SHA-256 its manifest recorded: otherwise nothing is changed and the missing \
            or changed inputs are listed (--allow-missing rebuilds from what is there, listing them as warnings). \
            The store's lock is held exclusively from the copy to the swap: while a process writes the store, \
            rebuild waits up to --wait seconds, then exits 75.

            Examples:
              agentshop db rebuild --wait 60
              agentshop db rebuild --allow-missing
            """)
        @OptionGroup var global: GlobalOptions

        @Option(help: ArgumentHelp("Seconds to wait for processes writing the store (default 0: exit 75 at once).",
                                   valueName: "seconds"))
        var wait: Double = 0

        @Flag(help: "Rebuild even when inputs the runs read are missing or changed (rows from them are lost).")
        var allowMissing = false

        @Option(help: ArgumentHelp("A PostgreSQL store (postgres://…) instead of the lake's; default $AGENTSHOP_STORE_URL.", valueName: "url"))
        var store: String?

        func validate() throws {
            guard wait >= 0, wait <= 86_400 * 7 else { throw ValidationError("--wait must be between 0 and 604800 seconds") }
        }

        func run() async throws {
            if let postgres = try DBCommand.postgresLocation(store) {
                return try DBCommand.withPostgres(postgres, migrate: true) { store in
                    let lake = try DBCommand.openLake(global)
                    let rebuild = StoreRebuild(lake: lake, environment: { global.environment(forPipelineFile: $0) },
                                               onWarning: { DBCommand.printError("warning: " + $0) })
                    let report: StoreRebuild.Report
                    do {
                        report = try rebuild.rebuild(into: store, allowMissing: allowMissing)
                    } catch let refused as StoreRebuild.Refused {
                        DBCommand.printError(refused.description)
                        throw ExitStatus.runFailed
                    }
                    print("rebuilt \(report.tables.joined(separator: ", ")) in \(postgres) from \(report.manifests) run manifests "
                          + "(\(report.loads) loads replayed, \(report.records) records)")
                }
            }
            try DBCommand.guarded {
                let lake = try DBCommand.openLake(global)
                let rebuild = StoreRebuild(lake: lake, environment: { global.environment(forPipelineFile: $0) },
                                           onWarning: { DBCommand.printError("warning: " + $0) })
                // Taken here to wait up to --wait; the rewrite takes it again (this process already holds it).
                let lock = try StoreLock(store: lake.storePath, mode: .exclusive, wait: .milliseconds(Int64(wait * 1000)))
                let report: StoreRebuild.Report
                do {
                    report = try rebuild.rebuild(allowMissing: allowMissing)
                } catch let refused as StoreRebuild.Refused {
                    DBCommand.printError(refused.description)
                    throw ExitStatus.runFailed
                }
                withExtendedLifetime(lock) {}
                print("rebuilt \(report.tables.joined(separator: ", ")) from \(report.manifests) run manifests "
                      + "(\(report.loads) loads replayed, \(report.records) records)")
                if let previous = report.previousPath { print("previous store kept as \(previous)") }
            }
        }
    }

    struct Admin: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Create an admin account, or set an existing one's password.",
            discussion: """
            The store is created without any admin. The password is read from standard input
            (--password-stdin) or from AGENTSHOP_ADMIN_PASSWORD, never from the command line, and
            stored as PBKDF2-HMAC-SHA256 (pbkdf2_sha256$iterations$salt$hash).

            Examples:
              agentshop db admin --help
            """)
        @OptionGroup var global: GlobalOptions

        @Option(help: "The admin's login name.")
        var username: String

        @Option(help: "The admin's e-mail address.")
        var email: String

        @Option(help: "admin, editor or viewer.")
        var role: String = "admin"

        @Flag(help: "Read the password from the first line of standard input.")
        var passwordStdin = false

        @Option(help: ArgumentHelp("A PostgreSQL store (postgres://…) instead of the lake's; default $AGENTSHOP_STORE_URL.", valueName: "url"))
        var store: String?

        func validate() throws {
            guard ["admin", "editor", "viewer"].contains(role) else { throw ValidationError("--role must be admin, editor or viewer") }
        }

        func run() async throws {
            try DBCommand.guarded {
                let password: String
                if passwordStdin {
                    password = readLine(strippingNewline: true) ?? ""
                } else if let value = ProcessInfo.processInfo.environment["AGENTSHOP_ADMIN_PASSWORD"], !value.isEmpty {
                    password = value
                } else {
                    DBCommand.printError("give the password on standard input with --password-stdin, or in AGENTSHOP_ADMIN_PASSWORD")
                    throw ExitStatus.invalidInput
                }
                if let postgres = try DBCommand.postgresLocation(self.store) {
                    return try DBCommand.withPostgres(postgres, migrate: true) { store in
                        let id = try AdminAccounts.setAdmin(in: store, username: username, email: email, password: password, role: role)
                        print("admin '\(username)' (id \(id), role \(role)) saved in \(postgres)")
                    }
                }
                let lake = try DBCommand.openLake(global)
                let store = try Store.openMigrated(path: lake.storePath)
                let id = try AdminAccounts.setAdmin(in: store.database, username: username, email: email,
                                                    password: password, role: role)
                print("admin '\(username)' (id \(id), role \(role)) saved in \(lake.storePath)")
            }
        }
    }

    struct SyncRuns: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            commandName: "sync-runs",
            abstract: "Record every run manifest in the lake in the store's run tables: processing tasks, crawl jobs and pages, LLM calls (idempotent).",
            discussion: "Examples:\n  agentshop db sync-runs")
        @OptionGroup var global: GlobalOptions

        @Option(help: ArgumentHelp("A PostgreSQL store (postgres://…) instead of the lake's; default $AGENTSHOP_STORE_URL.", valueName: "url"))
        var store: String?

        func run() async throws {
            if let postgres = try DBCommand.postgresLocation(store) {
                return try DBCommand.withPostgres(postgres, migrate: true) { store in
                    let lake = try DBCommand.openLake(global)
                    let (manifests, unreadable) = ManifestStore(lake: lake).all()
                    var rows = 0
                    for manifest in manifests { rows += try PostgresRunRecords.record(manifest, lake: lake, into: store) }
                    for path in unreadable { DBCommand.printError("skipped unreadable manifest \(path)") }
                    print("recorded \(rows) stage runs from \(manifests.count) manifests in \(postgres)")
                }
            }
            try DBCommand.guarded {
                let lake = try DBCommand.openLake(global)
                let store = try Store.openMigrated(path: lake.storePath)
                let (manifests, unreadable) = ManifestStore(lake: lake).all()
                var rows = 0
                for manifest in manifests { rows += try RunRecords.record(manifest, lake: lake, in: store.database) }
                for path in unreadable { DBCommand.printError("skipped unreadable manifest \(path)") }
                print("recorded \(rows) stage runs from \(manifests.count) manifests")
            }
        }
    }

    /// Runs `body`; prints a store error on stderr and exits 2 (missing things), 75 (the store is
    /// locked or busy: try again) or 1 (failed, refused).
    static func guarded(_ body: () throws -> Void) throws {
        do {
            try body()
        } catch let error as StoreError {
            printError(error.description)
            if StoreError.notFound ~= error { throw ExitStatus.invalidInput }
            if StoreError.locked ~= error || StoreError.busy ~= error { throw ExitStatus.lockBusy }
            throw ExitStatus.runFailed
        } catch let error as LakeError {
            printError(error.description)
            throw ExitStatus.runFailed
        }
    }

    /// The lake, after removing what killed `db` commands left in the dump folders and beside the
    /// store (snapshots, half-written dumps, restore copies), as a run does for its own folders.
    static func openLake(_ global: GlobalOptions) throws -> Lake {
        let lake = try global.openLake()
        let removed = DumpCatalog(lake: lake).removeDeadTemporaries()
            + AtomicFile.removeStaleTemporaries(in: (lake.storePath as NSString).deletingLastPathComponent)
        if !removed.isEmpty && !global.json {
            Console.error("removed \(removed.count) temporary file\(removed.count == 1 ? "" : "s") left by a killed command")
        }
        return lake
    }

    static func printError(_ message: String) {
        Console.error("agentshop: " + message)
    }

    static func formatAge(_ seconds: TimeInterval) -> String {
        switch seconds {
        case ..<120: return "\(Int(seconds))s"
        case ..<7200: return "\(Int(seconds / 60))m"
        case ..<172_800: return "\(Int(seconds / 3600))h"
        default: return "\(Int(seconds / 86_400))d"
        }
    }
}
