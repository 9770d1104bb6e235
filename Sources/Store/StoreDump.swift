import Foundation
import Lake
import Logging

/// How a dump stores the database.
public enum DumpFormat: String, Sendable, CaseIterable, Codable {
    /// A binary snapshot (a SQLite file), gzip: the fastest to take and restore.
    case sqlite
    /// SQL text, gzip: readable, diffable, and restorable with `zcat FILE | sqlite3 NEW.db`.
    case sql

    /// `.sqlite.gz` or `.sql.gz`.
    public var fileSuffix: String { "." + rawValue + ".gz" }
}

/// The dump folders under `db_dumps/`.
public enum DumpFrequency: String, Sendable, CaseIterable, Codable {
    case daily, weekly, manual
}

/// The JSON file beside each dump (`<dump>.json`): what a restore checks before it trusts the dump.
public struct DumpSidecar: Codable, Sendable, Equatable {
    public var file: String
    public var format: DumpFormat
    /// SHA-256 of the compressed file's bytes.
    public var sha256: String
    /// Size of the compressed file.
    public var bytes: Int64
    public var schemaVersion: Int
    public var createdAt: String
    /// Rows per table at the moment of the snapshot.
    public var tables: [String: Int]
    public var sqliteVersion: String

    enum CodingKeys: String, CodingKey {
        case file, format, sha256, bytes, tables
        case schemaVersion = "schema_version"
        case createdAt = "created_at"
        case sqliteVersion = "sqlite_version"
    }

    public static let suffix = ".json"

    public static func read(path: String) throws -> DumpSidecar {
        let bytes: [UInt8]
        do { bytes = try FileInput.readAll(path: path) } catch {
            throw StoreError(.notFound, "the dump has no readable sidecar; it cannot be verified", cause: "\(error)",
                             path: path)
        }
        do { return try JSONDecoder().decode(DumpSidecar.self, from: Data(bytes)) } catch {
            throw StoreError(.checksum, "the dump's sidecar is not valid", cause: "\(error)", path: path)
        }
    }

    func encoded() throws -> [UInt8] {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.prettyPrinted, .sortedKeys, .withoutEscapingSlashes]
        return Array(try encoder.encode(self)) + [0x0A]
    }
}

/// One dump written: the file, its sidecar, and what the sidecar says.
public struct DumpResult: Sendable {
    public let path: String
    public let sidecarPath: String
    public let sidecar: DumpSidecar
}

/// Takes consistent dumps of a store while other processes write to it.
///
/// The binary format copies the database with SQLite's online backup API (one step, under one
/// read transaction) into a private snapshot file, then compresses that. The SQL format reads
/// every table inside one read transaction. When both formats are asked for, both are made
/// from the same snapshot, so they hold the same rows. The database file is never copied raw.
public struct StoreDumper {
    public let storePath: String
    public let logger: Logger
    /// gzip level of the binary snapshot, 1 (fast) … 9 (small). A snapshot is the quick way back
    /// (restore copies pages, no SQL), so it is taken quickly too: level 1 costs ~15% more bytes
    /// than 6 for less than half the CPU.
    public var snapshotGzipLevel: Int32 = 1
    /// gzip level of the SQL text dump, the portable and smaller one: gzip's default.
    public var sqlGzipLevel: Int32 = 6

    public init(storePath: String, logger: Logger = Logger(label: "agentshop.store.dump")) {
        self.storePath = storePath
        self.logger = logger
    }

    /// `agentshop_20261125T154200Z`: the dump's base name for `date` (UTC).
    public static func baseName(for date: Date) -> String {
        var t = time_t(date.timeIntervalSince1970.rounded(.down))
        var parts = tm()
        gmtime_r(&t, &parts)
        return String(format: "agentshop_%04d%02d%02dT%02d%02d%02dZ", parts.tm_year + 1900, parts.tm_mon + 1,
                      parts.tm_mday, parts.tm_hour, parts.tm_min, parts.tm_sec)
    }

    /// Writes one dump per format into `folder` (created if needed), each with its sidecar.
    public func dump(to folder: String, formats: [DumpFormat] = [.sqlite], at date: Date = Date()) throws -> [DumpResult] {
        guard !formats.isEmpty else { return [] }
        guard FileManager.default.fileExists(atPath: storePath) else {
            throw StoreError(.notFound, "no store to dump; run `agentshop db init` first", path: storePath)
        }
        try LakeConfinement.checkWrite(to: folder + "/.dump")  // the snapshot is written there before any AtomicFile
        try FileManager.default.createDirectory(atPath: folder, withIntermediateDirectories: true)
        // A dump killed here before left its snapshot and half-written files: remove them first.
        for name in AtomicFile.removeStaleTemporaries(in: folder) {
            logger.info("removed a temporary file left by a killed dump", metadata: ["file": "\(folder)/\(name)"])
        }
        // Two dumps in one second (a run rerun at once after a crash) get `-2`, `-3`… rather than failing.
        let stamp = Self.baseName(for: date)
        guard let base = ([stamp] + (2...99).map { "\(stamp)-\($0)" }).first(where: { candidate in
            formats.allSatisfy { !FileManager.default.fileExists(atPath: folder + "/" + candidate + $0.fileSuffix) }
        }) else {
            throw StoreError(.dump, "99 dumps already carry this second's name", path: folder + "/" + stamp)
        }
        let createdAt = Timestamp.iso(date)
        var results: [DumpResult] = []
        if formats.contains(.sqlite) {
            let snapshotPath = folder + "/." + base + ".snapshot" + AtomicFile.temporaryMarker
                + "\(getpid())-\(UInt32.random(in: 0...UInt32.max))"
            defer { Self.removeDatabaseFiles(snapshotPath) }
            do {
                let source = try Database(path: storePath, mode: .readOnly)
                let snapshot = try Database(path: snapshotPath, mode: .readWriteCreate, wal: false)
                try source.backup(into: snapshot)
            }
            // The snapshot is private now: read it for counts and (if asked) SQL text, then compress it.
            let reader = try Database(path: snapshotPath, mode: .readOnly)
            let (version, counts) = try Self.census(reader)
            for format in formats {
                let path = folder + "/" + base + format.fileSuffix
                let written: (sha256: String, bytes: Int64)
                switch format {
                case .sqlite: written = try compress(file: snapshotPath, to: path)
                case .sql: written = try writeSQL(from: reader, to: path)
                }
                results.append(try finish(path: path, format: format, written: written, version: version,
                                          counts: counts, createdAt: createdAt))
            }
        } else {
            // SQL only: one read transaction on the live store is the snapshot.
            let reader = try Database(path: storePath, mode: .readOnly)
            try reader.transaction(.deferred) {
                let (version, counts) = try Self.census(reader)
                let path = folder + "/" + base + DumpFormat.sql.fileSuffix
                let written = try writeSQL(from: reader, to: path)
                results.append(try finish(path: path, format: .sql, written: written, version: version,
                                          counts: counts, createdAt: createdAt))
            }
        }
        return results
    }

    private func finish(path: String, format: DumpFormat, written: (sha256: String, bytes: Int64), version: Int,
                        counts: [String: Int], createdAt: String) throws -> DumpResult {
        let sidecar = DumpSidecar(file: (path as NSString).lastPathComponent, format: format, sha256: written.sha256,
                                  bytes: written.bytes, schemaVersion: version, createdAt: createdAt, tables: counts,
                                  sqliteVersion: Database.sqliteVersion)
        let sidecarPath = path + DumpSidecar.suffix
        try AtomicFile.write(try sidecar.encoded(), to: sidecarPath)
        logger.info("store dumped", metadata: ["file": "\(path)", "format": "\(format.rawValue)",
                                               "bytes": "\(written.bytes)", "tables": "\(counts.count)"])
        return DumpResult(path: path, sidecarPath: sidecarPath, sidecar: sidecar)
    }

    /// Schema version and rows per table, read inside the caller's snapshot.
    static func census(_ database: Database) throws -> (Int, [String: Int]) {
        var counts: [String: Int] = [:]
        for table in try StoreCatalog.userTables(in: database) {
            counts[table] = Int(try database.scalar("SELECT count(*) FROM \(SQLLiteral.quoteName(table))")?.int64 ?? 0)
        }
        return (try database.userVersion(), counts)
    }

    private func compress(file: String, to path: String) throws -> (sha256: String, bytes: Int64) {
        let atomic = try AtomicFile(path: path)
        let hashing = HashingSink(atomic.output)
        try ParallelGzip.compress(file: file, into: hashing, level: snapshotGzipLevel)
        try atomic.commit()
        return (hashing.hexDigest(), hashing.count)
    }

    private func writeSQL(from database: Database, to path: String) throws -> (sha256: String, bytes: Int64) {
        let atomic = try AtomicFile(path: path)
        let hashing = HashingSink(atomic.output)
        // SQL text is made on this thread while deflate runs on the others, block by block (gzip
        // members), as `sqlite3 .dump | gzip` runs on two processes; the file is ordinary gzip.
        let gzip = ParallelGzipWriter(hashing, level: sqlGzipLevel, label: path)
        try SQLDumpWriter(database: database, sink: gzip).write()
        try gzip.finish()
        try atomic.commit()
        return (hashing.hexDigest(), hashing.count)
    }

    static func removeDatabaseFiles(_ path: String) {
        for suffix in ["", "-journal", "-wal", "-shm"] { unlink(path + suffix) }
    }
}

/// Passes bytes on while hashing and counting them: the sidecar's checksum is of the bytes written.
final class HashingSink: ByteSink {
    private let inner: ByteSink
    private var hasher = SHA256()
    private(set) var count: Int64 = 0

    init(_ inner: ByteSink) { self.inner = inner }

    func write(_ bytes: UnsafeRawBufferPointer) throws {
        hasher.update(bytes)
        count += Int64(bytes.count)
        try inner.write(bytes)
    }

    func finish() throws { try inner.finish() }

    func hexDigest() -> String { hasher.hexDigest() }
}

/// Writes a database as SQL text that rebuilds it: the shape of the sqlite3 shell's `.dump`,
/// plus `PRAGMA user_version`.
///
/// Order: tables and their rows, virtual tables (FTS) and their rows, `sqlite_sequence`, then
/// indexes, views and triggers last, so that no trigger fires while rows are loaded.
final class SQLDumpWriter {
    let database: Database
    let sink: ByteSink
    private var out: [UInt8] = []

    init(database: Database, sink: ByteSink) {
        self.database = database
        self.sink = sink
        out.reserveCapacity(1 << 20)
    }

    private func flush(force: Bool = false) throws {
        if force || out.count >= 1 << 20 {
            try sink.write(out)
            out.removeAll(keepingCapacity: true)
        }
    }

    private func append(_ text: String) { out.append(contentsOf: text.utf8) }

    func write() throws {
        append("PRAGMA foreign_keys=OFF;\nBEGIN TRANSACTION;\n")
        let objects = try database.rows("""
            SELECT type, name, tbl_name, sql FROM sqlite_schema WHERE sql IS NOT NULL ORDER BY rowid
            """).map { (type: $0[0].string ?? "", name: $0[1].string ?? "", sql: $0[3].string ?? "") }

        var rebuildAfterLoad: [String] = []
        var hasSequence = false
        for object in objects where object.type == "table" {
            if object.name == "sqlite_sequence" { hasSequence = true; continue }
            if object.name.hasPrefix("sqlite_") { continue }  // sqlite_stat*: ANALYZE rebuilds them
            if try StoreCatalog.isShadowTable(object.name, in: database) { continue }
            let quoted = SQLLiteral.quoteName(object.name)
            append(object.sql + ";\n")
            if object.sql.uppercased().hasPrefix("CREATE VIRTUAL TABLE") {
                let lower = object.sql.lowercased().replacingOccurrences(of: " ", with: "")
                if lower.contains("content=") {
                    // External-content or contentless FTS: its rows live elsewhere; rebuild the index.
                    if !lower.contains("content=''") && !lower.contains("content=\"\"") {
                        rebuildAfterLoad.append("INSERT INTO \(quoted)(\(quoted)) VALUES('rebuild');\n")
                    }
                    continue
                }
                let columns = try database.rows("SELECT name FROM pragma_table_info(?)", [.text(object.name)])
                    .compactMap { $0[0].string }
                let columnList = (["rowid"] + columns).map(SQLLiteral.quoteName).joined(separator: ",")
                try dumpRows(select: "SELECT " + columnList + " FROM " + quoted,
                             prefix: "INSERT INTO \(quoted)(\(columnList)) VALUES(")
                continue
            }
            try dumpRows(select: "SELECT * FROM \(quoted)", prefix: "INSERT INTO \(quoted) VALUES(")
        }
        if hasSequence {
            append("DELETE FROM sqlite_sequence;\n")
            try dumpRows(select: "SELECT * FROM sqlite_sequence", prefix: "INSERT INTO sqlite_sequence VALUES(")
        }
        for statement in rebuildAfterLoad { append(statement) }
        for type in ["index", "view", "trigger"] {
            for object in objects where object.type == type { append(object.sql + ";\n") }
        }
        append("PRAGMA user_version=\(try database.userVersion());\nCOMMIT;\n")
        try flush(force: true)
    }

    private func dumpRows(select: String, prefix: String) throws {
        let statement = try database.prepare(select)
        let prefixBytes = Array(prefix.utf8)
        let columns = statement.columnCount
        while try statement.step() {
            out.append(contentsOf: prefixBytes)
            for i in 0..<columns {
                if i > 0 { out.append(UInt8(ascii: ",")) }
                statement.appendLiteral(at: i, to: &out)
            }
            out.append(contentsOf: ");\n".utf8)
            if out.count >= 1 << 20 { try flush() }
        }
    }
}
