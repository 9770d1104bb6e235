/// A field of a record named by its keys from the top, written with dots: `price`,
/// `sentiment.label` (the `label` of the object under `sentiment`). The one lookup of nested fields
/// that templates, materialize mappings, `lake diff` keys and report charts share.
public struct DottedPath: Sendable, Hashable, CustomStringConvertible {
    /// The keys from the record down to the value; never empty.
    public let parts: [String]

    public init(_ parts: [String]) {
        precondition(!parts.isEmpty, "a field path names at least one key")
        self.parts = parts
    }

    /// `a.b.c`; an empty piece (`a..b`) is a key named "" and never found in practice.
    public init(dotted: String) {
        self.init(dotted.split(separator: ".", omittingEmptySubsequences: false).map(String.init))
    }

    /// The path as written: `sentiment.label`.
    public var description: String { parts.joined(separator: ".") }

    /// The value at this path, or nil when a key is missing or a step is not an object.
    public func lookup(in record: JSONObject) -> JSONValue? {
        guard var value = record[parts[0]] else { return nil }
        for key in parts.dropFirst() {
            guard case .object(let object) = value, let next = object[key] else { return nil }
            value = next
        }
        return value
    }

    /// The value at this path; null when missing.
    public func value(in record: JSONObject) -> JSONValue { lookup(in: record) ?? .null }
}
