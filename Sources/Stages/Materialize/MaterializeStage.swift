import Foundation
import Lake
import Logging
import Pipeline
import Query
import Store

/// `materialize`: loads a lake dataset (JSONL or CSV, gzip or not) into a store table.
///
/// ```yaml
/// store:
///   materialize:
///     from: enriched                 # stages or lake paths / globs
///     table: products                # a table of the marketplace schema (or your own, with create: true)
///     key: slug                      # a unique key of the table (one column or a list)
///     mode: upsert                   # upsert (default) | replace | append
///     where: "price is not null"     # optional: only records for which this holds (aggregate's syntax)
///     columns:                       # optional; without it, fields load into columns of the same name,
///                                    #   `price` into `price_cents` (as money), `tags` into `tags_json`,
///                                    #   and `id` only when it is the key
///       name: title                  # column: field (dotted paths reach into objects: offer.price)
///       price_cents: { from: price, type: money }
///     references:                    # optional: a column holding the id of a row of another table,
///       category_id:                 #   found by that table's unique key
///         table: product_categories
///         key: slug                  # a unique column of that table
///         from: category             # the field holding the key's value (default: the column without _id)
///         type: slug                 # how the field becomes the key's value (a column type; default auto)
///         missing: fail              # fail (default: the record is invalid) | null
///     create: false                  # true: the table is your own; created (and new columns added) from
///                                    #   the records, types inferred, `key` made unique (like sqlite-utils insert)
///     on_invalid: fail               # fail (default) | skip: bad records go to the stage's rejects file
///     busy_timeout: 30m              # how long to wait for another writer to finish (default 30m)
/// ```
///
/// The whole load is one transaction: readers see the table before or after, never half-way.
/// Counts (`inserted`, `updated`, `unchanged`, `deleted`, `rejected`, `filtered_out`) go into the
/// run manifest. A row whose values are all equal to the stored ones is not written at all.
public enum MaterializeStage {
    public static let kind = StageKind(spec: spec) { config, context in MaterializeDefinition.read(config, context) }
}

struct MaterializeDefinition: StageDefinition {
    let inputs: [StageInput]
    let table: String
    let keys: [String]
    let mode: TableLoader.Mode
    /// nil: every record field whose name is a column of the table.
    let columns: [ColumnMapping]?
    let skipInvalid: Bool
    /// Seconds to wait for the store's write lock held by another process.
    var busyTimeout: Double = 1800
    var references: [ColumnReference] = []
    /// Records for which this does not hold are not loaded.
    var filter: FilterExpression?
    /// The table is the user's own: created and widened from the records.
    var create = false

    static func read(_ config: ConfigValue, _ context: StageConfigContext) -> MaterializeDefinition? {
        guard config.expectMapping() else { return nil }
        let inputs = context.inputs(config.value("from", required: true))
        let mode = config.value("mode").flatMap { $0.asChoice(TableLoader.Mode.allCases.map(\.rawValue)) }
            .flatMap(TableLoader.Mode.init(rawValue:)) ?? .upsert

        let create = config.bool("create") ?? false
        var table: StoreCatalog.Table?
        var tableName: String?
        var tableOK = false
        if let value = config.value("table", required: true), let name = value.asString() {
            tableName = name
            if let problem = SQLIdentifier.problem(with: name) {
                value.error("'\(name)' is not a valid table name: \(problem)")
            } else if let known = StoreCatalog.marketplace[name] {
                table = known
                tableOK = true
                if create {
                    config.value("create")?.error("'\(name)' is a table of the marketplace schema; create: true is for a table of your own")
                }
            } else if create {
                if name.lowercased().hasPrefix("sqlite_") {
                    value.error("'\(name)': names starting with sqlite_ are SQLite's own")
                } else if MarketplaceSchema.viewNames.contains(where: { $0.caseInsensitiveCompare(name) == .orderedSame }) {
                    value.error("'\(name)' is a view of the marketplace schema; choose another name for your table")
                } else {
                    tableOK = true
                }
            } else {
                value.error("no table '\(name)' in the store\(Suggestion.didYouMean(name, in: StoreCatalog.marketplace.keys.sorted()))"
                            + "; to load a table of your own, add create: true")
            }
        }

        var keys: [String] = []
        let keyValue = config.value("key")
        if let keyValue, let names = keyValue.asStrings() {
            keys = names
            for name in names {
                if let problem = SQLIdentifier.problem(with: name) {
                    keyValue.error("'\(name)' is not a valid column name: \(problem)")
                } else if let table, table.column(name) == nil {
                    keyValue.error("table '\(table.name)' has no column '\(name)'"
                                   + Suggestion.didYouMean(name, in: table.columns.map(\.name)))
                }
            }
            if Set(keys).count != keys.count { keyValue.error("a key column is listed twice") }
            if let table, !keys.isEmpty, !table.uniqueKeys.contains(where: { Set($0) == Set(keys) }) {
                let known = table.uniqueKeys.map { $0.count == 1 ? $0[0] : "[" + $0.joined(separator: ", ") + "]" }
                keyValue.error("(\(keys.joined(separator: ", "))) is not a unique key of '\(table.name)'; "
                               + "unique keys: \(known.joined(separator: ", "))")
            }
        } else if keyValue == nil && mode != .append {
            config.error("missing required key 'key' (the column or columns that identify a row; mode \(mode.rawValue))")
        }

        /// A valid name of a column of the table (when it exists already); else an error at `spec`.
        func isColumn(_ column: String, _ spec: ConfigValue) -> Bool {
            if let problem = SQLIdentifier.problem(with: column) {
                spec.error("'\(column)' is not a valid column name: \(problem)")
                return false
            }
            if let table, table.column(column) == nil {
                spec.error("table '\(table.name)' has no column '\(column)'" + Suggestion.didYouMean(column, in: table.columns.map(\.name)))
                return false
            }
            return true
        }

        var columns: [ColumnMapping]?
        if let value = config.value("columns"), let entries = value.entries() {
            var mappings: [ColumnMapping] = []
            for (column, spec) in entries {
                guard isColumn(column, spec) else { continue }
                if let mapping = readMapping(column: column, spec) { mappings.append(mapping) }
            }
            for key in keys where !mappings.contains(where: { $0.column == key }) && !entries.isEmpty {
                // A key not listed maps from the field of the same name.
                mappings.append(ColumnMapping(column: key, field: DottedPath([key]), conversion: .auto))
            }
            if entries.isEmpty { value.error("'columns' is empty; leave it out to load fields into columns of the same name") }
            columns = mappings
        }
        var references: [ColumnReference] = []
        if let value = config.value("references"), let entries = value.entries() {
            if entries.isEmpty { value.error("'references' is empty; leave it out") }
            for (column, spec) in entries {
                guard isColumn(column, spec) else { continue }
                if columns?.contains(where: { $0.column == column }) == true {
                    spec.error("column '\(column)' is also under 'columns'; give it in one place")
                    continue
                }
                if keys.contains(column) { spec.error("'\(column)' is a key column; a key is a value of the record, not a reference") }
                if let reference = readReference(column: column, spec) { references.append(reference) }
            }
        }

        var filter: FilterExpression?
        if let value = config.value("where"), let text = value.asString() {
            do throws(ExpressionError) { filter = try FilterExpression.parse(text) } catch {
                value.error(error.message, atOffset: error.offset)
            }
        }

        let skip = config.value("on_invalid").flatMap { $0.asChoice(["fail", "skip"]) } == "skip"
        let busyTimeout = config.duration("busy_timeout")
        guard let inputs, let tableName, tableOK else { return nil }
        var definition = MaterializeDefinition(inputs: inputs, table: tableName, keys: keys, mode: mode, columns: columns,
                                               skipInvalid: skip)
        if let busyTimeout { definition.busyTimeout = busyTimeout }
        definition.references = references
        definition.filter = filter
        definition.create = create
        return definition
    }

    /// `{ table: product_categories, key: slug, from: category, type: slug, missing: fail }`.
    private static func readReference(column: String, _ spec: ConfigValue) -> ColumnReference? {
        guard spec.expectMapping() else { return nil }
        var ok = true
        var target: StoreCatalog.Table?
        let tableName = spec.value("table", required: true).flatMap { value -> String? in
            guard let name = value.asString() else { return nil }
            if let problem = SQLIdentifier.problem(with: name) {
                value.error("'\(name)' is not a valid table name: \(problem)")
                ok = false
            } else if let known = StoreCatalog.marketplace[name] {
                target = known
                if !known.columns.contains(where: { $0.primaryKeyIndex == 1 && $0.declaredType.uppercased() == "INTEGER" }) {
                    value.error("table '\(name)' has no INTEGER PRIMARY KEY to refer to")
                    ok = false
                }
            }
            // Another name is a table of the user's own, made by another stage: checked when the stage runs.
            return name
        }
        let key = spec.value("key", required: true).flatMap { value -> String? in
            guard let name = value.asString() else { return nil }
            if let problem = SQLIdentifier.problem(with: name) {
                value.error("'\(name)' is not a valid column name: \(problem)")
                ok = false
            } else if let target {
                if target.column(name) == nil {
                    value.error("table '\(target.name)' has no column '\(name)'" + Suggestion.didYouMean(name, in: target.columns.map(\.name)))
                    ok = false
                } else if !target.uniqueKeys.contains([name]) {
                    let single = target.uniqueKeys.filter { $0.count == 1 }.map { $0[0] }
                    value.error("'\(name)' is not a unique column of '\(target.name)', so it may find several rows; "
                                + "unique columns: \(single.joined(separator: ", "))")
                    ok = false
                }
            }
            return name
        }
        var field: String? = spec.string("from")
        if spec.value("from") == nil {
            if column.hasSuffix("_id") && column.count > 3 {
                field = String(column.dropLast(3))
            } else {
                spec.error("missing required key 'from' (the field holding the value of '\(key ?? "key")')")
                ok = false
            }
        } else if field?.isEmpty == true {
            spec.value("from")?.error("expected a field name")
            ok = false
        }
        let conversion = spec.value("type").flatMap { $0.asChoice(ColumnConversion.allCases.map(\.rawValue)) }
            .flatMap(ColumnConversion.init(rawValue:)) ?? .auto
        if spec.value("type") != nil && spec.value("type")?.asString().flatMap(ColumnConversion.init(rawValue:)) == nil { ok = false }
        let missing = spec.value("missing").flatMap { $0.asChoice(ColumnReference.Missing.allCases.map(\.rawValue)) }
            .flatMap(ColumnReference.Missing.init(rawValue:)) ?? .fail
        spec.rejectUnknownKeys()
        guard ok, let tableName, let key, let field else { return nil }
        return ColumnReference(column: column, table: tableName, key: key, field: DottedPath(dotted: field),
                               conversion: conversion, missing: missing)
    }

    private static func readMapping(column: String, _ spec: ConfigValue) -> ColumnMapping? {
        if spec.isScalar {
            guard let field = spec.asString(), !field.isEmpty else { return nil }
            return ColumnMapping(column: column, field: DottedPath(dotted: field), conversion: .auto)
        }
        guard spec.expectMapping() else { return nil }
        let field = spec.string("from") ?? column
        let conversion = spec.value("type").flatMap { $0.asChoice(ColumnConversion.allCases.map(\.rawValue)) }
            .flatMap(ColumnConversion.init(rawValue:)) ?? .auto
        spec.rejectUnknownKeys()
        return ColumnMapping(column: column, field: DottedPath(dotted: field), conversion: conversion)
    }


    /// The store's identity: a restored or recreated store (a new file) makes the stage run again.
    func fingerprintExtra(lake: Lake) throws -> String {
        let attributes = try? FileManager.default.attributesOfItem(atPath: lake.storePath)
        let inode = (attributes?[.systemFileNumber] as? NSNumber)?.stringValue ?? "absent"
        // A PostgreSQL store (AGENTSHOP_STORE_URL) is another store: switching to it makes the stage run again.
        if let postgres = try? Self.postgresStore(ProcessInfo.processInfo.environment, lake: lake) {
            return "store:\(postgres);schema:\(PostgresSchema.latestVersion)"
        }
        return "store-inode:\(inode);schema:\(MarketplaceSchema.latestVersion)"
    }

    func run(_ context: StageContext) async throws -> StageReport {
        if let postgres = try Self.postgresStore(context.environment.variables, lake: context.lake) {
            return try runPostgres(context, location: postgres)
        }
        // One writer at a time: a second materialize stage waits for the first one's transaction.
        let load: Load
        do {
            let store = try Store.openMigrated(path: context.lake.storePath, busyTimeout: .milliseconds(Int64(busyTimeout * 1000)),
                                               logger: context.logger)
            load = try self.load(context.allInputFiles, into: store.database,
                                 rejects: RejectsFile(path: context.rejectsPath, stage: context.stage),
                                 progress: { context.progress($0) })
        } catch let error as StoreError where StoreError.busy ~= error {
            throw StageError("the store is locked by another writer and stayed locked for \(Self.seconds(busyTimeout)) "
                             + "(busy_timeout); nothing was loaded. Stop the other writer or raise busy_timeout")
        }
        let counts = load.counts
        context.logger.info("materialized", metadata: [
            "table": "\(table)", "records": "\(load.recordsIn)", "inserted": "\(counts.inserted)",
            "updated": "\(counts.updated)", "unchanged": "\(counts.unchanged)", "deleted": "\(counts.deleted)",
        ])
        var report: [String: Int] = ["records_in": load.recordsIn, "inserted": counts.inserted, "updated": counts.updated,
                                     "unchanged": counts.unchanged, "rejected": load.rejected]
        if mode == .replace { report["deleted"] = counts.deleted }
        if filter != nil { report["filtered_out"] = load.filteredOut }
        var details = JSONObject([
            ("table", .string(table)), ("mode", .string(mode.rawValue)),
            ("store", .string("store/agentshop.sqlite")),
        ])
        if !load.columnsAdded.isEmpty {
            details["columns_added"] = .array(load.columnsAdded.map { .string($0) })
        }
        if load.tableCreated { details["table_created"] = .bool(true) }
        return StageReport(counts: report, details: .object(details))
    }

    private static func seconds(_ value: Double) -> String {
        value >= 60 && value.truncatingRemainder(dividingBy: 60) == 0 ? "\(Int(value / 60))m" : "\(value)s"
    }

    struct Load {
        var counts: TableLoader.Counts
        var recordsIn = 0
        var rejected = 0
        var filteredOut = 0
        var tableCreated = false
        var columnsAdded: [String] = []
    }

    /// Loads `files` into the table in one transaction (a savepoint inside the caller's). Bad records
    /// fail the load, or with `on_invalid: skip` go to `rejects` (nil: counted, not written).
    /// `db rebuild` replays recorded loads through here too, so both give the same rows.
    func load(_ files: [LakePath], into database: Database, rejects: RejectsFile?,
              progress: (Int) -> Void = { _ in }) throws -> Load {
        var recordsIn = 0
        var filteredOut = 0
        let rejected = RejectedRecords(skip: skipInvalid, file: rejects)
        var shape = UserTableShape(created: false, added: [])
        let rows = recordRows
        let counts: TableLoader.Counts = try database.transaction(.immediate) {
            if create { shape = try rows.prepareUserTable(files, in: database) }
            let loader = try TableLoader(database: database, table: table, keys: keys, mode: mode)
            let resolver = try ReferenceResolver(references, table: table, tableColumns: Set(loader.table.columns.map(\.name)),
                                                 in: database)
            (recordsIn, filteredOut) = try rows.writeRecords(files, into: loader, resolver: resolver, progress: progress,
                                                             reject: rejected.add)
            return try loader.finish()
        }
        try rejects?.commit()  // dropped unpublished when the load throws
        return Load(counts: counts, recordsIn: recordsIn, rejected: rejected.count, filteredOut: filteredOut,
                    tableCreated: shape.created, columnsAdded: shape.added)
    }

    /// How this stage's records become rows (Store's `RecordRows`): the mapping, references and `where:`.
    var recordRows: RecordRows {
        RecordRows(table: table, keys: keys, columns: columns, references: references, create: create,
                   include: filter.map { filter in { Self.holds(filter, for: $0) } })
    }

    /// Records a load leaves out: with `on_invalid: skip` counted and written to the rejects file, else
    /// the load fails at the record's file and line.
    final class RejectedRecords {
        let skip: Bool
        let file: RejectsFile?
        private(set) var count = 0

        init(skip: Bool, file: RejectsFile?) {
            self.skip = skip
            self.file = file
        }

        func add(_ source: LakePath, _ line: Int, _ reason: String, _ record: JSONObject) throws {
            guard skip else { throw StageError("\(source.relative):\(line): \(reason)") }
            count += 1
            try file?.add(RejectedRecord(file: source.relative, line: line, reason: reason, raw: JSONValue.object(record).serialized()))
        }
    }

    static func holds(_ filter: FilterExpression, for record: JSONObject) -> Bool {
        let fields = filter.fields
        return filter.evaluate { fields[$0].value(in: record) } == true
    }
}
