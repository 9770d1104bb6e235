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
        let sidecar = try verifiedSidecar(dumpPath)
        guard let live = url.database else { throw StoreError(.restore, "the store URL names no database", path: url.redacted) }
        // Database-level work happens from the server's maintenance database.
        let admin = try PGConnection(url: url.with(database: "postgres"))
        let stamp = String(StoreDumper.baseName(for: Date()).dropFirst("agentshop_".count)).lowercased()
        let scratch = try createScratch(admin, live: live, stamp: stamp)
        var swapped = false
        defer { if !swapped { try? admin.execute("DROP DATABASE IF EXISTS \(PGConnection.quoteName(scratch)) WITH (FORCE)") } }
        try restoreAndCheck(dumpPath, sidecar: sidecar, into: url.with(database: scratch), url: url, logger: logger)
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

    /// The dump's sidecar, once the dump's sha256 matches it.
    static func verifiedSidecar(_ dumpPath: String) throws -> Sidecar {
        let sidecarPath = dumpPath + DumpSidecar.suffix
        let sidecar: Sidecar
        do { sidecar = try JSONDecoder().decode(Sidecar.self, from: Data(try FileInput.readAll(path: sidecarPath))) } catch {
            throw StoreError(.notFound, "the dump has no readable sidecar; it cannot be verified", cause: "\(error)", path: sidecarPath)
        }
        let actual = try FileDigest.sha256(path: dumpPath)
        guard actual == sidecar.sha256 else {
            throw StoreError(.checksum, "the dump's sha256 is \(actual), its sidecar says \(sidecar.sha256); not restored", path: dumpPath)
        }
        return sidecar
    }

    /// Creates an empty scratch database named after `live` on `admin`'s server.
    static func createScratch(_ admin: PGConnection, live: String, stamp: String) throws -> String {
        let scratch = String("\(live)_restore_\(stamp)_\(UInt16.random(in: 0...UInt16.max))".prefix(63))
        try admin.execute("CREATE DATABASE \(PGConnection.quoteName(scratch))")
        return scratch
    }

    /// Restores the dump into the empty database `scratchURL` names in one transaction, then checks its
    /// schema version and every table's row count against the sidecar.
    static func restoreAndCheck(_ dumpPath: String, sidecar: Sidecar, into scratchURL: PostgresURL, url: PostgresURL,
                                logger: Logger) throws {
        try runTool("pg_restore", ["--no-owner", "--no-privileges", "--exit-on-error", "--single-transaction",
                                   "--dbname=" + scratchURL.withoutPassword, dumpPath], url: url)
        let restored = try PostgresStore.open(url: scratchURL, logger: logger)
        let version = try restored.schemaVersion()
        guard version == sidecar.schemaVersion else {
            throw StoreError(.restore, "the restored database is at schema version \(version), the sidecar says "
                             + "\(sidecar.schemaVersion); not restored", path: dumpPath)
        }
        for (table, expected) in sidecar.tables.sorted(by: { $0.key < $1.key }) {
            let rows = Int(try restored.connection.scalar("SELECT count(*) FROM \(try SQLIdentifier(table).quoted)") ?? "") ?? -1
            guard rows == expected else {
                throw StoreError(.restore, "table \(table) restored with \(rows) rows, the sidecar says \(expected); not restored",
                                 path: dumpPath)
            }
        }
    }

    /// The server could not host a scratch database (it cannot be reached, or the role may not create
    /// databases): that says nothing about the dump.
    public struct ScratchUnavailable: Error, CustomStringConvertible, Sendable {
        public let description: String
    }

    /// Proves `dumpPath` restores, as `restore` would, without the swap: its checksum, a restore into a scratch
    /// database on the server `url` names (`pg_restore --single-transaction --exit-on-error`), its schema version
    /// and row counts against the sidecar; the scratch database is dropped after. Throws `ScratchUnavailable`
    /// when the server cannot host the scratch database, a `StoreError` when the dump does not restore.
    public static func verifyRestores(_ dumpPath: String, server url: PostgresURL,
                                      logger: Logger = Logger(label: "agentshop.store.restore")) throws {
        let sidecar = try verifiedSidecar(dumpPath)
        let admin: PGConnection
        let scratch: String
        do {
            admin = try PGConnection(url: url.with(database: "postgres"))
            let stamp = String(StoreDumper.baseName(for: Date()).dropFirst("agentshop_".count)).lowercased()
            scratch = try createScratch(admin, live: url.database ?? "agentshop", stamp: stamp)
        } catch {
            throw ScratchUnavailable(description: PostgresURL.redact((error as? PGError)?.message ?? "\(error)"))
        }
        defer { try? admin.execute("DROP DATABASE IF EXISTS \(PGConnection.quoteName(scratch)) WITH (FORCE)") }
        try restoreAndCheck(dumpPath, sidecar: sidecar, into: url.with(database: scratch), url: url, logger: logger)
    }

    /// Proves `dumpPath` reads to its end, without a server: its checksum, then `pg_restore --file=-` reads the
    /// whole archive (its table of contents and every data block, decompressed) into an SQL script, in which
    /// each table's COPY rows are counted and compared with the sidecar, and the schema version is read from
    /// the `schema_migrations` rows. It proves the bytes decode into the rows the dump took; not that a server
    /// accepts the script (`verifyRestores` proves that). Returns the rows counted per table.
    @discardableResult
    public static func verifyReads(_ dumpPath: String) throws -> [String: Int] {
        let sidecar = try verifiedSidecar(dumpPath)
        var script = CopyScriptCounter()
        try streamTool("pg_restore", ["--file=-", dumpPath], path: dumpPath) { script.feed($0) }
        script.finish()
        guard !script.unterminated else {
            throw StoreError(.restore, "the dump's data ends inside a COPY block; it does not read to its end", path: dumpPath)
        }
        let counts = script.rows
        func rows(_ table: String) -> Int? {
            if let rows = counts["public." + table] { return rows }
            let matches = counts.filter { $0.key.hasSuffix("." + table) || $0.key == table }
            return matches.count == 1 ? matches.first!.value : nil
        }
        for (table, expected) in sidecar.tables.sorted(by: { $0.key < $1.key }) {
            guard let found = rows(table) else {
                throw StoreError(.restore, "the dump holds no data for table \(table), the sidecar says \(expected) rows", path: dumpPath)
            }
            guard found == expected else {
                throw StoreError(.restore, "the dump holds \(found) rows of table \(table), the sidecar says \(expected)", path: dumpPath)
            }
        }
        let version = script.maxVersion(table: PostgresSchema.migrationsTable) ?? 0
        guard version == sidecar.schemaVersion else {
            throw StoreError(.restore, "the dump's \(PostgresSchema.migrationsTable) says schema version \(version), the sidecar says "
                             + "\(sidecar.schemaVersion)", path: dumpPath)
        }
        return counts
    }

    /// Runs a PostgreSQL client tool that needs no server, handing its standard output to `body` in chunks;
    /// its messages (kept in a temporary file, so a chatty tool never blocks on a full pipe) become the error's cause.
    static func streamTool(_ name: String, _ arguments: [String], path: String, _ body: ([UInt8]) -> Void) throws {
        let tool = findTool(name)
        let process = Process()
        process.executableURL = URL(fileURLWithPath: tool)
        process.arguments = arguments
        let output = Pipe()
        let errorsPath = NSTemporaryDirectory() + "agentshop-\(name)-\(getpid())-\(UInt32.random(in: 0...UInt32.max)).err"
        FileManager.default.createFile(atPath: errorsPath, contents: nil)
        defer { unlink(errorsPath) }
        let errors = try FileHandle(forWritingTo: URL(fileURLWithPath: errorsPath))
        defer { try? errors.close() }
        process.standardOutput = output
        process.standardError = errors
        process.standardInput = FileHandle.nullDevice
        do { try process.run() } catch {
            throw StoreError(.restore, "cannot run \(name) (install the PostgreSQL client: apt-get install postgresql-client)",
                             cause: "\(error)", path: tool)
        }
        let reader = output.fileHandleForReading
        while true {
            let chunk = reader.readData(ofLength: 1 << 16)
            if chunk.isEmpty { break }
            body([UInt8](chunk))
        }
        process.waitUntilExit()
        guard process.terminationStatus == 0 else {
            let message = (try? String(contentsOfFile: errorsPath, encoding: .utf8)) ?? ""
            throw StoreError(.restore, "\(name) cannot read the dump (exit \(process.terminationStatus))",
                             cause: message.trimmingCharacters(in: .whitespacesAndNewlines), path: path)
        }
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

/// Counts the rows of each `COPY <table> (<columns>) FROM stdin;` block in the SQL script `pg_restore --file=-`
/// writes (one line per row: COPY's text format escapes newlines in values; a block ends with a `\.` line), and
/// keeps the values of a `version` column, to read the schema version.
struct CopyScriptCounter {
    /// Rows per table, by the name the script gives (`public.products`).
    private(set) var rows: [String: Int] = [:]
    /// A COPY block was open when the script ended.
    private(set) var unterminated = false
    private var versions: [String: Int] = [:]
    private var table: String?
    private var versionColumn: Int?
    private var line: [UInt8] = []
    private var lineLength = 0
    /// Only the start of a long line is kept: headers and the terminator are short, data lines need only counting.
    private static let kept = 8192

    mutating func feed(_ bytes: [UInt8]) {
        for byte in bytes {
            if byte == 0x0A {
                endLine()
            } else {
                if line.count < Self.kept { line.append(byte) }
                lineLength += 1
            }
        }
    }

    mutating func finish() {
        if lineLength > 0 { endLine() }
        unterminated = table != nil
    }

    func maxVersion(table name: String) -> Int? {
        versions["public." + name] ?? versions.first { $0.key.hasSuffix("." + name) || $0.key == name }?.value
    }

    private mutating func endLine() {
        defer { line.removeAll(keepingCapacity: true); lineLength = 0 }
        if let current = table {
            if lineLength == 2 && line == [0x5C, 0x2E] {  // \.
                table = nil
                return
            }
            rows[current, default: 0] += 1
            if let column = versionColumn, lineLength == line.count {
                let fields = line.split(separator: 0x09, omittingEmptySubsequences: false)
                if column < fields.count, let version = Int(String(decoding: fields[column], as: UTF8.self)) {
                    versions[current] = max(versions[current] ?? version, version)
                }
            }
            return
        }
        guard line.starts(with: Array("COPY ".utf8)), line.count == lineLength else { return }
        let text = String(decoding: line, as: UTF8.self)
        guard text.hasSuffix(" FROM stdin;"), let (name, columns) = Self.header(text) else { return }
        table = name
        rows[name] = rows[name] ?? 0
        versionColumn = columns.firstIndex(of: "version")
    }

    /// The table and column names of `COPY schema.table (a, "b c") FROM stdin;`, unquoted.
    static func header(_ text: String) -> (table: String, columns: [String])? {
        var rest = Substring(text.dropFirst("COPY ".count).dropLast(" FROM stdin;".count))
        var parts: [String] = []
        func identifier() -> String? {
            if rest.first == "\"" {
                var name = ""
                rest = rest.dropFirst()
                while let char = rest.first {
                    rest = rest.dropFirst()
                    if char == "\"" {
                        if rest.first == "\"" { name.append("\""); rest = rest.dropFirst(); continue }
                        return name
                    }
                    name.append(char)
                }
                return nil
            }
            let name = rest.prefix { $0 != "." && $0 != " " && $0 != "," && $0 != ")" && $0 != "(" }
            rest = rest.dropFirst(name.count)
            return name.isEmpty ? nil : String(name)
        }
        guard let first = identifier() else { return nil }
        parts.append(first)
        while rest.first == "." {
            rest = rest.dropFirst()
            guard let next = identifier() else { return nil }
            parts.append(next)
        }
        var columns: [String] = []
        if rest.hasPrefix(" (") {
            rest = rest.dropFirst(2)
            while let column = identifier() {
                columns.append(column)
                if rest.hasPrefix(", ") { rest = rest.dropFirst(2) } else { break }
            }
        }
        return (parts.joined(separator: "."), columns)
    }
}
