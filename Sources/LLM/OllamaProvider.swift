import Foundation
import Lake
import Transport

/// Ollama's chat endpoint: `POST {OLLAMA_HOST}/api/chat` with `stream: false`, `format: "json"`
/// for JSON output and `options` (`temperature`, `num_predict`). No key.
public struct OllamaProvider: LLMProvider {
    public let kind = ProviderKind.ollama
    public let configuration: ProviderConfiguration
    private let http: ProviderHTTP

    public init(configuration: ProviderConfiguration, client: HTTPClient) {
        self.configuration = configuration
        self.http = ProviderHTTP(kind: .ollama, client: client, key: configuration.apiKey)
    }

    public var endpoint: String { ProviderHTTP.join(configuration.baseURL, "/api/chat") }

    private var headers: [(name: String, value: String)] {
        // A proxy in front of Ollama may want one; Ollama itself ignores it.
        configuration.apiKey.map { [("Authorization", "Bearer \($0.value)")] } ?? []
    }

    public func body(_ request: CompletionRequest) -> JSONValue {
        var messages: [JSONValue] = []
        if let system = request.system, !system.isEmpty { messages.append(["role": "system", "content": .string(system)]) }
        for message in request.messages {
            messages.append(["role": .string(message.role.rawValue), "content": .string(message.content)])
        }
        var body = JSONObject([("model", .string(request.model)), ("messages", .array(messages)), ("stream", false)])
        if request.jsonOutput { body["format"] = "json" }
        var options = JSONObject()
        if let temperature = request.temperature { options["temperature"] = .double(temperature) }
        if let maxTokens = request.maxTokens { options["num_predict"] = .int(Int64(maxTokens)) }
        if options.count > 0 { body["options"] = .object(options) }
        return .object(body)
    }

    public func complete(_ request: CompletionRequest) async throws -> Completion {
        let start = ContinuousClock.now
        let (json, _) = try await http.postJSON(endpoint, headers: headers, body: body(request), timeout: request.timeout)
        return try parse(json, requestedModel: request.model, latencyMs: elapsedMs(since: start))
    }

    /// `message.content`, `done_reason`, `prompt_eval_count` / `eval_count`. Ollama leaves
    /// `prompt_eval_count` out when the prompt was cached, so a missing count is 0 when the other is there.
    func parse(_ json: JSONValue, requestedModel: String, latencyMs: Int) throws -> Completion {
        if let error = json.member("error")?.stringValue { throw http.malformed("\(endpoint): \(error)") }
        guard let text = json.member("message")?.member("content")?.stringValue else {
            throw http.malformed("\(endpoint) answered without message.content")
        }
        let input = json.member("prompt_eval_count")?.integerValue
        let output = json.member("eval_count")?.integerValue
        let usage = (input == nil && output == nil) ? nil : TokenUsage(input: input ?? 0, output: output ?? 0)
        return Completion(text: text, model: json.member("model")?.stringValue ?? requestedModel, usage: usage,
                          finishReason: json.member("done_reason")?.stringValue, latencyMs: latencyMs)
    }

    /// `GET {base}/api/tags`: the models pulled.
    public func healthCheck(timeout: Double) async throws -> String {
        let url = ProviderHTTP.join(configuration.baseURL, "/api/tags")
        let json = try await http.getJSON(url, headers: headers, timeout: timeout)
        guard let models = json.member("models")?.arrayValue else { throw http.malformed("\(url) answered without models[]") }
        return "\(models.count) models"
    }
}
