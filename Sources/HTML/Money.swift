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
    /// `CHF 1'234.50`, `1 234,56 zł`, `₹1,23,456`, `12,-`, `(5.00)`, `$119. 95`, `35€ 99`, `Free`…
    ///
    /// Which number is the price: the first one written beside a currency sign or code (so
    /// `Buy Now - 2 Litre Was $120.00` gives 120); a "was" price gives way to a later one; a
    /// percentage is never a price (`40% OFF` has none); with no currency beside any number, the
    /// first number that is not part of a word (`A4`, `4GB`), with the currency nearest to it.
    /// Only a sign written against the amount (`-$5`, `$-5`) or accounting parentheses around it
    /// (`($5.00)`) make it negative.
    ///
    /// The currency is the sign or code beside the amount (an ISO 4217 code beating a symbol:
    /// `NZD $100` is NZD). Signs shared by several currencies follow a convention or the default:
    /// `$` is USD, `¥` JPY, `Rs` INR, `Fr.` CHF unless `defaultCurrency` is another dollar, yen,
    /// rupee or franc; `kr` (and `Br`, `ريال`) give no currency unless the default says which.
    /// `defaultCurrency` is also used when the text names none. `تومان` (toman) is read as IRR
    /// with the amount as written (1 toman = 10 rials).
    ///
    /// Separators: when both `.` and `,` occur, the last one is the decimal point; when only one
    /// occurs, it is a thousands separator if it repeats or is followed by exactly three digits,
    /// and a decimal point otherwise. Spaces and apostrophes between digits group thousands; a
    /// space after a decimal point before two digits is ignored.
    public static func parse(_ text: String, defaultCurrency: String? = nil) -> Money? {
        // Every kind of space as " ", runs collapsed, ends trimmed (TextNormalizer does exactly that).
        let cleaned = TextNormalizer.normalize(text)
        guard !cleaned.isEmpty else { return nil }
        let scan = PriceScan(cleaned)
        guard let pick = scan.price() else {
            let lower = cleaned.lowercased()
            if freeWords.contains(where: { lower.contains($0) }) {
                return Money(amount: 0, currency: scan.currency(nearest: nil, defaultCurrency: defaultCurrency) ?? defaultCurrency)
            }
            return nil
        }
        let currency: String?
        if let token = pick.currency {
            currency = scan.resolve(token, defaultCurrency: defaultCurrency)
        } else {
            currency = scan.currency(nearest: pick.number, defaultCurrency: defaultCurrency) ?? defaultCurrency
        }
        let threeDecimals = currency.map(CurrencyTable.threeDecimalCodes.contains) ?? false
        guard var amount = interpret(pick.number.text, threeDecimals: threeDecimals) else { return nil }
        if pick.number.negative { amount.negate() }
        return Money(amount: amount, currency: currency)
    }

    /// Whether `code` is an ISO 4217 currency code (active, or withdrawn but still printed on old pages).
    public static func isCurrencyCode(_ code: String) -> Bool { CurrencyTable.isCode(code) }

    static let freeWords = ["free", "gratis", "kostenlos", "gratuit", "gratuito", "無料", "免费"]

    struct NumberText { var text: String; var negative: Bool }

    /// The first number in the text, with its grouping and decimal separators (for `number` fields:
    /// a percentage counts here).
    static func findNumber(_ text: String) -> NumberText? {
        let scan = PriceScan(text)
        guard let first = scan.numbers.first else { return nil }
        return NumberText(text: first.text, negative: first.negative)
    }

    /// Turns `1.299,00`, `1,299.00`, `1'234.50`, `12,5` into a decimal.
    /// `threeDecimals`: the currency has three minor digits (KWD, BHD…), so `12.500` is twelve and a half.
    static func interpret(_ raw: String, threeDecimals: Bool = false) -> Decimal? {
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
            let isGrouping = occurrences > 1 || (digitsAfter == 3 && !integerPart.isEmpty && integerPart != "0" && !threeDecimals)
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
}

/// One pass over a price text: its currency tokens and numbers, each number with what stands beside it.
struct PriceScan {
    struct Token {
        var start: Int
        var end: Int
        var meaning: CurrencyTable.Meaning
        /// 3 for an ISO code, 2 for a sign naming one currency, 1 for a shared or unknown sign.
        var strength: Int
        /// An ISO code that is also an everyday word (`ALL`, `TOP`).
        var wordLike: Bool
    }

    struct Number {
        var start: Int
        var end: Int
        var text: String
        var negative = false
        var percent = false
        /// Glued to letters that are not a currency (`A4`, `4GB`, `MX924`): a code or a quantity.
        var partOfWord = false
        /// Currency tokens written against the number (before or after, through one space).
        var before: [Token] = []
        var after: [Token] = []
        /// The word just before the number and its currency, lower-cased (`was`, `from`…).
        var precedingWord = ""
        var attached: Bool { !before.isEmpty || !after.isEmpty }
    }

    let chars: [Character]
    private(set) var tokens: [Token] = []
    private(set) var numbers: [Number] = []

    init(_ text: String) {
        chars = text.map(Self.asciiDigit)
        let lower = chars.map { c -> Character in
            let l = String(c).lowercased()
            return l.count == 1 ? Character(l) : c
        }
        tokens = Self.findTokens(chars, lower)
        let hasStrongToken = tokens.contains { !$0.wordLike }
        if hasStrongToken { tokens.removeAll { $0.wordLike } }
        numbers = findNumbers()
    }

    /// Eastern Arabic and Persian digits as ASCII ones.
    static func asciiDigit(_ c: Character) -> Character {
        guard let scalar = c.unicodeScalars.first, c.unicodeScalars.count == 1 else { return c }
        switch scalar.value {
        case 0x0660...0x0669: return Character(Unicode.Scalar(scalar.value - 0x0660 + 0x30)!)
        case 0x06F0...0x06F9: return Character(Unicode.Scalar(scalar.value - 0x06F0 + 0x30)!)
        case 0xFF10...0xFF19: return Character(Unicode.Scalar(scalar.value - 0xFF10 + 0x30)!)
        case 0x066B: return "."  // Arabic decimal separator
        case 0x066C: return ","  // Arabic thousands separator
        default: return c
        }
    }

    static func isDigit(_ c: Character) -> Bool { c.isASCII && c.isNumber }
    static func isLetter(_ c: Character) -> Bool { c.isLetter }

    // MARK: Tokens

    private static func findTokens(_ chars: [Character], _ lower: [Character]) -> [Token] {
        var tokens: [Token] = []
        var i = 0
        let n = chars.count
        func letterAt(_ k: Int) -> Bool { k >= 0 && k < n && isLetter(chars[k]) }
        /// The longest sign (symbol or local name) written at `i`, standing alone if it is letters.
        func sign(at i: Int) -> CurrencyTable.Sign? {
            for sign in CurrencyTable.signs where i + sign.text.count <= n {
                let m = sign.text.count
                let source = sign.anyCase ? lower : chars
                guard source[i] == sign.text[0], Array(source[i..<i + m]) == sign.text else { continue }
                // Letters must stand alone: "kr" is not inside "krone", "R" not inside "Rabatt".
                if isLetter(sign.text[0]) && letterAt(i - 1) { continue }
                if isLetter(sign.text[m - 1]) && letterAt(i + m) { continue }
                return sign
            }
            return nil
        }
        while i < n {
            if isDigit(chars[i]) || chars[i] == " " { i += 1; continue }
            let found = sign(at: i)
            // An ISO code: three ASCII letters standing alone (digits and symbols may touch it),
            // unless a longer sign starts with it (`MOP$`).
            if (found?.text.count ?? 0) <= 3, i + 3 <= n, !letterAt(i - 1), !letterAt(i + 3),
               chars[i..<i + 3].allSatisfy({ $0.isASCII && $0.isLetter }) {
                let word = String(chars[i..<i + 3])
                if word == word.uppercased(), CurrencyTable.isCode(word) {
                    tokens.append(Token(start: i, end: i + 3, meaning: .code(word), strength: 3,
                                        wordLike: CurrencyTable.wordLikeCodes.contains(word)))
                    i += 3
                    continue
                }
                if CurrencyTable.lowercaseCodes.contains(word) {
                    tokens.append(Token(start: i, end: i + 3, meaning: .code(word.uppercased()), strength: 3, wordLike: false))
                    i += 3
                    continue
                }
            }
            if let found {
                let strength: Int
                switch found.meaning {
                case .code: strength = 2
                case .family, .unknown: strength = 1
                }
                tokens.append(Token(start: i, end: i + found.text.count, meaning: found.meaning, strength: strength, wordLike: false))
                i += found.text.count
            } else if isLetter(chars[i]) {
                // Skip the rest of a word, so that no sign is found inside it.
                while i < n && isLetter(chars[i]) { i += 1 }
            } else {
                i += 1
            }
        }
        return tokens
    }

    private func token(endingAt position: Int) -> Token? { tokens.first { $0.end == position } }
    private func token(startingAt position: Int) -> Token? { tokens.first { $0.start == position } }

    // MARK: Numbers

    private func findNumbers() -> [Number] {
        var numbers: [Number] = []
        var i = 0
        let n = chars.count
        while i < n {
            let c = chars[i]
            let startsNumber = Self.isDigit(c)
                || (c == "." || c == ",") && i + 1 < n && Self.isDigit(chars[i + 1]) && (i == 0 || !Self.isDigit(chars[i - 1]))
            if !startsNumber { i += 1; continue }
            var number = lexNumber(from: i)
            describe(&number)
            numbers.append(number)
            i = number.end
        }
        // `35€ 99`: cents written after the sign.
        var merged: [Number] = []
        var k = 0
        while k < numbers.count {
            var number = numbers[k]
            if k + 1 < numbers.count, let sign = number.after.last, case .code("EUR") = sign.meaning,
               !number.text.contains("."), !number.text.contains(","), number.after.count == 1 {
                let next = numbers[k + 1]
                let gap = next.start - sign.end
                if gap <= 1, next.text.count == 2, next.text.allSatisfy(Self.isDigit), !next.percent, next.after.isEmpty,
                   gap == 0 || chars[sign.end] == " " {
                    number.text += "." + next.text
                    number.end = next.end
                    merged.append(number)
                    k += 2
                    continue
                }
            }
            merged.append(number)
            k += 1
        }
        return merged
    }

    /// Digits with their separators from `start`.
    private func lexNumber(from start: Int) -> Number {
        let n = chars.count
        var j = start
        var out = ""
        var run = 0          // digits since the last separator
        var groups = 0       // separators seen
        func digitsFrom(_ k: Int) -> Int { var m = k; while m < n && Self.isDigit(chars[m]) { m += 1 }; return m - k }
        while j < n {
            let d = chars[j]
            if Self.isDigit(d) { out.append(d); run += 1; j += 1; continue }
            if (d == "." || d == ","), j + 2 < n, chars[j + 1] == " ", Self.isDigit(chars[j + 2]), run > 0 {
                // `$119. 95`, `1.837, 32`: a space after the decimal point, before exactly two digits.
                let following = digitsFrom(j + 2)
                let afterDigits = j + 2 + following
                let ends = afterDigits >= n || !(chars[afterDigits] == "." || chars[afterDigits] == ",")
                    || !(afterDigits + 1 < n && Self.isDigit(chars[afterDigits + 1]))
                // After a comma, only where a list ("$5, 10 items") cannot be meant: the integer part
                // was grouped (`1.837, 32`) or the text ends or a currency follows.
                let plausible = d == "." || out.contains(".") || afterDigits >= n
                    || token(startingAt: afterDigits) != nil || (chars[afterDigits] == " " && token(startingAt: afterDigits + 1) != nil)
                if following == 2 && ends && plausible {
                    out.append(d)
                    out.append(contentsOf: chars[(j + 2)..<afterDigits])
                    j = afterDigits
                    break
                }
                break
            }
            guard ".,' ’".contains(d), j + 1 < n, Self.isDigit(chars[j + 1]) else { break }
            let following = digitsFrom(j + 1)
            if d == " " || d == "'" || d == "’" {
                // Thousands: exactly three digits follow, and the first group has at most three.
                if following != 3 || (groups == 0 && run > 3) { break }
                if d == " ", out.contains(".") || out.contains(",") {
                    // After a decimal separator a space cannot group (`4.81 16`), unless the
                    // separators so far were thousands separators (`1.234 567`) — rare: stop.
                    break
                }
            }
            out.append(d)
            groups += 1
            run = 0
            j += 1
        }
        return Number(start: start, end: j, text: out)
    }

    /// What stands beside a number: currency tokens, a sign, parentheses, a percent sign, letters.
    private func describe(_ number: inout Number) {
        let n = chars.count
        func char(_ k: Int) -> Character? { k >= 0 && k < n ? chars[k] : nil }
        func isMinus(_ k: Int) -> Bool { char(k) == "-" || char(k) == "−" }
        // A sign stands alone: not a hyphen inside "1-2" or "A-5".
        func signAt(_ k: Int) -> Bool {
            guard isMinus(k) else { return false }
            guard let before = char(k - 1) else { return true }
            return before == " " || before == "(" || before == ":" || token(endingAt: k) != nil
        }

        // Before: [sign] [currency [space|:]]{0,2} [sign] number
        var p = number.start
        var negative = false
        if signAt(p - 1) { negative = true; p -= 1 }
        var leftmost = p
        for _ in 0..<2 {
            var q = p
            var skipped = 0
            while skipped < 2, let c = char(q - 1), c == " " || c == ":" { q -= 1; skipped += 1 }
            guard let t = token(endingAt: q) else { break }
            // A sign between two numbers belongs to the one it touches: `25€ 10` is 25's.
            if skipped > 0, let c = char(t.start - 1), Self.isDigit(c) { break }
            number.before.insert(t, at: 0)
            p = t.start
            leftmost = p
            if !negative && signAt(p - 1) { negative = true; leftmost = p - 1; p -= 1 }
        }
        // After: number [space] currency [space currency]
        var r = number.end
        var rightmost = r
        for _ in 0..<2 {
            var q = r
            if char(q) == " " { q += 1 }
            guard let t = token(startingAt: q) else { break }
            // `10 €25`: the sign is 25's.
            if q > r, let c = char(t.end), Self.isDigit(c) || c == "." || c == "," { break }
            number.after.append(t)
            r = t.end
            rightmost = r
        }
        // Accounting parentheses around the amount and its currency.
        if !negative {
            var open = leftmost - 1
            if char(open) == " " { open -= 1 }
            var close = rightmost
            if char(close) == " " { close += 1 }
            if char(open) == "(" && char(close) == ")" { negative = true }
        }
        number.negative = negative

        var e = number.end
        if char(e) == " " { e += 1 }
        if char(e) == "%" || char(e) == "‰" || char(number.start - 1) == "%" || (negative && char(number.start - 2) == "%") {
            number.percent = true
        } else {
            let rest = String(chars[min(e, n)...].prefix(8)).lowercased()
            if ["percent", "prozent", "procent", "pct"].contains(where: { rest.hasPrefix($0) }) { number.percent = true }
        }

        let gluedBefore = number.before.isEmpty && (char(number.start - 1).map { Self.isLetter($0) || $0 == "#" } ?? false)
        let gluedAfter = number.after.isEmpty && (char(number.end).map(Self.isLetter) ?? false)
        number.partOfWord = gluedBefore || gluedAfter

        // The word before the number (and its currency), for "was $120 now $60".
        var w = leftmost - 1
        while let c = char(w), c == " " || c == ":" { w -= 1 }
        var word = ""
        while let c = char(w), Self.isLetter(c) || c == "." { word.insert(c, at: word.startIndex); w -= 1 }
        number.precedingWord = word.lowercased().trimmingCharacters(in: CharacterSet(charactersIn: "."))
    }

    // MARK: Choosing

    static let wasWords: Set<String> = ["was", "statt", "uvp", "rrp", "msrp", "reg", "regular", "list", "vorher", "before",
                                        "orig", "originally", "old", "antes", "avant",
                                        // A saving is not the price either: "(You save $15.01) $119.99".
                                        "save", "saving", "savings", "discount", "rabatt", "économisez", "ahorra"]
    static let rangeWords: Set<String> = ["-", "–", "—", "~", "to", "bis", "à", "a", "al", "до", "até", "tot", "au"]

    /// The number that is the price, with the currency token beside it.
    func price() -> (number: Number, currency: Token?)? {
        let candidates = numbers.filter { !$0.percent }
        guard !candidates.isEmpty else { return nil }
        let attached = candidates.filter { $0.attached }
        if var chosen = attached.first {
            if Self.wasWords.contains(chosen.precedingWord), attached.count > 1 { chosen = attached[1] }
            // "From 26 to 50 €": the sign after a range belongs to both ends.
            if chosen.before.isEmpty, let first = candidates.first, first.start < chosen.start, !first.attached, !first.partOfWord {
                let between = String(chars[first.end..<chosen.start]).trimmingCharacters(in: .whitespaces).lowercased()
                if Self.rangeWords.contains(between) { return (first, best(chosen.after)) }
            }
            return (chosen, best(chosen.before + chosen.after))
        }
        return (candidates.first { !$0.partOfWord } ?? candidates[0], nil)
    }

    /// The most specific token: an ISO code, then a sign naming one currency, then a shared sign.
    private func best(_ list: [Token]) -> Token? {
        list.max { $0.strength < $1.strength }
    }

    func resolve(_ token: Token, defaultCurrency: String?) -> String? {
        switch token.meaning {
        case .code(let code): return code
        case .family(let family): return family.resolve(default: defaultCurrency)
        case .unknown: return defaultCurrency
        }
    }

    /// The currency named nearest to `number` anywhere in the text (or the first one, without a number).
    func currency(nearest number: Number?, defaultCurrency: String?) -> String? {
        guard !tokens.isEmpty else { return nil }
        guard let number else { return resolve(tokens[0], defaultCurrency: defaultCurrency) }
        func distance(_ t: Token) -> Int { t.end <= number.start ? number.start - t.end : t.start - number.end }
        let nearest = tokens.min { distance($0) < distance($1) }!
        return resolve(nearest, defaultCurrency: defaultCurrency)
    }
}
