import Foundation
import Lake
import Logging
import Pipeline
import Store

/// `materialize`: loads a lake dataset (JSONL or CSV, gzip or not) into a store table.
///
/// ```yaml
/// store:
///   materialize:
///     from: enriched                 # stages or lake paths / globs
///     table: products                # a table of the marketplace schema
///     key: slug                      # a unique key of the table (one column or a list)
///     mode: upsert                   # upsert (default) | replace | append
///     columns:                       # optional; without it, fields load into columns of the same name,
///                                    #   `price` into `price_cents` (as money), `tags` into `tags_json`,
///                                    #   and `id` only when it is the key
///       name: title                  # column: field (dotted paths reach into objects: offer.price)
///       price_cents: { from: price, type: money }
///     on_invalid: fail               # fail (default) | skip: bad records go to the stage's rejects file
///     busy_timeout: 30m              # how long to wait for another writer to finish (default 30m)
/// ```
///
/// The whole load is one transaction: readers see the table before or after, never half-way.
/// Counts (`inserted`, `updated`, `unchanged`, `deleted`, `rejected`) go into the run manifest.
public enum MaterializeStage {
    public static let kind = StageKind(
        name: "materialize",
        summary: "Loads a lake dataset into a store table (upsert, replace or append by key)",
        outputs: .none,
        configure: { config, context in MaterializeDefinition.read(config, context) })
}

/// One column of the target table and where its value comes from.
struct ColumnMapping: Sendable {
    let column: String
    /// Path of the field in the record: `price`, or `offer.price` for nested objects.
    let field: [String]
    let conversion: ColumnConversion
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

    static func read(_ config: ConfigValue, _ context: StageConfigContext) -> MaterializeDefinition? {
        guard config.expectMapping() else { return nil }
        let inputs = context.inputs(config.value("from", required: true))
        let mode = config.value("mode").flatMap { $0.asChoice(TableLoader.Mode.allCases.map(\.rawValue)) }
            .flatMap(TableLoader.Mode.init(rawValue:)) ?? .upsert

        var table: StoreCatalog.Table?
        var tableName: String?
        if let value = config.value("table", required: true), let name = value.asString() {
            tableName = name
            if let problem = SQLIdentifier.problem(with: name) {
                value.error("'\(name)' is not a valid table name: \(problem)")
            } else if let known = StoreCatalog.marketplace[name] {
                table = known
            } else {
                value.error("no table '\(name)' in the store\(Suggestion.didYouMean(name, in: StoreCatalog.marketplace.keys.sorted()))")
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
            if let table, !keys.isEmpty, !table.uniqueKeys.contains(where: { Set($0) == Set(keys) }) {
                let known = table.uniqueKeys.map { $0.count == 1 ? $0[0] : "[" + $0.joined(separator: ", ") + "]" }
                keyValue.error("(\(keys.joined(separator: ", "))) is not a unique key of '\(table.name)'; "
                               + "unique keys: \(known.joined(separator: ", "))")
            }
        } else if keyValue == nil && mode != .append {
            config.error("missing required key 'key' (the column or columns that identify a row; mode \(mode.rawValue))")
        }

        var columns: [ColumnMapping]?
        if let value = config.value("columns"), let entries = value.entries() {
            var mappings: [ColumnMapping] = []
            for (column, spec) in entries {
                if let problem = SQLIdentifier.problem(with: column) {
                    spec.error("'\(column)' is not a valid column name: \(problem)")
                    continue
                }
                if let table, table.column(column) == nil {
                    spec.error("table '\(table.name)' has no column '\(column)'" + Suggestion.didYouMean(column, in: table.columns.map(\.name)))
                    continue
                }
                if let mapping = readMapping(column: column, spec) { mappings.append(mapping) }
            }
            for key in keys where !mappings.contains(where: { $0.column == key }) && !entries.isEmpty {
                // A key not listed maps from the field of the same name.
                mappings.append(ColumnMapping(column: key, field: [key], conversion: .auto))
            }
            if entries.isEmpty { value.error("'columns' is empty; leave it out to load fields into columns of the same name") }
            columns = mappings
        }
        let skip = config.value("on_invalid").flatMap { $0.asChoice(["fail", "skip"]) } == "skip"
        let busyTimeout = config.duration("busy_timeout")
        config.rejectUnknownKeys()
        guard let inputs, let tableName, table != nil else { return nil }
        var definition = MaterializeDefinition(inputs: inputs, table: tableName, keys: keys, mode: mode, columns: columns,
                                               skipInvalid: skip)
        if let busyTimeout { definition.busyTimeout = busyTimeout }
        return definition
    }

    private static func readMapping(column: String, _ spec: ConfigValue) -> ColumnMapping? {
        if spec.isScalar {
            guard let field = spec.asString(), !field.isEmpty else { return nil }
            return ColumnMapping(column: column, field: field.split(separator: ".").map(String.init), conversion: .auto)
        }
        guard spec.expectMapping() else { return nil }
        let field = spec.string("from") ?? column
        let conversion = spec.value("type").flatMap { $0.asChoice(ColumnConversion.allCases.map(\.rawValue)) }
            .flatMap(ColumnConversion.init(rawValue:)) ?? .auto
        spec.rejectUnknownKeys()
        return ColumnMapping(column: column, field: field.split(separator: ".").map(String.init), conversion: conversion)
    }


    /// The store's identity: a restored or recreated store (a new file) makes the stage run again.
    func fingerprintExtra(lake: Lake) throws -> String {
        let attributes = try? FileManager.default.attributesOfItem(atPath: lake.storePath)
        let inode = (attributes?[.systemFileNumber] as? NSNumber)?.stringValue ?? "absent"
        return "store-inode:\(inode);schema:\(MarketplaceSchema.latestVersion)"
    }

    func run(_ context: StageContext) async throws -> StageReport {
        // One writer at a time: a second materialize stage waits for the first one's transaction.
        let load: Load
        do {
            let store = try Store.openMigrated(path: context.lake.storePath, busyTimeout: .milliseconds(Int64(busyTimeout * 1000)),
                                               logger: context.logger)
            load = try self.load(context.allInputFiles, into: store.database, rejectsPath: context.rejectsPath,
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
        return StageReport(counts: report, details: .object(JSONObject([
            ("table", .string(table)), ("mode", .string(mode.rawValue)),
            ("store", .string("store/agentshop.sqlite")),
        ])))
    }

    private static func seconds(_ value: Double) -> String {
        value >= 60 && value.truncatingRemainder(dividingBy: 60) == 0 ? "\(Int(value / 60))m" : "\(value)s"
    }

    struct Load {
        var counts: TableLoader.Counts
        var recordsIn = 0
        var rejected = 0
    }

    /// Loads `files` into the table in one transaction (a savepoint inside the caller's). Bad records
    /// fail the load, or with `on_invalid: skip` go to `rejectsPath` (nil: counted, not written).
    /// `db rebuild` replays recorded loads through here too, so both give the same rows.
    func load(_ files: [LakePath], into database: Database, rejectsPath: LakePath?,
              progress: (Int) -> Void = { _ in }) throws -> Load {
        var rejectsWriter: RecordWriter?
        var recordsIn = 0
        var rejected = 0
        func reject(_ file: LakePath, _ line: Int, _ reason: String, _ record: JSONObject) throws {
            guard skipInvalid else { throw StageError("\(file.relative):\(line): \(reason)") }
            rejected += 1
            guard let rejectsPath else { return }
            if rejectsWriter == nil { rejectsWriter = try RecordWriter(path: rejectsPath.absolute) }
            try rejectsWriter?.write(RejectedRecord(file: file.relative, line: line, reason: reason,
                                                    raw: JSONValue.object(record).serialized()).asRecord)
        }
        let counts: TableLoader.Counts = try database.transaction(.immediate) {
            let loader = try TableLoader(database: database, table: table, keys: keys, mode: mode)
            let tableColumns = Set(loader.table.columns.map(\.name))
            for file in files {
                let reader = try RecordReader(path: file.absolute, displayPath: file.relative, inferTypes: true)
                while let record = try reader.next() {
                    recordsIn += 1
                    do {
                        let row = try values(for: record, tableColumns: tableColumns)
                        try loader.write(row)
                    } catch let failure as RecordFailure {
                        try reject(file, reader.line, failure.message, record)
                    } catch let error as StoreError where StoreError.constraint ~= error {
                        try reject(file, reader.line, error.cause ?? error.reason, record)
                    }
                    if recordsIn % 10_000 == 0 { progress(recordsIn) }
                }
            }
            return try loader.finish()
        }
        try rejectsWriter?.commit()
        return Load(counts: counts, recordsIn: recordsIn, rejected: rejected)
    }

    struct RecordFailure: Error { let message: String }

    /// The row for `record`: mapped columns, or every field named like a column.
    func values(for record: JSONObject, tableColumns: Set<String>) throws -> [(column: String, value: SQLValue)] {
        var row: [(column: String, value: SQLValue)] = []
        if let columns {
            for mapping in columns {
                guard let value = Self.lookup(mapping.field, in: record) else {
                    if keys.contains(mapping.column) {
                        throw RecordFailure(message: "no field '\(mapping.field.joined(separator: "."))' for key column '\(mapping.column)'")
                    }
                    continue  // absent: the column keeps its default (insert) or its value (update)
                }
                row.append((mapping.column, try convert(value, mapping.conversion, mapping.column)))
            }
        } else {
            for entry in record {
                let key = entry.key
                if tableColumns.contains(key) {
                    // `id` is the store's own row number: loaded only when it is the key.
                    if key == "id" && !keys.contains("id") { continue }
                    row.append((key, try convert(entry.value, .auto, key)))
                } else if tableColumns.contains(key + "_cents") && record[key + "_cents"] == nil {
                    row.append((key + "_cents", try convert(entry.value, .money, key + "_cents")))
                } else if tableColumns.contains(key + "_json") && record[key + "_json"] == nil {
                    row.append((key + "_json", try convert(entry.value, .json, key + "_json")))
                }
            }
            if let missing = keys.first(where: { key in !row.contains { $0.column == key } }) {
                throw RecordFailure(message: "no field '\(missing)' for key column '\(missing)'")
            }
        }
        for key in keys where row.first(where: { $0.column == key })?.value.isNull == true {
            throw RecordFailure(message: "key column '\(key)' is null")
        }
        if row.isEmpty { throw RecordFailure(message: "no field matches a column of '\(table)'") }
        return row
    }

    private func convert(_ value: JSONValue, _ conversion: ColumnConversion, _ column: String) throws -> SQLValue {
        do { return try conversion.convert(value, column: column) } catch {
            throw RecordFailure(message: "column '\(column)': \(error.message)")
        }
    }

    static func lookup(_ path: [String], in record: JSONObject) -> JSONValue? {
        guard let first = path.first, var value = record[first] else { return nil }
        for part in path.dropFirst() {
            guard case .object(let object) = value, let next = object[part] else { return nil }
            value = next
        }
        return value
    }
}
