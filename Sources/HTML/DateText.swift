import Foundation

/// Turns dates as pages print them into ISO 8601: `2026-11-25` for a day, `2026-11-25T10:00:00`
/// (with `Z` or `+01:00` when the text has a zone) for a moment.
///
/// Understood: ISO 8601 (`2026-11-25`, `2026-11-25T10:00:00.5+01:00`, `20261125`), `2026/11/25`,
/// `25.11.2026`, `11/25/2026` and `25/11/2026` (a first number above 12 is a day; otherwise
/// `dayFirst` decides, default month first), `25-11-2026`, two-digit years, month names in
/// English, German, French and Spanish (`November 25, 2026`, `25. November 2026`,
/// `Nov 25th 2026`, `25 nov. 2026`), RFC 1123 (`Tue, 25 Nov 2026 10:00:00 GMT`) and Unix seconds.
public enum DateText {
    public static func parse(_ text: String, dayFirst: Bool = false) -> String? {
        let trimmed = TextNormalizer.normalize(text)
        guard !trimmed.isEmpty else { return nil }
        if let iso = parseISO(trimmed) { return iso }
        if trimmed.count == 10, trimmed.allSatisfy(\.isNumber), let seconds = Int(trimmed) {
            return isoUTC(Date(timeIntervalSince1970: TimeInterval(seconds)))
        }
        return parseLoose(trimmed, dayFirst: dayFirst)
    }

    // MARK: ISO 8601

    static func parseISO(_ text: String) -> String? {
        let chars = Array(text.utf8)
        var i = 0
        func digits(_ n: Int) -> Int? {
            guard i + n <= chars.count else { return nil }
            var v = 0
            for k in 0..<n {
                let c = chars[i + k]
                guard c >= 0x30 && c <= 0x39 else { return nil }
                v = v * 10 + Int(c - 0x30)
            }
            i += n
            return v
        }
        func take(_ c: UInt8) -> Bool { if i < chars.count && chars[i] == c { i += 1; return true }; return false }
        guard let year = digits(4) else { return nil }
        let extended = take(UInt8(ascii: "-"))
        guard let month = digits(2) else { return nil }
        if extended && !take(UInt8(ascii: "-")) { return nil }
        guard let day = digits(2), valid(year, month, day) else { return nil }
        let date = ymd(year, month, day)
        if i == chars.count { return date }
        guard take(UInt8(ascii: "T")) || take(UInt8(ascii: " ")) || take(UInt8(ascii: "t")) else { return nil }
        guard let hour = digits(2), hour < 24 else { return nil }
        _ = take(UInt8(ascii: ":"))
        guard let minute = digits(2), minute < 60 else { return nil }
        var second = 0
        if take(UInt8(ascii: ":")) || (i < chars.count && chars[i] >= 0x30 && chars[i] <= 0x39) {
            guard let s = digits(2), s < 61 else { return nil }
            second = s
            if take(UInt8(ascii: ".")) || take(UInt8(ascii: ",")) {
                while i < chars.count && chars[i] >= 0x30 && chars[i] <= 0x39 { i += 1 }  // fractions dropped
            }
        }
        var zone = ""
        _ = take(UInt8(ascii: " "))
        if take(UInt8(ascii: "Z")) || take(UInt8(ascii: "z")) {
            zone = "Z"
        } else if i < chars.count && (chars[i] == UInt8(ascii: "+") || chars[i] == UInt8(ascii: "-")) {
            let sign = chars[i] == UInt8(ascii: "+") ? "+" : "-"
            i += 1
            guard let zh = digits(2), zh <= 14 else { return nil }
            _ = take(UInt8(ascii: ":"))
            let zm = digits(2) ?? 0
            zone = zh == 0 && zm == 0 ? "Z" : sign + pad(zh) + ":" + pad(zm)
        }
        guard i == chars.count else { return nil }
        return date + "T" + pad(hour) + ":" + pad(minute) + ":" + pad(second) + zone
    }

    // MARK: Everything else

    enum Token: Equatable {
        case number(Int, digits: Int)
        case month(Int)
        case time(Int, Int, Int)
        case zone(String)
        case word(String)
    }

    static func parseLoose(_ text: String, dayFirst: Bool) -> String? {
        var tokens: [Token] = []
        var separators: [Character] = []
        let chars = Array(text)
        var i = 0
        while i < chars.count {
            let c = chars[i]
            if c.isNumber && c.isASCII {
                var j = i
                while j < chars.count && chars[j].isASCII && chars[j].isNumber { j += 1 }
                // hh:mm(:ss)?
                if j < chars.count && chars[j] == ":" {
                    var parts = [Int(String(chars[i..<j]))!]
                    var k = j
                    while k < chars.count && chars[k] == ":" && parts.count < 3 {
                        var m = k + 1
                        while m < chars.count && chars[m].isASCII && chars[m].isNumber { m += 1 }
                        guard m > k + 1, let v = Int(String(chars[(k + 1)..<m])) else { break }
                        parts.append(v)
                        k = m
                    }
                    if parts.count >= 2 {
                        var hour = parts[0]
                        // am / pm
                        let rest = String(chars[k...]).trimmingCharacters(in: .whitespaces).lowercased()
                        if rest.hasPrefix("pm") && hour < 12 { hour += 12; k = advance(chars, k, past: 2) }
                        else if rest.hasPrefix("am") { if hour == 12 { hour = 0 }; k = advance(chars, k, past: 2) }
                        tokens.append(.time(hour, parts[1], parts.count > 2 ? parts[2] : 0))
                        i = k
                        continue
                    }
                }
                tokens.append(.number(Int(String(chars[i..<j]))!, digits: j - i))
                // Ordinal suffixes: 25th, 1st, 2nd, 3rd, 1er.
                var k = j
                let suffix = String(chars[j..<min(j + 2, chars.count)]).lowercased()
                if ["st", "nd", "rd", "th", "er"].contains(suffix), j + 2 >= chars.count || !chars[j + 2].isLetter { k = j + 2 }
                i = k
                continue
            }
            if c.isLetter {
                var j = i
                while j < chars.count && chars[j].isLetter { j += 1 }
                let word = String(chars[i..<j]).lowercased()
                if let month = months[word] ?? (word.count >= 3 ? months[String(word.prefix(3))] : nil), !zoneWords.contains(word.uppercased()) {
                    tokens.append(.month(month))
                } else if zoneWords.contains(word.uppercased()) {
                    tokens.append(.zone("Z"))
                } else {
                    tokens.append(.word(word))
                }
                i = j
                continue
            }
            if (c == "+" || c == "-"), case .time? = tokens.last, i + 4 < chars.count + 1 {
                var j = i + 1
                while j < chars.count && (chars[j].isNumber || chars[j] == ":") { j += 1 }
                let digits = String(chars[(i + 1)..<j]).filter(\.isNumber)
                if digits.count == 4, let h = Int(digits.prefix(2)), let m = Int(digits.suffix(2)) {
                    tokens.append(.zone(h == 0 && m == 0 ? "Z" : String(c) + pad(h) + ":" + pad(m)))
                    i = j
                    continue
                }
            }
            if "./-".contains(c) { separators.append(c) }
            i += 1
        }

        var year: Int?, month: Int?, day: Int?
        let numbers = tokens.compactMap { token -> (Int, Int)? in
            if case .number(let v, let d) = token { return (v, d) }
            return nil
        }
        if let monthToken = tokens.first(where: { if case .month = $0 { return true }; return false }),
           case .month(let m) = monthToken {
            month = m
            // The 4-digit number (or the last one) is the year; the other is the day.
            if let y = numbers.first(where: { $0.1 == 4 }) {
                year = y.0
                day = numbers.first(where: { $0.1 <= 2 })?.0
            } else if numbers.count >= 2 {
                day = numbers[0].0
                year = expandYear(numbers[1].0)
            }
        } else if numbers.count >= 3 {
            let (a, b, c) = (numbers[0], numbers[1], numbers[2])
            if a.1 == 4 {
                (year, month, day) = (a.0, b.0, c.0)
            } else if c.1 == 4 || c.1 == 2 {
                year = c.1 == 4 ? c.0 : expandYear(c.0)
                let dotted = separators.first == "."
                if a.0 > 12 || dotted || (dayFirst && b.0 <= 12) { (day, month) = (a.0, b.0) }
                else { (month, day) = (a.0, b.0) }
            }
        }
        guard let year, let month, let day, valid(year, month, day) else { return nil }
        var result = ymd(year, month, day)
        if let time = tokens.first(where: { if case .time = $0 { return true }; return false }),
           case .time(let h, let m, let s) = time {
            guard h < 24, m < 60, s < 61 else { return nil }
            result += "T" + pad(h) + ":" + pad(m) + ":" + pad(s)
            if let zone = tokens.first(where: { if case .zone = $0 { return true }; return false }), case .zone(let z) = zone {
                result += z
            }
        }
        return result
    }

    private static func advance(_ chars: [Character], _ k: Int, past n: Int) -> Int {
        var j = k
        while j < chars.count && chars[j] == " " { j += 1 }
        return min(chars.count, j + n)
    }

    /// Two digits, zero-padded (String(format:) goes through Foundation and costs far more).
    static func pad(_ n: Int) -> String { n < 10 ? "0" + String(n) : String(n) }
    static func ymd(_ y: Int, _ m: Int, _ d: Int) -> String { String(y) + "-" + pad(m) + "-" + pad(d) }

    static func expandYear(_ y: Int) -> Int { y >= 100 ? y : (y < 70 ? 2000 + y : 1900 + y) }

    static func valid(_ year: Int, _ month: Int, _ day: Int) -> Bool {
        guard year >= 1000 && year <= 9999, month >= 1 && month <= 12, day >= 1 else { return false }
        let leap = (year % 4 == 0 && year % 100 != 0) || year % 400 == 0
        let lengths = [31, leap ? 29 : 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31]
        return day <= lengths[month - 1]
    }

    static let zoneWords: Set<String> = ["GMT", "UTC", "UT", "Z"]

    static let months: [String: Int] = {
        var table: [String: Int] = [:]
        let names: [[String]] = [
            ["january", "jan", "januar", "janvier", "enero", "ene", "jänner", "janv"],
            ["february", "feb", "februar", "février", "fevrier", "févr", "febrero"],
            ["march", "mar", "märz", "maerz", "mars", "marzo", "mär"],
            ["april", "apr", "avril", "abril", "avr", "abr"],
            ["may", "mai", "mayo"],
            ["june", "jun", "juni", "juin", "junio"],
            ["july", "jul", "juli", "juillet", "julio", "juil"],
            ["august", "aug", "août", "aout", "agosto", "ago"],
            ["september", "sep", "sept", "septembre", "septiembre"],
            ["october", "oct", "oktober", "okt", "octobre", "octubre"],
            ["november", "nov", "novembre", "noviembre"],
            ["december", "dec", "dezember", "dez", "décembre", "decembre", "déc", "diciembre", "dic"],
        ]
        for (index, list) in names.enumerated() { for name in list { table[name] = index + 1 } }
        return table
    }()

    static func isoUTC(_ date: Date) -> String {
        let formatter = ISO8601DateFormatter()
        formatter.formatOptions = [.withInternetDateTime]
        formatter.timeZone = TimeZone(identifier: "UTC")
        return formatter.string(from: date)
    }
}
