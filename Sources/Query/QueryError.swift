/// A query the user can fix: SQL that does not compile or fails, a file whose format cannot be told.
public struct QueryError: Error, CustomStringConvertible, Sendable {
    public let message: String
    public init(_ message: String) { self.message = message }
    public var description: String { message }
}
