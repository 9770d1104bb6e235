import Foundation
import Lake
import Logging
import Pipeline
import Store

/// `materialize` into a PostgreSQL store (`AGENTSHOP_STORE_URL=postgres://…`): the same records
/// become the same rows as in SQLite, written in batches of `INSERT … ON CONFLICT DO UPDATE` that
/// skip rows equal to the stored ones, in one transaction.
///
/// Not yet on PostgreSQL: `create: true` (tables of your own). With `on_invalid: skip`, a record the
/// server refuses (a constraint, a value its column does not take) goes to the rejects file: its batch
/// is retried row by row.
extension MaterializeDefinition {
    /// The PostgreSQL store the environment names (`AGENTSHOP_STORE_URL`), nil for the SQLite store.
    static func postgresStore(_ environment: [String: String], lake: Lake) throws -> StoreLocation? {
        let location = try StoreLocation.resolve(nil, environment: environment, defaultPath: lake.storePath)
        return location.postgresURL == nil ? nil : location
    }

    func runPostgres(_ context: StageContext, location: StoreLocation) throws -> StageReport {
        guard let url = location.postgresURL else { throw StageError("not a PostgreSQL store: \(location)") }
        guard !create else {
            throw StageError("create: true (a table of your own) is not supported yet with a PostgreSQL store (\(location))")
        }
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
        let details = JSONObject([
            ("table", .string(table)), ("mode", .string(mode.rawValue)), ("store", .string(location.description)),
        ])
        return StageReport(counts: report, details: .object(details))
    }

    /// `load`, into PostgreSQL: one transaction, rows in batches.
    func loadPostgres(_ files: [LakePath], into store: PostgresStore, rejects: RejectsFile?,
                      progress: (Int) -> Void = { _ in }) throws -> Load {
        var recordsIn = 0
        var rejected = 0
        var filteredOut = 0
        func reject(_ file: LakePath, _ line: Int, _ reason: String, _ record: JSONObject) throws {
            guard skipInvalid else { throw StageError("\(file.relative):\(line): \(reason)") }
            rejected += 1
            try rejects?.add(RejectedRecord(file: file.relative, line: line, reason: reason,
                                            raw: JSONValue.object(record).serialized()))
        }
        let counts: TableLoader.Counts = try store.transaction {
            let loader = try store.loader(table: table, keys: keys, mode: mode)
            let tableColumns = Set(loader.table.columns.map(\.name))
            let resolver = try ReferenceResolver(references, table: table, tableColumns: tableColumns) { index, key in
                try store.id(in: references[index].table, where: references[index].key, equals: key)
            }
            for file in files {
                let reader = try RecordReader(path: file.absolute, displayPath: file.relative, inferTypes: true)
                while let record = try reader.next() {
                    recordsIn += 1
                    if let filter, !Self.holds(filter, for: record) {
                        filteredOut += 1
                        continue
                    }
                    do {
                        var row = try values(for: record, tableColumns: tableColumns)
                        try resolver.add(to: &row, from: record)
                        let line = reader.line
                        try loader.write(row, refused: skipInvalid ? { reason in try reject(file, line, reason, record) } : nil)
                    } catch let failure as RecordFailure {
                        try reject(file, reader.line, failure.message, record)
                    }
                    if recordsIn % 10_000 == 0 { progress(recordsIn) }
                }
            }
            return try loader.finish()
        }
        try rejects?.commit()  // dropped unpublished when the load throws
        return Load(counts: counts, recordsIn: recordsIn, rejected: rejected, filteredOut: filteredOut)
    }
}
