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
    /// The column's name in SQL: its key, unless another key differs from it only in case.
    public let name: String
    public let type: SQLColumnType
    /// The record key the column holds.
    public let key: String

    public init(name: String, type: SQLColumnType, key: String? = nil) {
        self.name = name
        self.type = type
        self.key = key ?? name
    }

    /// `name` with ASCII letters in lower case: SQLite's column names are equal when these are.
    static func folded(_ name: String) -> String {
        String(decoding: name.utf8.map { $0 >= 0x41 && $0 <= 0x5A ? $0 | 0x20 : $0 }, as: UTF8.self)
    }

    /// SQL names for `keys` (in first-seen order), as DuckDB's `read_json` gives them: SQLite (like
    /// DuckDB) compares column names without case, so a key equal to an earlier name but for case
    /// is named `key_1`, the next `key_2` (a counter per name), and again while that is taken
    /// (`price_1_1` when a key `price_1` came first). A key keeps the name it got when first seen:
    /// later keys never rename earlier ones.
    static func uniqueNames(_ keys: [String]) -> [String] {
        var taken = Set<String>()
        var counters: [String: Int] = [:]
        return keys.map { key in
            var name = key
            while taken.contains(folded(name)) {
                let base = folded(name)
                let n = counters[base, default: 0] + 1
                counters[base] = n
                name += "_\(n)"
            }
            taken.insert(folded(name))
            return name
        }
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
    /// Records and rejects of the files; of the surveyed prefix only when `partial`.
    public let rows: Int
    public let rejected: Int
    public let files: [LakePath]
    /// The columns come from each file's first records only (`SQLiteLoader.surveyPrefix`): a query
    /// checks the types of the columns it reads against its own scan of the whole files.
    public var partial = false
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
    /// When set, `declare` names a table's columns from each file's first this many records, and a
    /// query reading some of them (not `*`) checks their types against its own scan instead of
    /// reading the whole files once more first (see `query`). nil (the default): `declare` surveys
    /// the whole files, for callers that report rows and rejects before the query (`query
    /// --schema`, the `sql` stage).
    public var surveyPrefix: Int?
    /// `agentshop query`'s prefix, as DuckDB's `read_json` samples its first 20,480 records.
    public static let defaultSurveyPrefix = 20_480

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
        try survey(files, policy: policy, limit: nil) { _ in }.columns
    }

    /// One pass over `files`: their columns (as `inferColumns`), records and rejects, each reject
    /// handed to `onReject`. JSONL is scanned without building values (`RecordReader.nextKinds`).
    /// A file `schemaCache` knows unchanged is not read at all. With a `limit`, each file is read
    /// up to that many records; `complete` says whether every file was read to its end.
    private func survey(_ files: [LakePath], policy: MalformedPolicy, limit: Int?,
                        onReject: @escaping (RejectedRecord) throws -> Void)
        throws -> (columns: [SQLColumn], rows: Int, rejected: Int, complete: Bool) {
        var schema = SchemaSurvey()
        var rows = 0
        var rejected = 0
        var complete = true
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
            var whole = true
            if input.type.format == .jsonl {
                while try input.nextKinds({ key, kind in own.note(key, kind) }) {
                    own.endRecord()
                    if input.recordCount & 0x3FFF == 0 { try Task.checkCancellation() }
                    if let limit, input.recordCount >= limit { whole = false; break }
                }
            } else {
                while let record = try input.next() {
                    for entry in record { own.widen(own.slot(of: entry.key), SQLColumnType.of(entry.value)) }
                    if input.recordCount & 0x3FFF == 0 { try Task.checkCancellation() }
                    if let limit, input.recordCount >= limit { whole = false; break }
                }
            }
            for column in own.surveyed { schema.widen(schema.slot(of: column.name), column.type) }
            rows += input.recordCount
            rejected += input.rejectedCount
            complete = complete && whole
            // Remembered only when whole (no reject to report again) and unchanged while read.
            if whole, let identity, input.rejectedCount == 0, SchemaCache.Identity.of(file.absolute) == identity {
                schemaCache?.store(file.absolute, SchemaCache.Entry(identity: identity, inferCSVTypes: inferCSVTypes,
                                                                    columns: own.surveyed, rows: input.recordCount, used: 0))
            }
        }
        schemaCache?.save()
        return (schema.columns, rows, rejected, complete)
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
    ///
    /// With `surveyPrefix`, only each file's first records are surveyed (their rejects are held back
    /// until the query's scan or a whole survey finds them again): the table is provisional and
    /// the result `partial` unless every file ended within the prefix.
    @discardableResult
    public func declare(_ source: SQLTableSource, policy: MalformedPolicy = .fail,
                        onReject: @escaping (RejectedRecord) throws -> Void = { _ in }) throws -> LoadedTable {
        guard source.declared == nil else { return try load(source, policy: policy, onReject: onReject) }
        var held: [RejectedRecord] = []
        let holding: (RejectedRecord) throws -> Void = { held.append($0) }
        var (columns, rows, rejected, complete) = try survey(source.files, policy: policy, limit: surveyPrefix,
                                                             onReject: surveyPrefix == nil ? onReject : holding)
        if complete {
            for bad in held { try onReject(bad) }
        } else if columns.isEmpty {
            // Not one key in the prefix: nothing to query it by, so the whole files name the columns.
            (columns, rows, rejected, complete) = try survey(source.files, policy: policy, limit: nil, onReject: onReject)
        }
        try install(source.table, files: source.files, columns: columns, policy: policy, provisional: !complete, onReject: onReject)
        var loaded = LoadedTable(name: source.table.name, columns: columns, rows: columns.isEmpty ? 0 : rows, rejected: rejected,
                                 files: source.files)
        loaded.partial = !complete
        return loaded
    }

    /// Makes `files` the table `name`: a virtual table over them, or (no column at all) the copying
    /// loader's empty table.
    private func install(_ name: SQLIdentifier, files: [LakePath], columns: [SQLColumn], policy: MalformedPolicy,
                         provisional: Bool, onReject: @escaping (RejectedRecord) throws -> Void) throws {
        if columns.isEmpty {
            try createTable(name, columns)
            return
        }
        let registry = try lakeFiles ?? LakeFileTables.register(on: database)
        lakeFiles = registry
        let table = LakeFileTable(files: files, columns: columns, policy: policy, inferCSVTypes: inferCSVTypes,
                                  provisional: provisional, onReject: onReject)
        let id = "t\(registry.tables.count)"
        registry.tables[id] = table
        try database.execute("CREATE VIRTUAL TABLE \(name.quoted) USING \(LakeFileTables.moduleName)(\(id))")
        streamed.append((name, table))
    }

    /// Surveys the whole files of every provisional table (its rejects go to its handler, unless a
    /// scan reported them already) and declares it again with the columns of that survey. Returns
    /// the columns each had before, by table name.
    @discardableResult
    private func settleProvisionalTables() throws -> [String: [SQLColumn]] {
        var before: [String: [SQLColumn]] = [:]
        for (name, table) in streamed where table.provisional {
            let reported = table.rejectsReported
            let whole = try survey(table.files, policy: table.policy, limit: nil, onReject: reported ? { _ in } : table.onReject)
            let columns = whole.columns
            counted[name.name.lowercased()] = (whole.rows, whole.rejected)
            try database.execute("DROP TABLE \(name.quoted)")
            streamed.removeAll { $0.table === table }
            try install(name, files: table.files, columns: columns, policy: table.policy, provisional: false, onReject: table.onReject)
            before[name.name.lowercased()] = table.columns
        }
        return before
    }

    /// The records and rejects of the whole files of each table declared from a prefix and since
    /// surveyed whole, by table name (lowercased).
    private var counted: [String: (rows: Int, rejected: Int)] = [:]

    /// The records and rejects of all of `loaded`'s files, as a survey of the whole files counts
    /// them. Of a table declared from a prefix (`partial`): the query's own scan's, when it read
    /// the files to their end and its answer stood, or else the whole survey's that replaced the
    /// table's columns; a table no query has read is surveyed whole now (its rejects go to its handler).
    public func wholeCounts(of loaded: LoadedTable) throws -> (rows: Int, rejected: Int) {
        guard loaded.partial else { return (loaded.rows, loaded.rejected) }
        let key = loaded.name.lowercased()
        if let known = counted[key] { return known }
        if let table = streamed.first(where: { $0.name.name.lowercased() == key && $0.table.provisional })?.table,
           table.rejectsReported, let scan = table.completedScan {
            return (scan.rows, scan.rejects.count)
        }
        try settleProvisionalTables()
        guard let known = counted[key] else { throw QueryError("no table \(loaded.name) was declared from a prefix of its files") }
        return known
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
            for (i, column) in columns.enumerated() where slots[column.key] == nil { slots[column.key] = i }
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
        if streamed.contains(where: { $0.table.provisional }), try answerOverProvisionalTables(sql, columns: columns, row: row) {
            return
        }
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
            throw failure(error, sql)
        }
    }

    /// A virtual table's own error (a malformed record, an interruption), as it was raised, or SQLite's.
    private func failure(_ error: StoreError, _ sql: String) -> Error {
        if let cause = streamed.lazy.compactMap({ $0.table.error }).first { return cause }
        return QueryError("the query failed: \(error.cause ?? error.reason)\n  in: \(sql)")
    }

    /// The columns `sql` reads from each table, found by compiling it over stand-ins for the
    /// tables that have, besides their columns, one named after each other identifier of the query;
    /// nil when it does anything but read, or does not compile there.
    ///
    /// A name that is no column of a table now may be one in the whole files (a key first seen past
    /// the prefix), and SQLite then reads it instead of what the name stands for now: a result
    /// alias in WHERE (`SELECT v AS late … WHERE late > 3`), a double-quoted string (`"shoes"`),
    /// `rowid`, `true` and `false`. The names read here are those the scan watches for (`watch`).
    private func probeReads(_ sql: String) -> StatementReads? {
        guard let probe = try? Database(path: "", wal: false) else { return nil }
        var others = Self.identifiers(in: sql)
        for (_, table) in streamed {
            for column in table.columns { others.remove(column.name.lowercased()) }
        }
        do {
            for (name, table) in streamed {
                var definitions = table.columns.map { SQLLiteral.quoteName($0.name) + " " + $0.type.declaration }
                if table.provisional { definitions += others.sorted().map { SQLLiteral.quoteName($0) } }
                try probe.execute("CREATE TABLE \(name.quoted) (\(definitions.joined(separator: ", ")))")
            }
            let reads = try StatementReads.prepare(sql, on: probe).1
            return reads.other ? nil : reads
        } catch {
            return nil
        }
    }

    /// The identifiers of `sql`, lowercased: bare words and quoted names ("…", `…`, […]); not
    /// string literals, numbers or comments.
    static func identifiers(in sql: String) -> Set<String> {
        let chars = Array(sql.unicodeScalars)
        var names = Set<String>()
        var i = 0
        func isWordScalar(_ c: Unicode.Scalar) -> Bool {
            c.value >= 0x80 || c == "_" || c == "$" || ("a"..."z").contains(c) || ("A"..."Z").contains(c) || ("0"..."9").contains(c)
        }
        while i < chars.count {
            let c = chars[i]
            if c == "-" && i + 1 < chars.count && chars[i + 1] == "-" {
                while i < chars.count && chars[i] != "\n" { i += 1 }
            } else if c == "/" && i + 1 < chars.count && chars[i + 1] == "*" {
                i += 2
                while i < chars.count && !(chars[i] == "*" && i + 1 < chars.count && chars[i + 1] == "/") { i += 1 }
                i += 2
            } else if c == "'" || c == "\"" || c == "`" || c == "[" {
                let close: Unicode.Scalar = c == "[" ? "]" : c
                var text = String.UnicodeScalarView()
                i += 1
                while i < chars.count {
                    if chars[i] == close {
                        if close != "]" && i + 1 < chars.count && chars[i + 1] == close { text.append(close); i += 2; continue }
                        break
                    }
                    text.append(chars[i])
                    i += 1
                }
                i += 1
                if c != "'" { names.insert(String(text).lowercased()) }
            } else if isWordScalar(c) {
                let start = i
                while i < chars.count && isWordScalar(chars[i]) { i += 1 }
                if !("0"..."9").contains(c) { names.insert(String(String.UnicodeScalarView(chars[start..<i])).lowercased()) }
            } else {
                i += 1
            }
        }
        return names
    }

    /// Rows held back while a provisional table's types are unconfirmed, at most (bytes, roughly):
    /// past it the query starts again after a whole survey, as it ran before prefixes.
    static let heldRowBytes = 16 << 20

    /// Runs `sql` over the provisional tables' columns (named from a prefix of their files) when
    /// that gives the answer a survey of the whole files would, and returns true:
    /// - the query reads its tables in one loop, and not every column of a table (a `*` needs the
    ///   whole files' columns; the authorizer names each column the query reads);
    /// - every name it would read, were it a column (its columns, and an alias in WHERE, a
    ///   double-quoted string, `rowid`, `true`, `false` the prefix has no key for), means the same
    ///   over the whole files: no key past the prefix takes it (`KeyWatch`: no key equal to it
    ///   but for case other than the prefix's, nor to a name it could be made from, `price` for
    ///   `price_1`), and the prefix named every column by its key;
    /// - once its scan has read the whole files, every column it read held the type the prefix gave
    ///   it: the declared type decides how a value converts, compares and prints, so equal types
    ///   give equal answers.
    /// Rows are held until the scans have ended (a GROUP BY or ORDER BY gives none before), then
    /// given after the rejects the scans found, as a survey would have reported them first.
    /// Otherwise (a column the prefix lacks, "no such column"; a type widened later in the files;
    /// a scan stopped early by a LIMIT whose answer the whole survey does not confirm; an error;
    /// too many rows held) the tables are surveyed whole and declared again, and false tells
    /// `query` to run `sql` as it did before. No row is given twice.
    private func answerOverProvisionalTables(_ sql: String, columns: ([String]) throws -> Void,
                                             row: ([SQLValue]) throws -> Void) throws -> Bool {
        let provisional = streamed.filter { $0.table.provisional }
        var statement: Statement?
        var reads = StatementReads()
        if readsInOneLoop(sql), let probed = probeReads(sql), let compiled = try? database.prepareSingle(sql) {
            statement = compiled
            reads = probed
        }
        // Gives up: the statement stops (its scans with it), the tables are surveyed whole.
        func abandon() throws -> Bool {
            statement?.reset()
            statement = nil
            try settleProvisionalTables()
            return false
        }
        guard statement != nil else { return try abandon() }
        // The names each table's values reach the query through (its columns, or names the probe
        // gave a stand-in column): each must mean over the whole files what it means now.
        func read(_ name: SQLIdentifier, _ table: LakeFileTable) -> Set<String> {
            var read = reads.columns[name.name.lowercased()] ?? []
            for (index, column) in table.columns.enumerated() where table.isUsed(index) { read.insert(column.name) }
            return read
        }
        // Two keys of the prefix that differ only in case: which one a later name stands for
        // depends on the order keys are first seen in, which the prefix does not know.
        if provisional.contains(where: { $0.table.columns.contains { $0.name != $0.key } }) { return try abandon() }
        for (name, table) in provisional {
            var watched = Set<String>()
            for var word in read(name, table) {
                watched.insert(word)
                while let base = Self.numberedBase(of: word) {
                    watched.insert(base)
                    word = base
                }
            }
            table.watch = KeyWatch(names: watched.sorted(), exempt: table.columns.map(\.key))
        }
        let names = statement?.columnNames ?? []
        let everyColumn = provisional.contains { entry in
            let read = reads.columns[entry.name.name.lowercased()] ?? []
            return entry.table.columns.allSatisfy { read.contains($0.name) }
        }
        if everyColumn || names.isEmpty || Set(names).count != names.count {
            // A `*`, or an error `query` reports after the survey as it did before.
            return try abandon()
        }
        /// true: every scan read the whole files and agrees; false: one disagrees; nil: one has not ended.
        func verdict() -> Bool? {
            var ended = true
            for (_, table) in provisional {
                guard let scan = table.completedScan else { ended = false; continue }
                if scan.watchedKeySeen || !scan.agrees(with: table.columns) { return false }
            }
            return ended ? true : nil
        }
        var held: [[SQLValue]] = []
        var heldBytes = 0
        var accepted = false
        func accept() throws {
            accepted = true
            for (_, table) in provisional where !table.rejectsReported {
                table.rejectsReported = true
                for bad in table.completedScan?.rejects ?? [] { try table.onReject(bad) }
            }
            try columns(names)
            for values in held { try row(values) }
            held = []
        }
        var count = 0
        while true {
            let more: Bool
            do {
                more = try statement!.step()
            } catch let error as StoreError {
                if let cancelled = provisional.lazy.compactMap({ $0.table.error as? CancellationError }).first { throw cancelled }
                if accepted { throw failure(error, sql) }
                // A malformed record (`fail`), a failure the types may have caused: the whole survey
                // says what it is, and the query runs again as before.
                return try abandon()
            }
            guard more else { break }
            let values = statement!.row()
            count += 1
            if count & 0x3FFF == 0 { try Task.checkCancellation() }
            if accepted {
                try row(values)
                continue
            }
            switch verdict() {
            case true?:
                try accept()
                try row(values)
            case false?:
                return try abandon()
            case nil:
                held.append(values)
                for value in values {
                    switch value {
                    case .text(let text): heldBytes += 24 + text.utf8.count
                    case .blob(let bytes): heldBytes += 24 + bytes.count
                    default: heldBytes += 24
                    }
                }
                if heldBytes > Self.heldRowBytes { return try abandon() }
            }
        }
        statement = nil
        if accepted { return true }
        switch verdict() {
        case true?:
            try accept()
            return true
        case false?:
            return try abandon()
        case nil:
            // A scan stopped before the end of the files (a LIMIT), or never started: the whole
            // survey (which reports the rejects) confirms that every name read stands for the same
            // key of the same type (or for no column), or the query runs again with its columns.
            let used = Dictionary(provisional.map { ($0.name.name.lowercased(), read($0.name, $0.table)) },
                                  uniquingKeysWith: { a, b in a.union(b) })
            let before = try settleProvisionalTables()
            for (name, table) in streamed {
                guard let old = before[name.name.lowercased()], let read = used[name.name.lowercased()] else { continue }
                for word in read.map(SQLColumn.folded) {
                    let was = old.first { SQLColumn.folded($0.name) == word }
                    let now = table.columns.first { SQLColumn.folded($0.name) == word }
                    guard was?.key == now?.key && was?.type == now?.type else { return false }
                }
            }
            try columns(names)
            for values in held { try row(values) }
            return true
        }
    }

    /// `price` for `price_1` (or `price_1` for `price_1_2`): a name `SQLColumn.uniqueNames` may
    /// have made from another; nil for any other.
    static func numberedBase(of name: String) -> String? {
        let scalars = Array(name.unicodeScalars)
        var end = scalars.count
        while end > 0, ("0"..."9").contains(scalars[end - 1]) { end -= 1 }
        guard end < scalars.count, end >= 2, scalars[end - 1] == "_" else { return nil }
        return String(String.UnicodeScalarView(scalars[..<(end - 1)]))
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

    /// Every key a column, named as `SQLColumn.uniqueNames` says.
    var columns: [SQLColumn] {
        zip(SQLColumn.uniqueNames(names), zip(names, types)).map { SQLColumn(name: $0, type: $1.1 ?? .text, key: $1.0) }
    }
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
