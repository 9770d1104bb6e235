import Foundation

/// Content analysis from measurable features, without a model: topics are the top keywords;
/// insights are plain statements about length, structure, tone, prices, questions and links;
/// the quality score (0…1) averages five features, each 0…1:
///
/// - length: 1 for 80–2,000 words, falling off outside;
/// - sentence length: 1 for an average of 8–25 words per sentence;
/// - vocabulary: distinct words / words (type-token ratio), scaled so 0.5 or more scores 1;
/// - text ratio: letters and spaces among all characters (markup and symbol noise lower it);
/// - calm: 1 minus the share of words in capitals and of `!`-ended sentences.
public enum ContentAnalyzer {
    public struct Result: Sendable, Equatable {
        public var topics: [String]
        public var insights: [String]
        public var qualityScore: Double
        public var wordCount: Int
        public var sentenceCount: Int
        public var sentiment: String
        /// Each feature of the quality score, 0…1.
        public var features: [String: Double]
    }

    public static func analyze(_ raw: String) -> Result {
        let text = TextCleanup.clean(raw)
        let words = TextUnits.words(text)
        let sentences = TextUnits.sentences(text)
        let wordCount = words.count
        let sentenceCount = max(sentences.count, wordCount > 0 ? 1 : 0)
        let topics = KeywordExtractor.extract(text, limit: 5).map(\.term)
        let sentiment = SentimentLexicon.analyze(text)

        let avgSentence = sentenceCount == 0 ? 0 : Double(wordCount) / Double(sentenceCount)
        let length: Double = wordCount == 0 ? 0 : wordCount < 80 ? Double(wordCount) / 80
            : wordCount <= 2000 ? 1 : max(0.3, 2000 / Double(wordCount))
        let sentenceFeature: Double = avgSentence == 0 ? 0 : avgSentence < 8 ? avgSentence / 8
            : avgSentence <= 25 ? 1 : max(0, 1 - (avgSentence - 25) / 50)
        let vocabulary = wordCount == 0 ? 0 : min(1, Double(Set(words).count) / Double(wordCount) / 0.5)
        let characters = raw.count
        let plain = raw.filter { $0.isLetter || $0 == " " }.count
        let textRatio = characters == 0 ? 0 : min(1, Double(plain) / Double(characters) / 0.8)
        let rawWords = text.split(whereSeparator: \.isWhitespace)
        let shouting = rawWords.filter { word in
            word.count > 2 && word.contains(where: \.isLetter) && word.allSatisfy { !$0.isLetter || $0.isUppercase }
        }.count
        let exclaimed = sentences.filter { $0.hasSuffix("!") }.count
        let calm = wordCount == 0 ? 0 : max(0, 1 - Double(shouting) / Double(max(1, rawWords.count)) * 3
                                                - Double(exclaimed) / Double(max(1, sentenceCount)) * 0.5)
        let features = ["length": length, "sentence_length": sentenceFeature, "vocabulary": vocabulary,
                        "text_ratio": textRatio, "calm": calm].mapValues(SentimentLexicon.round2)
        let quality = SentimentLexicon.round2((length + sentenceFeature + vocabulary + textRatio + calm) / 5)

        var insights: [String] = []
        if wordCount == 0 {
            insights.append("No text to analyse.")
        } else {
            let size = wordCount < 80 ? "Short text" : wordCount <= 2000 ? "Medium-length text" : "Long text"
            insights.append("\(size): \(wordCount) words in \(sentenceCount) sentence\(sentenceCount == 1 ? "" : "s").")
            if avgSentence > 25 {
                insights.append(String(format: "Long sentences (%.0f words on average) make it harder to read.", avgSentence))
            }
            if sentiment.label != "neutral" {
                insights.append("Tone is \(sentiment.label) (score \(sentiment.score)).")
            } else {
                insights.append("Tone is neutral or mixed.")
            }
            if let topic = topics.first { insights.append("Most frequent topic: \(topic).") }
            let prices = text.countMatches(#"(?:[$€£¥]\s?\d[\d,.]*|\d[\d,.]*\s?(?:USD|EUR|GBP|dollars|euros))"#)
            if prices > 0 { insights.append("Mentions \(prices) price\(prices == 1 ? "" : "s").") }
            let questions = sentences.filter { $0.hasSuffix("?") }.count
            if questions > 0 { insights.append("Asks \(questions) question\(questions == 1 ? "" : "s").") }
            let links = text.countMatches(#"https?://\S+"#)
            if links > 0 { insights.append("Contains \(links) link\(links == 1 ? "" : "s").") }
            if shouting > 2 { insights.append("Uses capitals for emphasis (\(shouting) words).") }
        }
        return Result(topics: topics, insights: insights, qualityScore: quality, wordCount: wordCount,
                      sentenceCount: sentenceCount, sentiment: sentiment.label, features: features)
    }
}

extension String {
    func countMatches(_ pattern: String) -> Int {
        guard let regex = try? NSRegularExpression(pattern: pattern) else { return 0 }
        return regex.numberOfMatches(in: self, range: NSRange(startIndex..., in: self))
    }
}
