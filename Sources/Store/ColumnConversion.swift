import Foundation
import Lake

/// How a record's JSON value becomes a column's SQL value.
public enum ColumnConversion: String, Sendable, CaseIterable {
    /// By the column's name and the value's type: `*_cents` takes integer cents, `*_json` JSON
    /// text, `*_at` timestamps; lists and objects become JSON text; booleans 0/1.
    case auto
    case text
    case integer
    case real
    case boolean
    /// An amount in currency units (`12.99`, `"$1,299.00"`, `"12,50 €"`, `{amount: 12.99}`) to integer cents.
    case money
    /// An integer that already counts cents.
    case cents
    /// Any value as JSON text.
    case json
    /// A date or timestamp to `YYYY-MM-DD` (UTC).
    case date
    /// A timestamp to ISO 8601 UTC with milliseconds (`2026-11-25T15:42:00.000Z`).
    case datetime
    /// Text to a URL slug: lowercase ASCII letters and digits, any run of other characters one `-`,
    /// accents dropped (`"Home & Garden"` → `home-garden`, `"Café Lamp"` → `cafe-lamp`).
    case slug

    /// Why a value could not be converted.
    public struct Failure: Error, Sendable, CustomStringConvertible {
        public let message: String
        public var description: String { message }
    }

    /// Converts `value` for `column`.
    public func convert(_ value: JSONValue, column: String) throws(Failure) -> SQLValue {
        if value.isNull { return .null }
        switch self {
        case .auto: return try Self.auto(value, column: column)
        case .text:
            return .text(value.plainText)
        case .integer:
            switch value {
            case .int(let i): return .integer(i)
            case .bool(let b): return .integer(b ? 1 : 0)
            case .double(let d) where d == d.rounded() && abs(d) < 9e18: return .integer(Int64(d))
            case .string(let s):
                if let i = Int64(s.trimmingCharacters(in: .whitespaces)) { return .integer(i) }
            case .bigInteger: throw Self.fail(value, "a 64-bit integer (use `type: text` to keep its digits)")
            default: break
            }
            throw Self.fail(value, "an integer")
        case .real:
            if let d = value.doubleValue { return .real(d) }
            if case .string(let s) = value, let d = Double(s.trimmingCharacters(in: .whitespaces)), d.isFinite {
                return .real(d)
            }
            throw Self.fail(value, "a number")
        case .boolean:
            switch value {
            case .bool(let b): return .integer(b ? 1 : 0)
            case .int(let i) where i == 0 || i == 1: return .integer(i)
            case .string(let s):
                switch s.lowercased().trimmingCharacters(in: .whitespaces) {
                case "true", "yes", "y", "1", "on": return .integer(1)
                case "false", "no", "n", "0", "off": return .integer(0)
                default: break
                }
            default: break
            }
            throw Self.fail(value, "true or false")
        case .money:
            if let cents = Self.cents(fromAmount: value) { return .integer(cents) }
            throw Self.fail(value, "an amount of money")
        case .cents:
            switch value {
            case .int(let i): return .integer(i)
            case .string(let s): if let i = Int64(s) { return .integer(i) }
            case .double(let d) where d == d.rounded() && abs(d) < 9e18: return .integer(Int64(d))
            default: break
            }
            throw Self.fail(value, "a whole number of cents")
        case .json:
            return .text(Self.jsonText(value))
        case .date:
            if case .string(let s) = value, Self.isPlainDate(s) { return .text(s) }
            guard let date = Self.date(from: value) else { throw Self.fail(value, "a date") }
            return .text(Timestamp.day(date))
        case .datetime:
            guard let date = Self.date(from: value) else { throw Self.fail(value, "a date and time") }
            return .text(Timestamp.iso(date))
        case .slug:
            switch value {
            case .string, .int, .double:
                let slug = Self.slug(value.plainText)
                if !slug.isEmpty { return .text(slug) }
            default: break
            }
            throw Self.fail(value, "text with a letter or digit for a slug")
        }
    }

    /// `"Home & Garden"` → `home-garden`: compatibility-decomposed, combining marks dropped, ASCII
    /// letters and digits lowercased, everything else a separator.
    public static func slug(_ text: String) -> String {
        var out = String.UnicodeScalarView()
        var separator = false
        for scalar in text.decomposedStringWithCompatibilityMapping.unicodeScalars {
            if scalar.properties.generalCategory == .nonspacingMark { continue }
            let v = scalar.value
            let isDigit = (0x30...0x39).contains(v)
            let isUpper = (0x41...0x5A).contains(v)
            let isLower = (0x61...0x7A).contains(v)
            guard isDigit || isUpper || isLower else { separator = true; continue }
            if separator && !out.isEmpty { out.append("-") }
            separator = false
            out.append(isUpper ? Unicode.Scalar(v + 0x20)! : scalar)
        }
        return String(out)
    }

    private static func fail(_ value: JSONValue, _ expected: String) -> Failure {
        let shown = value.serialized()
        return Failure(message: "cannot read \(shown.count > 80 ? String(shown.prefix(80)) + "…" : shown) as \(expected)")
    }

    private static func auto(_ value: JSONValue, column: String) throws(Failure) -> SQLValue {
        if column.hasSuffix("_cents") {
            switch value {
            case .int(let i): return .integer(i)
            case .string(let s) where Int64(s) != nil: return .integer(Int64(s)!)
            default:
                throw Failure(message: "column '\(column)' holds integer cents; \(value.serialized()) is not one "
                              + "(use `type: money` to convert an amount such as 12.99)")
            }
        }
        if column.hasSuffix("_json") { return .text(jsonText(value)) }
        if column.hasSuffix("_at"), case .string = value {
            guard let date = date(from: value) else { throw fail(value, "a date and time") }
            return .text(Timestamp.iso(date))
        }
        switch value {
        case .null: return .null
        case .bool(let b): return .integer(b ? 1 : 0)
        case .int(let i): return .integer(i)
        // Beyond SQLite's 64-bit INTEGER: the exact digits as TEXT (a REAL would round them).
        case .bigInteger(let digits): return .text(digits)
        case .double(let d): return .real(d)
        case .string(let s): return .text(s)
        case .array, .object: return .text(value.serialized())
        }
    }

    /// JSON text: strings that already hold JSON are kept as they are; other values are serialised.
    static func jsonText(_ value: JSONValue) -> String {
        if case .string(let s) = value, let parsed = try? JSONValue.parse(s) { return parsed.serialized() }
        return value.serialized()
    }

    // MARK: Money

    /// Cents from an amount in units, exactly: numbers go through their shortest decimal text.
    public static func cents(fromAmount value: JSONValue) -> Int64? {
        switch value {
        case .int(let i):
            let (product, overflow) = i.multipliedReportingOverflow(by: 100)
            return overflow ? nil : product
        case .double(let d):
            guard d.isFinite else { return nil }
            return cents(fromDecimal: d.description.contains("e") ? String(format: "%.6f", d) : d.description)
        case .string(let s): return cents(fromText: s)
        case .object(let o):
            for key in ["amount", "value", "price"] { if let inner = o[key] { return cents(fromAmount: inner) } }
            return nil
        default: return nil
        }
    }

    /// Reads `"$1,299.99"`, `"1.299,99 €"`, `"(12.50)"`, `"-3"`, `"USD 7"`: the last `.` or `,`
    /// followed by one or two digits at the end is the decimal mark; other marks group thousands.
    static func cents(fromText text: String) -> Int64? {
        var negative = false
        var kept: [Character] = []
        for c in text {
            if c.isNumber && c.isASCII || c == "." || c == "," { kept.append(c) }
            else if c == "-" || c == "−" { negative = true }
            else if c == "(" { negative = true }
            else if c.isWhitespace || c == "\u{00A0}" || c == "'" || c == ")" || c.isLetter || c.isCurrencySymbol { continue }
            else { return nil }
        }
        guard kept.contains(where: \.isNumber) else { return nil }
        // Split into digit groups at the marks.
        var groups: [String] = [""]
        var marks: [Character] = []
        for c in kept {
            if c == "." || c == "," { marks.append(c); groups.append("") } else { groups[groups.count - 1].append(c) }
        }
        guard !groups.contains(where: \.isEmpty) || (groups.count == 2 && groups[0].isEmpty) else { return nil }
        // Which mark, if any, is the decimal mark: with both kinds, the last; with one mark, that
        // mark unless exactly three digits follow a non-zero whole part ("1,299" is a thousand).
        var decimalAt: Int?
        if Set(marks).count == 2 {
            decimalAt = marks.count - 1
            guard marks.dropLast().allSatisfy({ $0 != marks.last }) else { return nil }
        } else if marks.count == 1 {
            let whole = groups[0]
            decimalAt = groups[1].count == 3 && !whole.isEmpty && whole.first != "0" && whole.count <= 3 ? nil : 0
        }
        let wholeGroups = decimalAt.map { Array(groups[0...$0]) } ?? groups
        // Thousands groups: 1-3 digits, then exactly 3 each.
        if wholeGroups.count > 1 {
            guard (1...3).contains(wholeGroups[0].count), wholeGroups.dropFirst().allSatisfy({ $0.count == 3 }) else {
                return nil
            }
        }
        let integer = wholeGroups.joined()
        let fraction = decimalAt.map { groups[$0 + 1] } ?? ""
        guard let cents = cents(fromDecimal: (integer.isEmpty ? "0" : integer) + (fraction.isEmpty ? "" : "." + fraction))
        else { return nil }
        return negative ? -cents : cents
    }

    /// `"12.345"` → 1235 (half away from zero), exactly, without floating point.
    static func cents(fromDecimal text: String) -> Int64? {
        var digits = text
        var negative = false
        if digits.hasPrefix("-") { negative = true; digits.removeFirst() }
        let parts = digits.split(separator: ".", omittingEmptySubsequences: false)
        guard parts.count <= 2, let whole = Int64(parts[0].isEmpty ? "0" : String(parts[0])) else { return nil }
        var fraction = parts.count == 2 ? Array(parts[1]) : []
        guard fraction.allSatisfy({ $0.isASCII && $0.isNumber }) else { return nil }
        while fraction.count < 3 { fraction.append("0") }
        let firstTwo = Int64(String(fraction[0..<2]))!
        let roundUp = fraction[2] >= "5"
        let (scaled, overflow) = whole.multipliedReportingOverflow(by: 100)
        guard !overflow else { return nil }
        let total = scaled + firstTwo + (roundUp ? 1 : 0)
        return negative ? -total : total
    }

    // MARK: Dates

    static func isPlainDate(_ s: String) -> Bool {
        let b = Array(s.utf8)
        guard b.count == 10, b[4] == UInt8(ascii: "-"), b[7] == UInt8(ascii: "-") else { return false }
        return parseDate(s) != nil
    }

    /// A date from ISO 8601 text (with or without time, zone or fraction), `YYYY-MM-DD HH:MM:SS`,
    /// an HTTP date, or Unix seconds (milliseconds when the number is too large to be seconds).
    static func date(from value: JSONValue) -> Date? {
        switch value {
        case .int(let i): return Date(timeIntervalSince1970: abs(i) > 100_000_000_000 ? Double(i) / 1000 : Double(i))
        case .double(let d): return d.isFinite ? Date(timeIntervalSince1970: abs(d) > 1e11 ? d / 1000 : d) : nil
        case .string(let s): return parseDate(s.trimmingCharacters(in: .whitespaces))
        default: return nil
        }
    }

    static func parseDate(_ text: String) -> Date? {
        if let date = Timestamp.parse(text) { return date }
        let formats = ["yyyy-MM-dd'T'HH:mm:ss", "yyyy-MM-dd HH:mm:ss", "yyyy-MM-dd HH:mm:ss.SSS", "yyyy-MM-dd'T'HH:mm:ss.SSS",
                       "yyyy-MM-dd HH:mm:ssXXXXX", "yyyy-MM-dd", "EEE, dd MMM yyyy HH:mm:ss zzz", "yyyy/MM/dd"]
        let formatter = DateFormatter()
        formatter.locale = Locale(identifier: "en_US_POSIX")
        formatter.timeZone = TimeZone(identifier: "UTC")
        formatter.isLenient = false
        for format in formats {
            formatter.dateFormat = format
            if let date = formatter.date(from: text) { return date }
        }
        return nil
    }
}
