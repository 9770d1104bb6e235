import Foundation
import Lake
import Pipeline
import Store

/// The `dump` stage for a PostgreSQL store (`AGENTSHOP_STORE_URL=postgres://…`): `pg_dump --format=custom`
/// into the same folder, with a sidecar and the same retention (`PostgresDumps`). `format:` applies to
/// SQLite dumps only.
extension DumpDefinition {
    func runPostgres(_ context: StageContext, location: StoreLocation) throws -> StageReport {
        guard let url = location.postgresURL else { throw StageError("not a PostgreSQL store: \(location)") }
        let store = try PostgresStore.openMigrated(url: url, logger: context.logger)
        let catalog = DumpCatalog(lake: context.lake)
        let result = try PostgresDumps.dump(store, to: catalog.folder(frequency), logger: context.logger)
        let removed = try PostgresDumps.applyRetention(catalog, retention).filter { !$0.hasSuffix(DumpSidecar.suffix) }
            .map { JSONValue.string(($0 as NSString).lastPathComponent) }
        let file = JSONValue.object(JSONObject([
            ("path", .string("db_dumps/\(frequency.rawValue)/\(result.sidecar.file)")),
            ("format", .string(result.sidecar.format)),
            ("sha256", .string(result.sidecar.sha256)),
            ("bytes", .int(result.sidecar.bytes)),
            ("schema_version", .int(Int64(result.sidecar.schemaVersion))),
            ("store", .string(location.description)),
        ]))
        return StageReport(
            counts: ["dumps": 1, "rows": result.sidecar.tables.values.reduce(0, +), "bytes": Int(result.sidecar.bytes),
                     "expired": removed.count],
            details: .object(JSONObject([("files", .array([file])), ("expired", .array(removed))])))
    }
}
