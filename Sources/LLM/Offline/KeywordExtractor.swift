import Foundation

/// Keywords by frequency, without a model: words that are not stop words, numbers or shorter
/// than three letters are counted; phrases of two or three such words in a row that occur more
/// than once are candidates too, and a phrase's words do not also count alone. Ranked by
/// count × phrase length, ties by first appearance, so the output is deterministic.
public enum KeywordExtractor {
    public struct Keyword: Sendable, Equatable {
        public var term: String
        public var count: Int
        public var score: Double
    }

    public static func extract(_ text: String, limit: Int = 10) -> [Keyword] {
        let words = TextUnits.words(text)
        func usable(_ w: String) -> Bool {
            w.count >= 3 && !TextUnits.stopWords.contains(w) && !w.allSatisfy(\.isNumber)
                && !SentimentLexicon.weights.keys.contains(w)
        }
        // Runs of usable words; a stop word or punctuation-free gap breaks a phrase.
        var counts: [String: (count: Int, first: Int, length: Int)] = [:]
        var phraseWords: [String: Int] = [:]
        for n in [3, 2] where words.count >= n {
            for i in 0...(words.count - n) {
                let gram = words[i..<(i + n)]
                guard gram.allSatisfy(usable) else { continue }
                let term = gram.joined(separator: " ")
                counts[term, default: (0, i, n)].count += 1
            }
        }
        // Keep repeated phrases only; a trigram absorbs the bigrams inside it.
        counts = counts.filter { $0.value.count >= 2 }
        for (term, entry) in counts where entry.length == 3 {
            let parts = term.split(separator: " ")
            for bigram in [parts[0...1], parts[1...2]].map({ $0.joined(separator: " ") }) where counts[bigram]?.count == entry.count {
                counts[bigram] = nil
            }
        }
        for (term, entry) in counts {
            for part in term.split(separator: " ") { phraseWords[String(part), default: 0] += entry.count }
        }
        for (i, word) in words.enumerated() where usable(word) {
            counts[word, default: (0, i, 1)].count += 1
        }
        for (word, used) in phraseWords {
            guard let entry = counts[word] else { continue }
            let rest = entry.count - used
            counts[word] = rest > 0 ? (rest, entry.first, 1) : nil
        }
        let ranked = counts.map { Keyword(term: $0.key, count: $0.value.count, score: Double($0.value.count * $0.value.length)) }
            .sorted { a, b in
                if a.score != b.score { return a.score > b.score }
                return counts[a.term]!.first < counts[b.term]!.first
            }
        return Array(ranked.prefix(max(0, limit)))
    }
}

/// Lead-sentence summaries: the first sentences of the (cleaned) text, the way news leads are
/// written. `short` is one sentence, `medium` three, `long` five; a sentence longer than the
/// length's character budget is cut at a word boundary with `…`.
public enum LeadSummarizer {
    public enum Length: String, Sendable, CaseIterable {
        case short, medium, long

        var sentences: Int { self == .short ? 1 : self == .medium ? 3 : 5 }
        var maxCharacters: Int { self == .short ? 200 : self == .medium ? 600 : 1200 }
    }

    public static func summarize(_ text: String, length: Length = .medium) -> String {
        let sentences = TextUnits.sentences(TextCleanup.clean(text))
        var out = ""
        for sentence in sentences.prefix(length.sentences) {
            let candidate = out.isEmpty ? sentence : out + " " + sentence
            if candidate.count > length.maxCharacters {
                if out.isEmpty { out = cut(sentence, to: length.maxCharacters) }
                break
            }
            out = candidate
        }
        return out
    }

    static func cut(_ text: String, to limit: Int) -> String {
        guard text.count > limit else { return text }
        let prefix = text.prefix(limit - 1)
        let head = prefix.lastIndex(of: " ").map { prefix[..<$0] } ?? prefix
        return head.trimmingCharacters(in: .punctuationCharacters.union(.whitespaces)) + "…"
    }
}
