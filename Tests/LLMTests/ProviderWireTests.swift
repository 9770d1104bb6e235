import Foundation
import LLM
import Testing
import TestSupport
import Transport

/// Each wire format against the loopback fake: request shape, success, error bodies, status
/// mapping with Retry-After, malformed 2xx bodies, usage fields, and no key in any error.
@Suite struct ProviderWireTests {
    static let key = "sk-wire-7f3e9a1b"

    static func provider(_ kind: ProviderKind, base: String, key: String? = ProviderWireTests.key) throws -> any LLMProvider {
        let baseURL: String
        switch kind {
        case .openai: baseURL = base + "/v1"
        case .groq: baseURL = base + "/openai/v1"
        default: baseURL = base
        }
        let configuration = ProviderConfiguration(kind: kind, baseURL: baseURL, apiKey: key.map(Secret.init))
        return try makeProvider(configuration, client: HTTPClient())
    }

    static func request(_ prompt: String, model: String = "test-model", json: Bool = false) -> CompletionRequest {
        CompletionRequest(model: model, system: "You are terse.", messages: [ChatMessage(.user, prompt)], temperature: 0.2,
                          maxTokens: 50, jsonOutput: json, timeout: 10)
    }

    /// The LLMError `body` throws; records an issue when it throws nothing or something else, or leaks the key.
    static func llmError(_ body: () async throws -> Void) async -> LLMError? {
        do {
            try await body()
            Issue.record("expected an LLMError")
        } catch let error as LLMError {
            #expect(!"\(error)".contains(key), "the key leaked: \(error)")
            #expect(!error.message.contains(key))
            #expect(!String(reflecting: error).contains(key))
            return error
        } catch {
            Issue.record("expected an LLMError, got \(error)")
        }
        return nil
    }

    @Test func openAIRequestShapeAndAnswer() async throws {
        try await FakeLLM.with(key: Self.key) { base, fake in
            let completion = try await Self.provider(.openai, base: base).complete(Self.request("hello there", model: "gpt-4o-mini", json: true))
            #expect(completion.text == #"{"echo":"hello there"}"#)
            #expect(completion.model == "gpt-4o-mini-2024-07-18")
            #expect(completion.usage == TokenUsage(input: 12, output: 5))
            #expect(completion.finishReason == "stop")
            let call = try #require(await fake.calls.first)
            #expect(call.method == "POST" && call.path == "/v1/chat/completions")
            #expect(call.header("Authorization") == "Bearer \(Self.key)")
            #expect(call.header("Content-Type") == "application/json")
            #expect(call.body["model"] as? String == "gpt-4o-mini")
            let messages = try #require(call.body["messages"] as? [[String: String]])
            #expect(messages == [["role": "system", "content": "You are terse."], ["role": "user", "content": "hello there"]])
            #expect((call.body["response_format"] as? [String: String]) == ["type": "json_object"])
            #expect(call.body["temperature"] as? Double == 0.2)
            // A loopback base URL is not api.openai.com: the classic field name.
            #expect(call.body["max_tokens"] as? Int == 50)
        }
    }

    @Test func groqUsesItsOpenAICompatiblePath() async throws {
        try await FakeLLM.with(key: Self.key) { base, fake in
            let completion = try await Self.provider(.groq, base: base).complete(Self.request("hi", model: "llama-3.1-8b-instant"))
            #expect(completion.text == "Hello from the fake: hi")
            #expect(await fake.calls.first?.path == "/openai/v1/chat/completions")
        }
    }

    @Test func perplexityKeepsCitationsAndSendsNoJSONMode() async throws {
        try await FakeLLM.with(key: Self.key) { base, fake in
            let completion = try await Self.provider(.perplexity, base: base).complete(Self.request("news?", model: "sonar", json: true))
            #expect(completion.citations == ["https://source.example/a", "https://source.example/b"])
            #expect(completion.model == "sonar")
            let call = try #require(await fake.calls.first)
            #expect(call.path == "/chat/completions")
            #expect(call.body["response_format"] == nil)
        }
    }

    @Test func anthropicRequestShapeAndAnswer() async throws {
        try await FakeLLM.with(key: Self.key) { base, fake in
            var request = Self.request("describe", model: "claude-haiku-4-5")
            request.maxTokens = nil
            let completion = try await Self.provider(.anthropic, base: base).complete(request)
            #expect(completion.text == "Hello from the fake: describe")
            #expect(completion.usage == TokenUsage(input: 21, output: 9))
            #expect(completion.finishReason == "end_turn")
            #expect(completion.model == "claude-haiku-4-5-20251001")
            let call = try #require(await fake.calls.first)
            #expect(call.path == "/v1/messages")
            #expect(call.header("x-api-key") == Self.key)
            #expect(call.header("anthropic-version") == "2023-06-01")
            #expect(call.header("Authorization") == nil)
            #expect(call.body["system"] as? String == "You are terse.")
            #expect(call.body["max_tokens"] as? Int == 1024)
            #expect((call.body["messages"] as? [[String: String]]) == [["role": "user", "content": "describe"]])
        }
    }

    @Test func ollamaRequestShapeAndAnswer() async throws {
        try await FakeLLM.with(key: Self.key) { base, fake in
            let completion = try await Self.provider(.ollama, base: base, key: nil).complete(Self.request("hola", model: "llama3.2", json: true))
            #expect(completion.text == #"{"echo":"hola"}"#)
            #expect(completion.usage == TokenUsage(input: 26, output: 11))
            #expect(completion.finishReason == "stop")
            let call = try #require(await fake.calls.first)
            #expect(call.path == "/api/chat")
            #expect(call.body["stream"] as? Bool == false)
            #expect(call.body["format"] as? String == "json")
            let options = try #require(call.body["options"] as? [String: Any])
            #expect(options["temperature"] as? Double == 0.2)
            #expect(options["num_predict"] as? Int == 50)
            #expect(call.header("Authorization") == nil)
        }
    }

    @Test(arguments: [ProviderKind.openai, .groq, .perplexity, .anthropic])
    func wrongKeyIsUnauthorizedAndNeverEchoed(kind: ProviderKind) async throws {
        try await FakeLLM.with(key: "sk-the-right-one") { base, _ in
            // The fake echoes the key it received; the error must not.
            let error = await Self.llmError { _ = try await Self.provider(kind, base: base).complete(Self.request("hi")) }
            #expect(error?.kind == .unauthorized)
            #expect(error?.status == 401)
            #expect(error?.provider == kind)
            #expect(error?.message.contains("<redacted>") == true)
        }
    }

    @Test(arguments: [ProviderKind.openai, .groq, .perplexity, .anthropic, .ollama])
    func rateLimitCarriesRetryAfter(kind: ProviderKind) async throws {
        try await FakeLLM.with(key: Self.key) { base, _ in
            let provider = try Self.provider(kind, base: base, key: kind == .ollama ? nil : Self.key)
            let error = await Self.llmError { _ = try await provider.complete(Self.request("ratelimited please")) }
            #expect(error?.kind == .rateLimited)
            #expect(error?.retryAfter == 7)
            #expect(error?.isTransient == true)
            #expect(error?.message.contains("Rate limit reached") == true)
        }
    }

    @Test func errorBodiesAreReadPerFormat() async throws {
        try await FakeLLM.with(key: Self.key) { base, _ in
            let openai = await Self.llmError { _ = try await Self.provider(.openai, base: base).complete(Self.request("unknown-model")) }
            #expect(openai?.kind == .badRequest && openai?.status == 404)
            #expect(openai?.message.contains("not_found_error: model 'test-model' not found") == true)
            let anthropic = await Self.llmError { _ = try await Self.provider(.anthropic, base: base).complete(Self.request("overloaded")) }
            #expect(anthropic?.kind == .server && anthropic?.status == 529)
            #expect(anthropic?.message.contains("overloaded_error: Overloaded") == true)
            let ollama = await Self.llmError { _ = try await Self.provider(.ollama, base: base, key: nil).complete(Self.request("unknown-model")) }
            #expect(ollama?.kind == .badRequest)
            #expect(ollama?.message.contains("model 'test-model' not found") == true)
        }
    }

    @Test(arguments: [ProviderKind.openai, .perplexity, .anthropic, .ollama])
    func malformedSuccessBodiesAreRefused(kind: ProviderKind) async throws {
        try await FakeLLM.with(key: Self.key) { base, _ in
            let provider = try Self.provider(kind, base: base, key: kind == .ollama ? nil : Self.key)
            let shape = await Self.llmError { _ = try await provider.complete(Self.request("malformed")) }
            #expect(shape?.kind == .malformedResponse)
            let text = await Self.llmError { _ = try await provider.complete(Self.request("notjson")) }
            #expect(text?.kind == .malformedResponse)
            #expect(text?.isTransient == false)
        }
    }

    @Test func urlCredentialsStayOutOfMessages() async throws {
        let configuration = ProviderConfiguration(kind: .ollama, baseURL: "http://user:pa55word@127.0.0.1:1")
        let provider = try makeProvider(configuration, client: HTTPClient())
        let error = await Self.llmError { _ = try await provider.complete(Self.request("hi")) }
        #expect(error?.message.contains("pa55word") == false)
        #expect(error?.message.contains("http://127.0.0.1:1/api/chat") == true)
    }

    @Test func unreachableIsUnavailable() async throws {
        let provider = try Self.provider(.openai, base: "http://127.0.0.1:1")
        let error = await Self.llmError { _ = try await provider.complete(Self.request("hi")) }
        #expect(error?.kind == .unavailable)
        #expect(error?.isTransient == true)
    }

    @Test func missingKeyIsNotConfigured() {
        #expect(throws: LLMError.self) { _ = try makeProvider(ProviderConfiguration(kind: .groq), client: HTTPClient()) }
        let error = #expect(throws: LLMError.self) { _ = try makeProvider(ProviderConfiguration(kind: .anthropic), client: HTTPClient()) }
        #expect(error?.kind == .notConfigured)
        #expect(error?.message.contains("ANTHROPIC_API_KEY") == true)
    }

    @Test(arguments: [ProviderKind.openai, .groq, .anthropic, .ollama, .perplexity])
    func healthChecks(kind: ProviderKind) async throws {
        try await FakeLLM.with(key: Self.key) { base, fake in
            let provider = try Self.provider(kind, base: base, key: kind == .ollama ? nil : Self.key)
            let detail = try await provider.healthCheck(timeout: 5)
            let call = try #require(await fake.calls.first)
            switch kind {
            case .openai: #expect(call.path == "/v1/models" && detail == "2 models")
            case .groq: #expect(call.path == "/openai/v1/models" && detail == "2 models")
            case .anthropic: #expect(call.path == "/v1/models" && call.header("x-api-key") == Self.key)
            case .ollama: #expect(call.path == "/api/tags" && detail == "1 models")
            default: #expect(call.path == "/chat/completions" && call.body["max_tokens"] as? Int == 1)
            }
        }
    }
}
