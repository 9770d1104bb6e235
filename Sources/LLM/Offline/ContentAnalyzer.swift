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
///
/// The business value (`high`, `medium`, `low`) counts five signals a merchant can use, one point each:
/// quality score at least 0.7; quality at least 0.4; at least 80 words; a price mentioned; a clear tone
/// (positive or negative: praise to quote, a complaint to answer). 4–5 points is high, 2–3 medium,
/// 0–1 low. The recommendations (1 to 5) come from rules the text trips, in this order: no text; under 80
/// words; sentences over 25 words on average; vocabulary feature under 0.8 (20 words or more); text ratio
/// under 0.8; capitals or `!`; a negative tone; a positive tone with a value above low; the main topic to
/// feature; and when none fired, "keep it as it is". docs/llm.md lists them with their wording.
public enum ContentAnalyzer {
    public struct Result: Sendable, Equatable {
        public var topics: [String]
        public var insights: [String]
        public var qualityScore: Double
        /// `high`, `medium` or `low`; see the type's documentation.
        public var businessValue: String
        /// What to change or do, 1 to 5 sentences.
        public var recommendations: [String]
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

        let prices = text.countMatches(#"(?:[$€£¥]\s?\d[\d,.]*|\d[\d,.]*\s?(?:USD|EUR|GBP|dollars|euros))"#)
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
            if prices > 0 { insights.append("Mentions \(prices) price\(prices == 1 ? "" : "s").") }
            let questions = sentences.filter { $0.hasSuffix("?") }.count
            if questions > 0 { insights.append("Asks \(questions) question\(questions == 1 ? "" : "s").") }
            let links = text.countMatches(#"https?://\S+"#)
            if links > 0 { insights.append("Contains \(links) link\(links == 1 ? "" : "s").") }
            if shouting > 2 { insights.append("Uses capitals for emphasis (\(shouting) words).") }
        }
        let points = [quality >= 0.7, quality >= 0.4, wordCount >= 80, prices > 0, sentiment.label != "neutral"]
            .filter { $0 }.count
        let businessValue = points >= 4 ? "high" : points >= 2 ? "medium" : "low"

        var recommendations: [String] = []
        if wordCount == 0 {
            recommendations.append("Add text: there is nothing to analyse.")
        } else {
            if wordCount < 80 {
                recommendations.append("Expand the text from \(wordCount) to at least 80 words with concrete details (use, size, materials).")
            }
            if avgSentence > 25 { recommendations.append("Split the long sentences into sentences of 8 to 25 words.") }
            if vocabulary < 0.8 && wordCount >= 20 { recommendations.append("Vary the wording: many words repeat.") }
            if textRatio < 0.8 { recommendations.append("Remove markup, symbols and other noise from the text.") }
            if shouting > 2 || exclaimed > 0 {
                recommendations.append("Drop the capitals and exclamation marks: they read as spam.")
            }
            if sentiment.label == "negative" {
                recommendations.append("Answer the complaint (tone score \(sentiment.score)): reply to the customer or fix the issue raised.")
            }
            if sentiment.label == "positive" && points >= 2 {
                recommendations.append("Quote the praise (tone score \(sentiment.score)) where shoppers decide.")
            }
            if let topic = topics.first { recommendations.append("Feature the main topic, \"\(topic)\", in the title and headings.") }
            if recommendations.isEmpty { recommendations.append("Keep the text as it is: no rule found anything to change.") }
        }
        return Result(topics: topics, insights: insights, qualityScore: quality, businessValue: businessValue,
                      recommendations: Array(recommendations.prefix(5)), wordCount: wordCount,
                      sentenceCount: sentenceCount, sentiment: sentiment.label, features: features)
    }
}

extension String {
    func countMatches(_ pattern: String) -> Int {
        guard let regex = try? NSRegularExpression(pattern: pattern) else { return 0 }
        return regex.numberOfMatches(in: self, range: NSRange(startIndex..., in: self))
    }
}
