import Foundation
import Transport

/// `agentshop llm test` and `llm compare`: one request to one or several providers at once, each
/// answer (or error) with its attempts, latency, tokens and cost.
public enum ProviderComparison {
    /// One call: the provider's answer or its error, with cost. Text and error have every secret blanked.
    public struct Outcome: Encodable, Sendable {
        public var provider: String
        public var model: String
        /// `ok` or `fail`.
        public var status: String
        public var attempts: Int
        public var latencyMs: Int
        public var tokensIn: Int?
        public var tokensOut: Int?
        public var costUSD: Double?
        public var finishReason: String?
        public var citations: [String]
        public var output: String
        public var error: String?

        enum CodingKeys: String, CodingKey {
            case provider, model, status, attempts, output, error, citations
            case latencyMs = "latency_ms", tokensIn = "tokens_in", tokensOut = "tokens_out", costUSD = "cost_usd",
                 finishReason = "finish_reason"
        }
    }

    /// Sends `request` to `provider` with up to three attempts (Retry-After up to 30 s honoured).
    public static func ask(_ provider: any LLMProvider, _ request: CompletionRequest, prices: PriceTable) async -> Outcome {
        let call = LLMCall(provider: provider, retry: RetryPolicy(maxAttempts: 3, maxRetryAfter: 30))
        let start = ContinuousClock.now
        do {
            let result = try await call.send(request)
            let c = result.completion
            let model = provider.kind == .offline ? request.model : c.model
            return Outcome(provider: provider.kind.rawValue, model: c.model, status: "ok", attempts: result.attempts,
                           latencyMs: result.latencyMs, tokensIn: c.usage?.input, tokensOut: c.usage?.output,
                           costUSD: c.usage.flatMap { prices.cost(provider: provider.kind, model: model, usage: $0) },
                           finishReason: c.finishReason, citations: c.citations, output: Secret.redact(c.text), error: nil)
        } catch {
            return Outcome(provider: provider.kind.rawValue, model: request.model, status: "fail",
                           attempts: (error as? LLMError)?.attempts ?? 1, latencyMs: ProviderHealth.milliseconds(since: start),
                           tokensIn: nil, tokensOut: nil, costUSD: nil, finishReason: nil, citations: [], output: "",
                           error: Secret.redact("\(error)"))
        }
    }

    /// Sends each request to its provider, all at once; the outcomes in the order given.
    public static func run(_ calls: [(provider: any LLMProvider, request: CompletionRequest)], prices: PriceTable) async -> [Outcome] {
        await withTaskGroup(of: (Int, Outcome).self) { group in
            for (i, call) in calls.enumerated() {
                group.addTask { (i, await ask(call.provider, call.request, prices: prices)) }
            }
            var out: [(Int, Outcome)] = []
            for await item in group { out.append(item) }
            return out.sorted { $0.0 < $1.0 }.map(\.1)
        }
    }
}
