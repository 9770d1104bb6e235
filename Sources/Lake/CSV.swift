/// RFC 4180 CSV: comma-separated, fields optionally quoted with `"`, `""` for a quote inside,
/// quoted fields may span lines. Reads from a byte source in a fixed buffer.
public final class CSVReader {
    private let source: ByteSource
    private var buffer = [UInt8](repeating: 0, count: 256 * 1024)
    private var position = 0
    private var end = 0
    private var ended = false
    private var line = 1
    /// 1-based line on which the last returned row started.
    public private(set) var rowLine = 0
    /// Whether the last returned row was an empty line (as opposed to a quoted empty field, `""`).
    public private(set) var rowWasBlankLine = false
    private var atStart = true
    public let delimiter: UInt8
    public let maxFieldLength: Int
    /// The most bytes one row may take, all its fields together.
    public let maxRowLength: Int
    /// The rest of a row given up on (too long, text after a quote) is passed over when the next
    /// row is asked for, not before the error is thrown: a failing read stops at the limit.
    private var pendingSkip: (quoted: Bool, atFieldStart: Bool)?
    /// A malformed row's `raw` text is cut to this many bytes.
    static let rawLimit = 64 * 1024

    public init(_ source: ByteSource, delimiter: UInt8 = UInt8(ascii: ","), maxFieldLength: Int = 16 * 1024 * 1024,
                maxRowLength: Int = 64 * 1024 * 1024) {
        self.source = source
        self.delimiter = delimiter
        self.maxFieldLength = maxFieldLength
        self.maxRowLength = max(maxRowLength, maxFieldLength)
    }

    /// A row that could not be read, with the line it started on.
    public struct Malformed: Error, Sendable {
        public let line: Int
        public let reason: String
        public let raw: String
    }

    private static let bom: [UInt8] = [0xEF, 0xBB, 0xBF]
    /// Bytes read ahead at the start while looking for a BOM, served before the buffer.
    private var pushedBack: [UInt8] = []

    private func nextByte() throws -> UInt8? {
        if !pushedBack.isEmpty { return pushedBack.removeFirst() }
        if position == end {
            if ended { return nil }
            // Every long loop reads through here: a cancelled task (SIGTERM, Ctrl-C) stops within one buffer.
            if Task.isCancelled { throw CancellationError() }
            end = try buffer.withUnsafeMutableBytes { try source.read(into: $0) }
            position = 0
            if end == 0 { ended = true; return nil }
        }
        defer { position += 1 }
        return buffer[position]
    }

    private func peekByte() throws -> UInt8? {
        if let first = pushedBack.first { return first }
        guard let b = try nextByte() else { return nil }
        position -= 1
        return b
    }

    /// The next row's fields, nil at the end. A malformed row throws `Malformed`; the reader
    /// has then skipped to the end of that row's line, so reading can go on.
    public func nextRow() throws -> [String]? {
        if let skip = pendingSkip {
            pendingSkip = nil
            try skipRestOfRow(quoted: skip.quoted, atFieldStart: skip.atFieldStart)
        }
        var fields: [String?] = []
        var field: [UInt8] = []
        var raw: [UInt8] = []
        var rowLength = 0
        rowLine = line
        rowWasBlankLine = false
        if atStart {
            atStart = false
            // A UTF-8 byte order mark (Excel writes one) is not part of the first field.
            var prefix: [UInt8] = []
            while prefix.count < 3, let b = try nextByte() {
                prefix.append(b)
                if !Self.bom.starts(with: prefix) { break }
            }
            if prefix != Self.bom { pushedBack = prefix }
        }
        guard var b = try nextByte() else { return nil }
        rowWasBlankLine = b == 0x0A || b == 0x0D
        var quoted = false
        var afterQuote = false
        while true {
            if raw.count < Self.rawLimit { raw.append(b) }
            rowLength += 1
            if quoted {
                if b == UInt8(ascii: "\"") {
                    if try peekByte() == UInt8(ascii: "\"") {
                        _ = try nextByte(); raw.append(UInt8(ascii: "\""))
                        field.append(UInt8(ascii: "\""))
                    } else {
                        quoted = false
                        afterQuote = true
                    }
                } else {
                    if b == 0x0A { line += 1 }
                    field.append(b)
                }
            } else if b == delimiter {
                fields.append(text(field)); field.removeAll(keepingCapacity: true); afterQuote = false
            } else if b == 0x0A || b == 0x0D {
                if b == 0x0D, try peekByte() == 0x0A { _ = try nextByte() }
                line += 1
                fields.append(text(field))
                return try checked(fields, raw: raw)
            } else if b == UInt8(ascii: "\"") && field.isEmpty && !afterQuote {
                quoted = true
            } else if afterQuote {
                pendingSkip = (quoted: false, atFieldStart: false)
                throw Malformed(line: rowLine, reason: "text after a closing quote", raw: String(decoding: raw, as: UTF8.self))
            } else {
                field.append(b)
            }
            if field.count > maxFieldLength {
                pendingSkip = (quoted: quoted, atFieldStart: false)
                throw Malformed(line: rowLine, reason: "field longer than \(maxFieldLength) bytes", raw: "")
            }
            if rowLength > maxRowLength {
                pendingSkip = (quoted: quoted, atFieldStart: !quoted && field.isEmpty)
                throw Malformed(line: rowLine, reason: "row longer than \(maxRowLength) bytes", raw: "")
            }
            guard let next = try nextByte() else {
                if quoted {
                    throw Malformed(line: rowLine, reason: "unterminated quoted field", raw: String(decoding: raw, as: UTF8.self))
                }
                fields.append(text(field))
                return try checked(fields, raw: raw)
            }
            b = next
        }
    }

    /// Field text; invalid UTF-8 becomes nil-marked so the whole row is rejected once it is read.
    private func text(_ bytes: [UInt8]) -> String? { String(validating: bytes, as: UTF8.self) }

    /// The row, or `Malformed` if a field was not valid UTF-8. The row has been read to its end
    /// either way, so the next row starts cleanly.
    private func checked(_ fields: [String?], raw: [UInt8]) throws -> [String] {
        let valid = fields.compactMap { $0 }
        guard valid.count == fields.count else {
            throw Malformed(line: rowLine, reason: "invalid UTF-8", raw: String(decoding: raw, as: UTF8.self))
        }
        return valid
    }

    /// Passes over the rest of a row given up on, quotes respected, so that reading goes on at
    /// the next row (a quoted field with line breaks stays inside the row it belongs to).
    private func skipRestOfRow(quoted: Bool, atFieldStart: Bool) throws {
        var quoted = quoted
        var atFieldStart = atFieldStart
        while let b = try nextByte() {
            if quoted {
                if b == UInt8(ascii: "\"") {
                    if try peekByte() == UInt8(ascii: "\"") { _ = try nextByte() } else { quoted = false }
                } else if b == 0x0A {
                    line += 1
                }
                continue
            }
            switch b {
            case 0x0A:
                line += 1
                return
            case 0x0D:
                if try peekByte() == 0x0A { _ = try nextByte() }
                line += 1
                return
            case delimiter:
                atFieldStart = true
                continue
            case UInt8(ascii: "\"") where atFieldStart:
                quoted = true
            default:
                break
            }
            atFieldStart = false
        }
    }
}

/// Writes RFC 4180 rows: quotes a field only when it holds a comma, quote, CR or LF.
public enum CSVEncoding {
    public static func appendRow(_ fields: [String], to out: inout [UInt8], delimiter: UInt8 = UInt8(ascii: ",")) {
        // A single empty field would be a blank line, which readers skip: quote it.
        if fields.count == 1 && fields[0].isEmpty {
            out.append(contentsOf: "\"\"\n".utf8)
            return
        }
        for (i, field) in fields.enumerated() {
            if i > 0 { out.append(delimiter) }
            let needsQuotes = field.utf8.contains { $0 == delimiter || $0 == UInt8(ascii: "\"") || $0 == 0x0A || $0 == 0x0D }
            if needsQuotes {
                out.append(UInt8(ascii: "\""))
                for b in field.utf8 {
                    if b == UInt8(ascii: "\"") { out.append(b) }
                    out.append(b)
                }
                out.append(UInt8(ascii: "\""))
            } else {
                out.append(contentsOf: field.utf8)
            }
        }
        out.append(0x0A)
    }
}

/// How a record's values become CSV cells.
///
/// - Numbers are written as JSON writes them: doubles in their shortest round-trip form (`3.55`,
///   never `3.5500000000000003` unless that is the double), integers beyond 64 bits with all
///   their digits.
/// - null (and a missing key) is `nullValue`, by default an empty cell. An empty string is also an
///   empty cell, so with the default the two cannot be told apart: choose a `nullValue` such as
///   `\N` or `NULL` when the difference matters.
/// - With `excelSafe`, a text cell starting with `=`, `+`, `-`, `@`, tab or CR (which a spreadsheet
///   would run as a formula) gets a leading `'`; numbers (`-3.5`) are left alone.
public struct CSVCellOptions: Sendable, Equatable {
    public var nullValue: String
    public var excelSafe: Bool

    public init(nullValue: String = "", excelSafe: Bool = false) {
        self.nullValue = nullValue
        self.excelSafe = excelSafe
    }

    public func cell(_ value: JSONValue?) -> String {
        guard let value, !value.isNull else { return nullValue }
        guard case .string(let text) = value else { return value.plainText }
        return excelSafe ? Self.guardFormula(text) : text
    }

    static let formulaStarts: Set<UInt8> = [UInt8(ascii: "="), UInt8(ascii: "+"), UInt8(ascii: "-"), UInt8(ascii: "@"), 0x09, 0x0D]

    /// `'` before text a spreadsheet would read as a formula; text that is a plain number stays as it is.
    public static func guardFormula(_ text: String) -> String {
        guard let first = text.utf8.first, formulaStarts.contains(first) else { return text }
        if first == UInt8(ascii: "-") || first == UInt8(ascii: "+"),
           text.utf8.dropFirst().allSatisfy({ ($0 >= 0x30 && $0 <= 0x39) || $0 == UInt8(ascii: ".") }),
           Double(text) != nil {
            return text
        }
        return "'" + text
    }
}
