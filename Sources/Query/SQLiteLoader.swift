import Foundation
import Lake
import Store

/// The type of a column loaded into SQLite from records.
public enum SQLColumnType: String, Sendable, CaseIterable {
    /// Integers and booleans (1 and 0).
    case integer
    case real
    case text
    /// Nested objects and arrays, stored as JSON text (SQLite's `json_extract` reads them).
    case json

    /// The column's declared SQLite type (its affinity).
    var declaration: String {
        switch self {
        case .integer: return "INTEGER"
        case .real: return "REAL"
        case .text, .json: return "TEXT"
        }
    }

    /// The type a value asks for; nil for null, which fits any column.
    static func of(_ value: JSONValue) -> SQLColumnType? {
        switch value {
        case .null: return nil
        case .bool, .int: return .integer
        case .bigInteger: return .text  // beyond SQLite's 64-bit INTEGER: its exact digits as TEXT
        case .double: return .real
        case .string: return .text
        case .array, .object: return .json
        }
    }

    /// The narrowest type holding values of both: integer → real → text; JSON with anything else is text.
    func widened(with other: SQLColumnType) -> SQLColumnType {
        if self == other { return self }
        switch (self, other) {
        case (.integer, .real), (.real, .integer): return .real
        default: return .text
        }
    }

    /// `value` as SQLite should store it in a column of this type.
    func sqlValue(_ value: JSONValue) -> SQLValue {
        switch (self, value) {
        case (_, .null): return .null
        case (.integer, .int(let i)): return .integer(i)
        case (.integer, .bool(let b)): return .integer(b ? 1 : 0)
        case (.real, .int(let i)): return .real(Double(i))
        case (.real, .bool(let b)): return .real(b ? 1 : 0)
        case (.integer, .double(let d)), (.real, .double(let d)): return .real(d)
        case (_, .string(let s)): return .text(s)  // in a numeric column SQLite's affinity converts numeric text
        case (_, .bigInteger(let digits)): return .text(digits)
        default: return .text(value.serialized())
        }
    }
}

/// A column of a loaded table.
public struct SQLColumn: Sendable, Equatable {
    public let name: String
    public let type: SQLColumnType

    public init(name: String, type: SQLColumnType) {
        self.name = name
        self.type = type
    }
}

/// Record files to load as one table.
public struct SQLTableSource: Sendable {
    public let table: SQLIdentifier
    /// Concatenated in order.
    public let files: [LakePath]
    /// The declared columns; inferred from every record when nil.
    public let declared: [SQLColumn]?

    public init(table: SQLIdentifier, files: [LakePath], declared: [SQLColumn]? = nil) {
        self.table = table
        self.files = files
        self.declared = declared
    }
}

/// What loading one table did.
public struct LoadedTable: Sendable {
    public let name: String
    public let columns: [SQLColumn]
    public let rows: Int
    public let rejected: Int
    public let files: [LakePath]
}

/// Loads JSONL/CSV record files (gzip or not) into tables of a private SQLite database and runs
/// queries over them: the engine of the `sql` stage and of `agentshop query`.
///
/// The database is SQLite's temporary one (an empty file name): in memory while small, spilled
/// to a private temporary file as it grows, deleted on close. Without a declared schema a table's
/// columns are the union of the keys of *all* records, in first-seen order, each typed by widening
/// over all its values (integer → real → text; objects and arrays are JSON text) — one pass to
/// infer, one to insert (`load`) or none (`declare`: the files are read while the query runs), so
/// memory does not grow with the data.
public final class SQLiteLoader {
    public let database: Database
    /// CSV cells become numbers, booleans and null (empty), as `import` does.
    public let inferCSVTypes: Bool
    /// Remembers each file's columns, so that `declare` does not read an unchanged file twice
    /// across queries. None by default: `agentshop query` gives the lake's.
    public var schemaCache: SchemaCache?

    public init(inferCSVTypes: Bool = true) throws {
        database = try Database(path: "", wal: false)
        self.inferCSVTypes = inferCSVTypes
        // A scratch database: losing it on a crash costs nothing, so no journal and no fsync.
        try database.execute("PRAGMA journal_mode = OFF; PRAGMA synchronous = OFF; PRAGMA temp_store = FILE")
    }

    /// Attaches the database file at `path` read-only under `schema` (`store`).
    public func attachReadOnly(path: String, as schema: SQLIdentifier) throws {
        var components = URLComponents()
        components.scheme = "file"
        components.path = path
        components.queryItems = [URLQueryItem(name: "mode", value: "ro")]
        let uri = components.string ?? "file:" + path + "?mode=ro"
        try database.run("ATTACH DATABASE ? AS \(schema.quoted)", [.text(uri)])
    }

    private func reader(_ file: LakePath, policy: MalformedPolicy,
                        onReject: @escaping (RejectedRecord) throws -> Void) throws -> RecordReader {
        guard let type = RecordFileType(path: file.relative) else {
            throw QueryError("cannot tell the format of \(file.relative): name it .csv, .jsonl or .ndjson (optionally .gz)")
        }
        return try RecordReader(path: file.absolute, displayPath: file.relative, type: type, policy: policy,
                                inferTypes: inferCSVTypes, readAhead: true, onReject: onReject)
    }

    /// The columns of `files`: every key of every record, in first-seen order, types widened
    /// over all values. A column holding only nulls is text.
    public func inferColumns(_ files: [LakePath], policy: MalformedPolicy) throws -> [SQLColumn] {
        try survey(files, policy: policy) { _ in }.columns
    }

    /// One pass over `files`: their columns (as `inferColumns`), records and rejects, each reject
    /// handed to `onReject`. JSONL is scanned without building values (`RecordReader.nextKinds`).
    /// A file `schemaCache` knows unchanged is not read at all.
    private func survey(_ files: [LakePath], policy: MalformedPolicy,
                        onReject: @escaping (RejectedRecord) throws -> Void) throws -> (columns: [SQLColumn], rows: Int, rejected: Int) {
        var schema = SchemaSurvey()
        var rows = 0
        var rejected = 0
        for file in files {
            let identity = schemaCache != nil ? SchemaCache.Identity.of(file.absolute) : nil
            if let identity, let known = schemaCache?.lookup(file.absolute, identity: identity, inferCSVTypes: inferCSVTypes) {
                for column in known.columns { schema.widen(schema.slot(of: column.name), column.type) }
                rows += known.rows
                continue
            }
            // Each file is surveyed on its own and merged: the same columns, in the same order, as
            // one survey over all of them (widening is associative), and a file's own to remember.
            var own = SchemaSurvey()
            let input = try reader(file, policy: policy, onReject: onReject)
            for name in input.columns { _ = own.slot(of: name) }
            if input.type.format == .jsonl {
                while try input.nextKinds({ key, kind in own.note(key, kind) }) {
                    own.endRecord()
                    if input.recordCount & 0x3FFF == 0 { try Task.checkCancellation() }
                }
            } else {
                while let record = try input.next() {
                    for entry in record { own.widen(own.slot(of: entry.key), SQLColumnType.of(entry.value)) }
                    if input.recordCount & 0x3FFF == 0 { try Task.checkCancellation() }
                }
            }
            for column in own.surveyed { schema.widen(schema.slot(of: column.name), column.type) }
            rows += input.recordCount
            rejected += input.rejectedCount
            // Remembered only when whole (no reject to report again) and unchanged while read.
            if let identity, input.rejectedCount == 0, SchemaCache.Identity.of(file.absolute) == identity {
                schemaCache?.store(file.absolute, SchemaCache.Entry(identity: identity, inferCSVTypes: inferCSVTypes,
                                                                    columns: own.surveyed, rows: input.recordCount, used: 0))
            }
        }
        schemaCache?.save()
        return (schema.columns, rows, rejected)
    }

    /// Creates the table and inserts every record of its files, in one transaction. Keys a declared
    /// schema does not name are left out; columns a record lacks are null.
    @discardableResult
    public func load(_ source: SQLTableSource, policy: MalformedPolicy = .fail,
                     onReject: @escaping (RejectedRecord) throws -> Void = { _ in }) throws -> LoadedTable {
        let columns = try source.declared ?? inferColumns(source.files, policy: policy)
        try createTable(source.table, columns)
        let (rows, rejected) = try insertRecords(of: source.files, into: source.table, columns, policy: policy, onReject: onReject)
        return LoadedTable(name: source.table.name, columns: columns, rows: rows, rejected: rejected, files: source.files)
    }

    /// Makes `source` a table without copying its records: one pass infers its columns (and hands
    /// rejects to `onReject`), and the table is a virtual one that reads the files while a query
    /// runs, only the columns the query uses. A query that would scan a file more than once (a
    /// join, a subquery over it) has the tables loaded as `load` does first: see `query`.
    /// A declared schema is loaded by `load`.
    @discardableResult
    public func declare(_ source: SQLTableSource, policy: MalformedPolicy = .fail,
                        onReject: @escaping (RejectedRecord) throws -> Void = { _ in }) throws -> LoadedTable {
        guard source.declared == nil else { return try load(source, policy: policy, onReject: onReject) }
        let (columns, rows, rejected) = try survey(source.files, policy: policy, onReject: onReject)
        if columns.isEmpty {
            // No keys at all: the copying loader's table, which has no rows.
            try createTable(source.table, columns)
            return LoadedTable(name: source.table.name, columns: columns, rows: 0, rejected: rejected, files: source.files)
        }
        let registry = try lakeFiles ?? LakeFileTables.register(on: database)
        lakeFiles = registry
        let table = LakeFileTable(files: source.files, columns: columns, policy: policy, inferCSVTypes: inferCSVTypes)
        let id = "t\(registry.tables.count)"
        registry.tables[id] = table
        try database.execute("CREATE VIRTUAL TABLE \(source.table.quoted) USING \(LakeFileTables.moduleName)(\(id))")
        streamed.append((source.table, table))
        return LoadedTable(name: source.table.name, columns: columns, rows: rows, rejected: rejected, files: source.files)
    }

    /// Lake-file virtual tables of this connection, registered on first use.
    private var lakeFiles: LakeFileTables?
    /// Tables `declare` made virtual, until a query has them loaded.
    private var streamed: [(name: SQLIdentifier, table: LakeFileTable)] = []

    /// The tables that read their files while a query runs (for tests).
    var streamedTables: [String: LakeFileTable] {
        Dictionary(streamed.map { ($0.name.name, $0.table) }, uniquingKeysWith: { a, _ in a })
    }

    private func createTable(_ table: SQLIdentifier, _ columns: [SQLColumn]) throws {
        // Record keys are data, not configuration: any text is a valid column name once quoted.
        let definitions = columns.isEmpty
            ? "\"_empty\" TEXT"  // SQLite wants at least one column; an empty input has no keys
            : columns.map { SQLLiteral.quoteName($0.name) + " " + $0.type.declaration }.joined(separator: ", ")
        try database.execute("CREATE TABLE \(table.quoted) (\(definitions))")
    }

    private func insertRecords(of files: [LakePath], into table: SQLIdentifier, _ columns: [SQLColumn], policy: MalformedPolicy,
                               onReject: @escaping (RejectedRecord) throws -> Void) throws -> (rows: Int, rejected: Int) {
        var rows = 0
        var rejected = 0
        if !columns.isEmpty {
            let placeholders = Array(repeating: "?", count: columns.count).joined(separator: ", ")
            let insert = try database.prepare("INSERT INTO \(table.quoted) VALUES (\(placeholders))")
            var slots: [String: Int] = [:]
            for (i, column) in columns.enumerated() where slots[column.name] == nil { slots[column.name] = i }
            try database.transaction {
                var values = Array(repeating: SQLValue.null, count: columns.count)
                for file in files {
                    let input = try reader(file, policy: policy, onReject: onReject)
                    while let record = try input.next() {
                        for i in values.indices { values[i] = .null }
                        for entry in record {
                            guard let slot = slots[entry.key] else { continue }
                            values[slot] = columns[slot].type.sqlValue(entry.value)
                        }
                        try insert.execute(values)
                        if input.recordCount & 0x3FFF == 0 { try Task.checkCancellation() }
                    }
                    rows += input.recordCount
                    rejected += input.rejectedCount
                }
            }
        } else {
            for file in files {
                let input = try reader(file, policy: policy, onReject: onReject)
                while try input.next() != nil {}
                rejected += input.rejectedCount
            }
        }
        return (rows, rejected)
    }

    /// Whether `sql` reads its tables in one loop: SQLite's plan has at most one SCAN or SEARCH.
    /// A second one (a join, a correlated subquery, a union) may read a virtual table once per
    /// row of another, so then the virtual tables are loaded first.
    private func readsInOneLoop(_ sql: String) -> Bool {
        // A query that does not compile is left to prepareQuery, which says why.
        guard let plan = try? database.prepare("EXPLAIN QUERY PLAN " + sql) else { return true }
        var loops = 0
        while (try? plan.step()) == true {
            let detail = plan.value(at: 3).string ?? ""
            if (detail.hasPrefix("SCAN ") || detail.hasPrefix("SEARCH ")) && detail != "SCAN CONSTANT ROW" { loops += 1 }
        }
        return loops <= 1
    }

    /// Replaces every virtual table by a table holding its records (rejects were reported when it was declared).
    private func loadStreamedTables() throws {
        for (name, table) in streamed {
            try database.execute("DROP TABLE \(name.quoted)")
            try createTable(name, table.columns)
            _ = try insertRecords(of: table.files, into: name, table.columns, policy: table.policy) { _ in }
        }
        streamed = []
    }

    /// Compiles `sql`; a failure becomes a `QueryError` naming SQLite's complaint and the query.
    public func prepareQuery(_ sql: String) throws -> Statement {
        do {
            return try database.prepareSingle(sql)
        } catch let error as StoreError {
            throw QueryError("the query is not valid SQLite SQL: \(error.cause ?? error.reason)\n  in: \(sql)")
        }
    }

    /// Runs `sql` and hands each result row to `body` (column names first, then each row).
    /// Throws a `QueryError` naming the query when it does not compile or fails while running,
    /// and when two result columns share a name (rename one with `AS`).
    public func query(_ sql: String, columns: ([String]) throws -> Void, row: ([SQLValue]) throws -> Void) throws {
        if !streamed.isEmpty && !readsInOneLoop(sql) { try loadStreamedTables() }
        let statement = try prepareQuery(sql)
        let names = statement.columnNames
        if names.isEmpty {
            throw QueryError("the query returns no columns (is it a SELECT?)\n  in: \(sql)")
        }
        var seen = Set<String>()
        for name in names where !seen.insert(name).inserted {
            throw QueryError("the query returns two columns named '\(name)'; rename one with AS\n  in: \(sql)")
        }
        try columns(names)
        var count = 0
        do {
            while try statement.step() {
                try row(statement.row())
                count += 1
                if count & 0x3FFF == 0 { try Task.checkCancellation() }
            }
        } catch let error as StoreError {
            // A virtual table's own error (a malformed record, an interruption), as it was raised.
            if let cause = streamed.lazy.compactMap({ $0.table.error }).first { throw cause }
            throw QueryError("the query failed: \(error.cause ?? error.reason)\n  in: \(sql)")
        }
    }

    /// A result value as a record value: blobs become lowercase hex text.
    public static func jsonValue(_ value: SQLValue) -> JSONValue {
        switch value {
        case .null: return .null
        case .integer(let i): return .int(i)
        case .real(let d): return d.isFinite ? .double(d) : .null
        case .text(let s): return .string(s)
        case .blob(let b): return .string(b.map { String(format: "%02x", $0) }.joined())
        }
    }

    /// A lake file's base name as a table name: `reviews` for `…/reviews.jsonl.gz`; nil when
    /// that is not a plain identifier (a glob, `dt=2026-01-02.csv`).
    public static func tableName(forPath path: String) -> String? {
        var name = (path as NSString).lastPathComponent
        if name.lowercased().hasSuffix(".gz") { name.removeLast(3) }
        for ext in [".jsonl", ".ndjson", ".csv"] where name.lowercased().hasSuffix(ext) {
            name.removeLast(ext.count)
            break
        }
        return SQLIdentifier.problem(with: name) == nil ? name : nil
    }
}

/// The columns of records seen so far: names in first-seen order, types widened over all values.
struct SchemaSurvey {
    private var names: [String] = []
    private var utf8Names: [[UInt8]] = []
    private var index: [String: Int] = [:]
    private var types: [SQLColumnType?] = []
    /// The slots of the current record's keys, in order, and the kind each holds (a repeated key:
    /// the last, as the parser keeps it).
    private var recordSlots: [Int] = []
    private var recordKinds: [JSONKind] = []
    /// The slots of the previous record, in order: records mostly repeat their keys, so a key is
    /// first compared with the one at its position there.
    private var previousSlots: [Int] = []

    var columns: [SQLColumn] { zip(names, types).map { SQLColumn(name: $0, type: $1 ?? .text) } }
    /// The columns as surveyed: a nil type where only nulls were seen.
    var surveyed: [(name: String, type: SQLColumnType?)] { zip(names, types).map { ($0, $1) } }

    mutating func slot(of name: String) -> Int {
        if let slot = index[name] { return slot }
        index[name] = names.count
        names.append(name)
        utf8Names.append(Array(name.utf8))
        types.append(nil)
        return names.count - 1
    }

    mutating func widen(_ slot: Int, _ type: SQLColumnType?) {
        guard let type else { return }
        types[slot] = types[slot].map { $0.widened(with: type) } ?? type
    }

    /// One entry of the current record.
    mutating func note(_ key: UnsafeRawBufferPointer, _ kind: JSONKind) {
        let position = recordSlots.count
        var slot = -1
        if position < previousSlots.count {
            let guess = previousSlots[position]
            if utf8Names[guess].withUnsafeBytes({ $0.elementsEqual(key) }) { slot = guess }
        }
        if slot < 0 { slot = self.slot(of: String(decoding: key, as: UTF8.self)) }
        if let earlier = recordSlots.firstIndex(of: slot) {
            recordKinds[earlier] = kind
        } else {
            recordSlots.append(slot)
            recordKinds.append(kind)
        }
    }

    /// The current record is complete: its kinds widen the columns.
    mutating func endRecord() {
        for (slot, kind) in zip(recordSlots, recordKinds) { widen(slot, SQLColumnType.of(kind)) }
        swap(&previousSlots, &recordSlots)
        recordSlots.removeAll(keepingCapacity: true)
        recordKinds.removeAll(keepingCapacity: true)
    }
}

extension SQLColumnType {
    /// The type a value of `kind` asks for, as `of(_:)` says for the value itself.
    static func of(_ kind: JSONKind) -> SQLColumnType? {
        switch kind {
        case .null: return nil
        case .bool, .int: return .integer
        case .bigInteger: return .text
        case .double: return .real
        case .string: return .text
        case .array, .object: return .json
        }
    }
}
