import Foundation
import Lake
import Logging

/// Restores a dump over a store, refusing anything it cannot prove whole and harmless.
///
/// Order: the sidecar's checksum against the file's bytes; the schema version the sidecar
/// names; decompression into a temporary file beside the target (gzip's own CRC catches
/// truncation and corruption), a SQL dump replayed under an authorizer that refuses every
/// statement a dump does not hold (`ATTACH`, `VACUUM INTO`, unknown tables or triggers…); the
/// restored schema against the marketplace schema of its version (no extra trigger, view,
/// table or index, none changed); `integrity_check`, `foreign_key_check`, the schema version in
/// the file itself and the row counts the sidecar recorded; older schemas are migrated. Only
/// then is the live database swapped, by one rename under the store's exclusive lock, after a
/// hard link has kept it as `<store>.pre-restore`. Any refusal leaves the live database untouched.
public struct StoreRestorer {
    public let logger: Logger

    public init(logger: Logger = Logger(label: "agentshop.store.restore")) {
        self.logger = logger
    }

    public struct Result: Sendable {
        public let restoredPath: String
        /// Where the previous database now is, when there was one.
        public let previousPath: String?
        public let sidecar: DumpSidecar
        /// Migrations applied to bring an older dump up to date.
        public let migrated: [Int]
    }

    /// Checks `dumpPath` against its sidecar without restoring it. Returns the sidecar.
    public func verifyChecksum(dumpPath: String) throws -> DumpSidecar {
        guard FileManager.default.fileExists(atPath: dumpPath) else {
            throw StoreError(.notFound, "no such dump", path: dumpPath)
        }
        let sidecar = try DumpSidecar.read(path: dumpPath + DumpSidecar.suffix)
        let actual: String
        do { actual = try FileDigest.sha256(path: dumpPath) } catch {
            throw StoreError(.io, "cannot read the dump", cause: "\(error)", path: dumpPath)
        }
        guard actual == sidecar.sha256 else {
            throw StoreError(.checksum, "checksum mismatch: the dump is damaged or was changed after it was written",
                             cause: "sidecar says \(sidecar.sha256), file is \(actual)", path: dumpPath)
        }
        return sidecar
    }

    /// Proves that `dumpPath` restores, without touching any store: everything `restore` checks,
    /// on a scratch database in `scratchFolder` (default: the dump's folder) that is removed after.
    /// Returns the sidecar the restored rows matched.
    public func verifyRestores(dumpPath: String, scratchFolder: String? = nil) throws -> DumpSidecar {
        let folder = scratchFolder ?? (dumpPath as NSString).deletingLastPathComponent
        let scratch = (folder.isEmpty ? "." : folder) + "/." + (dumpPath as NSString).lastPathComponent + ".check"
            + AtomicFile.temporaryMarker + "\(getpid())-\(UInt32.random(in: 0...UInt32.max))"
        defer { StoreDumper.removeDatabaseFiles(scratch) }
        return try prepare(dumpPath: dumpPath, into: scratch).sidecar
    }

    /// Restores `dumpPath` (a `.sqlite.gz` or `.sql.gz` with its sidecar) to `targetPath`,
    /// waiting up to `wait` for processes writing the store to finish before the swap.
    public func restore(dumpPath: String, to targetPath: String, wait: Duration = .zero) throws -> Result {
        let folder = (targetPath as NSString).deletingLastPathComponent
        try FileManager.default.createDirectory(atPath: folder.isEmpty ? "." : folder, withIntermediateDirectories: true)
        let temporary = (folder.isEmpty ? "." : folder) + "/." + (targetPath as NSString).lastPathComponent + ".restore"
            + AtomicFile.temporaryMarker + "\(getpid())-\(UInt32.random(in: 0...UInt32.max))"
        var swapped = false
        defer { if !swapped { StoreDumper.removeDatabaseFiles(temporary) } }
        let (sidecar, migrated) = try prepare(dumpPath: dumpPath, into: temporary)
        let previous = try StoreFile.replace(targetPath, with: temporary, keepingPreviousAs: ".pre-restore", wait: wait)
        swapped = true
        logger.info("store restored", metadata: ["dump": "\(dumpPath)", "store": "\(targetPath)"])
        return Result(restoredPath: targetPath, previousPath: previous, sidecar: sidecar, migrated: migrated)
    }

    /// Checksum, then the dump read back into `temporary` and checked; returns the sidecar and
    /// the migrations applied. The caller removes `temporary` unless it keeps it.
    private func prepare(dumpPath: String, into temporary: String) throws -> (sidecar: DumpSidecar, migrated: [Int]) {
        let sidecar = try verifyChecksum(dumpPath: dumpPath)
        if sidecar.schemaVersion > MarketplaceSchema.latestVersion {
            throw StoreError(.schemaTooNew, "the dump's schema version \(sidecar.schemaVersion) is newer than this "
                             + "program's (\(MarketplaceSchema.latestVersion)); restore it with a newer agentshop",
                             path: dumpPath)
        }
        let known = try KnownSchema.objects(atVersion: sidecar.schemaVersion)
        do {
            switch sidecar.format {
            case .sqlite: try decompress(dumpPath, to: temporary)
            case .sql: try replaySQL(dumpPath, into: temporary, known: known)
            }
        } catch let error as StoreError where error.code == .restore {
            throw error
        } catch let error as StoreError {
            throw StoreError(.restore, "the dump cannot be read back", cause: error.description, path: dumpPath)
        } catch {
            throw StoreError(.restore, "the dump cannot be read back", cause: "\(error)", path: dumpPath)
        }
        let migrated = try check(temporary, against: sidecar, known: known, dumpPath: dumpPath, format: sidecar.format)
        return (sidecar, migrated)
    }

    private func decompress(_ dumpPath: String, to path: String) throws {
        let reader = try GzipReader(try FileInput(path: dumpPath), label: dumpPath)
        let file = try AtomicFile(path: path)
        var chunk = [UInt8](repeating: 0, count: 1 << 20)
        while true {
            let n = try chunk.withUnsafeMutableBytes { try reader.read(into: $0) }
            if n == 0 { break }
            try chunk.withUnsafeBytes { try file.output.write(UnsafeRawBufferPointer(rebasing: $0[0..<n])) }
        }
        try file.commit()
    }

    /// Runs the dump's statements one at a time, as the sqlite3 shell does; decompression runs
    /// ahead on another thread, as `zcat` does in `zcat | sqlite3`. Every statement is compiled
    /// under `DumpStatementPolicy`: one it refuses stops the replay before it runs.
    private func replaySQL(_ dumpPath: String, into path: String, known: [SchemaObject]) throws {
        let database = try Database(path: path, mode: .readWriteCreate, wal: false)
        // A private file until it is checked and swapped in: no journal, no fsync per commit. The swap
        // fsyncs the finished file. The page cache also bounds the sorter that builds each index
        // (SQLite sizes its in-memory runs by it): 16 MiB keeps the restore's peak RSS near 60 MB,
        // where 64 MiB took it to 154 MB on a 1M-row store for no measurable gain in time
        // (bench/STORE_BENCH.md).
        try database.execute("PRAGMA journal_mode = OFF; PRAGMA synchronous = OFF; PRAGMA cache_size = -16384")
        let policy = DumpStatementPolicy(known: known)
        let lines = LineReader(ReadAheadSource(try GzipReader(try FileInput(path: dumpPath), label: dumpPath)))
        var pending: [UInt8] = []  // the statement so far, NUL-terminated
        var sawCommit = false
        var lineNumber = 0, statementLine = 1
        let commit = Array("COMMIT;".utf8)
        try database.withAuthorizer(policy.allow) {
            while try lines.withNextLine({ line in
                lineNumber += 1
                // The previous line's NUL becomes the line break between the two.
                if pending.isEmpty { pending.reserveCapacity(4096); statementLine = lineNumber } else { pending[pending.count - 1] = 0x0A }
                pending.append(contentsOf: line)
                pending.append(0)
                // Only a line ending in ';' can end a statement; sqlite3_complete decides whether it does.
                guard line.last == UInt8(ascii: ";") else { return }
                let ran = try pending.withUnsafeBufferPointer { buffer in
                    try buffer.withMemoryRebound(to: CChar.self) { text -> Bool in
                        guard Database.isComplete(cString: text.baseAddress!) else { return false }
                        do {
                            try database.execute(cString: text.baseAddress!)
                        } catch let error as StoreError {
                            guard let refused = policy.refused else { throw error }
                            throw StoreError(.restore, "line \(statementLine): the dump holds a statement no dump of the "
                                             + "store contains (\(refused)); it was refused before it ran and nothing "
                                             + "was restored", sql: error.sql, path: dumpPath)
                        }
                        return true
                    }
                }
                guard ran else { return }
                if pending.count == commit.count + 1 && pending.starts(with: commit) { sawCommit = true }
                pending.removeAll(keepingCapacity: true)
            }) != nil {}
        }
        let rest = pending.dropLast()
        guard sawCommit, rest.allSatisfy({ $0 == 0x20 || $0 == 0x0A || $0 == 0x09 }) else {
            throw StoreError(.restore, "the SQL dump ends before its COMMIT: it is truncated", path: dumpPath)
        }
    }

    /// Integrity, foreign keys, schema version and row counts of the restored file; migrates an older schema.
    /// The schema is compared first, before anything could fire a trigger the dump brought.
    private func check(_ path: String, against sidecar: DumpSidecar, known: [SchemaObject], dumpPath: String,
                       format: DumpFormat) throws -> [Int] {
        func refuse(_ reason: String, _ cause: String? = nil) -> StoreError {
            StoreError(.restore, reason, cause: cause, path: dumpPath)
        }
        let store: Store
        let counts: [String: Int]
        do {
            store = Store(database: try Database(path: path, mode: .readWrite, wal: false),
                          logger: logger)
            let differences = KnownSchema.differences(restored: try KnownSchema.objects(in: store.database), known: known)
            if !differences.isEmpty {
                throw refuse("the restored schema is not the marketplace schema of version \(sidecar.schemaVersion): "
                             + differences.prefix(5).joined(separator: "; ")
                             + (differences.count > 5 ? "; and \(differences.count - 5) more" : ""))
            }
            // The file check runs on its own connection and thread while this one checks foreign keys and
            // counts rows: the two read the same finished file and take about as long each.
            // A binary snapshot gets integrity_check: its bytes came from outside, so its indexes could
            // disagree with its tables. A SQL dump was written page by page by SQLite itself from
            // statements the policy allowed, and every index was built by SQLite from those rows, so
            // quick_check (the same page, record and constraint checks, without re-deriving every
            // index entry) proves the file sound at a fraction of the cost (bench/STORE_BENCH.md).
            let pragma = format == .sqlite ? "integrity_check" : "quick_check"
            let fileCheck = BackgroundResult {
                try Database(path: path, mode: .readOnly, wal: false).rows("PRAGMA \(pragma)").compactMap { $0[0].string }
            }
            let keysAndCounts = Swift.Result {
                (try store.database.rows("PRAGMA foreign_key_check"), try StoreDumper.census(store.database).1)
            }
            let integrity = try fileCheck.value()
            guard integrity == ["ok"] else {
                throw refuse("the restored database fails \(pragma)", integrity.prefix(5).joined(separator: "; "))
            }
            let violations: [[SQLValue]]
            (violations, counts) = try keysAndCounts.get()
            guard violations.isEmpty else {
                let first = violations[0].map(\.description).joined(separator: ", ")
                throw refuse("the restored database fails foreign_key_check (\(violations.count) rows)", first)
            }
        } catch let error as StoreError where error.code != .restore {
            throw refuse("the dump does not hold a readable SQLite database", error.description)
        }
        let version = try store.schemaVersion()
        guard version == sidecar.schemaVersion else {
            throw refuse("the restored schema version \(version) differs from the sidecar's \(sidecar.schemaVersion)")
        }
        if version > MarketplaceSchema.latestVersion {
            throw StoreError(.schemaTooNew, "the dump's schema version \(version) is newer than this program's "
                             + "(\(MarketplaceSchema.latestVersion))", path: dumpPath)
        }
        guard counts == sidecar.tables else {
            let differing = Set(counts.keys).union(sidecar.tables.keys).sorted()
                .filter { counts[$0] != sidecar.tables[$0] }
                .map { "\($0): \(counts[$0].map(String.init) ?? "missing") vs \(sidecar.tables[$0].map(String.init) ?? "missing")" }
            throw refuse("the restored row counts differ from the sidecar's", differing.prefix(5).joined(separator: "; "))
        }
        let migrated = try store.migrate()
        // Leave a plain file behind: no -wal to carry across the rename.
        try store.database.execute("PRAGMA journal_mode = DELETE")
        return migrated
    }
}

/// A value computed on a thread of its own; `value()` waits for it. For two checks of one finished file
/// run side by side on two connections.
private final class BackgroundResult<T: Sendable>: @unchecked Sendable {
    private var outcome: Result<T, Error>?
    private let done = DispatchSemaphore(value: 0)

    init(_ work: @escaping @Sendable () throws -> T) {
        let thread = Thread { [self] in
            outcome = Result { try work() }
            done.signal()
        }
        thread.name = "agentshop.restore-check"
        thread.start()
    }

    /// Waits for the work; call it once.
    func value() throws -> T {
        done.wait()
        return try outcome!.get()
    }
}
