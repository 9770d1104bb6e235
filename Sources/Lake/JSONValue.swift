/// A JSON value that keeps object keys in their original order and integers exact.
///
/// Records in the lake are JSON objects; this type is what stages read and write. Numbers follow
/// RFC 8259 §6: integers that fit 64 bits are `int`; larger integers keep their digits
/// (`bigInteger`), so they are written back exactly; other numbers are doubles (`-0.0` keeps its
/// sign); a number beyond the range of a double (`1e400`) is refused, never turned into infinity.
public enum JSONValue: Sendable, Hashable {
    case null
    case bool(Bool)
    case int(Int64)
    /// An integer outside Int64, as its decimal digits (with a leading `-` when negative).
    case bigInteger(String)
    case double(Double)
    case string(String)
    case array([JSONValue])
    case object(JSONObject)

    public var stringValue: String? { if case .string(let s) = self { return s }; return nil }
    public var objectValue: JSONObject? { if case .object(let o) = self { return o }; return nil }
    public var arrayValue: [JSONValue]? { if case .array(let a) = self { return a }; return nil }
    public var isNull: Bool { if case .null = self { return true }; return false }

    /// The value as a number, when it is one.
    public var doubleValue: Double? {
        switch self {
        case .int(let i): return Double(i)
        case .bigInteger(let digits): return Double(digits)
        case .double(let d): return d
        default: return nil
        }
    }

    /// The value as text for CSV cells and templates: strings bare, everything else as JSON,
    /// null as the empty string.
    public var plainText: String {
        switch self {
        case .null: return ""
        case .string(let s): return s
        default: return serialized()
        }
    }

    /// Compact JSON text.
    public func serialized() -> String {
        var out: [UInt8] = []
        JSONWriter.append(self, to: &out)
        return String(decoding: out, as: UTF8.self)
    }

    /// JSON with object keys sorted, so that equal values give equal text (for fingerprints).
    public func canonicalText() -> String {
        var out: [UInt8] = []
        JSONWriter.append(self, to: &out, sortKeys: true)
        return String(decoding: out, as: UTF8.self)
    }

    /// Parses one JSON text.
    public static func parse(_ text: String) throws(JSONParseError) -> JSONValue {
        var copy = text
        let result: Result<JSONValue, JSONParseError> = copy.withUTF8 { utf8 in
            do throws(JSONParseError) { return .success(try JSONParser.parse(UnsafeRawBufferPointer(utf8))) }
            catch { return .failure(error) }
        }
        return try result.get()
    }

    public static func parse(bytes: UnsafeRawBufferPointer) throws(JSONParseError) -> JSONValue {
        try JSONParser.parse(bytes)
    }
}

/// A JSON object with ordered keys. Lookups are linear: records have tens of fields, not thousands.
public struct JSONObject: Sendable, Hashable, Sequence {
    public struct Entry: Sendable, Hashable {
        public var key: String
        public var value: JSONValue
    }

    public private(set) var entries: [Entry]

    public init() { entries = [] }
    public init(_ pairs: [(String, JSONValue)]) {
        entries = []
        for (k, v) in pairs { self[k] = v }
    }

    public var count: Int { entries.count }
    public var keys: [String] { entries.map(\.key) }

    public subscript(key: String) -> JSONValue? {
        get { entries.first { $0.key == key }?.value }
        set {
            if let index = entries.firstIndex(where: { $0.key == key }) {
                if let newValue { entries[index].value = newValue } else { entries.remove(at: index) }
            } else if let newValue {
                entries.append(Entry(key: key, value: newValue))
            }
        }
    }

    /// Whether `key` is present; compares lengths first, which rules out most keys without a string comparison.
    func containsKey(_ key: String) -> Bool {
        let length = key.utf8.count
        return entries.contains { $0.key.utf8.count == length && $0.key == key }
    }

    /// Appends without checking for an existing key; the parser uses it after its own check.
    mutating func appendUnchecked(_ key: String, _ value: JSONValue) {
        entries.append(Entry(key: key, value: value))
    }

    public func makeIterator() -> IndexingIterator<[Entry]> { entries.makeIterator() }
}

extension JSONValue: ExpressibleByStringLiteral, ExpressibleByIntegerLiteral, ExpressibleByFloatLiteral,
    ExpressibleByBooleanLiteral, ExpressibleByNilLiteral, ExpressibleByArrayLiteral, ExpressibleByDictionaryLiteral {
    public init(stringLiteral value: String) { self = .string(value) }
    public init(integerLiteral value: Int64) { self = .int(value) }
    public init(floatLiteral value: Double) { self = .double(value) }
    public init(booleanLiteral value: Bool) { self = .bool(value) }
    public init(nilLiteral: ()) { self = .null }
    public init(arrayLiteral elements: JSONValue...) { self = .array(elements) }
    public init(dictionaryLiteral elements: (String, JSONValue)...) { self = .object(JSONObject(elements)) }
}

/// Why a JSON text did not parse, with the byte offset (and, for a text of several lines, the line
/// and column).
public struct JSONParseError: Error, Sendable, CustomStringConvertible {
    public let message: String
    public let offset: Int
    /// 1-based line and column (in bytes) of `offset`.
    public var line = 1
    public var column = 1

    public init(message: String, offset: Int, line: Int = 1, column: Int = 1) {
        self.message = message
        self.offset = offset
        self.line = line
        self.column = column
    }

    public var description: String {
        line > 1 ? "\(message) at line \(line), column \(column)" : "\(message) at byte \(offset + 1)"
    }
}

enum JSONWriter {
    private static let hex = Array("0123456789abcdef".utf8)

    static func append(_ value: JSONValue, to out: inout [UInt8], sortKeys: Bool = false) {
        switch value {
        case .null: out.append(contentsOf: "null".utf8)
        case .bool(let b): out.append(contentsOf: (b ? "true" : "false").utf8)
        case .int(let i): out.append(contentsOf: String(i).utf8)
        case .bigInteger(let digits): out.append(contentsOf: digits.utf8)
        case .double(let d):
            if d.isFinite {
                if d == d.rounded(.towardZero) && abs(d) < 1e15 {
                    if d == 0 && d.sign == .minus { out.append(UInt8(ascii: "-")) }  // -0.0 keeps its sign
                    out.append(contentsOf: String(Int64(d)).utf8)
                    out.append(contentsOf: ".0".utf8)
                } else {
                    out.append(contentsOf: d.description.utf8)
                }
            } else {
                out.append(contentsOf: "null".utf8)
            }
        case .string(let s): appendString(s, to: &out)
        case .array(let items):
            out.append(UInt8(ascii: "["))
            for (i, item) in items.enumerated() {
                if i > 0 { out.append(UInt8(ascii: ",")) }
                append(item, to: &out, sortKeys: sortKeys)
            }
            out.append(UInt8(ascii: "]"))
        case .object(let object):
            out.append(UInt8(ascii: "{"))
            let entries = sortKeys ? object.entries.sorted { $0.key < $1.key } : object.entries
            for (i, entry) in entries.enumerated() {
                if i > 0 { out.append(UInt8(ascii: ",")) }
                appendString(entry.key, to: &out)
                out.append(UInt8(ascii: ":"))
                append(entry.value, to: &out, sortKeys: sortKeys)
            }
            out.append(UInt8(ascii: "}"))
        }
    }

    static func appendString(_ s: String, to out: inout [UInt8]) {
        out.append(UInt8(ascii: "\""))
        for byte in s.utf8 {
            switch byte {
            case UInt8(ascii: "\""): out.append(UInt8(ascii: "\\")); out.append(byte)
            case UInt8(ascii: "\\"): out.append(UInt8(ascii: "\\")); out.append(byte)
            case 0x0A: out.append(UInt8(ascii: "\\")); out.append(UInt8(ascii: "n"))
            case 0x0D: out.append(UInt8(ascii: "\\")); out.append(UInt8(ascii: "r"))
            case 0x09: out.append(UInt8(ascii: "\\")); out.append(UInt8(ascii: "t"))
            case 0..<0x20:
                out.append(contentsOf: "\\u00".utf8)
                out.append(hex[Int(byte >> 4)]); out.append(hex[Int(byte & 0xf)])
            default: out.append(byte)
            }
        }
        out.append(UInt8(ascii: "\""))
    }
}

/// What a JSON value is, without the value: `JSONValue`'s cases.
public enum JSONKind: Sendable, Equatable {
    case null, bool, int, bigInteger, double, string, array, object
}

/// One top-level entry of a scanned JSON object: its key and the kind of its value.
public struct JSONKeyKind: Sendable {
    /// Where the key's bytes are in the line, when it has no escapes.
    public var range: Range<Int>
    /// The key, decoded, when it has escapes (then `range` is not used).
    public var escaped: String?
    public var kind: JSONKind
}

/// A strict RFC 8259 parser over UTF-8 bytes. Invalid UTF-8 in strings is an error, not repaired.
struct JSONParser {
    private let bytes: UnsafeRawBufferPointer
    private var i = 0
    private var depth = 0
    private static let maxDepth = 512

    static func parse(_ bytes: UnsafeRawBufferPointer) throws(JSONParseError) -> JSONValue {
        var parser = JSONParser(bytes: bytes)
        parser.skipSpace()
        let value = try parser.value()
        parser.skipSpace()
        if parser.i != bytes.count { throw parser.error("unexpected text after the JSON value") }
        return value
    }

    private init(bytes: UnsafeRawBufferPointer) { self.bytes = bytes }

    /// Parses one JSON object, building only the top-level values whose keys `projection` names
    /// (into `values`, at the key's index; null when absent) and checking the rest without building
    /// it: a text that `parse` rejects is rejected here too, with the same message.
    /// Returns false when the text is valid JSON but not an object.
    static func parseProjected(_ bytes: UnsafeRawBufferPointer, _ projection: FieldProjection,
                               into values: UnsafeMutableBufferPointer<JSONValue>) throws(JSONParseError) -> Bool {
        var parser = JSONParser(bytes: bytes)
        parser.skipSpace()
        guard parser.i < bytes.count, bytes[parser.i] == UInt8(ascii: "{") else {
            _ = try parse(bytes)  // the same error as a full parse, or a valid non-object
            return false
        }
        for k in values.indices { values[k] = .null }
        try parser.projectedObject(projection, values)
        parser.skipSpace()
        if parser.i != bytes.count { throw parser.error("unexpected text after the JSON value") }
        return true
    }

    private mutating func projectedObject(_ projection: FieldProjection, _ values: UnsafeMutableBufferPointer<JSONValue>) throws(JSONParseError) {
        try enter()
        i += 1
        skipSpace()
        if i < bytes.count && bytes[i] == UInt8(ascii: "}") { i += 1; depth -= 1; return }
        while true {
            skipSpace()
            guard i < bytes.count, bytes[i] == UInt8(ascii: "\"") else { throw error("expected a string key") }
            let slot = try projectedKey(projection)
            skipSpace()
            guard i < bytes.count, bytes[i] == UInt8(ascii: ":") else { throw error("expected ':'") }
            i += 1
            skipSpace()
            if slot >= 0 {
                values[slot] = try value()  // a repeated key: the last one wins, as in `parse`
            } else {
                try skipValue()
            }
            skipSpace()
            guard i < bytes.count else { throw error("unexpected end of input in an object") }
            if bytes[i] == UInt8(ascii: ",") { i += 1; continue }
            if bytes[i] == UInt8(ascii: "}") { i += 1; depth -= 1; return }
            throw error("expected ',' or '}'")
        }
    }

    /// Reads a key and returns its index in the projection, or -1.
    private mutating func projectedKey(_ projection: FieldProjection) throws(JSONParseError) -> Int {
        let start = i + 1
        let k = plainRunEnd(from: start)
        if k < bytes.count && bytes[k] == UInt8(ascii: "\"") {
            // Plain ASCII key: compare bytes without building a String.
            i = k + 1
            let key = UnsafeRawBufferPointer(rebasing: bytes[start..<k])
            return projection.slot(ofUTF8: key)
        }
        let key = try string()
        return projection.slot(of: key)
    }

    /// Checks one JSON object exactly as `parse` does (the same errors) without building its
    /// values, and appends each top-level entry's key and value kind to `entries` (keys as byte
    /// ranges of `bytes`, or decoded text when escaped). Returns false when the text is valid JSON
    /// but not an object. Made for schema inference: which keys, holding what.
    static func scanKinds(_ bytes: UnsafeRawBufferPointer, into entries: inout [JSONKeyKind]) throws(JSONParseError) -> Bool {
        var parser = JSONParser(bytes: bytes)
        parser.skipSpace()
        guard parser.i < bytes.count, bytes[parser.i] == UInt8(ascii: "{") else {
            _ = try parse(bytes)  // the same error as a full parse, or a valid non-object
            return false
        }
        try parser.scanObjectKinds(into: &entries)
        parser.skipSpace()
        if parser.i != bytes.count { throw parser.error("unexpected text after the JSON value") }
        return true
    }

    private mutating func scanObjectKinds(into entries: inout [JSONKeyKind]) throws(JSONParseError) {
        try enter()
        i += 1
        skipSpace()
        if i < bytes.count && bytes[i] == UInt8(ascii: "}") { i += 1; depth -= 1; return }
        while true {
            skipSpace()
            guard i < bytes.count, bytes[i] == UInt8(ascii: "\"") else { throw error("expected a string key") }
            let start = i + 1
            let k = plainRunEnd(from: start)
            var key = JSONKeyKind(range: start..<k, escaped: nil, kind: .null)
            if k < bytes.count && bytes[k] == UInt8(ascii: "\"") { i = k + 1 } else { key.escaped = try string() }
            skipSpace()
            guard i < bytes.count, bytes[i] == UInt8(ascii: ":") else { throw error("expected ':'") }
            i += 1
            skipSpace()
            key.kind = try skipValueKind()
            entries.append(key)
            skipSpace()
            guard i < bytes.count else { throw error("unexpected end of input in an object") }
            if bytes[i] == UInt8(ascii: ",") { i += 1; continue }
            if bytes[i] == UInt8(ascii: "}") { i += 1; depth -= 1; return }
            throw error("expected ',' or '}'")
        }
    }

    /// Checks a value as `skipValue` does and tells what `value()` would have built.
    private mutating func skipValueKind() throws(JSONParseError) -> JSONKind {
        guard i < bytes.count else { throw error("unexpected end of input") }
        switch bytes[i] {
        case UInt8(ascii: "{"): try skipValue(); return .object
        case UInt8(ascii: "["): try skipValue(); return .array
        case UInt8(ascii: "\""): try skipString(); return .string
        case UInt8(ascii: "-"), UInt8(ascii: "0")...UInt8(ascii: "9"):
            let start = i
            try skipNumber()
            var digits = 0
            for k in start..<i {
                let b = bytes[k]
                if b == UInt8(ascii: ".") || b == UInt8(ascii: "e") || b == UInt8(ascii: "E") { return .double }
                if isDigit(b) { digits += 1 }
            }
            // As `number()`: an integer that fits 64 bits is an int, a longer one keeps its digits.
            if digits <= 18 { return .int }
            let text = String(decoding: UnsafeRawBufferPointer(rebasing: bytes[start..<i]), as: UTF8.self)
            return Int64(text) != nil ? .int : .bigInteger
        default:
            switch try value() {  // literals and errors
            case .bool: return .bool
            default: return .null
            }
        }
    }

    /// Checks a value without building it.
    private mutating func skipValue() throws(JSONParseError) {
        guard i < bytes.count else { throw error("unexpected end of input") }
        switch bytes[i] {
        case UInt8(ascii: "{"):
            try enter()
            i += 1
            skipSpace()
            if i < bytes.count && bytes[i] == UInt8(ascii: "}") { i += 1; depth -= 1; return }
            while true {
                skipSpace()
                guard i < bytes.count, bytes[i] == UInt8(ascii: "\"") else { throw error("expected a string key") }
                try skipString()
                skipSpace()
                guard i < bytes.count, bytes[i] == UInt8(ascii: ":") else { throw error("expected ':'") }
                i += 1
                skipSpace()
                try skipValue()
                skipSpace()
                guard i < bytes.count else { throw error("unexpected end of input in an object") }
                if bytes[i] == UInt8(ascii: ",") { i += 1; continue }
                if bytes[i] == UInt8(ascii: "}") { i += 1; depth -= 1; return }
                throw error("expected ',' or '}'")
            }
        case UInt8(ascii: "["):
            try enter()
            i += 1
            skipSpace()
            if i < bytes.count && bytes[i] == UInt8(ascii: "]") { i += 1; depth -= 1; return }
            while true {
                skipSpace()
                try skipValue()
                skipSpace()
                guard i < bytes.count else { throw error("unexpected end of input in an array") }
                if bytes[i] == UInt8(ascii: ",") { i += 1; continue }
                if bytes[i] == UInt8(ascii: "]") { i += 1; depth -= 1; return }
                throw error("expected ',' or ']'")
            }
        case UInt8(ascii: "\""): try skipString()
        case UInt8(ascii: "-"), UInt8(ascii: "0")...UInt8(ascii: "9"): try skipNumber()
        default: _ = try value()  // literals and errors
        }
    }

    /// Checks a string without building it: plain ASCII is scanned; anything else (escapes,
    /// non-ASCII bytes) goes through `string()` so that its checks apply unchanged.
    private mutating func skipString() throws(JSONParseError) {
        let k = plainRunEnd(from: i + 1)
        if k < bytes.count && bytes[k] == UInt8(ascii: "\"") { i = k + 1; return }
        _ = try string()
    }

    /// The index of the first byte from `k` on that ends a plain ASCII run inside a string: a
    /// quote, a backslash, a control character or a non-ASCII byte (or the end). Eight bytes at a
    /// time: the lowest flagged byte of each test below is exact, so the lowest of all is the answer.
    @inline(__always)
    private func plainRunEnd(from start: Int) -> Int {
        var k = start
        let count = bytes.count
        guard let base = bytes.baseAddress else { return count }
        let ones: UInt64 = 0x0101_0101_0101_0101, highs: UInt64 = 0x8080_8080_8080_8080
        while k + 8 <= count {
            let word = UInt64(littleEndian: base.loadUnaligned(fromByteOffset: k, as: UInt64.self))
            let quote = word ^ (ones &* 0x22), backslash = word ^ (ones &* 0x5C)
            var mask = word & highs                                   // >= 0x80
            mask |= (word &- ones &* 0x20) & ~word & highs            // < 0x20
            mask |= (quote &- ones) & ~quote & highs                  // '"'
            mask |= (backslash &- ones) & ~backslash & highs          // '\\'
            if mask != 0 { return k + mask.trailingZeroBitCount >> 3 }
            k += 8
        }
        while k < count {
            let b = base.load(fromByteOffset: k, as: UInt8.self)
            if b == 0x22 || b == 0x5C || b < 0x20 || b >= 0x80 { return k }
            k += 1
        }
        return count
    }

    /// The number grammar of `number()`, without converting (except to refuse a number beyond a double).
    private mutating func skipNumber() throws(JSONParseError) {
        let start = i
        if bytes[i] == UInt8(ascii: "-") { i += 1 }
        guard i < bytes.count, isDigit(bytes[i]) else { throw error("invalid number") }
        if bytes[i] == UInt8(ascii: "0") { i += 1 } else { while i < bytes.count && isDigit(bytes[i]) { i += 1 } }
        if i < bytes.count && bytes[i] == UInt8(ascii: ".") {
            i += 1
            guard i < bytes.count, isDigit(bytes[i]) else { throw error("invalid number") }
            while i < bytes.count && isDigit(bytes[i]) { i += 1 }
        }
        if i < bytes.count && (bytes[i] == UInt8(ascii: "e") || bytes[i] == UInt8(ascii: "E")) {
            i += 1
            if i < bytes.count && (bytes[i] == UInt8(ascii: "+") || bytes[i] == UInt8(ascii: "-")) { i += 1 }
            guard i < bytes.count, isDigit(bytes[i]) else { throw error("invalid number") }
            while i < bytes.count && isDigit(bytes[i]) { i += 1 }
            try checkRange(start)
        } else if i - start > 300 {
            try checkRange(start)
        }
    }

    /// RFC 8259 §6: a number that no double holds (`1e400`) is refused, with the reason, rather than read as infinity.
    private func checkRange(_ start: Int) throws(JSONParseError) {
        let text = String(decoding: UnsafeRawBufferPointer(rebasing: bytes[start..<i]), as: UTF8.self)
        if let value = Double(text), value.isFinite { return }
        let shown = text.count > 40 ? String(text.prefix(40)) + "…" : text
        throw JSONParseError.at(start, in: bytes,
                                "number out of range: \(shown) is beyond the largest double (about 1.8e308)")
    }

    private func error(_ message: String) -> JSONParseError { JSONParseError.at(i, in: bytes, message) }

    private mutating func skipSpace() {
        while i < bytes.count {
            let b = bytes[i]
            if b == 0x20 || b == 0x0A || b == 0x0D || b == 0x09 { i += 1 } else { return }
        }
    }

    private mutating func value() throws(JSONParseError) -> JSONValue {
        guard i < bytes.count else { throw error("unexpected end of input") }
        switch bytes[i] {
        case UInt8(ascii: "{"): return try object()
        case UInt8(ascii: "["): return try array()
        case UInt8(ascii: "\""): return .string(try string())
        case UInt8(ascii: "t"): try literal("true"); return .bool(true)
        case UInt8(ascii: "f"): try literal("false"); return .bool(false)
        case UInt8(ascii: "n"): try literal("null"); return .null
        case UInt8(ascii: "-"), UInt8(ascii: "0")...UInt8(ascii: "9"): return try number()
        default: throw error("unexpected character '\(Character(Unicode.Scalar(bytes[i])))'")
        }
    }

    private mutating func literal(_ word: StaticString) throws(JSONParseError) {
        let n = word.utf8CodeUnitCount
        guard i + n <= bytes.count else { throw error("unexpected end of input") }
        for k in 0..<n where bytes[i + k] != word.utf8Start[k] { throw error("invalid literal") }
        i += n
    }

    private mutating func enter() throws(JSONParseError) {
        depth += 1
        if depth > Self.maxDepth { throw error("nesting deeper than \(Self.maxDepth)") }
    }

    private mutating func object() throws(JSONParseError) -> JSONValue {
        try enter()
        i += 1
        var object = JSONObject()
        skipSpace()
        if i < bytes.count && bytes[i] == UInt8(ascii: "}") { i += 1; depth -= 1; return .object(object) }
        while true {
            skipSpace()
            guard i < bytes.count, bytes[i] == UInt8(ascii: "\"") else { throw error("expected a string key") }
            let key = try string()
            skipSpace()
            guard i < bytes.count, bytes[i] == UInt8(ascii: ":") else { throw error("expected ':'") }
            i += 1
            skipSpace()
            let v = try value()
            // Duplicate keys: the last one wins, as in most parsers.
            if object.containsKey(key) { object[key] = v } else { object.appendUnchecked(key, v) }
            skipSpace()
            guard i < bytes.count else { throw error("unexpected end of input in an object") }
            if bytes[i] == UInt8(ascii: ",") { i += 1; continue }
            if bytes[i] == UInt8(ascii: "}") { i += 1; depth -= 1; return .object(object) }
            throw error("expected ',' or '}'")
        }
    }

    private mutating func array() throws(JSONParseError) -> JSONValue {
        try enter()
        i += 1
        var items: [JSONValue] = []
        skipSpace()
        if i < bytes.count && bytes[i] == UInt8(ascii: "]") { i += 1; depth -= 1; return .array(items) }
        while true {
            skipSpace()
            items.append(try value())
            skipSpace()
            guard i < bytes.count else { throw error("unexpected end of input in an array") }
            if bytes[i] == UInt8(ascii: ",") { i += 1; continue }
            if bytes[i] == UInt8(ascii: "]") { i += 1; depth -= 1; return .array(items) }
            throw error("expected ',' or ']'")
        }
    }

    private mutating func number() throws(JSONParseError) -> JSONValue {
        let start = i
        var isInteger = true
        if bytes[i] == UInt8(ascii: "-") { i += 1 }
        guard i < bytes.count, isDigit(bytes[i]) else { throw error("invalid number") }
        if bytes[i] == UInt8(ascii: "0") { i += 1 } else { while i < bytes.count && isDigit(bytes[i]) { i += 1 } }
        if i < bytes.count && bytes[i] == UInt8(ascii: ".") {
            isInteger = false
            i += 1
            guard i < bytes.count, isDigit(bytes[i]) else { throw error("invalid number") }
            while i < bytes.count && isDigit(bytes[i]) { i += 1 }
        }
        if i < bytes.count && (bytes[i] == UInt8(ascii: "e") || bytes[i] == UInt8(ascii: "E")) {
            isInteger = false
            i += 1
            if i < bytes.count && (bytes[i] == UInt8(ascii: "+") || bytes[i] == UInt8(ascii: "-")) { i += 1 }
            guard i < bytes.count, isDigit(bytes[i]) else { throw error("invalid number") }
            while i < bytes.count && isDigit(bytes[i]) { i += 1 }
        }
        if let fast = Self.fastNumber(bytes, start, i, isInteger: isInteger) { return fast }
        let text = String(decoding: UnsafeRawBufferPointer(rebasing: bytes[start..<i]), as: UTF8.self)
        if isInteger {
            // Beyond 64 bits an integer keeps its digits, so it is written back exactly.
            if let value = Int64(text) { return .int(value) }
            return .bigInteger(text)
        }
        guard let value = Double(text) else { throw error("invalid number") }
        guard value.isFinite else { try checkRange(start); throw error("invalid number") }
        return .double(value)
    }

    private static let exactPowersOfTen: [Double] = (0...22).map { (0..<$0).reduce(1.0) { r, _ in r * 10 } }

    /// The value of an already-validated number without going through text, when that is exact:
    /// integers of up to 18 digits, and decimals whose digits fit in 2^53 with a power of ten up
    /// to 10^22 (one correctly rounded multiplication or division, so the same double as `Double(text)`).
    /// nil sends the number to the general path.
    @inline(__always)
    private static func fastNumber(_ bytes: UnsafeRawBufferPointer, _ start: Int, _ end: Int, isInteger: Bool) -> JSONValue? {
        var k = start
        let negative = bytes[k] == UInt8(ascii: "-")
        if negative { k += 1 }
        var mantissa: UInt64 = 0
        var digits = 0
        var fractionDigits = 0
        var inFraction = false
        while k < end {
            let b = bytes[k]
            if b >= 0x30 && b <= 0x39 {
                if digits == 18 { return nil }
                if mantissa != 0 || b != 0x30 { digits += 1 }
                mantissa = mantissa &* 10 &+ UInt64(b &- 0x30)
                if inFraction { fractionDigits += 1 }
            } else if b == UInt8(ascii: ".") {
                inFraction = true
            } else {
                return nil  // an exponent: the general path
            }
            k += 1
        }
        if isInteger {
            let value = Int64(mantissa)
            return .int(negative ? -value : value)
        }
        guard mantissa < (1 << 53), fractionDigits <= 22 else { return nil }
        let value = Double(mantissa) / exactPowersOfTen[fractionDigits]
        return .double(negative ? -value : value)
    }

    @inline(__always) private func isDigit(_ b: UInt8) -> Bool { b >= 0x30 && b <= 0x39 }

    private mutating func string() throws(JSONParseError) -> String {
        i += 1
        let start = i
        i = plainRunEnd(from: i)
        // Fast path: no escapes.
        while i < bytes.count {
            let b = bytes[i]
            if b == UInt8(ascii: "\"") {
                let slice = UnsafeRawBufferPointer(rebasing: bytes[start..<i])
                i += 1
                guard let s = UTF8Text.string(slice) else {
                    i = start
                    throw error("invalid UTF-8 in a string")
                }
                return s
            }
            if b == UInt8(ascii: "\\") || b < 0x20 { break }
            i += 1
        }
        var buffer = Array(UnsafeRawBufferPointer(rebasing: bytes[start..<i]))
        while i < bytes.count {
            let b = bytes[i]
            if b == UInt8(ascii: "\"") {
                i += 1
                guard let s = buffer.withUnsafeBytes(UTF8Text.string) else { throw error("invalid UTF-8 in a string") }
                return s
            }
            if b < 0x20 { throw error("control character in a string") }
            if b != UInt8(ascii: "\\") { buffer.append(b); i += 1; continue }
            i += 1
            guard i < bytes.count else { break }
            let e = bytes[i]
            i += 1
            switch e {
            case UInt8(ascii: "\""), UInt8(ascii: "\\"), UInt8(ascii: "/"): buffer.append(e)
            case UInt8(ascii: "b"): buffer.append(0x08)
            case UInt8(ascii: "f"): buffer.append(0x0C)
            case UInt8(ascii: "n"): buffer.append(0x0A)
            case UInt8(ascii: "r"): buffer.append(0x0D)
            case UInt8(ascii: "t"): buffer.append(0x09)
            case UInt8(ascii: "u"):
                var scalar = try hex4()
                if (0xD800...0xDBFF).contains(scalar) {
                    guard i + 1 < bytes.count, bytes[i] == UInt8(ascii: "\\"), bytes[i + 1] == UInt8(ascii: "u") else {
                        throw error("unpaired surrogate")
                    }
                    i += 2
                    let low = try hex4()
                    guard (0xDC00...0xDFFF).contains(low) else { throw error("unpaired surrogate") }
                    scalar = 0x10000 + ((scalar - 0xD800) << 10) + (low - 0xDC00)
                } else if (0xDC00...0xDFFF).contains(scalar) {
                    throw error("unpaired surrogate")
                }
                buffer.append(contentsOf: String(Character(Unicode.Scalar(scalar)!)).utf8)
            default: throw error("invalid escape")
            }
        }
        throw error("unterminated string")
    }

    private mutating func hex4() throws(JSONParseError) -> UInt32 {
        guard i + 4 <= bytes.count else { throw error("invalid \\u escape") }
        var value: UInt32 = 0
        for _ in 0..<4 {
            let b = bytes[i]
            let digit: UInt32
            switch b {
            case 0x30...0x39: digit = UInt32(b - 0x30)
            case 0x41...0x46: digit = UInt32(b - 0x41 + 10)
            case 0x61...0x66: digit = UInt32(b - 0x61 + 10)
            default: throw error("invalid \\u escape")
            }
            value = value << 4 | digit
            i += 1
        }
        return value
    }
}

extension JSONParseError {
    /// An error at byte `offset` of `bytes`, with its line and column counted (only when failing).
    static func at(_ offset: Int, in bytes: UnsafeRawBufferPointer, _ message: String) -> JSONParseError {
        var line = 1
        var lineStart = 0
        let end = min(offset, bytes.count)
        for k in 0..<end where bytes[k] == 0x0A {
            line += 1
            lineStart = k + 1
        }
        return JSONParseError(message: message, offset: offset, line: line, column: offset - lineStart + 1)
    }
}

/// Strict UTF-8 to `String` without the generic `String(validating:as:)`, whose unspecialised
/// metadata lookups cost a third of the parse time of string-heavy records.
enum UTF8Text {
    /// The text, or nil when `bytes` is not well-formed UTF-8 (RFC 3629: no overlong forms,
    /// no surrogates, nothing above U+10FFFF, no truncated sequences).
    @inline(__always)
    static func string(_ bytes: UnsafeRawBufferPointer) -> String? {
        guard isValid(bytes) else { return nil }
        return String(decoding: bytes.bindMemory(to: UInt8.self), as: UTF8.self)
    }

    static func isValid(_ p: UnsafeRawBufferPointer) -> Bool {
        var i = 0
        let n = p.count
        while i < n {
            let b0 = p[i]
            if b0 < 0x80 { i += 1; continue }
            if b0 < 0xC2 { return false }  // a continuation byte, or an overlong two-byte form
            if b0 < 0xE0 {
                guard i + 1 < n, p[i + 1] & 0xC0 == 0x80 else { return false }
                i += 2
            } else if b0 < 0xF0 {
                guard i + 2 < n else { return false }
                let b1 = p[i + 1], b2 = p[i + 2]
                guard b1 & 0xC0 == 0x80, b2 & 0xC0 == 0x80 else { return false }
                if b0 == 0xE0 && b1 < 0xA0 { return false }   // overlong
                if b0 == 0xED && b1 >= 0xA0 { return false }  // UTF-16 surrogates
                i += 3
            } else if b0 < 0xF5 {
                guard i + 3 < n else { return false }
                let b1 = p[i + 1], b2 = p[i + 2], b3 = p[i + 3]
                guard b1 & 0xC0 == 0x80, b2 & 0xC0 == 0x80, b3 & 0xC0 == 0x80 else { return false }
                if b0 == 0xF0 && b1 < 0x90 { return false }   // overlong
                if b0 == 0xF4 && b1 >= 0x90 { return false }  // above U+10FFFF
                i += 4
            } else {
                return false
            }
        }
        return true
    }
}

/// The top-level fields of a record that a reader should build; the rest is checked, not built.
///
/// Aggregations read a handful of fields out of wide records: building only those is most of
/// the speed of `RecordReader.next(projecting:into:)`.
public struct FieldProjection: Sendable {
    /// The keys, in slot order.
    public let keys: [String]
    private let utf8Keys: [[UInt8]]

    /// Keys that are not built but noticed (`KeyWatch`): nil for none.
    public let watch: KeyWatch?

    public init(keys: [String], watch: KeyWatch? = nil) {
        var unique: [String] = []
        for key in keys where !unique.contains(key) { unique.append(key) }
        self.keys = unique
        utf8Keys = unique.map { Array($0.utf8) }
        self.watch = watch
    }

    /// The slot of a key, or -1.
    public func slot(of key: String) -> Int {
        if let slot = keys.firstIndex(of: key) { return slot }
        if let watch, watch.mayHold(key.utf8.count) { Array(key.utf8).withUnsafeBytes { watch.check($0) } }
        return -1
    }

    @inline(__always)
    func slot(ofUTF8 key: UnsafeRawBufferPointer) -> Int {
        if key.isEmpty { return utf8Keys.firstIndex { $0.isEmpty } ?? -1 }
        for (index, candidate) in utf8Keys.enumerated() where candidate.count == key.count {
            let same = candidate.withUnsafeBytes { c in memcmp(c.baseAddress!, key.baseAddress!, key.count) == 0 }
            if same { return index }
        }
        if let watch, watch.mayHold(key.count) { watch.check(key) }
        return -1
    }
}

#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif
