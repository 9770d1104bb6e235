import Foundation
import Lake
import Transport

/// Anthropic's Messages API: `POST {base}/v1/messages` with `x-api-key` and
/// `anthropic-version: 2023-06-01`; the system prompt is the top-level `system` field and
/// `max_tokens` is required.
public struct AnthropicProvider: LLMProvider {
    public let kind = ProviderKind.anthropic
    public let configuration: ProviderConfiguration
    private let http: ProviderHTTP

    public static let apiVersion = "2023-06-01"
    /// Sent when a request sets no `maxTokens` (the API requires one).
    public static let defaultMaxTokens = 1024

    public init(configuration: ProviderConfiguration, client: HTTPClient) {
        self.configuration = configuration
        self.http = ProviderHTTP(kind: .anthropic, client: client, key: configuration.apiKey)
    }

    public var endpoint: String { ProviderHTTP.join(configuration.baseURL, "/v1/messages") }

    private var headers: [(name: String, value: String)] {
        var headers: [(name: String, value: String)] = [("anthropic-version", Self.apiVersion)]
        if let key = configuration.apiKey { headers.append(("x-api-key", key.value)) }
        return headers
    }

    /// `model`, `max_tokens`, `messages` (user/assistant only), `system`, `temperature`. The API
    /// has no JSON mode, so JSON output is asked for in the system prompt.
    public func body(_ request: CompletionRequest) -> JSONValue {
        var system = request.system ?? ""
        // System messages inside the conversation are not allowed by the API: they join the top-level prompt.
        for message in request.messages where message.role == .system {
            system += (system.isEmpty ? "" : "\n\n") + message.content
        }
        if request.jsonOutput {
            system += (system.isEmpty ? "" : "\n\n") + "Answer with one JSON object and nothing else."
        }
        let messages: [JSONValue] = request.messages.filter { $0.role != .system }.map {
            ["role": .string($0.role.rawValue), "content": .string($0.content)]
        }
        var body = JSONObject([("model", .string(request.model)),
                               ("max_tokens", .int(Int64(request.maxTokens ?? Self.defaultMaxTokens))),
                               ("messages", .array(messages))])
        if !system.isEmpty { body["system"] = .string(system) }
        if let temperature = request.temperature { body["temperature"] = .double(temperature) }
        return .object(body)
    }

    public func complete(_ request: CompletionRequest) async throws -> Completion {
        let start = ContinuousClock.now
        let (json, _) = try await http.postJSON(endpoint, headers: headers, body: body(request), timeout: request.timeout)
        return try parse(json, requestedModel: request.model, latencyMs: elapsedMs(since: start))
    }

    /// The text of the `content` blocks of type `text`, joined; `stop_reason`; `usage.input_tokens` / `output_tokens`.
    func parse(_ json: JSONValue, requestedModel: String, latencyMs: Int) throws -> Completion {
        guard let blocks = json.member("content")?.arrayValue else {
            throw http.malformed("\(endpoint) answered without a content array")
        }
        let texts = blocks.filter { $0.member("type")?.stringValue == "text" }.compactMap { $0.member("text")?.stringValue }
        guard !texts.isEmpty || blocks.isEmpty else {
            throw http.malformed("\(endpoint) answered without a text content block")
        }
        var usage: TokenUsage?
        if let u = json.member("usage"), u.objectValue != nil {
            guard let input = u.member("input_tokens")?.integerValue, let output = u.member("output_tokens")?.integerValue else {
                throw http.malformed("\(endpoint) answered with usage lacking input_tokens/output_tokens")
            }
            usage = TokenUsage(input: input, output: output)
        }
        return Completion(text: texts.joined(), model: json.member("model")?.stringValue ?? requestedModel, usage: usage,
                          finishReason: json.member("stop_reason")?.stringValue, latencyMs: latencyMs)
    }

    /// `GET {base}/v1/models`.
    public func healthCheck(timeout: Double) async throws -> String {
        let url = ProviderHTTP.join(configuration.baseURL, "/v1/models")
        let json = try await http.getJSON(url, headers: headers, timeout: timeout)
        guard let models = json.member("data")?.arrayValue else { throw http.malformed("\(url) answered without data[]") }
        return "\(models.count) models"
    }
}
