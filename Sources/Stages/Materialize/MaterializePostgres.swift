import Foundation
import Lake
import Logging
import Pipeline
import Store

/// `materialize` into a PostgreSQL store (`AGENTSHOP_STORE_URL=postgres://…`): the same records
/// become the same rows as in SQLite, written in batches of `INSERT … ON CONFLICT DO UPDATE` that
/// skip rows equal to the stored ones, in one transaction.
///
/// `create: true` makes a table of the user's own as with SQLite (`RecordRows.inferUserColumns`), in PostgreSQL's
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
        let rows = recordRows
        let counts: TableLoader.Counts = try store.transaction {
            if create { shape = try rows.prepareUserTable(files, in: store) }
            let loader = try store.loader(table: table, keys: keys, mode: mode)
            let resolver = try ReferenceResolver(references, table: table, tableColumns: Set(loader.table.columns.map(\.name))) { index, key in
                try store.id(in: references[index].table, where: references[index].key, equals: key)
            }
            (recordsIn, filteredOut) = try rows.writeRecords(files, into: loader, resolver: resolver, progress: progress,
                                                             reject: rejected.add)
            return try loader.finish()
        }
        try rejects?.commit()  // dropped unpublished when the load throws
        return Load(counts: counts, recordsIn: recordsIn, rejected: rejected.count, filteredOut: filteredOut,
                    tableCreated: shape.created, columnsAdded: shape.added)
    }
}
