import Foundation
import Lake
import Logging

/// The marketplace store: one SQLite database with the marketplace schema.
///
/// Not `Sendable` (it owns a connection). Open one per task; SQLite's locking keeps one
/// writer at a time, and WAL lets readers see only committed transactions.
public final class Store {
    public let database: Database
    public let logger: Logger
    public var path: String { database.path }
    init(database: Database, logger: Logger, lock: StoreLock? = nil) {
        self.database = database
        self.logger = logger
        // The connection holds the lock, not the Store: callers keep `store.database` (and its
        // statements) after their last use of `store`.
        if let lock { database.storeLock = lock }
    }

    /// Opens (creating the file and its folder if needed) the store at `path`. Does not migrate.
    ///
    /// Takes the store's lock (`StoreLock`) shared before opening the file and holds it while the
    /// connection lives, so that a restore or rebuild never swaps the file under it.
    /// - Parameter busyTimeout: how long a writer waits for another writer's transaction to end,
    ///   and for a restore or rebuild that is replacing the store.
    public static func open(path: String, create: Bool = true, busyTimeout: Duration = .seconds(10),
                            logger: Logger = Logger(label: "agentshop.store")) throws -> Store {
        try open(path: path, create: create, busyTimeout: busyTimeout, logger: logger, locked: true)
    }

    /// `open`, for a private copy nobody else knows of (a restore's or rebuild's temporary file): no lock.
    static func open(path: String, create: Bool, busyTimeout: Duration, logger: Logger, locked: Bool) throws -> Store {
        if create {
            let folder = (path as NSString).deletingLastPathComponent
            if !folder.isEmpty { try? FileManager.default.createDirectory(atPath: folder, withIntermediateDirectories: true) }
        } else if !FileManager.default.fileExists(atPath: path) {
            throw StoreError(.notFound, "no store here; run `agentshop db init` first", path: path)
        }
        // The lock first: a file opened before it might be the one a restore is renaming away.
        let lock = locked && path != ":memory:" && !path.isEmpty
            ? try StoreLock(store: path, mode: .shared, wait: busyTimeout) : nil
        let database = try Database(path: path, mode: create ? .readWriteCreate : .readWrite, busyTimeout: busyTimeout)
        return Store(database: database, logger: logger, lock: lock)
    }

    /// Opens the store at `path` to read it (`db status`): no lock, no writes, never waits for one.
    public static func openReadOnly(path: String, logger: Logger = Logger(label: "agentshop.store")) throws -> Store {
        guard FileManager.default.fileExists(atPath: path) else {
            throw StoreError(.notFound, "no store here; run `agentshop db init` first", path: path)
        }
        return Store(database: try Database(path: path, mode: .readOnly), logger: logger)
    }

    /// Opens the store at `path` and brings its schema up to date.
    public static func openMigrated(path: String, busyTimeout: Duration = .seconds(10),
                                    logger: Logger = Logger(label: "agentshop.store")) throws -> Store {
        let store = try open(path: path, busyTimeout: busyTimeout, logger: logger)
        try store.migrate()
        return store
    }

    /// The schema version this store is at.
    public func schemaVersion() throws -> Int { try database.userVersion() }

    /// Applies every pending migration, each in its own transaction. Returns the versions applied.
    /// Refuses a store whose schema is newer than this program knows.
    @discardableResult
    public func migrate() throws -> [Int] {
        var applied: [Int] = []
        let current = try schemaVersion()
        if current > MarketplaceSchema.latestVersion {
            throw StoreError(.schemaTooNew, "the store's schema version \(current) is newer than this program's "
                             + "(\(MarketplaceSchema.latestVersion)); upgrade agentshop", path: path)
        }
        for migration in MarketplaceSchema.migrations where migration.version > current {
            try database.transaction(.exclusive) {
                // Re-read inside the lock: another process may have migrated meanwhile.
                guard try database.userVersion() < migration.version else { return }
                do {
                    try database.execute(migration.sql)
                } catch let error as StoreError {
                    throw StoreError(.migration, "migration \(migration.version) (\(migration.name)) failed",
                                     sql: error.sql, cause: error.cause, resultCode: error.resultCode, path: path)
                }
                try database.setUserVersion(migration.version)
                applied.append(migration.version)
            }
            logger.info("store migrated", metadata: ["version": "\(migration.version)", "name": "\(migration.name)"])
        }
        return applied
    }

    /// What `agentshop db status` prints.
    public struct Status: Sendable {
        public var path: String
        public var schemaVersion: Int
        public var latestVersion: Int
        public var pendingMigrations: [Int]
        /// Rows per table, tables in name order.
        public var tables: [(name: String, rows: Int)]
        public var views: [String]
        /// Size of the database file plus its WAL.
        public var bytes: Int64
        public var journalMode: String
        public var sqliteVersion: String
    }

    public func status() throws -> Status {
        let version = try schemaVersion()
        let tables = try tableNames()
        var counts: [(String, Int)] = []
        for table in tables {
            let n = try database.scalar("SELECT count(*) FROM \(SQLLiteral.quoteName(table))")?.int64 ?? 0
            counts.append((table, Int(n)))
        }
        let views = try database.rows("SELECT name FROM sqlite_schema WHERE type = 'view' ORDER BY name")
            .compactMap { $0[0].string }
        let fm = FileManager.default
        let size = ((try? fm.attributesOfItem(atPath: path)[.size] as? Int64) ?? 0)
            + ((try? fm.attributesOfItem(atPath: path + "-wal")[.size] as? Int64) ?? 0)
        return Status(path: path, schemaVersion: version, latestVersion: MarketplaceSchema.latestVersion,
                      pendingMigrations: MarketplaceSchema.migrations.map(\.version).filter { $0 > version },
                      tables: counts, views: views, bytes: size,
                      journalMode: try database.scalar("PRAGMA journal_mode")?.string ?? "",
                      sqliteVersion: Database.sqliteVersion)
    }

    /// Ordinary tables (no `sqlite_` internals, no FTS shadow tables), by name.
    public func tableNames() throws -> [String] {
        try StoreCatalog.userTables(in: database)
    }
}

/// Reads a database's own schema: tables, columns and unique keys.
public enum StoreCatalog {
    /// A column as `PRAGMA table_info` describes it.
    public struct Column: Sendable, Hashable {
        public let name: String
        public let declaredType: String
        public let notNull: Bool
        public let hasDefault: Bool
        /// Position in the primary key (1-based), 0 when not part of it.
        public let primaryKeyIndex: Int
    }

    public struct Table: Sendable {
        public let name: String
        public let columns: [Column]
        /// Column sets with a UNIQUE constraint or index, or forming the primary key:
        /// what `ON CONFLICT (…)` may name.
        public let uniqueKeys: [[String]]

        public func column(_ name: String) -> Column? { columns.first { $0.name == name } }
    }

    /// Ordinary tables of `database`: no `sqlite_` internals, no virtual-table shadow tables.
    public static func userTables(in database: Database) throws -> [String] {
        try database.rows("""
            SELECT name FROM sqlite_schema
            WHERE type = 'table' AND name NOT LIKE 'sqlite\\_%' ESCAPE '\\'
              AND sql NOT LIKE 'CREATE VIRTUAL TABLE%'
            ORDER BY name
            """).compactMap { $0[0].string }.filter { name in !(try isShadowTable(name, in: database)) }
    }

    /// Whether `name` is a shadow table of a virtual table (FTS5 `_data`, `_idx`…).
    static func isShadowTable(_ name: String, in database: Database) throws -> Bool {
        let type = try database.scalar("SELECT type FROM pragma_table_list WHERE schema = 'main' AND name = ?",
                                       [.text(name)])
        return type?.string == "shadow"
    }

    /// The table's columns and unique keys, or nil when there is no such table.
    public static func table(_ name: String, in database: Database) throws -> Table? {
        let exists = try database.scalar("SELECT 1 FROM sqlite_schema WHERE type = 'table' AND name = ?", [.text(name)])
        guard exists != nil else { return nil }
        let columns = try database.rows("SELECT name, type, \"notnull\", dflt_value, pk FROM pragma_table_info(?)",
                                        [.text(name)]).map { row in
            Column(name: row[0].string ?? "", declaredType: row[1].string ?? "", notNull: row[2].int64 == 1,
                   hasDefault: !row[3].isNull, primaryKeyIndex: Int(row[4].int64 ?? 0))
        }
        var keys: [[String]] = []
        let pk = columns.filter { $0.primaryKeyIndex > 0 }.sorted { $0.primaryKeyIndex < $1.primaryKeyIndex }.map(\.name)
        if !pk.isEmpty { keys.append(pk) }
        for index in try database.rows("SELECT name FROM pragma_index_list(?) WHERE \"unique\" = 1 AND partial = 0",
                                       [.text(name)]) {
            guard let indexName = index[0].string else { continue }
            let cols = try database.rows("SELECT name FROM pragma_index_info(?) ORDER BY seqno", [.text(indexName)])
                .compactMap { $0[0].string }
            if !cols.isEmpty && !keys.contains(cols) { keys.append(cols) }
        }
        return Table(name: name, columns: columns, uniqueKeys: keys)
    }

    /// The marketplace schema's tables, read from a migrated in-memory database once, so that
    /// configuration can be checked without opening the user's store.
    public static let marketplace: [String: Table] = {
        do {
            let database = try Database(path: ":memory:")
            let store = Store(database: database, logger: Logger(label: "agentshop.store.catalog"))
            try store.migrate()
            var tables: [String: Table] = [:]
            for name in try userTables(in: database) { tables[name] = try table(name, in: database) }
            return tables
        } catch {
            fatalError("the built-in marketplace schema does not load: \(error)")
        }
    }()
}
