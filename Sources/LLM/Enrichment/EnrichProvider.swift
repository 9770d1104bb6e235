import Foundation
import Lake

/// What an enrichment needs of one provider for one run: the provider, how to send through its
/// limits and retries, its prices and caps. Made per run from the lake (switches) and the
/// environment (keys, base URLs, caps); tests make one around a fake.
public struct EnrichProvider: Sendable {
    public let kind: ProviderKind
    /// The endpoint, for cache keys (never stored).
    public let baseURL: String
    public let defaultModel: String
    /// `LLM_<P>_COST_LIMIT_DAILY`, USD.
    public let dailyCostLimit: Double?
    /// Sends one request through the provider's concurrency, rate limits and retries.
    public let send: @Sendable (CompletionRequest) async throws -> Completion
    /// USD for a model's usage; nil when the price table does not know the model.
    public let cost: @Sendable (_ model: String, _ usage: TokenUsage) -> Double?

    public init(kind: ProviderKind, baseURL: String, defaultModel: String, dailyCostLimit: Double?,
                send: @escaping @Sendable (CompletionRequest) async throws -> Completion,
                cost: @escaping @Sendable (String, TokenUsage) -> Double?) {
        self.kind = kind
        self.baseURL = baseURL
        self.defaultModel = defaultModel
        self.dailyCostLimit = dailyCostLimit
        self.send = send
        self.cost = cost
    }

    /// Wraps a bare provider: one attempt per request, free, no cap (tests).
    public init(provider: any LLMProvider, baseURL: String = "", defaultModel: String = "test-model",
                dailyCostLimit: Double? = nil, cost: @escaping @Sendable (String, TokenUsage) -> Double? = { _, _ in 0 }) {
        self.init(kind: provider.kind, baseURL: baseURL, defaultModel: defaultModel, dailyCostLimit: dailyCostLimit,
                  send: { try await provider.complete($0) }, cost: cost)
    }
}
