import Foundation
import Lake
import Logging
import Postgres

/// The marketplace store in a PostgreSQL database: the same tables as the SQLite store
/// (`PostgresSchema`), migrated through `schema_migrations`, written with `PostgresTableLoader`.
///
/// Not `Sendable` (it owns a connection). Concurrent writers are PostgreSQL's business: each load
/// is one transaction, and migrations take an advisory lock so that two processes never apply one twice.
public final class PostgresStore {
    public let connection: PGConnection
    public let logger: Logger
    public var url: PostgresURL { connection.url }

    /// The advisory lock key migrations hold (any 64-bit number other programs are unlikely to use).
    static let migrationLock: Int64 = 0x4167_5368_6F70_0001

    public init(connection: PGConnection, logger: Logger = Logger(label: "agentshop.store")) {
        self.connection = connection
        self.logger = logger
    }

    /// Connects to `url`. Does not migrate.
    public static func open(url: PostgresURL, logger: Logger = Logger(label: "agentshop.store")) throws -> PostgresStore {
        PostgresStore(connection: try PGConnection(url: url, applicationName: "agentshop"), logger: logger)
    }

    /// Connects to `url` and brings its schema up to date.
    public static func openMigrated(url: PostgresURL, logger: Logger = Logger(label: "agentshop.store")) throws -> PostgresStore {
        let store = try open(url: url, logger: logger)
        try store.migrate()
        return store
    }

    /// Runs `body` in one transaction: committed when it returns, rolled back when it throws.
    public func transaction<T>(_ body: () throws -> T) throws -> T { try connection.transaction(body) }

    /// A loader for `table` by `keys` (see `PostgresTableLoader`); use it inside `transaction`.
    public func loader(table: String, keys: [String], mode: TableLoader.Mode) throws -> PostgresTableLoader {
        try PostgresTableLoader(connection: connection, table: table, keys: keys, mode: mode)
    }

    /// The `id` of the row of `table` whose `column` equals `value`, nil when there is none.
    public func id(in table: String, where column: String, equals value: SQLValue) throws -> Int64? {
        let table = try SQLIdentifier(table), column = try SQLIdentifier(column)
        return try connection.scalar("SELECT id FROM \(table.quoted) WHERE \(column.quoted) = $1 LIMIT 1",
                                     [PostgresTableLoader.text(value)]).flatMap { Int64($0) }
    }

    /// The newest migration applied, 0 for a database without the schema.
    public func schemaVersion() throws -> Int {
        guard try connection.scalar("SELECT to_regclass($1)", [PostgresSchema.migrationsTable]) != nil else { return 0 }
        return Int(try connection.scalar("SELECT coalesce(max(version), 0) FROM \(PostgresSchema.migrationsTable)") ?? "0") ?? 0
    }

    /// Applies every pending migration, each in its own transaction under an advisory lock. Returns
    /// the versions applied. Refuses a database whose schema is newer than this program knows.
    @discardableResult
    public func migrate() throws -> [Int] {
        var applied: [Int] = []
        for migration in PostgresSchema.migrations {
            let done: Bool = try connection.transaction {
                try connection.run("SELECT pg_advisory_xact_lock(\(Self.migrationLock))")
                try connection.execute("""
                    CREATE TABLE IF NOT EXISTS \(PostgresSchema.migrationsTable) (
                        version     INTEGER PRIMARY KEY,
                        name        TEXT NOT NULL,
                        applied_at  TIMESTAMPTZ NOT NULL DEFAULT now()
                    )
                    """)
                // Read under the lock: another process may have migrated meanwhile.
                let current = try schemaVersion()
                if current > PostgresSchema.latestVersion {
                    throw StoreError(.schemaTooNew, "the store's schema version \(current) is newer than this program's "
                                     + "(\(PostgresSchema.latestVersion)); upgrade agentshop", path: url.redacted)
                }
                guard current < migration.version else { return false }
                do {
                    try connection.execute(migration.sql)
                } catch let error as PGError {
                    throw StoreError(.migration, "migration \(migration.version) (\(migration.name)) failed",
                                     sql: error.sql.map { String($0.prefix(300)) }, cause: error.message, path: url.redacted)
                }
                try connection.run("INSERT INTO \(PostgresSchema.migrationsTable) (version, name) VALUES ($1, $2)",
                                   ["\(migration.version)", migration.name])
                return true
            }
            if done {
                applied.append(migration.version)
                logger.info("store migrated", metadata: ["version": "\(migration.version)", "name": "\(migration.name)",
                                                         "store": "\(url.redacted)"])
            }
        }
        return applied
    }

    /// What `agentshop db status` prints for a PostgreSQL store.
    public struct Status: Sendable {
        /// The URL, redacted.
        public var url: String
        public var schemaVersion: Int
        public var latestVersion: Int
        public var pendingMigrations: [Int]
        /// Rows per table, tables in name order.
        public var tables: [(name: String, rows: Int)]
        public var views: [String]
        /// `pg_database_size` of the database.
        public var bytes: Int64
        public var serverVersion: String
    }

    public func status() throws -> Status {
        let version = try schemaVersion()
        var counts: [(String, Int)] = []
        for table in try tableNames() {
            let n = try connection.scalar("SELECT count(*) FROM \(SQLLiteral.quoteName(table))") ?? "0"
            counts.append((table, Int(n) ?? 0))
        }
        let views = try connection.query("""
            SELECT table_name FROM information_schema.views WHERE table_schema = current_schema() ORDER BY table_name
            """).compactMap { $0[0] }
        return Status(url: url.redacted, schemaVersion: version, latestVersion: PostgresSchema.latestVersion,
                      pendingMigrations: PostgresSchema.migrations.map(\.version).filter { $0 > version },
                      tables: counts, views: views,
                      bytes: Int64(try connection.scalar("SELECT pg_database_size(current_database())") ?? "0") ?? 0,
                      serverVersion: try connection.scalar("SHOW server_version") ?? "")
    }

    /// Ordinary tables of the current schema, by name, without `schema_migrations`.
    public func tableNames() throws -> [String] {
        try connection.query("""
            SELECT c.relname FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
            WHERE n.nspname = current_schema() AND c.relkind IN ('r', 'p') AND c.relname <> $1
            ORDER BY c.relname
            """, [PostgresSchema.migrationsTable]).compactMap { $0[0] }
    }

    /// The table's columns (with PostgreSQL's type names) and unique keys, or nil when there is no such table.
    public func table(_ name: String) throws -> StoreCatalog.Table? {
        let identifier = try SQLIdentifier(name)
        guard let oid = try connection.scalar("""
            SELECT c.oid FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
            WHERE n.nspname = current_schema() AND c.relname = $1 AND c.relkind IN ('r', 'p')
            """, [identifier.name]) else { return nil }
        let primary = try connection.query("""
            SELECT a.attname FROM pg_index i
            JOIN LATERAL unnest(i.indkey) WITH ORDINALITY k(attnum, n) ON true
            JOIN pg_attribute a ON a.attrelid = i.indrelid AND a.attnum = k.attnum
            WHERE i.indrelid = $1::oid AND i.indisprimary ORDER BY k.n
            """, [oid]).compactMap { $0[0] }
        let columns = try connection.query("""
            SELECT a.attname, format_type(a.atttypid, a.atttypmod), a.attnotnull, a.atthasdef OR a.attidentity <> ''
            FROM pg_attribute a WHERE a.attrelid = $1::oid AND a.attnum > 0 AND NOT a.attisdropped ORDER BY a.attnum
            """, [oid]).map { row in
            StoreCatalog.Column(name: row[0] ?? "", declaredType: row[1] ?? "", notNull: row[2] == "t", hasDefault: row[3] == "t",
                                primaryKeyIndex: (primary.firstIndex(of: row[0] ?? "") ?? -1) + 1)
        }
        var keys: [[String]] = primary.isEmpty ? [] : [primary]
        let unique = try connection.query("""
            SELECT i.indexrelid, array_to_string(array(
                SELECT a.attname FROM unnest(i.indkey) WITH ORDINALITY k(attnum, n)
                JOIN pg_attribute a ON a.attrelid = i.indrelid AND a.attnum = k.attnum ORDER BY k.n), ',')
            FROM pg_index i
            WHERE i.indrelid = $1::oid AND i.indisunique AND NOT i.indisprimary AND i.indpred IS NULL AND i.indexprs IS NULL
            ORDER BY i.indexrelid
            """, [oid])
        for row in unique {
            let key = (row[1] ?? "").split(separator: ",").map(String.init)
            if !key.isEmpty && !keys.contains(key) { keys.append(key) }
        }
        return StoreCatalog.Table(name: identifier.name, columns: columns, uniqueKeys: keys)
    }
}
