// Every call into the SQLite C library lives in this file. The rest of the module, and
// everything outside it, sees `Database`, `Statement` and `SQLValue`: no pointers.
internal import CSQLite
import Foundation
import Logging

/// A value stored in or bound to SQLite: its five storage classes.
public enum SQLValue: Sendable, Hashable, CustomStringConvertible {
    case null
    case integer(Int64)
    case real(Double)
    case text(String)
    case blob([UInt8])

    public var description: String {
        switch self {
        case .null: return "NULL"
        case .integer(let i): return String(i)
        case .real(let d): return String(d)
        case .text(let s): return "'" + s.replacingOccurrences(of: "'", with: "''") + "'"
        case .blob(let b): return "X'" + b.map { String(format: "%02X", $0) }.joined() + "'"
        }
    }

    public var int64: Int64? { if case .integer(let i) = self { return i }; return nil }
    public var string: String? { if case .text(let s) = self { return s }; return nil }
    public var double: Double? {
        switch self {
        case .integer(let i): return Double(i)
        case .real(let d): return d
        default: return nil
        }
    }
    public var isNull: Bool { if case .null = self { return true }; return false }
}

/// One SQLite connection. Owns its handle and closes it in `deinit`.
///
/// Not `Sendable`: a connection is used from one context at a time. Open another `Database`
/// on the same file for another thread; WAL lets readers run beside the one writer.
public final class Database {
    public enum Mode: Sendable {
        /// Creates the file if missing.
        case readWriteCreate
        case readWrite
        case readOnly
    }

    /// Which lock a transaction takes when it begins.
    public enum TransactionKind: String, Sendable {
        case deferred = "DEFERRED"
        /// Takes the write lock at once, so that a writer never fails half-way with SQLITE_BUSY.
        case immediate = "IMMEDIATE"
        case exclusive = "EXCLUSIVE"
    }

    public let path: String
    let handle: OpaquePointer
    private var savepointDepth = 0
    /// The store's lock when this connection writes a store (`Store.open`): released only after
    /// the connection is closed, so no statement outlives it.
    var storeLock: StoreLock?

    /// Opens `path` with WAL (unless read-only or `wal` is false), the busy timeout and foreign keys on.
    public init(path: String, mode: Mode = .readWriteCreate, busyTimeout: Duration = .seconds(10), wal: Bool = true) throws {
        self.path = path
        var flags: Int32 = SQLITE_OPEN_NOMUTEX | SQLITE_OPEN_URI
        switch mode {
        case .readWriteCreate: flags |= SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE
        case .readWrite: flags |= SQLITE_OPEN_READWRITE
        case .readOnly: flags |= SQLITE_OPEN_READONLY
        }
        var db: OpaquePointer?
        let rc = sqlite3_open_v2(path, &db, flags, nil)
        guard rc == SQLITE_OK, let db else {
            let message = db.map { String(cString: sqlite3_errmsg($0)) } ?? "out of memory"
            if let db { sqlite3_close_v2(db) }
            throw StoreError(.open, "cannot open the database", cause: message, resultCode: rc, path: path)
        }
        handle = db
        sqlite3_extended_result_codes(db, 1)
        let ms = busyTimeout.components.seconds * 1000 + busyTimeout.components.attoseconds / 1_000_000_000_000_000
        sqlite3_busy_timeout(db, Int32(clamping: ms))
        do {
            try execute("PRAGMA foreign_keys = ON")
            if wal && mode != .readOnly && path != ":memory:" && !path.isEmpty {
                let journal = try scalar("PRAGMA journal_mode = WAL")?.string ?? ""
                if journal.lowercased() != "wal" {
                    throw StoreError(.open, "cannot switch the database to WAL mode", cause: "journal_mode is \(journal)",
                                     path: path)
                }
            }
        } catch {
            sqlite3_close_v2(db)
            throw error
        }
    }

    deinit { sqlite3_close_v2(handle) }

    /// The SQLite library version, e.g. `3.40.1`.
    public static var sqliteVersion: String { String(cString: sqlite3_libversion()) }

    /// Whether `sql` ends with a complete statement (the sqlite3 shell's test for "run this now").
    public static func isComplete(_ sql: String) -> Bool { sqlite3_complete(sql) != 0 }

    /// `isComplete` over NUL-terminated UTF-8, for callers streaming SQL text without making Strings.
    static func isComplete(cString sql: UnsafePointer<CChar>) -> Bool { sqlite3_complete(sql) != 0 }

    var lastMessage: String { String(cString: sqlite3_errmsg(handle)) }

    func error(_ rc: Int32, _ reason: String, sql: String?, file: String = #fileID, line: Int = #line) -> StoreError {
        StoreError(Self.code(for: rc), reason, sql: sql, cause: lastMessage, resultCode: rc, path: path, file: file,
                   line: line)
    }

    static func code(for rc: Int32) -> StoreError.Code {
        switch rc & 0xff {
        case SQLITE_CONSTRAINT: return .constraint
        case SQLITE_BUSY, SQLITE_LOCKED: return .busy
        case SQLITE_CORRUPT, SQLITE_NOTADB: return .corrupt
        case SQLITE_CANTOPEN: return .open
        default: return .sqlite
        }
    }

    // MARK: Statements

    /// Compiles one statement.
    public func prepare(_ sql: String) throws -> Statement {
        var stmt: OpaquePointer?
        let rc = sqlite3_prepare_v2(handle, sql, -1, &stmt, nil)
        guard rc == SQLITE_OK else {
            throw error(rc, "cannot prepare statement", sql: sql)
        }
        guard let stmt else { throw StoreError(.sqlite, "empty statement", sql: sql, path: path) }
        return Statement(database: self, handle: stmt, sql: sql)
    }

    /// Compiles `sql`, which must hold exactly one statement: text after it other than
    /// whitespace, comments and semicolons is an error rather than silently ignored.
    public func prepareSingle(_ sql: String) throws -> Statement {
        let bytes = Array(sql.utf8) + [0]
        return try bytes.withUnsafeBufferPointer { buffer throws -> Statement in
            let base = UnsafeRawPointer(buffer.baseAddress!).assumingMemoryBound(to: CChar.self)
            var stmt: OpaquePointer?
            var tail: UnsafePointer<CChar>?
            let rc = sqlite3_prepare_v2(handle, base, Int32(buffer.count - 1), &stmt, &tail)
            guard rc == SQLITE_OK else { throw error(rc, "cannot prepare statement", sql: sql) }
            guard let stmt else { throw StoreError(.sqlite, "empty statement", sql: sql, path: path) }
            let statement = Statement(database: self, handle: stmt, sql: sql)
            var rest = tail
            while let current = rest, current.pointee != 0 {
                var next: OpaquePointer?
                var after: UnsafePointer<CChar>?
                let rc = sqlite3_prepare_v2(handle, current, -1, &next, &after)
                if let next { sqlite3_finalize(next) }
                guard rc == SQLITE_OK, next == nil else {
                    throw StoreError(.sqlite, "only one statement may be given", sql: sql,
                                     cause: "only one statement may be given; it is followed by: " + String(cString: current)
                                        .trimmingCharacters(in: .whitespacesAndNewlines),
                                     path: path)
                }
                if after == current { break }
                rest = after
            }
            return statement
        }
    }

    /// Runs one or more statements without parameters; rows they return are discarded.
    public func execute(_ sql: String) throws {
        var message: UnsafeMutablePointer<CChar>?
        let rc = sqlite3_exec(handle, sql, nil, nil, &message)
        if rc != SQLITE_OK {
            let text = message.map { String(cString: $0) } ?? lastMessage
            sqlite3_free(message)
            throw StoreError(Self.code(for: rc), "statement failed", sql: sql, cause: text, resultCode: rc, path: path)
        }
    }

    /// `execute` over NUL-terminated UTF-8 (a restore replays millions of statements).
    func execute(cString sql: UnsafePointer<CChar>) throws {
        var message: UnsafeMutablePointer<CChar>?
        let rc = sqlite3_exec(handle, sql, nil, nil, &message)
        if rc != SQLITE_OK {
            let text = message.map { String(cString: $0) } ?? lastMessage
            sqlite3_free(message)
            throw StoreError(Self.code(for: rc), "statement failed", sql: String(cString: sql), cause: text, resultCode: rc,
                             path: path)
        }
    }

    /// Runs one statement with parameters; returns the number of rows it changed.
    @discardableResult
    public func run(_ sql: String, _ values: [SQLValue] = []) throws -> Int {
        let stmt = try prepare(sql)
        try stmt.bind(values)
        while try stmt.step() {}
        return changes
    }

    /// All rows of a query, as values in column order.
    public func rows(_ sql: String, _ values: [SQLValue] = []) throws -> [[SQLValue]] {
        let stmt = try prepare(sql)
        try stmt.bind(values)
        var out: [[SQLValue]] = []
        while try stmt.step() { out.append(stmt.row()) }
        return out
    }

    /// The first column of the first row, or nil when there is no row.
    public func scalar(_ sql: String, _ values: [SQLValue] = []) throws -> SQLValue? {
        let stmt = try prepare(sql)
        try stmt.bind(values)
        return try stmt.step() ? stmt.value(at: 0) : nil
    }

    /// Rows changed by the last INSERT, UPDATE or DELETE.
    public var changes: Int { Int(sqlite3_changes(handle)) }
    public var totalChanges: Int { Int(sqlite3_total_changes(handle)) }
    public var lastInsertRowID: Int64 { sqlite3_last_insert_rowid(handle) }
    /// False while a transaction is open.
    public var isAutocommit: Bool { sqlite3_get_autocommit(handle) != 0 }

    /// `PRAGMA user_version`: the schema version the migrations have reached.
    public func userVersion() throws -> Int { Int(try scalar("PRAGMA user_version")?.int64 ?? 0) }
    public func setUserVersion(_ version: Int) throws { try execute("PRAGMA user_version = \(version)") }

    // MARK: Transactions

    /// Runs `body` in a transaction: committed if it returns, rolled back if it throws.
    /// Nested calls become savepoints, so an inner failure undoes only the inner work.
    public func transaction<T>(_ kind: TransactionKind = .immediate, _ body: () throws -> T) throws -> T {
        if !isAutocommit {
            savepointDepth += 1
            let name = "agentshop_sp\(savepointDepth)"
            defer { savepointDepth -= 1 }
            try execute("SAVEPOINT \(name)")
            do {
                let result = try body()
                try execute("RELEASE \(name)")
                return result
            } catch {
                try? execute("ROLLBACK TO \(name)")
                try? execute("RELEASE \(name)")
                throw error
            }
        }
        try execute("BEGIN \(kind.rawValue)")
        do {
            let result = try body()
            try execute("COMMIT")
            return result
        } catch {
            if !isAutocommit { try? execute("ROLLBACK") }
            throw error
        }
    }

    // MARK: Snapshots

    /// Copies this database into `destination` with the online backup API, in one step, so the
    /// copy is one consistent snapshot even while other connections write (WAL readers do not
    /// block writers).
    public func backup(into destination: Database) throws {
        guard let backup = sqlite3_backup_init(destination.handle, "main", handle, "main") else {
            throw destination.error(sqlite3_errcode(destination.handle), "cannot start the online backup", sql: nil)
        }
        var rc: Int32
        var attempts = 0
        repeat {
            rc = sqlite3_backup_step(backup, -1)
            if rc == SQLITE_BUSY || rc == SQLITE_LOCKED {
                attempts += 1
                if attempts > 600 { break }
                usleep(50_000)
            }
        } while rc == SQLITE_OK || rc == SQLITE_BUSY || rc == SQLITE_LOCKED
        let finish = sqlite3_backup_finish(backup)
        if rc != SQLITE_DONE {
            throw destination.error(rc, "online backup failed", sql: nil)
        }
        if finish != SQLITE_OK {
            throw destination.error(finish, "online backup failed", sql: nil)
        }
    }
}

// MARK: Authorizer

/// One action SQLite is about to compile into a statement, as its authorizer callback sees it
/// (`sqlite3_set_authorizer`): what the statement would do, before it does anything.
public struct AuthorizerRequest: Sendable, CustomStringConvertible {
    public enum Action: Sendable, Equatable {
        case createIndex, createTable, createTrigger, createView, createVirtualTable
        /// `CREATE TEMP TABLE / INDEX / TRIGGER / VIEW`.
        case createTemporary
        /// Any `DROP …`.
        case drop
        case insert, update, delete, read, select, pragma, transaction, savepoint
        case attach, detach, alterTable, reindex, analyze, function, recursive
        case other(Int32)
    }

    public let action: Action
    /// The object: table, index, trigger, view or pragma name; the file for `ATTACH`.
    public let first: String?
    /// The second argument: the table of an index or trigger, a column, a pragma's value, a function's name.
    public let second: String?
    /// The schema (`main`, `temp`, an attached name) the action applies to.
    public let database: String?
    /// The trigger or view whose body holds the action, if any.
    public let trigger: String?

    init(code: Int32, first: String?, second: String?, database: String?, trigger: String?) {
        switch code {
        case SQLITE_CREATE_INDEX: action = .createIndex
        case SQLITE_CREATE_TABLE: action = .createTable
        case SQLITE_CREATE_TRIGGER: action = .createTrigger
        case SQLITE_CREATE_VIEW: action = .createView
        case SQLITE_CREATE_VTABLE: action = .createVirtualTable
        case SQLITE_CREATE_TEMP_INDEX, SQLITE_CREATE_TEMP_TABLE, SQLITE_CREATE_TEMP_TRIGGER, SQLITE_CREATE_TEMP_VIEW:
            action = .createTemporary
        case SQLITE_DROP_INDEX, SQLITE_DROP_TABLE, SQLITE_DROP_TRIGGER, SQLITE_DROP_VIEW, SQLITE_DROP_TEMP_INDEX,
             SQLITE_DROP_TEMP_TABLE, SQLITE_DROP_TEMP_TRIGGER, SQLITE_DROP_TEMP_VIEW, SQLITE_DROP_VTABLE:
            action = .drop
        case SQLITE_INSERT: action = .insert
        case SQLITE_UPDATE: action = .update
        case SQLITE_DELETE: action = .delete
        case SQLITE_READ: action = .read
        case SQLITE_SELECT: action = .select
        case SQLITE_PRAGMA: action = .pragma
        case SQLITE_TRANSACTION: action = .transaction
        case SQLITE_SAVEPOINT: action = .savepoint
        case SQLITE_ATTACH: action = .attach
        case SQLITE_DETACH: action = .detach
        case SQLITE_ALTER_TABLE: action = .alterTable
        case SQLITE_REINDEX: action = .reindex
        case SQLITE_ANALYZE: action = .analyze
        case SQLITE_FUNCTION: action = .function
        case SQLITE_RECURSIVE: action = .recursive
        default: action = .other(code)
        }
        self.first = first
        self.second = second
        self.database = database
        self.trigger = trigger
    }

    /// `ATTACH '/tmp/x.db'`, `CREATE TRIGGER evil ON products`, `PRAGMA writable_schema = 1`…
    public var description: String {
        let a = first ?? "", b = second ?? ""
        switch action {
        case .createIndex: return "CREATE INDEX \(a) ON \(b)"
        case .createTable: return "CREATE TABLE \(a)"
        case .createTrigger: return "CREATE TRIGGER \(a) ON \(b)"
        case .createView: return "CREATE VIEW \(a)"
        case .createVirtualTable: return "CREATE VIRTUAL TABLE \(a) USING \(b)"
        case .createTemporary: return "CREATE TEMP object \(a)"
        case .drop: return "DROP \(a)"
        case .insert: return "INSERT INTO \(a)"
        case .update: return "UPDATE \(a).\(b)"
        case .delete: return "DELETE FROM \(a)"
        case .read: return "read \(a).\(b)"
        case .select: return "SELECT"
        case .pragma: return "PRAGMA \(a)" + (second.map { " = \($0)" } ?? "")
        case .transaction: return a
        case .savepoint: return "SAVEPOINT \(b)"
        case .attach: return a.isEmpty ? "VACUUM or ATTACH" : "ATTACH (or VACUUM INTO) '\(a)'"
        case .detach: return "DETACH \(a)"
        case .alterTable: return "ALTER TABLE \(b)"
        case .reindex: return "REINDEX \(a)"
        case .analyze: return "ANALYZE \(a)"
        case .function: return "function \(b)()"
        case .recursive: return "recursive query"
        case .other(let code): return "SQLite action \(code) \(a) \(b)"
        }
    }
}

/// Holds the decision closure while SQLite may call back into it.
private final class AuthorizerBox {
    let decide: (AuthorizerRequest) -> Bool
    init(_ decide: @escaping (AuthorizerRequest) -> Bool) { self.decide = decide }
}

extension Database {
    /// Runs `body` with `allow` asked about every action of every statement compiled meanwhile;
    /// a statement with a refused action fails to compile (`not authorized`) and does nothing.
    /// The authorizer is removed when `body` ends.
    public func withAuthorizer<T>(_ allow: (AuthorizerRequest) -> Bool, _ body: () throws -> T) throws -> T {
        try withoutActuallyEscaping(allow) { allow in
            let box = Unmanaged.passRetained(AuthorizerBox(allow))
            defer {
                sqlite3_set_authorizer(handle, nil, nil)
                box.release()
            }
            // No captures: the decision reaches the C callback through its context pointer.
            let rc = sqlite3_set_authorizer(handle, { context, code, first, second, database, trigger in
                guard let context else { return SQLITE_DENY }
                let box = Unmanaged<AuthorizerBox>.fromOpaque(context).takeUnretainedValue()
                let request = AuthorizerRequest(code: code, first: first.map { String(cString: $0) },
                                                second: second.map { String(cString: $0) },
                                                database: database.map { String(cString: $0) },
                                                trigger: trigger.map { String(cString: $0) })
                return box.decide(request) ? SQLITE_OK : SQLITE_DENY
            }, box.toOpaque())
            guard rc == SQLITE_OK else { throw error(rc, "cannot install the authorizer", sql: nil) }
            return try body()
        }
    }
}

/// A compiled statement. Owns its handle and finalizes it in `deinit`.
public final class Statement {
    public let sql: String
    /// Held strongly: a statement must be finalized before its connection closes.
    public let database: Database
    let handle: OpaquePointer

    init(database: Database, handle: OpaquePointer, sql: String) {
        self.database = database
        self.handle = handle
        self.sql = sql
    }

    deinit { sqlite3_finalize(handle) }

    public var parameterCount: Int { Int(sqlite3_bind_parameter_count(handle)) }

    /// Resets the statement and binds `values` to parameters 1…n.
    public func bind(_ values: [SQLValue]) throws {
        sqlite3_reset(handle)
        sqlite3_clear_bindings(handle)
        guard values.count == parameterCount else {
            throw StoreError(.sqlite, "expected \(parameterCount) parameters, got \(values.count)", sql: sql,
                             path: database.path)
        }
        for (i, value) in values.enumerated() { try bind(value, at: i + 1) }
    }

    /// Binds one value to the 1-based parameter `index`.
    public func bind(_ value: SQLValue, at index: Int) throws {
        let i = Int32(index)
        let rc: Int32
        switch value {
        case .null: rc = sqlite3_bind_null(handle, i)
        case .integer(let v): rc = sqlite3_bind_int64(handle, i, v)
        case .real(let v): rc = sqlite3_bind_double(handle, i, v)
        case .text(let v):
            // With its byte length: a NUL inside the text is data, not its end.
            var text = v
            rc = text.withUTF8 { utf8 -> Int32 in
                guard let base = utf8.baseAddress, utf8.count > 0 else {
                    return sqlite3_bind_text(handle, i, "", 0, agentshop_sqlite_transient())
                }
                return base.withMemoryRebound(to: CChar.self, capacity: utf8.count) {
                    sqlite3_bind_text64(handle, i, $0, sqlite3_uint64(utf8.count), agentshop_sqlite_transient(), UInt8(SQLITE_UTF8))
                }
            }
        case .blob(let v):
            rc = v.withUnsafeBytes { raw in
                sqlite3_bind_blob64(handle, i, raw.baseAddress ?? UnsafeRawPointer(bitPattern: 1), sqlite3_uint64(raw.count),
                                    agentshop_sqlite_transient())
            }
        }
        guard rc == SQLITE_OK else { throw database.error(rc, "cannot bind parameter \(index)", sql: sql) }
    }

    /// Advances: true when a row is ready, false when done.
    public func step() throws -> Bool {
        let rc = sqlite3_step(handle)
        switch rc {
        case SQLITE_ROW: return true
        case SQLITE_DONE: return false
        default:
            sqlite3_reset(handle)
            throw database.error(rc, "statement failed", sql: sql)
        }
    }

    /// Binds, runs to the end, and returns the rows changed.
    @discardableResult
    public func execute(_ values: [SQLValue] = []) throws -> Int {
        try bind(values)
        while try step() {}
        return database.changes
    }

    public func reset() { sqlite3_reset(handle) }

    public var columnCount: Int { Int(sqlite3_column_count(handle)) }

    public func columnName(_ index: Int) -> String {
        sqlite3_column_name(handle, Int32(index)).map { String(cString: $0) } ?? ""
    }

    public var columnNames: [String] { (0..<columnCount).map(columnName) }

    /// The current row's value in column `index` (0-based).
    public func value(at index: Int) -> SQLValue {
        let i = Int32(index)
        switch sqlite3_column_type(handle, i) {
        case SQLITE_INTEGER: return .integer(sqlite3_column_int64(handle, i))
        case SQLITE_FLOAT: return .real(sqlite3_column_double(handle, i))
        case SQLITE_TEXT:
            let count = Int(sqlite3_column_bytes(handle, i))
            guard let bytes = sqlite3_column_text(handle, i) else { return .text("") }
            return .text(String(decoding: UnsafeBufferPointer(start: bytes, count: count), as: UTF8.self))
        case SQLITE_BLOB:
            let count = Int(sqlite3_column_bytes(handle, i))
            guard count > 0, let bytes = sqlite3_column_blob(handle, i) else { return .blob([]) }
            return .blob(Array(UnsafeRawBufferPointer(start: bytes, count: count)))
        default: return .null
        }
    }

    public func int64(at index: Int) -> Int64 { sqlite3_column_int64(handle, Int32(index)) }

    /// The current row, every column.
    public func row() -> [SQLValue] { (0..<columnCount).map(value(at:)) }

    /// Appends column `index` as an SQL literal (the form `.dump` writes) to `out`, without
    /// building an intermediate `SQLValue`: the SQL dump's inner loop.
    func appendLiteral(at index: Int, to out: inout [UInt8]) {
        let i = Int32(index)
        switch sqlite3_column_type(handle, i) {
        case SQLITE_INTEGER:
            out.append(contentsOf: String(sqlite3_column_int64(handle, i)).utf8)
        case SQLITE_FLOAT:
            SQLLiteral.appendReal(sqlite3_column_double(handle, i), to: &out)
        case SQLITE_TEXT:
            let count = Int(sqlite3_column_bytes(handle, i))
            let bytes = sqlite3_column_text(handle, i)
            SQLLiteral.appendText(UnsafeBufferPointer(start: bytes, count: bytes == nil ? 0 : count), to: &out)
        case SQLITE_BLOB:
            let count = Int(sqlite3_column_bytes(handle, i))
            let bytes = sqlite3_column_blob(handle, i)
            SQLLiteral.appendBlob(UnsafeRawBufferPointer(start: bytes, count: bytes == nil ? 0 : count), to: &out)
        default:
            out.append(contentsOf: "NULL".utf8)
        }
    }
}
