/// A statement's result: column names and rows of text values (`nil` is SQL NULL), as PostgreSQL's
/// text output writes them (`t`/`f` for booleans, `2026-11-25 15:42:00+00` for timestamps).
public struct PGRows: Sendable, RandomAccessCollection {
    public let columns: [String]
    public let rows: [[String?]]
    /// Rows the statement changed (INSERT, UPDATE, DELETE, COPY), or returned for a SELECT.
    public let affected: Int

    public init(columns: [String], rows: [[String?]], affected: Int) {
        self.columns = columns
        self.rows = rows
        self.affected = affected
    }

    public var startIndex: Int { rows.startIndex }
    public var endIndex: Int { rows.endIndex }
    public subscript(position: Int) -> [String?] { rows[position] }
}
