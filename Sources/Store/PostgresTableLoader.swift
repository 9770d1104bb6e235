import Foundation
import Postgres

/// Writes rows into one table of a PostgreSQL store by key, in batches: one
/// `INSERT … VALUES (…), (…) ON CONFLICT (key) DO UPDATE SET … WHERE <the row differs>` per batch,
/// with `RETURNING (xmax = 0)` telling inserted rows from updated ones. A row equal to the stored one
/// is not written at all (no new row version, no `updated_at` stamp), so a rerun with nothing changed
/// writes nothing. The same modes and counts as the SQLite `TableLoader`.
///
/// Values travel as text with a cast to the column's type (`$3::bigint`), so `SQLValue`s made for
/// SQLite load as they are: `1`/`0` into a boolean, ISO 8601 text into a `timestamptz`, JSON text into `jsonb`.
/// The caller owns the transaction: wrap every `write` and the `finish` in one `PGConnection.transaction`.
public final class PostgresTableLoader {
    public typealias Mode = TableLoader.Mode
    public typealias Counts = TableLoader.Counts

    public let connection: PGConnection
    public let table: StoreCatalog.Table
    public let keys: [String]
    public let mode: Mode
    public private(set) var counts = Counts()
    /// Rows per statement at most (PostgreSQL takes up to 65535 parameters per statement).
    public let batchSize: Int

    private let quotedTable: String
    private var pendingColumns: [String] = []
    private var pending: [[SQLValue]] = []
    private var pendingKeys: Set<[String?]> = []
    private var pendingRefusals: [((String) throws -> Void)?] = []
    private var seenTableReady = false
    private static let seenTable = "agentshop_loader_seen"

    /// - Parameter keys: a unique key of the table (required for upsert and replace).
    public init(connection: PGConnection, table name: String, keys: [String], mode: Mode, batchSize: Int = 500) throws {
        let identifier = try SQLIdentifier(name)
        for key in keys { _ = try SQLIdentifier(key) }
        let store = PostgresStore(connection: connection)
        guard let table = try store.table(identifier.name) else {
            throw StoreError(.notFound, "no table '\(name)' in the store", path: connection.url.redacted)
        }
        if mode != .append {
            guard !keys.isEmpty else { throw StoreError(.invalidIdentifier, "mode \(mode.rawValue) needs key columns") }
            guard table.uniqueKeys.contains(where: { Set($0) == Set(keys) }) else {
                let known = table.uniqueKeys.map { $0.joined(separator: ", ") }.joined(separator: "; ")
                throw StoreError(.invalidIdentifier, "(\(keys.joined(separator: ", "))) is not a unique key of '\(name)'",
                                 cause: "unique keys: \(known)")
            }
        }
        self.connection = connection
        self.table = table
        self.keys = keys
        self.mode = mode
        self.batchSize = max(1, batchSize)
        self.quotedTable = identifier.quoted
    }

    /// Adds one row to the current batch (written when the batch is full, its columns change, or its key
    /// is already in the batch). Columns must exist in the table; in upsert and replace modes they must
    /// include the keys.
    /// - Parameter refused: called with the server's message when the server refuses this row (a constraint, a
    ///   value its column's type does not take); the row is then left out and the load goes on. Without it, such
    ///   a row fails the load.
    public func write(_ row: [(column: String, value: SQLValue)], refused: ((String) throws -> Void)? = nil) throws {
        let columns = row.map(\.column)
        if columns != pendingColumns {
            try flush()
            try check(columns)
            pendingColumns = columns
        }
        let values = row.map(\.value)
        if mode != .append {
            if let nullKey = keys.first(where: { values[columns.firstIndex(of: $0)!].isNull }) {
                throw StoreError(.constraint, "key column '\(nullKey)' is null")
            }
            // One statement may not touch a row twice: a key seen again starts a new batch.
            let key = keys.map { Self.text(values[columns.firstIndex(of: $0)!]) }
            if pendingKeys.contains(key) { try flush() }
            pendingKeys.insert(key)
        }
        pending.append(values)
        pendingRefusals.append(refused)
        if pending.count >= min(batchSize, 60_000 / max(1, columns.count)) { try flush() }
    }

    /// Writes the current batch.
    public func flush() throws {
        guard !pending.isEmpty else { return }
        let rows = pending
        let refusals = pendingRefusals
        pending.removeAll(keepingCapacity: true)
        pendingRefusals.removeAll(keepingCapacity: true)
        pendingKeys.removeAll(keepingCapacity: true)
        guard refusals.contains(where: { $0 != nil }) else { return try write(rows) }
        // Rows may be refused one by one: the batch in a savepoint, and when the server refuses it, each
        // row in its own, so that only the refused rows are left out.
        do {
            return try connection.transaction { try write(rows) }
        } catch let error as PGError where Self.isRowProblem(error) {
            for (row, refused) in zip(rows, refusals) {
                do {
                    try connection.transaction { try write([row]) }
                } catch let error as PGError where Self.isRowProblem(error) {
                    guard let refused else { throw error }
                    try refused(error.detail.map { "\(error.message): \($0)" } ?? error.message)
                }
            }
        }
    }

    /// A data exception (class 22: a value the column's type does not take) or an integrity constraint
    /// violation (class 23): the row's fault, not the load's.
    static func isRowProblem(_ error: PGError) -> Bool {
        guard let state = error.sqlState else { return false }
        return state.hasPrefix("22") || state.hasPrefix("23")
    }

    private func write(_ rows: [[SQLValue]]) throws {
        let columns = pendingColumns
        let types = columns.map { column in table.column(column)?.declaredType ?? "text" }
        var parameters: [String?] = []
        parameters.reserveCapacity(rows.count * columns.count)
        var tuples: [String] = []
        tuples.reserveCapacity(rows.count)
        for row in rows {
            var placeholders: [String] = []
            for (value, type) in zip(row, types) {
                parameters.append(Self.text(value))
                placeholders.append("$\(parameters.count)::\(type)")
            }
            tuples.append("(" + placeholders.joined(separator: ", ") + ")")
        }
        let quoted = columns.map(SQLLiteral.quoteName)
        var sql = "INSERT INTO \(quotedTable) AS t (\(quoted.joined(separator: ", "))) VALUES " + tuples.joined(separator: ", ")
        if mode == .append {
            counts.inserted += try connection.run(sql, parameters)
            return
        }
        let keyList = keys.map(SQLLiteral.quoteName).joined(separator: ", ")
        let updatable = zip(columns, quoted).filter { !keys.contains($0.0) }.map(\.1)
        if updatable.isEmpty {
            sql += " ON CONFLICT (\(keyList)) DO NOTHING RETURNING true"
        } else {
            sql += " ON CONFLICT (\(keyList)) DO UPDATE SET "
                + updatable.map { "\($0) = EXCLUDED.\($0)" }.joined(separator: ", ")
                + " WHERE (" + updatable.map { "t.\($0)" }.joined(separator: ", ") + ") IS DISTINCT FROM ("
                + updatable.map { "EXCLUDED.\($0)" }.joined(separator: ", ") + ")"
                + " RETURNING (xmax = 0)"
        }
        let written = try connection.query(sql, parameters)
        let inserted = written.filter { $0[0] == "t" }.count
        counts.inserted += inserted
        counts.updated += written.count - inserted
        counts.unchanged += rows.count - written.count
        if mode == .replace {
            try ensureSeenTable()
            let keyIndexes = keys.map { columns.firstIndex(of: $0)! }
            try connection.copy("COPY \(Self.seenTable) (\(keyList)) FROM STDIN",
                                rows: rows.lazy.map { row in keyIndexes.map { Self.text(row[$0]) } })
        }
    }

    /// Writes the last batch; in replace mode deletes every row whose key was not written. Returns the counts.
    @discardableResult
    public func finish() throws -> Counts {
        try flush()
        if mode == .replace {
            try ensureSeenTable()
            let match = keys.map(SQLLiteral.quoteName).map { "s.\($0) = t.\($0)" }.joined(separator: " AND ")
            counts.deleted = try connection.run("""
                DELETE FROM \(quotedTable) AS t WHERE NOT EXISTS (SELECT 1 FROM \(Self.seenTable) s WHERE \(match))
                """)
            try connection.execute("DROP TABLE IF EXISTS \(Self.seenTable)")
            seenTableReady = false
        }
        return counts
    }

    private func check(_ columns: [String]) throws {
        for column in columns {
            _ = try SQLIdentifier(column)
            guard table.column(column) != nil else {
                throw StoreError(.invalidIdentifier, "table '\(table.name)' has no column '\(column)'",
                                 cause: "columns: " + table.columns.map(\.name).joined(separator: ", "))
            }
        }
        guard Set(columns).count == columns.count else {
            throw StoreError(.invalidIdentifier, "a column is written twice: \(columns.joined(separator: ", "))")
        }
        if mode != .append, let missing = keys.first(where: { !columns.contains($0) }) {
            throw StoreError(.invalidIdentifier, "the row has no value for key column '\(missing)'")
        }
    }

    private func ensureSeenTable() throws {
        guard !seenTableReady else { return }
        let keyList = keys.map(SQLLiteral.quoteName).joined(separator: ", ")
        try connection.execute("DROP TABLE IF EXISTS \(Self.seenTable)")
        // The key columns' own types, so that the comparison is the table's own equality.
        try connection.execute("CREATE TEMP TABLE \(Self.seenTable) AS SELECT \(keyList) FROM \(quotedTable) WITH NO DATA")
        seenTableReady = true
    }

    /// A value as PostgreSQL's text input reads it; nil is NULL.
    static func text(_ value: SQLValue) -> String? {
        switch value {
        case .null: return nil
        case .integer(let i): return String(i)
        case .real(let d): return d.isNaN ? "NaN" : d.isInfinite ? (d < 0 ? "-Infinity" : "Infinity") : "\(d)"
        case .text(let s): return s
        case .blob(let bytes): return "\\x" + bytes.map { String(format: "%02x", $0) }.joined()
        }
    }
}
