import Foundation
import Lake
import Logging
import Postgres

/// Dumps of a PostgreSQL store with PostgreSQL's own tools, in AgentShop's dump folders:
/// `db_dumps/<daily|weekly|manual>/agentshop_<UTC time>.pgdump` (`pg_dump --format=custom`) with a
/// `.json` sidecar holding its sha256, size, schema version and the row count of every table, all
/// taken in one snapshot (the counts in a REPEATABLE READ transaction whose snapshot pg_dump shares).
///
/// A restore checks the checksum, restores into a scratch database, checks its schema version and
/// row counts against the sidecar, and only then swaps it in by renaming databases: the live one is
/// kept as `<name>_pre_restore_<time>`. Anything that fails leaves the live database as it was.
public enum PostgresDumps {
    public static let suffix = ".pgdump"

    /// The sidecar beside a `.pgdump`.
    public struct Sidecar: Codable, Sendable, Equatable {
        public var file: String
        public var format: String
        public var sha256: String
        public var bytes: Int64
        public var schemaVersion: Int
        public var createdAt: String
        public var tables: [String: Int]
        public var serverVersion: String

        enum CodingKeys: String, CodingKey {
            case file, format, sha256, bytes, tables
            case schemaVersion = "schema_version"
            case createdAt = "created_at"
            case serverVersion = "server_version"
        }
    }

    public struct Result: Sendable {
        public let path: String
        public let sidecar: Sidecar
    }

    /// Dumps `store` into `folder`. The store should be migrated first.
    public static func dump(_ store: PostgresStore, to folder: String, date: Date = Date(),
                            logger: Logger = Logger(label: "agentshop.store.dump")) throws -> Result {
        try LakeConfinement.checkWrite(to: folder + "/.dump")
        try FileManager.default.createDirectory(atPath: folder, withIntermediateDirectories: true)
        AtomicFile.removeStaleTemporaries(in: folder)
        let stamp = StoreDumper.baseName(for: date)
        guard let base = ([stamp] + (2...99).map { "\(stamp)-\($0)" })
            .first(where: { !FileManager.default.fileExists(atPath: folder + "/" + $0 + suffix) }) else {
            throw StoreError(.dump, "99 dumps already carry this second's name", path: folder + "/" + stamp)
        }
        let path = folder + "/" + base + suffix
        let temporary = AtomicFile.temporaryPath(for: path)
        defer { unlink(temporary) }
        let db = store.connection
        var tables: [String: Int] = [:]
        var version = 0
        try db.execute("BEGIN ISOLATION LEVEL REPEATABLE READ, READ ONLY")
        do {
            let snapshot = try db.scalar("SELECT pg_export_snapshot()") ?? ""
            version = try store.schemaVersion()
            for table in try store.tableNames() {
                tables[table] = Int(try db.scalar("SELECT count(*) FROM \(SQLLiteral.quoteName(table))") ?? "0") ?? 0
            }
            try runTool("pg_dump", ["--format=custom", "--no-owner", "--no-privileges", "--snapshot=" + snapshot,
                                    "--file=" + temporary, "--dbname=" + store.url.withoutPassword], url: store.url)
            try db.execute("COMMIT")
        } catch {
            try? db.execute("ROLLBACK")
            throw error
        }
        try AtomicFile.publish(temporaryPath: temporary, to: path)
        let bytes = (try? FileManager.default.attributesOfItem(atPath: path)[.size] as? Int64) ?? 0
        let sidecar = Sidecar(file: base + suffix, format: "pg_dump-custom", sha256: try FileDigest.sha256(path: path),
                              bytes: bytes, schemaVersion: version, createdAt: Timestamp.iso(date), tables: tables,
                              serverVersion: try db.scalar("SHOW server_version") ?? "")
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.prettyPrinted, .sortedKeys, .withoutEscapingSlashes]
        try AtomicFile.write(Array(try encoder.encode(sidecar)) + [0x0A], to: path + DumpSidecar.suffix)
        logger.info("store dumped", metadata: ["file": "\(path)", "bytes": "\(bytes)", "store": "\(store.url.redacted)"])
        return Result(path: path, sidecar: sidecar)
    }

    /// Every `.pgdump` under the lake's dump folders, newest first.
    public static func entries(_ catalog: DumpCatalog) -> [(path: String, frequency: DumpFrequency, takenAt: Date)] {
        var out: [(path: String, frequency: DumpFrequency, takenAt: Date)] = []
        for frequency in DumpFrequency.allCases {
            let folder = catalog.folder(frequency)
            for name in (try? FileManager.default.contentsOfDirectory(atPath: folder)) ?? [] where name.hasSuffix(suffix) {
                // The name parses as a SQLite dump's would with the suffix swapped.
                guard let (date, _) = DumpCatalog.parseName(String(name.dropLast(suffix.count)) + DumpFormat.sqlite.fileSuffix)
                else { continue }
                out.append((folder + "/" + name, frequency, date))
            }
        }
        return out.sorted { $0.takenAt != $1.takenAt ? $0.takenAt > $1.takenAt : $0.path > $1.path }
    }

    /// Removes daily and weekly `.pgdump`s older than the policy allows (the newest of each kept), with sidecars.
    @discardableResult
    public static func applyRetention(_ catalog: DumpCatalog, _ policy: RetentionPolicy, now: Date = Date()) throws -> [String] {
        var removed: [String] = []
        let all = entries(catalog)
        for frequency in [DumpFrequency.daily, .weekly] {
            let maxAge = frequency == .daily ? TimeInterval(policy.dailyDays) * 86_400 : TimeInterval(policy.weeklyWeeks) * 7 * 86_400
            let ofFrequency = all.filter { $0.frequency == frequency }
            guard let newest = ofFrequency.first?.takenAt else { continue }
            for entry in ofFrequency where entry.takenAt != newest && now.timeIntervalSince(entry.takenAt) > maxAge {
                for path in [entry.path, entry.path + DumpSidecar.suffix] where FileManager.default.fileExists(atPath: path) {
                    do { try FileManager.default.removeItem(atPath: path) } catch {
                        throw StoreError(.io, "cannot remove an expired dump", cause: "\(error)", path: path)
                    }
                    removed.append(path)
                }
            }
        }
        return removed
    }

    /// What a restore did.
    public struct Restored: Sendable {
        /// The live database's new name, nil when there was none.
        public let previous: String?
        public let tables: [String: Int]
    }

    /// Restores `dumpPath` as the database `url` names: checksum, scratch restore, checks, swap.
    public static func restore(_ dumpPath: String, to url: PostgresURL,
                               logger: Logger = Logger(label: "agentshop.store.restore")) throws -> Restored {
        let sidecarPath = dumpPath + DumpSidecar.suffix
        let sidecar: Sidecar
        do { sidecar = try JSONDecoder().decode(Sidecar.self, from: Data(try FileInput.readAll(path: sidecarPath))) } catch {
            throw StoreError(.notFound, "the dump has no readable sidecar; it cannot be verified", cause: "\(error)", path: sidecarPath)
        }
        let actual = try FileDigest.sha256(path: dumpPath)
        guard actual == sidecar.sha256 else {
            throw StoreError(.checksum, "the dump's sha256 is \(actual), its sidecar says \(sidecar.sha256); not restored", path: dumpPath)
        }
        guard let live = url.database else { throw StoreError(.restore, "the store URL names no database", path: url.redacted) }
        // Database-level work happens from the server's maintenance database.
        let admin = try PGConnection(url: url.with(database: "postgres"))
        let stamp = String(StoreDumper.baseName(for: Date()).dropFirst("agentshop_".count)).lowercased()
        let scratch = String("\(live)_restore_\(stamp)_\(UInt16.random(in: 0...UInt16.max))".prefix(63))
        try admin.execute("CREATE DATABASE \(PGConnection.quoteName(scratch))")
        var swapped = false
        defer { if !swapped { try? admin.execute("DROP DATABASE IF EXISTS \(PGConnection.quoteName(scratch)) WITH (FORCE)") } }
        let scratchURL = url.with(database: scratch)
        try runTool("pg_restore", ["--no-owner", "--no-privileges", "--exit-on-error", "--single-transaction",
                                   "--dbname=" + scratchURL.withoutPassword, dumpPath], url: url)
        do {
            let restored = try PostgresStore.open(url: scratchURL, logger: logger)
            let version = try restored.schemaVersion()
            guard version == sidecar.schemaVersion else {
                throw StoreError(.restore, "the restored database is at schema version \(version), the sidecar says "
                                 + "\(sidecar.schemaVersion); not restored", path: dumpPath)
            }
            for (table, expected) in sidecar.tables {
                let rows = Int(try restored.connection.scalar("SELECT count(*) FROM \(try SQLIdentifier(table).quoted)") ?? "") ?? -1
                guard rows == expected else {
                    throw StoreError(.restore, "table \(table) restored with \(rows) rows, the sidecar says \(expected); not restored",
                                     path: dumpPath)
                }
            }
        }
        let exists = try admin.scalar("SELECT 1 FROM pg_database WHERE datname = $1", [live]) != nil
        let previous = exists ? String("\(live)_pre_restore_\(stamp)".prefix(63)) : nil
        do {
            if let previous {
                try admin.execute("ALTER DATABASE \(PGConnection.quoteName(live)) RENAME TO \(PGConnection.quoteName(previous))")
            }
            try admin.execute("ALTER DATABASE \(PGConnection.quoteName(scratch)) RENAME TO \(PGConnection.quoteName(live))")
        } catch let error as PGError {
            if let previous, try admin.scalar("SELECT 1 FROM pg_database WHERE datname = $1", [live]) == nil {
                try? admin.execute("ALTER DATABASE \(PGConnection.quoteName(previous)) RENAME TO \(PGConnection.quoteName(live))")
            }
            throw StoreError(.busy, "cannot swap the restored database in (is the store in use? stop its clients and try again); "
                             + "the live database is unchanged", cause: error.message, path: url.redacted)
        }
        swapped = true
        logger.info("store restored", metadata: ["file": "\(dumpPath)", "previous": "\(previous ?? "-")"])
        return Restored(previous: previous, tables: sidecar.tables)
    }

    /// Runs a PostgreSQL client tool (pg_dump, pg_restore) with the password in its environment,
    /// never on its command line. Its messages become the error's cause.
    static func runTool(_ name: String, _ arguments: [String], url: PostgresURL) throws {
        let tool = findTool(name)
        let process = Process()
        process.executableURL = URL(fileURLWithPath: tool)
        process.arguments = arguments
        var environment = ProcessInfo.processInfo.environment
        if let password = url.password { environment["PGPASSWORD"] = password }
        process.environment = environment
        let errors = Pipe()
        process.standardError = errors
        process.standardOutput = FileHandle.nullDevice
        process.standardInput = FileHandle.nullDevice
        do { try process.run() } catch {
            throw StoreError(.dump, "cannot run \(name) (install the PostgreSQL client: apt-get install postgresql-client)",
                             cause: "\(error)", path: tool)
        }
        let message = String(decoding: errors.fileHandleForReading.readDataToEndOfFile(), as: UTF8.self)
        process.waitUntilExit()
        guard process.terminationStatus == 0 else {
            throw StoreError(name == "pg_dump" ? .dump : .restore, "\(name) failed (exit \(process.terminationStatus))",
                             cause: PostgresURL.redact(message.trimmingCharacters(in: .whitespacesAndNewlines)), path: url.redacted)
        }
    }

    /// `name` from PATH, else from the newest /usr/lib/postgresql/N/bin.
    static func findTool(_ name: String) -> String {
        let fm = FileManager.default
        for folder in (ProcessInfo.processInfo.environment["PATH"] ?? "/usr/bin:/bin").split(separator: ":")
        where fm.isExecutableFile(atPath: "\(folder)/\(name)") {
            return "\(folder)/\(name)"
        }
        let versions = ((try? fm.contentsOfDirectory(atPath: "/usr/lib/postgresql")) ?? []).compactMap(Int.init).sorted()
        return versions.last.map { "/usr/lib/postgresql/\($0)/bin/\(name)" } ?? "/usr/bin/\(name)"
    }
}

extension DumpCatalog {
    /// A `.pgdump` path, or the name of one in the dump folders.
    public func resolvePostgres(_ argument: String) throws -> String {
        if FileManager.default.fileExists(atPath: argument) { return argument }
        if let entry = PostgresDumps.entries(self).first(where: { ($0.path as NSString).lastPathComponent == argument }) {
            return entry.path
        }
        throw StoreError(.notFound, "no such dump", path: argument)
    }
}
