import Foundation
import Lake

/// The default provider: deterministic rules, no network, no key, and **no language model**.
/// It does not read prompts; it answers from the request's `TaskIntent` (the task name, the
/// record text and the task's options) with one JSON object shaped for the task:
///
/// | task | options | answer |
/// |---|---|---|
/// | `sentiment` | | `{"label": "positive"|"negative"|"neutral", "score": -1…1, "confidence": 0…1}` |
/// | `keywords` | `max_keywords` (10) | `{"keywords": ["…", …]}` |
/// | `summary` | `length`: short, medium (default), long | `{"summary": "…"}` |
/// | `categorize` | `categories` (comma-separated, required), `rules` (`"a: x, y; b: z"`) | `{"category": "…", "confidence": 0…1}` |
/// | `content_analysis` | | `{"topics": […], "insights": […], "quality_score": 0…1, "business_value": "high"|"medium"|"low", "recommendations": […]}` |
/// | `cleanup` | | `{"text": "…"}` |
///
/// `custom` (and anything else) fails with `.unsupported`: a free-form prompt needs a model.
/// The same request always gets the same answer. Usage is estimated at four characters per token
/// (the cost is 0 either way).
public struct OfflineProvider: LLMProvider {
    public let kind = ProviderKind.offline
    /// What `Completion.model` says: the rules' version, so a change of rules changes cache keys.
    /// v2: content_analysis answers carry business_value and recommendations.
    public static let modelName = "rules-v2"
    public static let tasks = ["sentiment", "keywords", "summary", "categorize", "content_analysis", "cleanup"]

    public init() {}

    public func complete(_ request: CompletionRequest) async throws -> Completion {
        let start = ContinuousClock.now
        guard let intent = request.intent else {
            throw LLMError(.unsupported, provider: .offline,
                           message: "offline is rule-based, not a language model: it needs a task ("
                               + Self.tasks.joined(separator: ", ") + "), not a free-form prompt")
        }
        let answer = try Self.answer(intent)
        let text = answer.serialized()
        let prompt = (request.system ?? "") + request.messages.map(\.content).joined()
        let input = TokenEstimate.tokens(in: prompt.isEmpty ? intent.text : prompt)
        return Completion(text: text, model: Self.modelName,
                          usage: TokenUsage(input: input, output: TokenEstimate.tokens(in: text)),
                          finishReason: "stop", latencyMs: elapsedMs(since: start))
    }

    public func healthCheck(timeout: Double) async throws -> String { "rules, no network" }

    /// The JSON answer for `intent`.
    public static func answer(_ intent: TaskIntent) throws -> JSONValue {
        let task = intent.task.lowercased().replacingOccurrences(of: "-", with: "_")
        switch task {
        case "sentiment":
            let r = SentimentLexicon.analyze(TextCleanup.clean(intent.text))
            return ["label": .string(r.label), "score": .double(r.score), "confidence": .double(r.confidence)]
        case "keywords":
            let limit = try intOption(intent, "max_keywords", default: 10)
            let keywords = KeywordExtractor.extract(TextCleanup.clean(intent.text), limit: limit)
            return ["keywords": .array(keywords.map { .string($0.term) })]
        case "summary", "summarize":
            let name = intent.options["length"]?.lowercased() ?? "medium"
            guard let length = LeadSummarizer.Length(rawValue: name) else {
                throw LLMError(.badRequest, provider: .offline, message: "summary length '\(name)': expected short, medium or long")
            }
            return ["summary": .string(LeadSummarizer.summarize(intent.text, length: length))]
        case "categorize", "categorise", "category":
            let categories = (intent.options["categories"] ?? "").split(separator: ",")
                .map { $0.trimmingCharacters(in: .whitespaces) }.filter { !$0.isEmpty }
            guard !categories.isEmpty else {
                throw LLMError(.badRequest, provider: .offline, message: "categorize needs the option 'categories' (a comma-separated list)")
            }
            let rules = KeywordCategorizer.parseRules(intent.options["rules"] ?? "")
            let r = KeywordCategorizer.categorize(TextCleanup.clean(intent.text), categories: categories, rules: rules)!
            return ["category": .string(r.category), "confidence": .double(r.confidence)]
        case "content_analysis", "analysis", "analyze":
            let r = ContentAnalyzer.analyze(intent.text)
            return ["topics": .array(r.topics.map { .string($0) }), "insights": .array(r.insights.map { .string($0) }),
                    "quality_score": .double(r.qualityScore), "business_value": .string(r.businessValue),
                    "recommendations": .array(r.recommendations.map { .string($0) })]
        case "cleanup", "clean":
            return ["text": .string(TextCleanup.clean(intent.text))]
        default:
            throw LLMError(.unsupported, provider: .offline,
                           message: "offline cannot do '\(intent.task)': it is rule-based, not a language model "
                               + "(it does \(tasks.joined(separator: ", "))); use a model provider for custom prompts")
        }
    }

    private static func intOption(_ intent: TaskIntent, _ name: String, default value: Int) throws -> Int {
        guard let text = intent.options[name] else { return value }
        guard let n = Int(text), n > 0 else {
            throw LLMError(.badRequest, provider: .offline, message: "option \(name) '\(text)': expected a positive integer")
        }
        return n
    }
}
