import Foundation
import Lake

// How records of the lake become rows of a store table, whatever the store: the column mapping, the
// references to other tables' rows, tables of the user's own (`create: true`), and the one record loop
// every load goes through. The `materialize` stage binds this to its config; `db rebuild` replays it.

/// One column of the target table and where its value comes from.
public struct ColumnMapping: Sendable {
    public let column: String
    /// Path of the field in the record: `price`, or `offer.price` for nested objects.
    public let field: DottedPath
    public let conversion: ColumnConversion

    public init(column: String, field: DottedPath, conversion: ColumnConversion) {
        self.column = column
        self.field = field
        self.conversion = conversion
    }
}

/// A column holding the id of a row of another table, found by a unique key of that table.
public struct ColumnReference: Sendable {
    public enum Missing: String, Sendable, CaseIterable { case fail, null }
    public let column: String
    public let table: String
    /// The unique column of `table` the field's value is looked up in.
    public let key: String
    public let field: DottedPath
    public let conversion: ColumnConversion
    public let missing: Missing

    public init(column: String, table: String, key: String, field: DottedPath, conversion: ColumnConversion, missing: Missing) {
        self.column = column
        self.table = table
        self.key = key
        self.field = field
        self.conversion = conversion
        self.missing = missing
    }
}

/// Why a load cannot go on (a table or column the load needs is not there): a message the user can act on.
public struct RecordLoadError: Error, CustomStringConvertible, Sendable {
    public let message: String
    public init(_ message: String) { self.message = message }
    public var description: String { message }
}

/// Why one record cannot become a row: the record is invalid (rejected, or it fails the load).
public struct RecordFailure: Error, Sendable {
    public let message: String
    public init(message: String) { self.message = message }
}

/// What a load did to the shape of a table of the user's own.
public struct UserTableShape: Sendable {
    public var created: Bool
    /// The columns the load created or added, in order.
    public var added: [String]

    public init(created: Bool, added: [String]) {
        self.created = created
        self.added = added
    }
}

/// How the records of a load become rows of `table`.
public struct RecordRows {
    public let table: String
    /// The unique key the rows are matched on (may be empty for `append`).
    public let keys: [String]
    /// nil: every record field whose name is a column of the table.
    public let columns: [ColumnMapping]?
    public let references: [ColumnReference]
    /// The table is the user's own: created and widened from the records.
    public let create: Bool
    /// Records for which this is false are not loaded (a `where:`); nil: every record.
    public let include: ((JSONObject) -> Bool)?

    public init(table: String, keys: [String], columns: [ColumnMapping]?, references: [ColumnReference], create: Bool,
                include: ((JSONObject) -> Bool)?) {
        self.table = table
        self.keys = keys
        self.columns = columns
        self.references = references
        self.create = create
        self.include = include
    }

    /// Reads every record of `files` and writes its row into `sink`: the filter, the column mapping, the
    /// references; a record that cannot become a row, or whose row the store refuses, goes to `reject` with
    /// its file and line. The one record loop of a load, whatever the store (`MaterializeRowSink`).
    public func writeRecords(_ files: [LakePath], into sink: some MaterializeRowSink, resolver: ReferenceResolver,
                             progress: (Int) -> Void,
                             reject: @escaping (_ file: LakePath, _ line: Int, _ reason: String, _ record: JSONObject) throws -> Void)
        throws -> (recordsIn: Int, filteredOut: Int) {
        let tableColumns = Set(sink.table.columns.map(\.name))
        var recordsIn = 0
        var filteredOut = 0
        for file in files {
            let reader = try RecordReader(path: file.absolute, displayPath: file.relative, inferTypes: true)
            while let record = try reader.next() {
                recordsIn += 1
                if let include, !include(record) {
                    filteredOut += 1
                    continue
                }
                let line = reader.line
                do {
                    var row = try values(for: record, tableColumns: tableColumns)
                    try resolver.add(to: &row, from: record)
                    try sink.load(row) { reason in try reject(file, line, reason, record) }
                } catch let failure as RecordFailure {
                    try reject(file, line, failure.message, record)
                }
                if recordsIn % 10_000 == 0 { progress(recordsIn) }
            }
        }
        return (recordsIn, filteredOut)
    }

    /// The row for `record`: mapped columns, or every field named like a column (every field, for a
    /// table of the user's own).
    public func values(for record: JSONObject, tableColumns: Set<String>) throws -> [(column: String, value: SQLValue)] {
        var row: [(column: String, value: SQLValue)] = []
        let referenced = Set(references.map(\.column))
        if let columns {
            for mapping in columns {
                guard let value = mapping.field.lookup(in: record) else {
                    if keys.contains(mapping.column) {
                        throw RecordFailure(message: "no field '\(mapping.field)' for key column '\(mapping.column)'")
                    }
                    continue  // absent: the column keeps its default (insert) or its value (update)
                }
                row.append((mapping.column, try convert(value, mapping.conversion, mapping.column)))
            }
        } else {
            for entry in record {
                let key = entry.key
                if referenced.contains(key) { continue }
                if tableColumns.contains(key) {
                    // `id` is the store's own row number: loaded only when it is the key.
                    if key == "id" && !keys.contains("id") && !create { continue }
                    row.append((key, try convert(entry.value, .auto, key)))
                } else if create {
                    continue  // a field that became no column (its name is not one SQL takes)
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

    // MARK: Tables of the user's own

    /// The SQL type a column declared with a `type:` gets, whatever the values ("" for `auto`: inferred).
    public static func declaredType(_ conversion: ColumnConversion) -> String {
        switch conversion {
        case .auto: return ""
        case .integer, .boolean, .money, .cents: return "INTEGER"
        case .real: return "REAL"
        case .text, .json, .date, .datetime, .slug: return "TEXT"
        }
    }

    /// The columns a table of the user's own gets, in order, with the type each is given ("" for none
    /// known: every value null): a first pass over the files (streamed) infers each column's type the way
    /// sqlite-utils does: INTEGER, REAL, or TEXT (lists and objects as JSON text); a declared `type:` wins.
    /// The same for every store; each writes it in its own dialect.
    public func inferUserColumns(_ files: [LakePath]) throws -> (order: [String], types: [String: String]) {
        var order: [String] = []
        var types: [String: String] = [:]
        func note(_ column: String, _ value: SQLValue) {
            if types[column] == nil { order.append(column); types[column] = "" }
            let kind: String
            switch value {
            case .null: return
            case .integer: kind = "INTEGER"
            case .real: kind = "REAL"
            case .text: kind = "TEXT"
            case .blob: kind = "BLOB"
            }
            if let mapping = columns?.first(where: { $0.column == column }), mapping.conversion != .auto { return }
            switch (types[column]!, kind) {
            case ("", _): types[column] = kind
            case ("INTEGER", "REAL"), ("REAL", "INTEGER"): types[column] = "REAL"
            case (let had, let now) where had != now: types[column] = "TEXT"
            default: break
            }
        }
        // Declared columns first, in their order, so that the table reads as the pipeline does.
        for mapping in columns ?? [] where types[mapping.column] == nil {
            order.append(mapping.column)
            types[mapping.column] = Self.declaredType(mapping.conversion)
        }
        for reference in references where types[reference.column] == nil {
            order.append(reference.column)
            types[reference.column] = "INTEGER"
        }
        for file in files {
            let reader = try RecordReader(path: file.absolute, displayPath: file.relative, inferTypes: true)
            while let record = try reader.next() {
                if let include, !include(record) { continue }
                if let columns {
                    for mapping in columns {
                        guard let value = mapping.field.lookup(in: record),
                              let converted = try? mapping.conversion.convert(value, column: mapping.column) else { continue }
                        note(mapping.column, converted)
                    }
                } else {
                    for entry in record where !references.contains(where: { $0.column == entry.key }) {
                        guard SQLIdentifier.problem(with: entry.key) == nil else {
                            throw RecordLoadError("\(file.relative):\(reader.line): field '\(entry.key)' cannot be a column name of "
                                             + "'\(table)'; list the columns under 'columns'")
                        }
                        if let converted = try? ColumnConversion.auto.convert(entry.value, column: entry.key) {
                            note(entry.key, converted)
                        }
                    }
                }
            }
        }
        for key in keys where types[key] == nil { order.append(key); types[key] = "" }
        return (order, types)
    }

    /// Creates the table, or adds the columns it lacks, from what the records hold (`inferUserColumns`).
    /// `key` becomes a UNIQUE constraint.
    public func prepareUserTable(_ files: [LakePath], in database: Database) throws -> UserTableShape {
        try prepareUserTable(files, existing: try StoreCatalog.table(table, in: database),
                             type: { inferred in inferred.flatMap { $0.isEmpty ? nil : $0 } },
                             execute: { try database.execute($0) })
    }

    /// PostgreSQL's type for an inferred one ("" — only nulls seen — becomes text).
    public static func postgresType(_ inferred: String) -> String {
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
    public func prepareUserTable(_ files: [LakePath], in store: PostgresStore) throws -> UserTableShape {
        try prepareUserTable(files, existing: try store.table(table), type: { Self.postgresType($0 ?? "") },
                             execute: { try store.connection.execute($0) })
    }

    /// Both stores' `prepareUserTable`: `type` gives a column's declared type from its inferred one (nil:
    /// none seen), nil for no declared type; `execute` runs one statement in the store.
    private func prepareUserTable(_ files: [LakePath], existing: StoreCatalog.Table?, type: (String?) -> String?,
                                  execute: (String) throws -> Void) throws -> UserTableShape {
        let (order, types) = try inferUserColumns(files)
        func definition(_ column: String) -> String {
            var text = SQLLiteral.quoteName(column)
            if let declared = type(types[column]) { text += " " + declared }
            if let reference = references.first(where: { $0.column == column }) {
                text += " REFERENCES \(SQLLiteral.quoteName(reference.table))"
            }
            return text
        }
        let quotedTable = SQLLiteral.quoteName(table)
        guard let existing else {
            guard !order.isEmpty else {
                throw RecordLoadError("no record to infer the columns of '\(table)' from; declare them under 'columns'")
            }
            var parts = order.map(definition)
            if !keys.isEmpty { parts.append("UNIQUE (" + keys.map(SQLLiteral.quoteName).joined(separator: ", ") + ")") }
            try execute("CREATE TABLE \(quotedTable) (\n    " + parts.joined(separator: ",\n    ") + "\n)")
            return UserTableShape(created: true, added: order)
        }
        let missing = order.filter { existing.column($0) == nil }
        for column in missing { try execute("ALTER TABLE \(quotedTable) ADD COLUMN \(definition(column))") }
        if !keys.isEmpty && !existing.uniqueKeys.contains(where: { Set($0) == Set(keys) }) {
            let index = SQLLiteral.quoteName(table + "_" + keys.joined(separator: "_") + "_key")
            try execute("CREATE UNIQUE INDEX \(index) ON \(quotedTable) (" + keys.map(SQLLiteral.quoteName).joined(separator: ", ") + ")")
        }
        return UserTableShape(created: false, added: missing)
    }
}

/// Finds the ids that reference columns hold, one prepared lookup per reference, remembering
/// what it found during one load (rows only appear during a load, so a found id stays right).
/// Fills a row's `references:` columns with the ids of the rows their keys name, remembering
/// each key's id; the store behind it answers one key at a time (`lookup`).
public final class ReferenceResolver {
    public let references: [ColumnReference]
    private let lookup: (_ index: Int, _ key: SQLValue) throws -> Int64?
    private var found: [[SQLValue: Int64]]

    /// For any store: checks that each reference names a column of `table`.
    public init(_ references: [ColumnReference], table: String, tableColumns: Set<String>,
                lookup: @escaping (_ index: Int, _ key: SQLValue) throws -> Int64?) throws {
        for reference in references where !tableColumns.contains(reference.column) {
            throw RecordLoadError("table '\(table)' has no column '\(reference.column)' (under references)")
        }
        self.references = references
        self.lookup = lookup
        self.found = Array(repeating: [:], count: references.count)
    }

    /// For the SQLite store: each referenced key must be a unique column; one prepared lookup per reference.
    public convenience init(_ references: [ColumnReference], table: String, tableColumns: Set<String>, in database: Database) throws {
        var lookups: [Statement] = []
        for reference in references where tableColumns.contains(reference.column) {
            guard let target = try StoreCatalog.table(reference.table, in: database) else {
                throw RecordLoadError("references.\(reference.column): no table '\(reference.table)' in the store")
            }
            guard target.column(reference.key) != nil, target.uniqueKeys.contains([reference.key]) else {
                throw RecordLoadError("references.\(reference.column): '\(reference.key)' is not a unique column of '\(reference.table)'")
            }
            lookups.append(try database.prepare("SELECT rowid FROM \(SQLLiteral.quoteName(reference.table)) WHERE "
                                                + "\(SQLLiteral.quoteName(reference.key)) = ?"))
        }
        try self.init(references, table: table, tableColumns: tableColumns) { index, key in
            let statement = lookups[index]
            try statement.bind([key])
            defer { statement.reset() }
            return try statement.step() ? statement.value(at: 0).int64 : nil
        }
    }

    public func add(to row: inout [(column: String, value: SQLValue)], from record: JSONObject) throws {
        for (index, reference) in references.enumerated() {
            guard let raw = reference.field.lookup(in: record) else { continue }
            let field = reference.field.description
            let key: SQLValue
            do { key = try reference.conversion.convert(raw, column: reference.key) } catch {
                throw RecordFailure(message: "references.\(reference.column): field '\(field)': \(error.message)")
            }
            if key.isNull {
                row.append((reference.column, .null))
                continue
            }
            if let id = found[index][key] {
                row.append((reference.column, .integer(id)))
                continue
            }
            if let hit = try lookup(index, key) {
                found[index][key] = hit
                row.append((reference.column, .integer(hit)))
            } else if reference.missing == .null {
                row.append((reference.column, .null))
            } else {
                throw RecordFailure(message: "references.\(reference.column): no row of '\(reference.table)' "
                                    + "with \(reference.key) = \(key) (from field '\(field)')")
            }
        }
    }
}

/// What the record loop (`RecordRows.writeRecords`) needs of a store's table loader, so that one loop
/// serves SQLite's `TableLoader` and `PostgresTableLoader`; each load keeps its own transaction and, for
/// `create: true`, its own DDL.
public protocol MaterializeRowSink {
    var table: StoreCatalog.Table { get }
    /// Writes `row`. When the store refuses this row alone (a constraint; in PostgreSQL also a value its
    /// column's type does not take), `refused` is told why, now or when the row's batch is written; it
    /// throws to fail the load.
    func load(_ row: [(column: String, value: SQLValue)], refused: @escaping (String) throws -> Void) throws
    func finish() throws -> TableLoader.Counts
}

extension TableLoader: MaterializeRowSink {
    public func load(_ row: [(column: String, value: SQLValue)], refused: @escaping (String) throws -> Void) throws {
        do { _ = try write(row) } catch let error as StoreError where StoreError.constraint ~= error {
            try refused(error.cause ?? error.reason)
        }
    }
}

extension PostgresTableLoader: MaterializeRowSink {
    /// A refused batch is written again row by row (each in a savepoint), so only the refused rows are told.
    public func load(_ row: [(column: String, value: SQLValue)], refused: @escaping (String) throws -> Void) throws {
        try write(row, refused: refused)
    }
}
