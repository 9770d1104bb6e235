import Foundation

/// An amount of money: an exact decimal and an ISO 4217 currency code (nil when the text gives
/// none and no default applies).
public struct Money: Sendable, Equatable, CustomStringConvertible {
    public var amount: Decimal
    public var currency: String?

    public init(amount: Decimal, currency: String?) {
        self.amount = amount
        self.currency = currency
    }

    public init?(_ amount: String, _ currency: String?) {
        guard let decimal = Decimal(string: amount, locale: Locale(identifier: "en_US_POSIX")) else { return nil }
        self.init(amount: decimal, currency: currency)
    }

    /// The amount as a JSON-friendly Double: the nearest one to the decimal text (via the text, because
    /// NSDecimalNumber's conversion can land one ulp off, turning 2471.1 into 2471.1000000000004).
    public var amountValue: Double { Double(amount.description) ?? NSDecimalNumber(decimal: amount).doubleValue }

    public var description: String { "\(amount) \(currency ?? "?")" }

    /// Parses a price as shops print it: `$1,299.00`, `USD 49`, `€12,50`, `1.299,00 €`, `¥1200`,
    /// `CHF 1'234.50`, `1 234,56 zł`, `₹1,23,456`, `12,-`, `(5.00)`, `Free`…
    ///
    /// Separators: when both `.` and `,` occur, the last one is the decimal point; when only one
    /// occurs, it is a thousands separator if it repeats or is followed by exactly three digits,
    /// and a decimal point otherwise. Spaces and apostrophes between digits group thousands.
    /// `defaultCurrency` is used when the text has no currency, and to pick which dollar (or
    /// krona) a bare `$` (or `kr`) means.
    public static func parse(_ text: String, defaultCurrency: String? = nil) -> Money? {
        // Every kind of space as " ", runs collapsed, ends trimmed (TextNormalizer does exactly that).
        let cleaned = TextNormalizer.normalize(text)
        guard !cleaned.isEmpty else { return nil }
        let lower = cleaned.lowercased()
        let currency = detectCurrency(cleaned, defaultCurrency: defaultCurrency)

        guard let number = findNumber(cleaned) else {
            if freeWords.contains(where: { lower.contains($0) }) {
                return Money(amount: 0, currency: currency ?? defaultCurrency)
            }
            return nil
        }
        guard var amount = interpret(number.text) else { return nil }
        if number.negative { amount.negate() }
        return Money(amount: amount, currency: currency ?? defaultCurrency)
    }

    static let freeWords = ["free", "gratis", "kostenlos", "gratuit", "gratuito", "無料", "免费"]

    struct NumberText { var text: String; var negative: Bool }

    /// The first number in the text, with its grouping and decimal separators.
    static func findNumber(_ text: String) -> NumberText? {
        let chars = Array(text)
        var i = 0
        while i < chars.count {
            let c = chars[i]
            let startsNumber = c.isASCII && c.isNumber
                || (c == "." || c == ",") && i + 1 < chars.count && chars[i + 1].isASCII && chars[i + 1].isNumber
                    && (i == 0 || !(chars[i - 1].isASCII && chars[i - 1].isNumber))
            if !startsNumber { i += 1; continue }
            var j = i
            var out = ""
            while j < chars.count {
                let d = chars[j]
                if d.isASCII && d.isNumber { out.append(d); j += 1; continue }
                // A separator counts only between digits (or a trailing ",-" / ".–" meaning no cents).
                if ".,' ’".contains(d), j + 1 < chars.count, chars[j + 1].isASCII && chars[j + 1].isNumber {
                    // A space groups thousands only before exactly three digits.
                    if d == " " {
                        let following = chars[(j + 1)...].prefix { $0.isASCII && $0.isNumber }.count
                        if following != 3 { break }
                    }
                    out.append(d); j += 1; continue
                }
                break
            }
            // Negative: a minus sign just before the number or the currency, or parentheses.
            let before = TextNormalizer.trim(String(chars[..<i]))
            let negative = before.hasPrefix("-") || before.hasPrefix("−") || before.hasSuffix("-") || before.hasSuffix("−")
                || (before.hasPrefix("(") && text.contains(")"))
            return NumberText(text: out, negative: negative)
        }
        return nil
    }

    /// Turns `1.299,00`, `1,299.00`, `1'234.50`, `12,5` into a decimal.
    static func interpret(_ raw: String) -> Decimal? {
        var text = raw.filter { $0 != " " && $0 != "'" && $0 != "’" }
        let lastDot = text.lastIndex(of: ".")
        let lastComma = text.lastIndex(of: ",")
        var decimalSeparator: Character? = nil
        if let lastDot, let lastComma {
            decimalSeparator = lastDot > lastComma ? "." : ","
        } else if let sep = lastDot ?? lastComma {
            let occurrences = text.filter { $0 == text[sep] }.count
            let digitsAfter = text.distance(from: text.index(after: sep), to: text.endIndex)
            let integerPart = text[..<sep]
            let isGrouping = occurrences > 1 || (digitsAfter == 3 && !integerPart.isEmpty && integerPart != "0")
            decimalSeparator = isGrouping ? nil : text[sep]
        }
        if let decimalSeparator {
            let grouping: Character = decimalSeparator == "." ? "," : "."
            text.removeAll { $0 == grouping }
            if decimalSeparator == "," { text = String(text.map { $0 == "," ? "." : $0 }) }
            if text.filter({ $0 == "." }).count > 1 { return nil }
        } else {
            text.removeAll { $0 == "." || $0 == "," }
        }
        if text.hasPrefix(".") { text = "0" + text }
        guard !text.isEmpty else { return nil }
        return Decimal(string: text, locale: Locale(identifier: "en_US_POSIX"))
    }

    /// Symbols and words, longest first so that `US$` wins over `$`.
    static let symbols: [(String, String)] = [
        ("US$", "USD"), ("CA$", "CAD"), ("AU$", "AUD"), ("NZ$", "NZD"), ("HK$", "HKD"), ("MX$", "MXN"),
        ("JP¥", "JPY"), ("CN¥", "CNY"), ("RMB", "CNY"), ("C$", "CAD"), ("A$", "AUD"), ("S$", "SGD"), ("R$", "BRL"),
        ("NT$", "TWD"), ("€", "EUR"), ("£", "GBP"), ("₹", "INR"), ("Rs.", "INR"), ("₩", "KRW"), ("₽", "RUB"),
        ("руб", "RUB"), ("₺", "TRY"), ("₪", "ILS"), ("฿", "THB"), ("₫", "VND"), ("₱", "PHP"), ("₴", "UAH"),
        ("zł", "PLN"), ("Kč", "CZK"), ("Ft", "HUF"), ("lei", "RON"), ("Fr.", "CHF"), ("元", "CNY"), ("円", "JPY"),
        ("¥", "JPY"), ("$", "USD"), ("kr", "SEK"),
    ]

    static let isoCodes: Set<String> = [
        "USD", "EUR", "GBP", "JPY", "CNY", "CHF", "CAD", "AUD", "NZD", "HKD", "SGD", "SEK", "NOK", "DKK", "PLN", "CZK",
        "HUF", "RON", "BGN", "RUB", "UAH", "TRY", "ILS", "INR", "KRW", "THB", "VND", "PHP", "IDR", "MYR", "BRL", "MXN",
        "ARS", "CLP", "COP", "PEN", "ZAR", "AED", "SAR", "QAR", "KWD", "EGP", "NGN", "KES", "TWD", "ISK",
    ]

    static let dollarCurrencies: Set<String> = ["USD", "CAD", "AUD", "NZD", "HKD", "SGD", "MXN", "TWD"]
    static let kronaCurrencies: Set<String> = ["SEK", "NOK", "DKK", "ISK"]

    static func detectCurrency(_ text: String, defaultCurrency: String?) -> String? {
        // An ISO code as a whole word wins.
        var word = ""
        for ch in text + " " {
            if ch.isASCII && ch.isLetter { word.append(ch); continue }
            if word.count == 3, isoCodes.contains(word.uppercased()), word == word.uppercased() { return word.uppercased() }
            word = ""
        }
        let lower = text.lowercased()
        for (symbol, code) in symbols {
            let found: Bool
            if symbol.first!.isLetter {
                // Words (kr, Ft, lei, Rs.) must stand alone: "kr" is not inside "krone" nor "Fr." inside "Free".
                found = containsWord(lower, symbol.lowercased())
            } else {
                found = text.contains(symbol)
            }
            guard found else { continue }
            if code == "USD", let d = defaultCurrency, dollarCurrencies.contains(d) { return d }
            if code == "SEK", let d = defaultCurrency, kronaCurrencies.contains(d) { return d }
            if code == "JPY", symbol == "¥", defaultCurrency == "CNY" { return "CNY" }
            return code
        }
        if lower.contains("euro") { return "EUR" }
        if lower.contains("dollar") { return defaultCurrency.flatMap { dollarCurrencies.contains($0) ? $0 : nil } ?? "USD" }
        return nil
    }

    private static func containsWord(_ text: String, _ word: String) -> Bool {
        var search = text[...]
        while let range = search.range(of: word) {
            let beforeOK = range.lowerBound == text.startIndex || !text[text.index(before: range.lowerBound)].isLetter
            let afterOK = range.upperBound == text.endIndex || !text[range.upperBound].isLetter
            if beforeOK && afterOK { return true }
            search = text[range.upperBound...]
        }
        return false
    }
}
