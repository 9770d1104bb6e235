/// An error from PostgreSQL or libpq: the URL (redacted), the SQL, and the server's SQLSTATE and message.
///
/// A struct over a private enum so that kinds can be added; match a kind with `catch PGError.connect`,
/// a server condition with `error.sqlState` (`23505` unique violation, `40001` serialization failure…).
public struct PGError: Error, CustomStringConvertible, Sendable {
    enum Code: Sendable, Equatable {
        case url
        case connect
        case query
        case copy
    }

    let code: Code
    /// What went wrong.
    public let message: String
    /// The server's five-character SQLSTATE, when the server reported the error.
    public let sqlState: String?
    public let detail: String?
    public let hint: String?
    /// The statement, when there is one.
    public let sql: String?
    /// The database's URL, redacted.
    public let url: String?
    let file: String
    let line: Int

    init(_ code: Code, _ message: String, sqlState: String? = nil, detail: String? = nil, hint: String? = nil,
         sql: String? = nil, url: String? = nil, file: String = #fileID, line: Int = #line) {
        self.code = code
        self.message = message
        self.sqlState = sqlState
        self.detail = detail
        self.hint = hint
        self.sql = sql
        self.url = url
        self.file = file
        self.line = line
    }

    public var description: String {
        var text = url.map { "\($0): \(message)" } ?? message
        if let sqlState { text += " [SQLSTATE \(sqlState)]" }
        if let detail { text += "; \(detail)" }
        if let hint { text += " (hint: \(hint))" }
        if let sql { text += " (in: \(sql.count > 300 ? String(sql.prefix(300)) + "…" : sql))" }
        return text
    }

    /// The description with the source location, for logs.
    public var detailedDescription: String { "\(description) [at \(file):\(line)]" }

    /// Whether the server refused a row for a unique, foreign-key, check or not-null constraint (class 23).
    public var isConstraintViolation: Bool { sqlState?.hasPrefix("23") == true }

    public static func ~= (lhs: PGError, rhs: any Error) -> Bool { (rhs as? PGError)?.code == lhs.code }

    public static let url = PGError(.url, "invalid PostgreSQL URL")
    public static let connect = PGError(.connect, "cannot connect to PostgreSQL")
    public static let query = PGError(.query, "PostgreSQL statement failed")
    public static let copy = PGError(.copy, "COPY failed")
}
