import Foundation

/// Cleans scraped text without a model: drops `<script>`/`<style>` bodies and HTML tags,
/// decodes entities, removes control characters, and normalises whitespace (runs of spaces to
/// one, at most one blank line between paragraphs, trimmed lines).
public enum TextCleanup {
    public static func clean(_ text: String) -> String {
        var s = text
        if s.contains("<") {
            s = s.replacingOccurrences(of: #"(?is)<(script|style|noscript)\b[^>]*>.*?</\1\s*>"#, with: " ", options: .regularExpression)
            s = s.replacingOccurrences(of: #"(?s)<!--.*?-->"#, with: " ", options: .regularExpression)
            // Block-level tags end a line; other tags vanish.
            s = s.replacingOccurrences(of: #"(?i)<\s*(br|/p|/div|/li|/h[1-6]|/tr|p|div|li|h[1-6]|tr)\b[^>]*>"#, with: "\n",
                                       options: .regularExpression)
            s = s.replacingOccurrences(of: #"</?[A-Za-z][^<>]*>"#, with: " ", options: .regularExpression)
        }
        if s.contains("&") { s = decodeEntities(s) }
        var scalars = String.UnicodeScalarView()
        for scalar in s.unicodeScalars {
            switch scalar.value {
            case 0x0A: scalars.append(scalar)
            case 0x09, 0x0D, 0x0B, 0x0C, 0xA0, 0x2000...0x200A, 0x202F, 0x205F, 0x3000: scalars.append(" ")
            case 0x00...0x1F, 0x7F...0x9F, 0x200B...0x200D, 0xFEFF: continue
            default: scalars.append(scalar)
            }
        }
        var lines: [String] = []
        var blank = false
        for raw in String(scalars).split(separator: "\n", omittingEmptySubsequences: false) {
            let line = raw.split(separator: " ", omittingEmptySubsequences: true).joined(separator: " ")
            if line.isEmpty {
                blank = !lines.isEmpty
                continue
            }
            if blank { lines.append("") }
            blank = false
            lines.append(line)
        }
        return lines.joined(separator: "\n")
    }

    /// Decodes `&name;`, `&#NN;` and `&#xNN;`. Unknown names are left as they are.
    public static func decodeEntities(_ text: String) -> String {
        var out = ""
        out.reserveCapacity(text.utf8.count)
        var i = text.startIndex
        while i < text.endIndex {
            let c = text[i]
            guard c == "&", let semi = text[i...].prefix(12).firstIndex(of: ";") else {
                out.append(c)
                i = text.index(after: i)
                continue
            }
            let name = text[text.index(after: i)..<semi]
            var decoded: String?
            if name.hasPrefix("#x") || name.hasPrefix("#X") {
                decoded = UInt32(name.dropFirst(2), radix: 16).flatMap(Unicode.Scalar.init).map { String(Character($0)) }
            } else if name.hasPrefix("#") {
                decoded = UInt32(name.dropFirst()).flatMap(Unicode.Scalar.init).map { String(Character($0)) }
            } else {
                decoded = entities[String(name)]
            }
            if let decoded {
                out += decoded
                i = text.index(after: semi)
            } else {
                out.append(c)
                i = text.index(after: i)
            }
        }
        return out
    }

    static let entities: [String: String] = [
        "amp": "&", "lt": "<", "gt": ">", "quot": "\"", "apos": "'", "nbsp": "\u{A0}", "ndash": "–", "mdash": "—",
        "hellip": "…", "lsquo": "‘", "rsquo": "’", "ldquo": "“", "rdquo": "”", "laquo": "«", "raquo": "»",
        "copy": "©", "reg": "®", "trade": "™", "euro": "€", "pound": "£", "yen": "¥", "cent": "¢", "deg": "°",
        "times": "×", "divide": "÷", "middot": "·", "bull": "•", "para": "¶", "sect": "§", "eacute": "é",
        "egrave": "è", "agrave": "à", "aacute": "á", "uuml": "ü", "ouml": "ö", "auml": "ä", "szlig": "ß", "ccedil": "ç",
        "ntilde": "ñ", "iacute": "í", "oacute": "ó", "uacute": "ú", "frac12": "½", "plusmn": "±", "shy": "",
    ]
}

/// Words and sentences as the offline rules see them.
enum TextUnits {
    /// Lower-cased words: letters and digits, with inner apostrophes and hyphens kept (`don't`, `e-mail`).
    static func words(_ text: String) -> [String] {
        var words: [String] = []
        var current = ""
        let chars = Array(text.lowercased())
        for (i, ch) in chars.enumerated() {
            if ch.isLetter || ch.isNumber {
                current.append(ch)
            } else if (ch == "'" || ch == "’" || ch == "-"), !current.isEmpty, i + 1 < chars.count,
                      chars[i + 1].isLetter {
                current.append(ch == "’" ? "'" : ch)
            } else if !current.isEmpty {
                words.append(current)
                current = ""
            }
        }
        if !current.isEmpty { words.append(current) }
        return words
    }

    /// Sentences: text up to `.`, `!` or `?` (and any closing quotes) followed by white space and
    /// a capital, digit or quote, or by the end. Abbreviations (`e.g.`, `Mr.`) and decimals do not end a sentence.
    static func sentences(_ text: String) -> [String] {
        let chars = Array(text)
        var sentences: [String] = []
        var start = 0
        var i = 0
        func flush(_ end: Int) {
            let s = String(chars[start..<end]).split(whereSeparator: \.isWhitespace).joined(separator: " ")
            if !s.isEmpty { sentences.append(s) }
            start = end
        }
        while i < chars.count {
            let ch = chars[i]
            if ch == "\n", i + 1 < chars.count, chars[i + 1] == "\n" {
                flush(i); i += 1; continue
            }
            guard ch == "." || ch == "!" || ch == "?" else { i += 1; continue }
            var end = i + 1
            while end < chars.count, "!?.\"'”’)".contains(chars[end]) { end += 1 }
            if end >= chars.count { flush(chars.count); break }
            guard chars[end].isWhitespace else { i = end; continue }
            var next = end
            while next < chars.count, chars[next].isWhitespace { next += 1 }
            if next >= chars.count { flush(chars.count); break }
            let following = chars[next]
            if ch == "." {
                var w = i - 1
                while w >= start, chars[w].isLetter || chars[w] == "." { w -= 1 }
                let word = String(chars[(w + 1)...i]).lowercased()
                if abbreviations.contains(word) { i = end; continue }
            }
            if following.isUppercase || following.isNumber || "\"“'(".contains(following) {
                flush(end)
            }
            i = end
        }
        if start < chars.count { flush(chars.count) }
        return sentences
    }

    static let abbreviations: Set<String> = [
        "mr.", "mrs.", "ms.", "dr.", "prof.", "sr.", "jr.", "st.", "vs.", "etc.", "e.g.", "i.e.", "inc.", "ltd.", "co.",
        "corp.", "no.", "fig.", "approx.", "dept.", "est.", "u.s.", "u.k.", "jan.", "feb.", "mar.", "apr.", "jun.",
        "jul.", "aug.", "sep.", "sept.", "oct.", "nov.", "dec.",
    ]

    static let stopWords: Set<String> = [
        "a", "about", "above", "after", "again", "against", "all", "also", "am", "an", "and", "any", "are", "aren't",
        "as", "at", "be", "because", "been", "before", "being", "below", "between", "both", "but", "by", "can", "can't",
        "cannot", "could", "couldn't", "did", "didn't", "do", "does", "doesn't", "doing", "don't", "down", "during",
        "each", "even", "ever", "every", "few", "for", "from", "further", "get", "gets", "got", "had", "hadn't", "has",
        "hasn't", "have", "haven't", "having", "he", "her", "here", "hers", "herself", "him", "himself", "his", "how",
        "however", "i", "i'm", "i've", "if", "in", "into", "is", "isn't", "it", "it's", "its", "itself", "just", "let",
        "like", "made", "make", "many", "may", "me", "might", "more", "most", "much", "must", "my", "myself", "new",
        "no", "nor", "not", "now", "of", "off", "on", "once", "one", "only", "or", "other", "our", "ours", "ourselves",
        "out", "over", "own", "per", "quite", "rather", "really", "said", "same", "say", "says", "see", "she",
        "should", "shouldn't", "since", "so", "some", "still", "such", "than", "that", "that's", "the", "their",
        "theirs", "them", "themselves", "then", "there", "there's", "these", "they", "they're", "this", "those",
        "though", "through", "to", "too", "under", "until", "up", "upon", "us", "use", "used", "using", "very", "via",
        "was", "wasn't", "we", "we're", "well", "were", "weren't", "what", "when", "where", "whether", "which", "while",
        "who", "whom", "whose", "why", "will", "with", "within", "without", "won't", "would", "wouldn't", "yet", "you",
        "you're", "your", "yours", "yourself", "yourselves", "two", "three", "first", "way", "lot", "lots", "thing",
        "things", "want", "need", "go", "going", "come", "take", "know", "think", "good", "great", "best", "bad",
    ]
}
