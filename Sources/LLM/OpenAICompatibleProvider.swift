import Foundation
import Lake
import Transport

/// OpenAI's chat completions wire format (`POST {base}/chat/completions`, `Authorization: Bearer`),
/// spoken by OpenAI itself, Groq (`https://api.groq.com/openai/v1`), Perplexity
/// (`https://api.perplexity.ai`, whose `citations` are kept) and any compatible server.
public struct OpenAICompatibleProvider: LLMProvider {
    public let kind: ProviderKind
    public let configuration: ProviderConfiguration
    private let http: ProviderHTTP

    public init(configuration: ProviderConfiguration, client: HTTPClient) {
        self.kind = configuration.kind
        self.configuration = configuration
        self.http = ProviderHTTP(kind: configuration.kind, client: client, key: configuration.apiKey)
    }

    public var endpoint: String { ProviderHTTP.join(configuration.baseURL, "/chat/completions") }

    private var authorization: [(name: String, value: String)] {
        configuration.apiKey.map { [("Authorization", "Bearer \($0.value)")] } ?? []
    }

    /// The request body: `model`, `messages` (the system prompt first), `temperature`, the token
    /// cap (`max_completion_tokens` on api.openai.com, where newer models refuse `max_tokens`;
    /// `max_tokens` elsewhere) and `response_format: {type: json_object}` for JSON output
    /// (not on Perplexity, which only takes a JSON schema there).
    public func body(_ request: CompletionRequest) -> JSONValue {
        var messages: [JSONValue] = []
        if let system = request.system, !system.isEmpty {
            messages.append(["role": "system", "content": .string(system)])
        }
        for message in request.messages {
            messages.append(["role": .string(message.role.rawValue), "content": .string(message.content)])
        }
        var body = JSONObject([("model", .string(request.model)), ("messages", .array(messages))])
        if let temperature = request.temperature { body["temperature"] = .double(temperature) }
        if let maxTokens = request.maxTokens {
            let officialOpenAI = kind == .openai && configuration.baseURL.contains("api.openai.com")
            body[officialOpenAI ? "max_completion_tokens" : "max_tokens"] = .int(Int64(maxTokens))
        }
        if request.jsonOutput && kind != .perplexity { body["response_format"] = ["type": "json_object"] }
        return .object(body)
    }

    public func complete(_ request: CompletionRequest) async throws -> Completion {
        let start = ContinuousClock.now
        let (json, _) = try await http.postJSON(endpoint, headers: authorization, body: body(request), timeout: request.timeout)
        return try parse(json, requestedModel: request.model, latencyMs: elapsedMs(since: start))
    }

    /// `choices[0].message.content`, `finish_reason`, `model`, `usage.prompt_tokens` /
    /// `completion_tokens`, and Perplexity's `citations` (or the URLs of its `search_results`).
    func parse(_ json: JSONValue, requestedModel: String, latencyMs: Int) throws -> Completion {
        guard let choice = json.member("choices")?.arrayValue?.first, let message = choice.member("message") else {
            throw http.malformed("\(endpoint) answered without choices[0].message")
        }
        guard let text = message.member("content")?.stringValue else {
            if let refusal = message.member("refusal")?.stringValue {
                throw http.malformed("\(endpoint): the model refused: \(refusal.prefix(200))")
            }
            throw http.malformed("\(endpoint) answered without text in choices[0].message.content")
        }
        var usage: TokenUsage?
        if let u = json.member("usage"), u.objectValue != nil {
            guard let input = u.member("prompt_tokens")?.integerValue, let output = u.member("completion_tokens")?.integerValue else {
                throw http.malformed("\(endpoint) answered with usage lacking prompt_tokens/completion_tokens")
            }
            usage = TokenUsage(input: input, output: output)
        }
        var citations = json.member("citations")?.arrayValue?.compactMap(\.stringValue) ?? []
        if citations.isEmpty {
            citations = json.member("search_results")?.arrayValue?.compactMap { $0.member("url")?.stringValue } ?? []
        }
        return Completion(text: text, model: json.member("model")?.stringValue ?? requestedModel, usage: usage,
                          finishReason: choice.member("finish_reason")?.stringValue, citations: citations, latencyMs: latencyMs)
    }

    /// `GET {base}/models` where the provider has it (OpenAI, Groq); Perplexity has no model
    /// list, so it gets a one-token completion.
    public func healthCheck(timeout: Double) async throws -> String {
        if kind == .perplexity {
            let request = CompletionRequest(model: configuration.defaultModel, messages: [ChatMessage(.user, "ping")],
                                            maxTokens: 1, timeout: timeout)
            let completion = try await complete(request)
            return "answered (\(completion.model))"
        }
        let url = ProviderHTTP.join(configuration.baseURL, "/models")
        let json = try await http.getJSON(url, headers: authorization, timeout: timeout)
        guard let models = json.member("data")?.arrayValue else { throw http.malformed("\(url) answered without data[]") }
        return "\(models.count) models"
    }
}
