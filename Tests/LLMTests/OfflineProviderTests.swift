import Foundation
import Lake
import LLM
import Testing

@Suite struct OfflineProviderTests {
    static let review = "I absolutely love this laptop. The screen is stunning and the battery lasts all day. Shipping was fast."
    static let complaint = "Terrible product. It broke after two days and customer support was not helpful at all. I want a refund."
    static let plain = "The package contains one charger and one cable. It weighs 200 grams."
    static let page = """
    <p>The Acme X200 wireless headphones deliver rich sound.</p><p>Battery life reaches 30 hours &amp; charging takes \
    2 hours. The noise cancelling works well on trains. Dr. Smith, an audio engineer, tested the X200 headphones in a lab. \
    The wireless headphones cost $199.</p><script>var tracking = "wireless wireless wireless";</script>
    """

    static func answer(_ task: String, _ text: String, _ options: [String: String] = [:]) async throws -> JSONValue {
        let request = CompletionRequest(model: OfflineProvider.modelName, messages: [ChatMessage(.user, "ignored prompt")],
                                        intent: TaskIntent(task: task, text: text, options: options))
        let completion = try await OfflineProvider().complete(request)
        #expect(completion.model == "rules-v2")
        #expect(completion.usage != nil)
        return try JSONValue.parse(completion.text)
    }

    @Test(arguments: [(review, "positive"), (complaint, "negative"), (plain, "neutral"),
                      ("The camera is not bad at all.", "positive"), ("It is not good.", "negative"),
                      ("The fit is great but the zipper broke and the seams are awful.", "negative")])
    func sentimentLabels(text: String, label: String) async throws {
        let answer = try await Self.answer("sentiment", text)
        #expect(answer.objectValue?["label"]?.stringValue == label, "\(text) → \(answer.serialized())")
        let score = try #require(answer.objectValue?["score"]?.doubleValue)
        let confidence = try #require(answer.objectValue?["confidence"]?.doubleValue)
        #expect((-1...1).contains(score) && (0...1).contains(confidence))
        if label == "positive" { #expect(score > 0) }
        if label == "negative" { #expect(score < 0) }
    }

    @Test func intensifiersStrengthenAndNegationFlips() {
        let good = SentimentLexicon.analyze("The service was good.").score
        let veryGood = SentimentLexicon.analyze("The service was very good.").score
        let slightlyGood = SentimentLexicon.analyze("The service was slightly good.").score
        #expect(veryGood > good && good > slightlyGood && slightlyGood > 0)
        #expect(SentimentLexicon.analyze("The service was not good.").score < 0)
        #expect(SentimentLexicon.analyze("Nothing to say here.").confidence == 0.5)
    }

    @Test func sentencesKeepDecimalsAbbreviationsAndQuotes() async throws {
        let text = "It costs 3.5 dollars, i.e. cheap. \"Great value!\" said Mr. Jones. Is it? yes it is."
        let long = try await Self.answer("summary", text, ["length": "long"]).objectValue?["summary"]?.stringValue
        #expect(long == text)
        let short = try await Self.answer("summary", text, ["length": "short"]).objectValue?["summary"]?.stringValue
        #expect(short == "It costs 3.5 dollars, i.e. cheap.")
    }

    @Test func keywordsSkipStopWordsAndFindPhrases() async throws {
        let answer = try await Self.answer("keywords", Self.page, ["max_keywords": "5"])
        let keywords = answer.objectValue?["keywords"]?.arrayValue?.compactMap { $0.stringValue } ?? []
        #expect(keywords.count == 5)
        #expect(keywords.first == "wireless headphones")
        #expect(!keywords.contains("the") && !keywords.contains("and"))
        // Script bodies are not text.
        #expect(!keywords.contains("tracking"))
    }

    @Test func summariesTakeLeadSentences() async throws {
        let short = try await Self.answer("summary", Self.page, ["length": "short"]).objectValue?["summary"]?.stringValue
        #expect(short == "The Acme X200 wireless headphones deliver rich sound.")
        let mediumAnswer = try await Self.answer("summary", Self.page)
        let medium = try #require(mediumAnswer.objectValue?["summary"]?.stringValue)
        #expect(medium.hasSuffix("The noise cancelling works well on trains."))
        #expect(medium.contains("30 hours & charging"))
        let longAnswer = try await Self.answer("summary", Self.page, ["length": "long"])
        let long = try #require(longAnswer.objectValue?["summary"]?.stringValue)
        // "Dr." does not end a sentence, and the long summary has all five.
        #expect(long.contains("Dr. Smith, an audio engineer, tested"))
        #expect(long.hasSuffix("cost $199."))
        await #expect(throws: LLMError.self) { _ = try await Self.answer("summary", Self.page, ["length": "epic"]) }
    }

    @Test func categoriesComeFromTheGivenList() async throws {
        let options = ["categories": "Electronics, Clothing, Home, Other"]
        #expect(try await Self.answer("categorize", Self.page, options).objectValue?["category"] == "Electronics")
        #expect(try await Self.answer("categorize", "A soft cotton shirt with long sleeves.", options).objectValue?["category"] == "Clothing")
        let none = try await Self.answer("categorize", "Nothing to see.", options)
        #expect(none.objectValue?["category"] == "Other")
        #expect(none.objectValue?["confidence"]?.doubleValue == 0)
        let ruled = try await Self.answer("categorize", "Fresh basil and tomato seeds.",
                                          ["categories": "a,b", "rules": "a: laptop; b: basil, tomato"])
        #expect(ruled.objectValue?["category"] == "b")
        await #expect(throws: LLMError.self) { _ = try await Self.answer("categorize", "text") }
    }

    @Test func contentAnalysisMeasuresTheText() async throws {
        let answer = try await Self.answer("content_analysis", Self.page)
        let object = try #require(answer.objectValue)
        let topics = object["topics"]?.arrayValue?.compactMap { $0.stringValue } ?? []
        #expect(topics.first == "wireless headphones")
        let insights = object["insights"]?.arrayValue?.compactMap { $0.stringValue } ?? []
        #expect(insights.contains("Mentions 1 price."))
        let quality = try #require(object["quality_score"]?.doubleValue)
        let noisy = try await Self.answer("content_analysis", "BUY NOW!!! $$$ CLICK HERE!!! ### @@@ !!!")
        let noise = try #require(noisy.objectValue?["quality_score"]?.doubleValue)
        #expect((0...1).contains(quality) && (0...1).contains(noise))
        #expect(quality > noise + 0.3)
    }

    /// business_value and recommendations follow from the record's own text (docs/llm.md lists the rules).
    @Test func contentAnalysisGivesBusinessValueAndRecommendationsFromTheText() async throws {
        func fields(_ text: String) async throws -> (value: String?, recommendations: [String]) {
            let object = try #require(try await Self.answer("content_analysis", text).objectValue)
            return (object["business_value"]?.stringValue, object["recommendations"]?.arrayValue?.compactMap(\.stringValue) ?? [])
        }
        // 19 words, a clear negative tone, good quality: medium; expand it, answer it.
        let complaint = try await fields(Self.complaint)
        #expect(complaint.value == "medium")
        #expect(complaint.recommendations.first == "Expand the text from 19 to at least 80 words with concrete details (use, size, materials).")
        #expect(complaint.recommendations.contains { $0.hasPrefix("Answer the complaint (tone score -") })
        #expect(!complaint.recommendations.contains { $0.hasPrefix("Quote the praise") })
        // Shouting and symbols, no price, no tone: low; clean it up.
        let noisy = try await fields("BUY NOW!!! $$$ CLICK HERE!!! ### @@@ !!!")
        #expect(noisy.value == "low")
        #expect(noisy.recommendations.contains("Remove markup, symbols and other noise from the text."))
        #expect(noisy.recommendations.contains("Drop the capitals and exclamation marks: they read as spam."))
        // A long, clean, priced and praised description: high; nothing to fix, so quote the praise and feature the topic.
        let product = try await fields(Self.longDescription)
        #expect(product.value == "high")
        #expect(product.recommendations.count == 2)
        #expect(product.recommendations.first?.hasPrefix("Quote the praise (tone score ") == true)
        #expect(product.recommendations.last == "Feature the main topic, \"hiking boots\", in the title and headings.")
        // No text at all.
        let empty = try await fields("")
        #expect(empty.value == "low" && empty.recommendations == ["Add text: there is nothing to analyse."])
    }

    static let longDescription = """
    These hiking boots are made for long days on rough trails. The upper is full-grain leather with a waterproof \
    membrane, so your feet stay dry in rain and shallow streams. A cushioned midsole absorbs the shock of rocky \
    descents, and the grippy rubber outsole holds on wet stone. Customers love the comfortable fit straight out of \
    the box, with no painful break-in period. The padded collar protects your ankles, while sturdy metal hooks make \
    lacing quick. Each pair weighs about 1.2 kilograms. The hiking boots cost $149 and come with a two-year warranty \
    against defects in materials and workmanship.
    """

    @Test func cleanupStripsMarkupEntitiesAndControls() async throws {
        let dirty = "<div>Caf&eacute; &amp; bar&#33;\u{0007}</div>\n\n\n\n<b>Open</b>   daily&nbsp;&nbsp;9&ndash;5 <!-- hidden --><style>p{}</style>"
        let answer = try await Self.answer("cleanup", dirty)
        #expect(answer.objectValue?["text"] == "Café & bar!\n\nOpen daily 9–5")
        #expect(TextCleanup.clean("  a \t b  \n c  ") == "a b\nc")
    }

    @Test func sameRequestSameAnswer() async throws {
        for task in OfflineProvider.tasks {
            let options = task == "categorize" ? ["categories": "Electronics,Home"] : [:]
            let first = try await Self.answer(task, Self.page, options).serialized()
            for _ in 0..<3 { #expect(try await Self.answer(task, Self.page, options).serialized() == first) }
        }
    }

    @Test func customAndPromptsAreRefused() async throws {
        await #expect { _ = try await Self.answer("custom", "anything") } throws: { ($0 as? LLMError)?.kind == .unsupported }
        let bare = CompletionRequest(model: "rules-v1", messages: [ChatMessage(.user, "Write a poem")])
        await #expect { _ = try await OfflineProvider().complete(bare) } throws: {
            ($0 as? LLMError)?.kind == .unsupported && "\($0)".contains("not a language model")
        }
    }
}
