import Foundation
import Lake

// The LLM module's core vocabulary. Providers (HTTP wire formats and the offline rule engine)
// implement `LLMProvider`; the enrich stage, the cache and the `llm` commands use only these types.

/// The providers AgentShop knows. `offline` is rule-based and needs no network or key; it is not
/// a language model.
public enum ProviderKind: String, Sendable, CaseIterable, Codable, Comparable {
    case offline, openai, anthropic, ollama, groq, perplexity

    public static func < (a: ProviderKind, b: ProviderKind) -> Bool { a.rawValue < b.rawValue }

    /// As the original AgentShop's settings named it (`LLM_<NAME>_API_KEY`…).
    public var environmentName: String { rawValue.uppercased() }
}

/// One turn of a conversation.
public struct ChatMessage: Sendable, Equatable {
    public enum Role: String, Sendable { case system, user, assistant }
    public var role: Role
    public var content: String

    public init(_ role: Role, _ content: String) {
        self.role = role
        self.content = content
    }
}

/// What the offline provider needs to do its rule-based work without reading a prompt:
/// the task's name (`sentiment`, `summary`, `keywords`, `categorize`, `content_analysis`,
/// `cleanup`), the record text it applies to, and the task's options (`length`, `categories`…).
/// Providers that are language models ignore it.
public struct TaskIntent: Sendable, Equatable {
    public var task: String
    public var text: String
    public var options: [String: String]

    public init(task: String, text: String, options: [String: String] = [:]) {
        self.task = task
        self.text = text
        self.options = options
    }
}

/// A chat completion request in provider-neutral form.
public struct CompletionRequest: Sendable {
    public var model: String
    /// Sent as the provider's system prompt (OpenAI/Groq/Perplexity/Ollama: a system message;
    /// Anthropic: the top-level `system` field).
    public var system: String?
    public var messages: [ChatMessage]
    public var temperature: Double?
    public var maxTokens: Int?
    /// Ask for a JSON object where the provider supports it (`response_format`, Ollama `format`).
    public var jsonOutput: Bool
    /// Seconds for one attempt.
    public var timeout: Double
    public var intent: TaskIntent?

    public init(model: String, system: String? = nil, messages: [ChatMessage], temperature: Double? = nil,
                maxTokens: Int? = nil, jsonOutput: Bool = false, timeout: Double = 60, intent: TaskIntent? = nil) {
        self.model = model
        self.system = system
        self.messages = messages
        self.temperature = temperature
        self.maxTokens = maxTokens
        self.jsonOutput = jsonOutput
        self.timeout = timeout
        self.intent = intent
    }
}

/// Tokens as the provider counted them.
public struct TokenUsage: Sendable, Equatable, Codable {
    public var input: Int
    public var output: Int

    public init(input: Int, output: Int) {
        self.input = input
        self.output = output
    }
}

/// What a provider answered.
public struct Completion: Sendable {
    public var text: String
    /// The model that answered, as the provider reported it.
    public var model: String
    /// Nil when the provider reported no usage (the cost is then estimated, and marked so).
    public var usage: TokenUsage?
    public var finishReason: String?
    /// Perplexity's sources; empty elsewhere.
    public var citations: [String]
    public var latencyMs: Int

    public init(text: String, model: String, usage: TokenUsage?, finishReason: String? = nil,
                citations: [String] = [], latencyMs: Int) {
        self.text = text
        self.model = model
        self.usage = usage
        self.finishReason = finishReason
        self.citations = citations
        self.latencyMs = latencyMs
    }
}

/// Why a provider call failed. Messages name the provider and endpoint, never the key.
public struct LLMError: Error, CustomStringConvertible, Sendable {
    public enum Kind: String, Sendable {
        /// No key, or no base URL, for a provider that needs one.
        case notConfigured
        /// Switched off with `agentshop llm disable`.
        case disabled
        /// 401/403.
        case unauthorized
        /// 429 after the retries (or a Retry-After longer than allowed).
        case rateLimited
        /// 5xx after the retries, or another non-2xx status.
        case server
        /// 4xx other than the above: the request itself is wrong (unknown model…).
        case badRequest
        case timeout
        /// Refused, DNS, connection dropped.
        case unavailable
        /// A 2xx body that is not the provider's documented shape.
        case malformedResponse
        /// The offline provider was asked for something it cannot do without a model (`custom`).
        case unsupported
    }

    public let kind: Kind
    public let provider: ProviderKind
    public let status: Int?
    /// Seconds the provider asked to wait (Retry-After), when it did.
    public let retryAfter: Double?
    public let message: String
    /// Attempts made before giving up (set by `LLMCall`; 1 for a single provider call).
    public var attempts: Int

    public init(_ kind: Kind, provider: ProviderKind, status: Int? = nil, retryAfter: Double? = nil, message: String,
                attempts: Int = 1) {
        self.kind = kind
        self.provider = provider
        self.status = status
        self.retryAfter = retryAfter
        self.message = message
        self.attempts = attempts
    }

    public var description: String {
        "\(provider.rawValue): \(message)" + (status.map { " (HTTP \($0))" } ?? "")
            + (attempts > 1 ? " after \(attempts) attempts" : "")
    }

    /// Worth another attempt after a wait.
    public var isTransient: Bool {
        switch kind {
        case .rateLimited, .server, .timeout, .unavailable: return true
        default: return false
        }
    }
}

/// A chat model behind a wire format (or the offline rules).
public protocol LLMProvider: Sendable {
    var kind: ProviderKind { get }
    /// Sends one request: one attempt, no retries (those are the caller's policy).
    func complete(_ request: CompletionRequest) async throws -> Completion
    /// A cheap check that the provider answers and takes the key (a model list, or a one-token
    /// completion): a short detail on success, an `LLMError` on failure.
    func healthCheck(timeout: Double) async throws -> String
}

extension LLMProvider {
    /// Providers without a cheap check (test doubles) report that they were not checked.
    public func healthCheck(timeout: Double) async throws -> String { "no check" }
}
