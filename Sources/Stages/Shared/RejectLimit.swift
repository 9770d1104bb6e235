import Foundation
import Pipeline

/// How many of a stage's items may go wrong before the run cannot be trusted: a count (`10`) or a
/// share (`5%`, `0.05`). `max_rejects` of parse, enrich and import; `max_error_rate` of fetch (a share only).
enum RejectLimit: Sendable, Equatable, CustomStringConvertible {
    case count(Int)
    case ratio(Double)

    var description: String {
        switch self {
        case .count(let n): return "\(n)"
        case .ratio(let r): return Self.percent(r)
        }
    }

    /// True when `bad` of `total` items is more than the limit allows.
    func isExceeded(bad: Int, of total: Int) -> Bool {
        switch self {
        case .count(let n): return bad > n
        case .ratio(let r): return total > 0 && Double(bad) / Double(total) > r
        }
    }

    /// `bad` of `total` in words, for an error: "3 of 40 (7.5%)".
    static func share(_ bad: Int, of total: Int) -> String {
        total > 0 ? "\(bad) of \(total) (\(percent(Double(bad) / Double(total))))" : "\(bad)"
    }

    static func percent(_ ratio: Double) -> String {
        let value = ratio * 100
        return (value == value.rounded() ? String(Int(value)) : String(format: "%.2f", value)
            .replacingOccurrences(of: #"\.?0+$"#, with: "", options: .regularExpression)) + "%"
    }

    /// Reads the value at its position: an integer is a count (unless `countAllowed` is false), `N%`
    /// or a number with a point (`0.05`) a share between 0 and 1. Problems are reported there.
    static func read(_ value: ConfigValue, countAllowed: Bool = true) -> RejectLimit? {
        let expected = countAllowed ? "a count such as 10 or a share such as 5% or 0.05" : "a share such as 5% or 0.05"
        guard value.isScalar, let raw = value.asString() else {
            if !value.isScalar { value.error("expected \(expected)") }
            return nil
        }
        let text = raw.trimmingCharacters(in: .whitespaces)
        if text.hasSuffix("%") {
            guard let number = Double(text.dropLast().trimmingCharacters(in: .whitespaces)), number.isFinite,
                  number >= 0, number <= 100 else {
                value.error("expected a percentage from 0% to 100%, found '\(text)'")
                return nil
            }
            return .ratio(number / 100)
        }
        if countAllowed, let count = Int(text) {
            guard count >= 0 else { value.error("expected a count of at least 0, found \(count)"); return nil }
            return .count(count)
        }
        guard let number = Double(text), number.isFinite else {
            value.error("expected \(expected), found '\(text)'")
            return nil
        }
        guard number >= 0, number <= 1 else {
            value.error(countAllowed ? "a share is between 0 and 1 (or 0% and 100%); a count is a whole number, found '\(text)'"
                                     : "expected a share between 0 and 1 (or 0% and 100%), found '\(text)'")
            return nil
        }
        return .ratio(number)
    }

    /// Fails the stage when `bad` of `total` is over `limit`; `what` names them ("records rejected").
    static func check(_ limit: RejectLimit?, key: String, bad: Int, of total: Int, what: String, rejects: String?) throws {
        guard let limit, limit.isExceeded(bad: bad, of: total) else { return }
        let more = rejects.map { "; they are listed in \($0)" } ?? ""
        throw StageError("\(share(bad, of: total)) \(what), more than \(key) (\(limit)) allows\(more); "
                         + "the previous output is kept")
    }
}
