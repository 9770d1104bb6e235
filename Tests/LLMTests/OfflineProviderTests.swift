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
        #expect(completion.model == "rules-v1")
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
