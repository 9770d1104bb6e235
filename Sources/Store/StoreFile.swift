import Foundation
import Lake
import Logging

/// Putting a finished database file in place of the live store, durably.
public enum StoreFile {
    /// Keeps the live database as `<target><suffix>` (a hard link: no copy, no moment without a
    /// live file) and renames `replacement` over it. Holds the store's lock exclusively across the
    /// swap, waiting up to `wait` for the processes writing it; refuses while another connection
    /// holds the live database. Returns the kept file's path, nil when there was no live database.
    public static func replace(_ target: String, with restored: String, keepingPreviousAs suffix: String,
                               wait: Duration = .zero) throws -> String? {
        let lock = try StoreLock(store: target, mode: .exclusive, wait: wait)
        defer { withExtendedLifetime(lock) {} }
        let fm = FileManager.default
        var previous: String?
        if fm.fileExists(atPath: target) {
            // Fold the WAL into the main file so that the file we keep is whole, and refuse if
            // another connection holds the database (swapping under it would lose its writes).
            do {
                let live = try Database(path: target, mode: .readWrite, busyTimeout: .seconds(5))
                let result = try live.rows("PRAGMA wal_checkpoint(TRUNCATE)")
                if result.first?.first?.int64 != 0 {
                    throw StoreError(.busy, "the store is in use by another process; stop it and try again",
                                     path: target)
                }
            }
            if let size = (try? fm.attributesOfItem(atPath: target + "-wal")[.size] as? Int64), size > 0 {
                throw StoreError(.busy, "the store is in use by another process (its WAL is not empty)", path: target)
            }
            let keep = target + suffix
            unlink(keep)
            guard link(target, keep) == 0 else {
                throw StoreError(.io, "cannot keep the previous database", cause: String(cString: strerror(errno)),
                                 path: keep)
            }
            previous = keep
        }
        try Self.syncFile(restored)
        unlink(target + "-wal")
        unlink(target + "-shm")
        guard rename(restored, target) == 0 else {
            throw StoreError(.io, "cannot move the restored database into place", cause: String(cString: strerror(errno)),
                             path: target)
        }
        try? AtomicFile.syncFolder(of: target)  // the rename happened; a failed folder fsync only weakens durability
        return previous
    }

    static func syncFile(_ path: String) throws {
        let fd = open(path, O_RDONLY)
        guard fd >= 0, fsync(fd) == 0 else {
            let reason = String(cString: strerror(errno))
            if fd >= 0 { close(fd) }
            throw StoreError(.io, "cannot flush the database to disk", cause: reason, path: path)
        }
        close(fd)
    }

    /// Rewrites some tables of the store at `path` on a copy: the copy (a consistent snapshot,
    /// even with a writer active; an empty migrated store when there is none) has `clearing`
    /// emptied, then `fill` refills it in one transaction, with foreign keys off so that emptying
    /// a table does not cascade into the tables kept. The copy replaces the live store only if
    /// it passes `foreign_key_check` and `integrity_check`; the old store is kept as
    /// `<path><suffix>`. Any failure leaves the live store as it was. The store's lock is held
    /// exclusively from the snapshot to the swap (waiting up to `wait` for it), so that no write
    /// between the two is lost.
    public static func rewrite(_ path: String, clearing tables: [String], keepingPreviousAs suffix: String,
                               wait: Duration = .zero, logger: Logger, fill: (Database) throws -> Void) throws -> String? {
        let lock = try StoreLock(store: path, mode: .exclusive, wait: wait)
        defer { withExtendedLifetime(lock) {} }
        let folder = (path as NSString).deletingLastPathComponent
        try FileManager.default.createDirectory(atPath: folder.isEmpty ? "." : folder, withIntermediateDirectories: true)
        let temporary = (folder.isEmpty ? "." : folder) + "/." + (path as NSString).lastPathComponent + ".rewrite"
            + AtomicFile.temporaryMarker + "\(getpid())-\(UInt32.random(in: 0...UInt32.max))"
        defer { StoreDumper.removeDatabaseFiles(temporary) }
        if FileManager.default.fileExists(atPath: path) {
            let live = try Database(path: path, mode: .readOnly)
            try live.run("VACUUM INTO ?", [.text(temporary)])
        }
        let store = try Store.open(path: temporary, create: true, busyTimeout: .seconds(10), logger: logger, locked: false)
        try store.migrate()
        let database = store.database
        try database.execute("PRAGMA foreign_keys = OFF")
        var pinned: [PinnedReference] = []
        try database.transaction(.immediate) {
            pinned = try pinnedReferences(into: tables, in: database)
            for table in tables { try database.run("DELETE FROM \(try SQLIdentifier(table).quoted)") }
            try fill(database)
        }
        // Row ids are reassigned by the refill: a kept row (an order item) must still point at the
        // same keyed row (the product with the same slug), not at whatever now has its old id.
        let moved = try pinned.filter { try $0.current(in: database) != $0.key }
        if let first = moved.first {
            throw StoreError(.constraint, "the rewritten store would repoint \(moved.count) references from tables that were "
                             + "kept (\(first.describe)); the live store is unchanged",
                             cause: "the row it pointed at is no longer loaded, or was loaded in another order", path: path)
        }
        let violations = try database.rows("PRAGMA foreign_key_check")
        guard violations.isEmpty else {
            let first = violations[0].map(\.description).joined(separator: ", ")
            throw StoreError(.constraint, "the rewritten store would break \(violations.count) references from tables "
                             + "that were kept (e.g. orders pointing at products no longer loaded); the live store is unchanged",
                             cause: first, path: path)
        }
        let integrity = try database.rows("PRAGMA integrity_check").compactMap { $0[0].string }
        guard integrity == ["ok"] else {
            throw StoreError(.corrupt, "the rewritten store fails integrity_check; the live store is unchanged",
                             cause: integrity.prefix(3).joined(separator: "; "), path: temporary)
        }
        try database.execute("PRAGMA journal_mode = DELETE")
        return try replace(path, with: temporary, keepingPreviousAs: suffix)
    }

    /// A reference from a kept table into a rewritten one, with the referenced row's natural key.
    struct PinnedReference {
        let from: String
        let column: String
        let table: String
        let target: String
        let value: SQLValue
        let keyColumns: [String]
        let key: [SQLValue]

        var describe: String { "\(from).\(column) = \(value) → \(table) \(zip(keyColumns, key).map { "\($0) \($1)" }.joined(separator: ", "))" }

        func current(in database: Database) throws -> [SQLValue]? {
            let columns = try keyColumns.map { try SQLIdentifier($0).quoted }.joined(separator: ", ")
            return try database.rows("SELECT \(columns) FROM \(try SQLIdentifier(table).quoted) WHERE \(try SQLIdentifier(target).quoted) = ?",
                                     [value]).first
        }
    }

    /// Every value that a table outside `rewritten` holds in a foreign key into a table of
    /// `rewritten`, with the natural key (a unique key other than the referenced column) of the row
    /// it points at. Tables without such a key are left to `foreign_key_check`.
    static func pinnedReferences(into rewritten: [String], in database: Database) throws -> [PinnedReference] {
        var pinned: [PinnedReference] = []
        for from in try StoreCatalog.userTables(in: database) where !rewritten.contains(from) {
            for reference in try database.rows("SELECT \"table\", \"from\", \"to\" FROM pragma_foreign_key_list(?)", [.text(from)]) {
                // A foreign key naming no column refers to the primary key, `id` in this schema.
                let target = reference[2].string ?? "id"
                guard let table = reference[0].string, rewritten.contains(table), let column = reference[1].string,
                      let info = try StoreCatalog.table(table, in: database) else { continue }
                let naturalKeys = info.uniqueKeys.filter { $0 != [target] }
                let values = try database.rows("SELECT DISTINCT \(try SQLIdentifier(column).quoted) FROM \(try SQLIdentifier(from).quoted) "
                                               + "WHERE \(try SQLIdentifier(column).quoted) IS NOT NULL")
                for row in values {
                    // The first unique key with no null in the referenced row identifies it (NULLs are never equal).
                    for natural in naturalKeys {
                        let probe = PinnedReference(from: from, column: column, table: table, target: target, value: row[0],
                                                    keyColumns: natural, key: [])
                        guard let key = try probe.current(in: database) else { break }  // already dangling
                        if key.contains(where: \.isNull) { continue }
                        pinned.append(PinnedReference(from: from, column: column, table: table, target: target, value: row[0],
                                                      keyColumns: natural, key: key))
                        break
                    }
                }
            }
        }
        return pinned
    }
}
