/// Writes rows into one table by key: `INSERT … ON CONFLICT (key) DO UPDATE`, counting what
/// each row did. Table and column names are checked against the database's own schema and
/// quoted; values are always bound, never spliced.
///
/// The caller owns the transaction: wrap every `write` and the `finish` in one
/// `Database.transaction` so that readers see all of a load or none of it.
public final class TableLoader {
    public enum Mode: String, Sendable, CaseIterable {
        /// Insert new keys, update changed rows, leave equal rows alone.
        case upsert
        /// As upsert, then delete rows whose key the load did not write.
        case replace
        /// Insert every row; a key conflict is an error.
        case append
    }

    public enum Outcome: Sendable { case inserted, updated, unchanged }

    public struct Counts: Sendable, Equatable {
        public var inserted = 0
        public var updated = 0
        public var unchanged = 0
        public var deleted = 0
        public init() {}
    }

    public let database: Database
    public let table: StoreCatalog.Table
    public let keys: [String]
    public let mode: Mode
    public private(set) var counts = Counts()
    private var statements: [[String]: (exists: Statement?, write: Statement, seen: Statement?)] = [:]
    private let quotedTable: String
    private var seenTableReady = false
    private static let seenTable = "temp.agentshop_loader_seen"

    /// - Parameter keys: a unique key of the table (required for upsert and replace).
    public init(database: Database, table name: String, keys: [String], mode: Mode) throws {
        let identifier = try SQLIdentifier(name)
        for key in keys { _ = try SQLIdentifier(key) }
        guard let table = try StoreCatalog.table(identifier.name, in: database) else {
            throw StoreError(.notFound, "no table '\(name)' in the store", path: database.path)
        }
        if mode != .append {
            guard !keys.isEmpty else {
                throw StoreError(.invalidIdentifier, "mode \(mode.rawValue) needs key columns")
            }
            guard table.uniqueKeys.contains(where: { Set($0) == Set(keys) }) else {
                let known = table.uniqueKeys.map { $0.joined(separator: ", ") }.joined(separator: "; ")
                throw StoreError(.invalidIdentifier, "(\(keys.joined(separator: ", "))) is not a unique key of '\(name)'",
                                 cause: "unique keys: \(known)")
            }
        }
        self.database = database
        self.table = table
        self.keys = keys
        self.mode = mode
        self.quotedTable = identifier.quoted
    }

    /// Writes one row. Columns must exist in the table; in upsert and replace modes they must include the keys.
    @discardableResult
    public func write(_ row: [(column: String, value: SQLValue)]) throws -> Outcome {
        let columns = row.map(\.column)
        let prepared = try statements[columns] ?? prepare(columns)
        let values = row.map(\.value)
        if mode == .append {
            try prepared.write.execute(values)
            counts.inserted += 1
            return .inserted
        }
        let keyValues = keys.map { key in values[columns.firstIndex(of: key)!] }
        if let nullKey = keys.first(where: { values[columns.firstIndex(of: $0)!].isNull }) {
            throw StoreError(.constraint, "key column '\(nullKey)' is null")
        }
        let probe = prepared.exists!
        try probe.bind(keyValues)
        let exists = try probe.step()
        probe.reset()
        let changed = try prepared.write.execute(values) > 0
        if let seen = prepared.seen { try seen.execute(keyValues) }
        let outcome: Outcome = !changed ? .unchanged : (exists ? .updated : .inserted)
        switch outcome {
        case .inserted: counts.inserted += 1
        case .updated: counts.updated += 1
        case .unchanged: counts.unchanged += 1
        }
        return outcome
    }

    /// In replace mode deletes every row whose key was not written. Returns the counts.
    @discardableResult
    public func finish() throws -> Counts {
        if mode == .replace {
            try ensureSeenTable()
            let keyList = keys.map(SQLLiteral.quoteName).joined(separator: ", ")
            let seenList = keys.indices.map { "k\($0)" }.joined(separator: ", ")
            counts.deleted = try database.run("""
                DELETE FROM \(quotedTable) WHERE (\(keyList)) NOT IN (SELECT \(seenList) FROM \(Self.seenTable))
                """)
            try database.execute("DROP TABLE IF EXISTS \(Self.seenTable)")
            seenTableReady = false
        }
        statements.removeAll()
        return counts
    }

    private func prepare(_ columns: [String]) throws -> (exists: Statement?, write: Statement, seen: Statement?) {
        var quoted: [String] = []
        for column in columns {
            let identifier = try SQLIdentifier(column)
            guard table.column(column) != nil else {
                throw StoreError(.invalidIdentifier, "table '\(table.name)' has no column '\(column)'",
                                 cause: "columns: " + table.columns.map(\.name).joined(separator: ", "))
            }
            quoted.append(identifier.quoted)
        }
        guard Set(columns).count == columns.count else {
            throw StoreError(.invalidIdentifier, "a column is written twice: \(columns.joined(separator: ", "))")
        }
        if mode != .append, let missing = keys.first(where: { !columns.contains($0) }) {
            throw StoreError(.invalidIdentifier, "the row has no value for key column '\(missing)'")
        }
        let placeholders = Array(repeating: "?", count: columns.count).joined(separator: ", ")
        var sql = "INSERT INTO \(quotedTable) (\(quoted.joined(separator: ", "))) VALUES (\(placeholders))"
        var exists: Statement?
        var seen: Statement?
        if mode != .append {
            let keyList = keys.map(SQLLiteral.quoteName)
            let updatable = zip(columns, quoted).filter { !keys.contains($0.0) }.map(\.1)
            if updatable.isEmpty {
                sql += " ON CONFLICT (\(keyList.joined(separator: ", "))) DO NOTHING"
            } else {
                // Only rows whose values differ are updated, so `changes()` tells updated from unchanged
                // and the updated_at triggers fire only for real changes.
                sql += " ON CONFLICT (\(keyList.joined(separator: ", "))) DO UPDATE SET "
                    + updatable.map { "\($0) = excluded.\($0)" }.joined(separator: ", ")
                    + " WHERE " + updatable.map { "\(quotedTable).\($0) IS NOT excluded.\($0)" }.joined(separator: " OR ")
            }
            exists = try database.prepare("SELECT 1 FROM \(quotedTable) WHERE "
                                          + keyList.map { "\($0) = ?" }.joined(separator: " AND "))
            if mode == .replace {
                try ensureSeenTable()
                let seenList = keys.indices.map { "k\($0)" }.joined(separator: ", ")
                seen = try database.prepare("INSERT INTO \(Self.seenTable) (\(seenList)) VALUES ("
                                            + keys.map { _ in "?" }.joined(separator: ", ") + ")")
            }
        }
        let prepared = (exists: exists, write: try database.prepare(sql), seen: seen)
        statements[columns] = prepared
        return prepared
    }

    private func ensureSeenTable() throws {
        guard !seenTableReady else { return }
        let columns = keys.indices.map { "k\($0)" }.joined(separator: ", ")
        try database.execute("DROP TABLE IF EXISTS \(Self.seenTable)")
        try database.execute("CREATE TABLE \(Self.seenTable) (\(columns))")
        seenTableReady = true
    }
}
