/// Sentiment from a word list, the way VADER-style lexicon scorers work: each opinion word has
/// a weight (−3…3); an intensifier before it scales it (`very`, `slightly`); a negation within
/// the three words before it flips and dampens it (`not good`, `never disappointed`); `but`
/// gives the clause after it more weight. The sum is squashed into −1…1.
public enum SentimentLexicon {
    public struct Result: Sendable, Equatable {
        /// `positive`, `negative` or `neutral`.
        public var label: String
        /// −1 (negative) … 1 (positive), two decimals.
        public var score: Double
        /// 0…1: how much opinion the text holds and how one-sided it is; two decimals.
        public var confidence: Double
        /// Opinion words found (after negation), for explanations.
        public var positiveWords: [String]
        public var negativeWords: [String]
    }

    public static func analyze(_ text: String) -> Result {
        let words = TextUnits.words(text)
        var total = 0.0
        var hits = 0
        var positive: [String] = [], negative: [String] = []
        var butIndex: Int?
        for (i, word) in words.enumerated() where word == "but" || word == "however" { butIndex = i }
        for (i, word) in words.enumerated() {
            guard var value = weights[word] else { continue }
            if i > 0, let boost = intensifiers[words[i - 1]] {
                value *= boost
                if i > 1, let again = intensifiers[words[i - 2]] { value *= max(1, again) }
            }
            let window = words[max(0, i - 3)..<i]
            if window.contains(where: { negations.contains($0) || $0.hasSuffix("n't") }) { value *= -0.75 }
            if let butIndex { value *= i > butIndex ? 1.5 : 0.5 }
            total += value
            hits += 1
            if value > 0 { positive.append(word) } else if value < 0 { negative.append(word) }
        }
        let exclamations = Double(min(3, text.filter { $0 == "!" }.count))
        if total != 0 { total += (total > 0 ? 1 : -1) * 0.3 * exclamations }
        let score = total / (total * total + 15).squareRoot()
        let label = score >= 0.05 ? "positive" : score <= -0.05 ? "negative" : "neutral"
        let confidence: Double
        if hits == 0 {
            // No opinion words: "neutral" is a guess from absence, not evidence.
            confidence = 0.5
        } else {
            let opinions = max(1, positive.count + negative.count)
            let agreement = Double(max(positive.count, negative.count)) / Double(opinions)
            let evidence = min(1, Double(hits) / 4)
            confidence = label == "neutral" ? 0.4 + 0.2 * (1 - abs(score) / 0.05) * evidence
                : 0.35 + 0.3 * abs(score) + 0.2 * evidence + 0.15 * agreement
        }
        return Result(label: label, score: round2(score), confidence: round2(min(1, max(0, confidence))),
                      positiveWords: positive, negativeWords: negative)
    }

    static func round2(_ x: Double) -> Double { (x * 100).rounded() / 100 }

    static let negations: Set<String> = [
        "not", "no", "never", "none", "nobody", "nothing", "neither", "nor", "nowhere", "hardly", "barely", "scarcely",
        "without", "cannot", "cant", "dont", "doesnt", "didnt", "isnt", "wasnt", "wont", "wouldnt", "shouldnt", "aint",
    ]

    static let intensifiers: [String: Double] = [
        "very": 1.5, "really": 1.4, "extremely": 1.8, "incredibly": 1.8, "absolutely": 1.7, "totally": 1.5,
        "completely": 1.5, "utterly": 1.7, "so": 1.3, "super": 1.5, "highly": 1.5, "truly": 1.4, "most": 1.3,
        "especially": 1.3, "exceptionally": 1.8, "remarkably": 1.5, "particularly": 1.3, "quite": 1.2, "too": 1.2,
        "slightly": 0.5, "somewhat": 0.6, "fairly": 0.8, "kinda": 0.6, "barely": 0.4, "mildly": 0.6,
        "marginally": 0.5, "rather": 0.9, "pretty": 1.2,
    ]

    static let weights: [String: Double] = {
        var w: [String: Double] = [:]
        let strongPositive = ["excellent", "amazing", "outstanding", "superb", "fantastic", "wonderful", "perfect",
                              "brilliant", "exceptional", "flawless", "love", "loved", "loves", "awesome", "incredible",
                              "phenomenal", "stunning", "delighted", "magnificent", "best"]
        let positive = ["good", "great", "nice", "happy", "pleased", "recommend", "recommended", "satisfied", "reliable",
                        "quality", "fast", "quick", "easy", "comfortable", "beautiful", "enjoy", "enjoyed", "liked",
                        "helpful", "friendly", "efficient", "sturdy", "durable", "solid", "worth", "value",
                        "affordable", "impressive", "impressed", "smooth", "clean", "fresh", "elegant", "convenient",
                        "accurate", "works", "working", "fine", "glad", "favorite", "favourite", "pleasant",
                        "premium", "responsive", "intuitive", "bargain", "better", "improved", "useful", "cool",
                        "fun", "gorgeous", "lovely", "thanks", "thank", "win", "success", "successful", "positive",
                        "secure", "safe", "stable", "generous", "fair", "clear", "soft", "robust", "powerful"]
        let negative = ["bad", "poor", "slow", "broken", "broke", "disappointed", "disappointing", "problem", "problems",
                        "issue", "issues", "difficult", "expensive", "overpriced", "flimsy", "late",
                        "delay", "delayed", "damaged", "defective", "faulty", "fail", "failed", "fails", "failure",
                        "error", "errors", "wrong", "missing", "noisy", "uncomfortable", "ugly", "annoying", "confusing",
                        "complicated", "rude", "unhelpful", "unreliable", "useless", "waste", "worse", "dislike",
                        "unhappy", "dirty", "crash", "crashes", "crashed", "bug", "buggy", "leak", "leaks", "scratched",
                        "refund", "returned", "complaint", "negative", "weak", "lacking", "mediocre", "meh",
                        "overheats", "stopped", "unfortunately", "sadly", "regret", "lost", "risk", "unsafe"]
        let strongNegative = ["terrible", "awful", "horrible", "worst", "hate", "hated", "hates", "disgusting",
                              "pathetic", "garbage", "junk", "scam", "fraud", "unacceptable", "dreadful", "atrocious",
                              "abysmal", "nightmare", "disaster", "furious"]
        for word in strongPositive { w[word] = 3 }
        for word in positive { w[word] = 1.8 }
        for word in negative { w[word] = -1.8 }
        for word in strongNegative { w[word] = -3 }
        return w
    }()
}
