/// SQL text for identifiers and values, as the SQL dump writes them.
public enum SQLLiteral {
    private static let hexDigits = Array("0123456789ABCDEF".utf8)

    /// `"name"` with inner quotes doubled. Only for names read back from SQLite's own schema
    /// or already checked by `SQLIdentifier`; user input goes through `SQLIdentifier` first.
    public static func quoteName(_ name: String) -> String {
        "\"" + name.replacingOccurrences(of: "\"", with: "\"\"") + "\""
    }

    /// `'text'` with inner quotes doubled.
    public static func quoteText(_ text: String) -> String {
        "'" + text.replacingOccurrences(of: "'", with: "''") + "'"
    }

    static func appendText(_ bytes: UnsafeBufferPointer<UInt8>, to out: inout [UInt8]) {
        if bytes.contains(0) {
            // A NUL cannot sit inside a string literal: write the bytes as a blob cast to text.
            out.append(contentsOf: "CAST(".utf8)
            appendBlob(UnsafeRawBufferPointer(bytes), to: &out)
            out.append(contentsOf: " AS TEXT)".utf8)
            return
        }
        out.append(UInt8(ascii: "'"))
        for b in bytes {
            if b == UInt8(ascii: "'") { out.append(b) }
            out.append(b)
        }
        out.append(UInt8(ascii: "'"))
    }

    static func appendBlob(_ bytes: UnsafeRawBufferPointer, to out: inout [UInt8]) {
        out.append(UInt8(ascii: "X"))
        out.append(UInt8(ascii: "'"))
        for b in bytes {
            out.append(hexDigits[Int(b >> 4)])
            out.append(hexDigits[Int(b & 0x0f)])
        }
        out.append(UInt8(ascii: "'"))
    }

    /// Shortest text that reads back as the same double; infinities as the shell writes them.
    static func appendReal(_ value: Double, to out: inout [UInt8]) {
        if value.isNaN { out.append(contentsOf: "NULL".utf8); return }
        if value.isInfinite { out.append(contentsOf: (value < 0 ? "-1e999" : "1e999").utf8); return }
        var text = value.description
        if !text.contains(where: { $0 == "." || $0 == "e" || $0 == "E" }) { text += ".0" }
        out.append(contentsOf: text.utf8)
    }
}

/// A table or column name checked to be a plain identifier, safe to quote into SQL.
///
/// Names from configuration files never reach SQL unchecked: they must match
/// `[A-Za-z_][A-Za-z0-9_]*`, be at most 64 characters, and not start with `sqlite_`.
public struct SQLIdentifier: Sendable, Hashable, CustomStringConvertible {
    public let name: String

    public init(_ name: String) throws {
        if let problem = Self.problem(with: name) {
            throw StoreError(.invalidIdentifier, "invalid SQL identifier '\(name)'", cause: problem)
        }
        self.name = name
    }

    /// Why `name` is not acceptable, or nil when it is.
    public static func problem(with name: String) -> String? {
        if name.isEmpty { return "it is empty" }
        if name.utf8.count > 64 { return "it is longer than 64 characters" }
        let bytes = Array(name.utf8)
        func isLetter(_ b: UInt8) -> Bool { (b >= 0x41 && b <= 0x5A) || (b >= 0x61 && b <= 0x7A) || b == 0x5F }
        guard isLetter(bytes[0]) else { return "it must start with a letter or '_'" }
        guard bytes.allSatisfy({ isLetter($0) || ($0 >= 0x30 && $0 <= 0x39) }) else {
            return "only letters, digits and '_' are allowed"
        }
        if name.lowercased().hasPrefix("sqlite_") { return "names starting with 'sqlite_' are reserved" }
        return nil
    }

    /// The name in double quotes.
    public var quoted: String { "\"" + name + "\"" }
    public var description: String { name }
}
