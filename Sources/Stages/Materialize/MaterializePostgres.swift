import Foundation
import Lake
import Logging
import Pipeline
import Store

/// `materialize` into a PostgreSQL store (`AGENTSHOP_STORE_URL=postgres://…`): the same records
/// become the same rows as in SQLite, written in batches of `INSERT … ON CONFLICT DO UPDATE` that
/// skip rows equal to the stored ones, in one transaction.
///
/// `create: true` makes a table of the user's own as with SQLite (`inferUserColumns`), in PostgreSQL's
/// types. With `on_invalid: skip`, a record the server refuses (a constraint, a value its column does not
/// take) goes to the rejects file: its batch is retried row by row.
extension MaterializeDefinition {
    /// The PostgreSQL store the environment names (`AGENTSHOP_STORE_URL`), nil for the SQLite store.
    static func postgresStore(_ environment: [String: String], lake: Lake) throws -> StoreLocation? {
        let location = try StoreLocation.resolve(nil, environment: environment, defaultPath: lake.storePath)
        return location.postgresURL == nil ? nil : location
    }

    func runPostgres(_ context: StageContext, location: StoreLocation) throws -> StageReport {
        guard let url = location.postgresURL else { throw StageError("not a PostgreSQL store: \(location)") }
        let store = try PostgresStore.openMigrated(url: url, logger: context.logger)
        let load = try loadPostgres(context.allInputFiles, into: store, rejects: RejectsFile(path: context.rejectsPath, stage: context.stage),
                                    progress: { context.progress($0) })
        let counts = load.counts
        context.logger.info("materialized", metadata: [
            "table": "\(table)", "records": "\(load.recordsIn)", "inserted": "\(counts.inserted)",
            "updated": "\(counts.updated)", "unchanged": "\(counts.unchanged)", "deleted": "\(counts.deleted)",
            "store": "\(location)",
        ])
        var report: [String: Int] = ["records_in": load.recordsIn, "inserted": counts.inserted, "updated": counts.updated,
                                     "unchanged": counts.unchanged, "rejected": load.rejected]
        if mode == .replace { report["deleted"] = counts.deleted }
        if filter != nil { report["filtered_out"] = load.filteredOut }
        var details = JSONObject([
            ("table", .string(table)), ("mode", .string(mode.rawValue)), ("store", .string(location.description)),
        ])
        if !load.columnsAdded.isEmpty { details["columns_added"] = .array(load.columnsAdded.map { .string($0) }) }
        if load.tableCreated { details["table_created"] = .bool(true) }
        return StageReport(counts: report, details: .object(details))
    }

    /// `load`, into PostgreSQL: one transaction, rows in batches; the same record loop (`writeRecords`).
    func loadPostgres(_ files: [LakePath], into store: PostgresStore, rejects: RejectsFile?,
                      progress: (Int) -> Void = { _ in }) throws -> Load {
        var recordsIn = 0
        var filteredOut = 0
        let rejected = RejectedRecords(skip: skipInvalid, file: rejects)
        var shape = UserTableShape(created: false, added: [])
        let counts: TableLoader.Counts = try store.transaction {
            if create { shape = try prepareUserTable(files, in: store) }
            let loader = try store.loader(table: table, keys: keys, mode: mode)
            let resolver = try ReferenceResolver(references, table: table, tableColumns: Set(loader.table.columns.map(\.name))) { index, key in
                try store.id(in: references[index].table, where: references[index].key, equals: key)
            }
            (recordsIn, filteredOut) = try writeRecords(files, into: loader, resolver: resolver, progress: progress,
                                                        reject: rejected.add)
            return try loader.finish()
        }
        try rejects?.commit()  // dropped unpublished when the load throws
        return Load(counts: counts, recordsIn: recordsIn, rejected: rejected.count, filteredOut: filteredOut,
                    tableCreated: shape.created, columnsAdded: shape.added)
    }

    /// PostgreSQL's type for an inferred one ("" — only nulls seen — becomes text).
    static func postgresType(_ inferred: String) -> String {
        switch inferred {
        case "INTEGER": return "BIGINT"
        case "REAL": return "DOUBLE PRECISION"
        case "BLOB": return "BYTEA"
        default: return "TEXT"
        }
    }

    /// `prepareUserTable` for PostgreSQL: the same columns, inferred the same way, in its types; a
    /// reference column is a `BIGINT REFERENCES` the other table. Inside the load's transaction, so a
    /// failed load leaves no table behind.
    func prepareUserTable(_ files: [LakePath], in store: PostgresStore) throws -> UserTableShape {
        let existing = try store.table(table)
        let (order, types) = try inferUserColumns(files)
        func definition(_ column: String) -> String {
            var text = SQLLiteral.quoteName(column) + " " + Self.postgresType(types[column] ?? "")
            if let reference = references.first(where: { $0.column == column }) {
                text += " REFERENCES \(SQLLiteral.quoteName(reference.table))"
            }
            return text
        }
        let quotedTable = SQLLiteral.quoteName(table)
        guard let existing else {
            guard !order.isEmpty else {
                throw StageError("no record to infer the columns of '\(table)' from; declare them under 'columns'")
            }
            var parts = order.map(definition)
            if !keys.isEmpty { parts.append("UNIQUE (" + keys.map(SQLLiteral.quoteName).joined(separator: ", ") + ")") }
            try store.connection.execute("CREATE TABLE \(quotedTable) (\n    " + parts.joined(separator: ",\n    ") + "\n)")
            return UserTableShape(created: true, added: order)
        }
        let missing = order.filter { existing.column($0) == nil }
        for column in missing { try store.connection.execute("ALTER TABLE \(quotedTable) ADD COLUMN \(definition(column))") }
        if !keys.isEmpty && !existing.uniqueKeys.contains(where: { Set($0) == Set(keys) }) {
            let index = SQLLiteral.quoteName(table + "_" + keys.joined(separator: "_") + "_key")
            try store.connection.execute("CREATE UNIQUE INDEX \(index) ON \(quotedTable) ("
                                         + keys.map(SQLLiteral.quoteName).joined(separator: ", ") + ")")
        }
        return UserTableShape(created: false, added: missing)
    }
}
