import Foundation
import Lake

/// One kind of judgement the enrich stage asks for: a system prompt, a user prompt around the
/// record's text, and the JSON Schema the answer must meet. The built-in tasks match the original
/// AgentShop processor's analyses; `custom` brings its own prompt and schema.
public struct EnrichTask: Sendable {
    public enum Name: String, Sendable, CaseIterable {
        case contentAnalysis = "content_analysis"
        case sentiment, summary, keywords, categorize, cleanup, custom
    }

    /// `summary`'s length setting.
    public enum SummaryLength: String, Sendable, CaseIterable {
        case short, medium, long

        var instruction: String {
            switch self {
            case .short: return "one sentence of at most 30 words"
            case .medium: return "two or three sentences, at most 80 words"
            case .long: return "one paragraph of at most 200 words"
            }
        }

        var maxCharacters: Int {
            switch self {
            case .short: return 400
            case .medium: return 1000
            case .long: return 2500
            }
        }
    }

    public let name: Name
    public let system: String
    /// The user prompt. Built-in tasks fill `{{text}}` with the record's text; `custom` renders
    /// its prompt straight from the record.
    public let prompt: String
    /// Nil for `cleanup`, which is done locally.
    public let schema: JSONSchema?
    /// What the offline provider and the cache see besides the prompt (`length`, `categories`).
    public let options: [String: String]

    /// Whether a provider is called at all.
    public var usesModel: Bool { name != .cleanup }

    /// The fields the task adds to a record (the schema's properties, and what `completing` measures),
    /// for documentation and plans.
    public var fields: [String] {
        if name == .cleanup { return ["cleaned_text"] }
        return (schema?.properties.map(\.0) ?? []) + (name == .summary ? ["compression_ratio"] : [])
    }

    /// A valid answer with the fields the task measures rather than asks for: a summary's
    /// `compression_ratio` is the summary's length over the text's, in characters (Unicode extended grapheme
    /// clusters, each run of white space counted as one character, leading and trailing white space not at all),
    /// rounded to 3 decimals; null when the text is empty. A model is not asked for it: counting is not what
    /// models do well, and every provider's answer is measured the same way.
    public func completing(_ answer: JSONValue, text: String) -> JSONValue {
        guard name == .summary, case .object(var object) = answer, let summary = object["summary"]?.stringValue else {
            return answer
        }
        let original = Self.measuredLength(text)
        let ratio = original == 0 ? JSONValue.null
            : .double((Double(Self.measuredLength(summary)) / Double(original) * 1000).rounded() / 1000)
        object["compression_ratio"] = ratio
        return .object(object)
    }

    /// Characters, each run of white space counted as one, the ends' white space not at all.
    static func measuredLength(_ text: String) -> Int {
        var count = 0
        var inSpace = false
        for character in text.trimmingCharacters(in: .whitespacesAndNewlines) {
            if character.isWhitespace {
                if !inSpace { count += 1 }
                inSpace = true
            } else {
                count += 1
                inSpace = false
            }
        }
        return count
    }

    public init(name: Name, system: String, prompt: String, schema: JSONSchema?, options: [String: String] = [:]) {
        self.name = name
        self.system = system
        self.prompt = prompt
        self.schema = schema
        self.options = options
    }

    static let jsonRule = "Answer with one JSON object only, no prose and no code fences."

    /// A built-in task. `categories` is required by `categorize` (no commas in a category: the
    /// offline provider reads them comma-separated); `length` applies to `summary`.
    /// `rules` are keyword hints per category (`price: [cheap, value]`): the offline provider's
    /// keyword rules, and a hint in a model's prompt.
    public static func builtin(_ name: Name, length: SummaryLength = .short, categories: [String] = [],
                               rules: [(category: String, keywords: [String])] = []) -> EnrichTask {
        func schema(_ json: JSONValue) -> JSONSchema {
            do { return try JSONSchema(json) } catch { fatalError("built-in schema of \(name.rawValue) is invalid: \(error)") }
        }
        switch name {
        case .contentAnalysis:
            return EnrichTask(
                name: name,
                system: "You analyse marketplace content (product pages, reviews, articles). \(jsonRule)",
                prompt: """
                Analyse the content below. Give its main topics (1 to 8 short phrases), key insights \
                (up to 5 sentences a merchant could act on), a quality score from 0 (spam, empty) \
                to 1 (complete, clear, trustworthy), its business value to a merchant (high: ready to \
                sell from or to act on, medium, low: thin, noisy or off-topic), and 1 to 5 recommendations \
                (concrete actions: what to change in the content, or what to do about what it says).
                Return {"topics": [...], "insights": [...], "quality_score": number, \
                "business_value": "high" | "medium" | "low", "recommendations": [...]}.

                Content:
                {{text}}
                """,
                schema: schema(["type": "object", "additionalProperties": false,
                                "required": ["topics", "insights", "quality_score", "business_value", "recommendations"],
                                "properties": [
                                    "topics": ["type": "array", "items": ["type": "string", "minLength": 1], "maxItems": 8],
                                    "insights": ["type": "array", "items": ["type": "string", "minLength": 1], "maxItems": 5],
                                    "quality_score": ["type": "number", "minimum": 0, "maximum": 1],
                                    "business_value": ["type": "string", "enum": ["high", "medium", "low"]],
                                    "recommendations": ["type": "array", "items": ["type": "string", "minLength": 1],
                                                        "minItems": 1, "maxItems": 5],
                                ]]))
        case .sentiment:
            return EnrichTask(
                name: name,
                system: "You rate the sentiment of customer text. \(jsonRule)",
                prompt: """
                Rate the sentiment of the text below. label is positive, negative or neutral; score runs \
                from -1 (very negative) to 1 (very positive); confidence from 0 to 1.
                Return {"label": "...", "score": number, "confidence": number}.

                Text:
                {{text}}
                """,
                schema: schema(["type": "object", "additionalProperties": false,
                                "required": ["label", "score", "confidence"],
                                "properties": [
                                    "label": ["type": "string", "enum": ["positive", "negative", "neutral"]],
                                    "score": ["type": "number", "minimum": -1, "maximum": 1],
                                    "confidence": ["type": "number", "minimum": 0, "maximum": 1],
                                ]]))
        case .summary:
            return EnrichTask(
                name: name,
                system: "You write faithful, neutral summaries. \(jsonRule)",
                prompt: """
                Summarise the text below in \(length.instruction). Do not add facts that are not in it.
                Return {"summary": "..."}.

                Text:
                {{text}}
                """,
                schema: schema(["type": "object", "additionalProperties": false, "required": ["summary"],
                                "properties": ["summary": ["type": "string", "maxLength": .int(Int64(length.maxCharacters))]]]),
                options: ["length": length.rawValue])
        case .keywords:
            return EnrichTask(
                name: name,
                system: "You extract search keywords from marketplace text. \(jsonRule)",
                prompt: """
                List up to 10 keywords or short key phrases from the text below, most important first, lower case.
                Return {"keywords": [...]}.

                Text:
                {{text}}
                """,
                schema: schema(["type": "object", "additionalProperties": false, "required": ["keywords"],
                                "properties": ["keywords": ["type": "array", "maxItems": 10,
                                                            "items": ["type": "string", "minLength": 1]]]]))
        case .categorize:
            let list = categories.joined(separator: ", ")
            let ruleText = rules.map { "\($0.category): \($0.keywords.joined(separator: ", "))" }.joined(separator: "; ")
            let hints = ruleText.isEmpty ? "" : "\nKeywords that point to a category: \(ruleText)."
            var options = ["categories": categories.joined(separator: ",")]
            if !ruleText.isEmpty { options["rules"] = ruleText }
            return EnrichTask(
                name: name,
                system: "You file marketplace items into a fixed list of categories. \(jsonRule)",
                prompt: """
                Choose the one category from this list that fits the text below best: \(list).
                Use the category exactly as written. confidence runs from 0 to 1.\(hints)
                Return {"category": "...", "confidence": number}.

                Text:
                {{text}}
                """,
                schema: schema(["type": "object", "additionalProperties": false, "required": ["category", "confidence"],
                                "properties": [
                                    "category": categories.isEmpty ? ["type": "string", "minLength": 1]
                                        : ["type": "string", "enum": .array(categories.map(JSONValue.string))],
                                    "confidence": ["type": "number", "minimum": 0, "maximum": 1],
                                ]]),
                options: options)
        case .cleanup:
            return EnrichTask(name: name, system: "", prompt: "{{text}}", schema: nil)
        case .custom:
            fatalError("custom tasks are made with EnrichTask.custom")
        }
    }

    /// A task with the caller's prompt (rendered from the record) and schema.
    public static func custom(system: String?, prompt: String, schema: JSONSchema) -> EnrichTask {
        EnrichTask(name: .custom, system: (system ?? "You answer in JSON.") + " " + jsonRule, prompt: prompt, schema: schema)
    }

    /// The follow-up message after an invalid answer: names what was wrong and asks again.
    public func repairMessage(problems: [String]) -> String {
        let listed = problems.prefix(5).map { "- \($0)" }.joined(separator: "\n")
        let schemaText = schema.map { "\nThe JSON Schema it must meet:\n\($0.source.canonicalText())\n" } ?? ""
        return """
        Your previous answer was not usable:
        \(listed)
        \(schemaText)
        Answer again with one corrected JSON object only.
        """
    }

    /// Reads a model's answer as one JSON object: the whole text, or the text inside a ```json fence,
    /// or the span from the first `{` to the last `}` (models often wrap JSON in prose).
    public static func extractJSON(_ text: String) -> Result<JSONValue, AnswerProblem> {
        let trimmed = text.trimmingCharacters(in: .whitespacesAndNewlines)
        if trimmed.isEmpty { return .failure(AnswerProblem("the answer is empty")) }
        var candidates = [trimmed]
        if let fence = trimmed.range(of: "```") {
            var body = trimmed[fence.upperBound...]
            if body.hasPrefix("json") { body = body.dropFirst(4) }
            if let end = body.range(of: "```") { candidates.append(String(body[..<end.lowerBound])) }
        }
        if let open = trimmed.firstIndex(of: "{"), let close = trimmed.lastIndex(of: "}"), open < close {
            candidates.append(String(trimmed[open...close]))
        }
        var firstError = ""
        for candidate in candidates {
            do {
                let value = try JSONValue.parse(candidate)
                if value.objectValue != nil { return .success(value) }
                if firstError.isEmpty { firstError = "the answer is JSON but not an object" }
            } catch {
                if firstError.isEmpty { firstError = "the answer is not JSON: \(error)" }
            }
        }
        return .failure(AnswerProblem(firstError))
    }
}

/// Why an answer could not be used.
public struct AnswerProblem: Error, Sendable, Equatable, CustomStringConvertible {
    public let message: String
    public init(_ message: String) { self.message = message }
    public var description: String { message }
}
