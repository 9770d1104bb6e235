/// An error from the store: a SQLite call, a dump, a restore or a schema check, with its context.
///
/// A struct over a private enum so that cases can be added without breaking callers. SQLite
/// failures carry the SQL text and SQLite's own message; dump and restore failures the file.
public struct StoreError: Error, CustomStringConvertible, Sendable {
    enum Code: Sendable, Equatable {
        case open
        case sqlite
        case constraint
        case busy
        /// The store's lock (`StoreLock`) is held by another process.
        case locked
        case corrupt
        case schemaTooNew
        case migration
        case invalidIdentifier
        case checksum
        case dump
        case restore
        case notFound
        case io
    }

    let code: Code
    /// What went wrong, in words a user can act on.
    public let reason: String
    /// The SQL statement involved, when there is one.
    public let sql: String?
    /// SQLite's message (`sqlite3_errmsg`) or another underlying cause.
    public let cause: String?
    /// SQLite's extended result code, when the error came from SQLite.
    public let resultCode: Int32?
    /// The database or dump file involved.
    public let path: String?
    let file: String
    let line: Int

    init(_ code: Code, _ reason: String, sql: String? = nil, cause: String? = nil, resultCode: Int32? = nil,
         path: String? = nil, file: String = #fileID, line: Int = #line) {
        self.code = code
        self.reason = reason
        self.sql = sql
        self.cause = cause
        self.resultCode = resultCode
        self.path = path
        self.file = file
        self.line = line
    }

    public var description: String {
        var text = path.map { "\($0): \(reason)" } ?? reason
        if let cause { text += ": \(cause)" }
        if let sql { text += " (in: \(sql.count > 300 ? String(sql.prefix(300)) + "…" : sql))" }
        return text
    }

    /// The description with the source location, for logs.
    public var detailedDescription: String { "\(description) [at \(file):\(line)]" }

    /// Matches errors of the same kind: `catch StoreError.checksum { … }`.
    public static func ~= (lhs: StoreError, rhs: any Error) -> Bool {
        (rhs as? StoreError)?.code == lhs.code
    }

    /// Whether `error` is a store error of the same kind as this one.
    public func matches(_ error: any Error) -> Bool { self ~= error }

    public static let open = StoreError(.open, "cannot open the database")
    public static let sqlite = StoreError(.sqlite, "SQLite error")
    public static let constraint = StoreError(.constraint, "constraint violated")
    public static let busy = StoreError(.busy, "database is busy")
    public static let locked = StoreError(.locked, "the store is locked by another process")
    public static let corrupt = StoreError(.corrupt, "database is corrupt")
    public static let schemaTooNew = StoreError(.schemaTooNew, "schema is newer than this program")
    public static let migration = StoreError(.migration, "migration failed")
    public static let invalidIdentifier = StoreError(.invalidIdentifier, "invalid SQL identifier")
    public static let checksum = StoreError(.checksum, "checksum mismatch")
    public static let dump = StoreError(.dump, "dump failed")
    public static let restore = StoreError(.restore, "restore refused")
    public static let notFound = StoreError(.notFound, "not found")
    public static let io = StoreError(.io, "file error")
}
