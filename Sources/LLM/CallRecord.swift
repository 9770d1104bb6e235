import Foundation
import Lake

/// One provider call (or one answer the cache gave instead) as the run manifest records it under
/// a stage's `details.llm.calls`. The field names are a contract: `agentshop llm usage` and the
/// store's llm_* tables read them back from manifests.
public struct LLMCallRecord: Sendable, Equatable {
    public enum Status: String, Sendable, CaseIterable {
        /// The provider answered and the answer met the schema.
        case success
        /// The provider failed (after retries).
        case error
        /// The cache answered; the provider was not asked.
        case cached
        /// The provider answered, but the answer (after the repair attempt) was unusable.
        case invalid
        /// Not sent: the stage's budget or the provider's daily cap was reached.
        case skippedBudget = "skipped_budget"
    }

    public var requestKey: String
    public var provider: ProviderKind
    public var model: String
    public var task: String
    public var promptSHA256: String
    public var status: Status
    public var tokensIn: Int
    public var tokensOut: Int
    public var costUSD: Double
    public var latencyMs: Int
    public var cacheHit: Bool
    public var finishReason: String?
    /// The reason for `error` and `invalid`; never holds a key (provider errors never do).
    public var error: String?
    /// ISO 8601, UTC.
    public var at: String

    public init(requestKey: String, provider: ProviderKind, model: String, task: String, promptSHA256: String,
                status: Status, tokensIn: Int = 0, tokensOut: Int = 0, costUSD: Double = 0, latencyMs: Int = 0,
                cacheHit: Bool = false, finishReason: String? = nil, error: String? = nil, at: String) {
        self.requestKey = requestKey
        self.provider = provider
        self.model = model
        self.task = task
        self.promptSHA256 = promptSHA256
        self.status = status
        self.tokensIn = tokensIn
        self.tokensOut = tokensOut
        self.costUSD = costUSD
        self.latencyMs = latencyMs
        self.cacheHit = cacheHit
        self.finishReason = finishReason
        self.error = error
        self.at = at
    }

    public var json: JSONValue {
        .object(JSONObject([
            ("request_key", .string(requestKey)), ("provider", .string(provider.rawValue)), ("model", .string(model)),
            ("task", .string(task)), ("prompt_sha256", .string(promptSHA256)), ("status", .string(status.rawValue)),
            ("tokens_in", .int(Int64(tokensIn))), ("tokens_out", .int(Int64(tokensOut))),
            ("cost_usd", .double(Self.roundedCost(costUSD))), ("latency_ms", .int(Int64(latencyMs))),
            ("cache_hit", .bool(cacheHit)), ("finish_reason", finishReason.map(JSONValue.string) ?? .null),
            ("error", error.map(JSONValue.string) ?? .null), ("at", .string(at)),
        ]))
    }

    public init?(json: JSONValue) {
        guard let o = json.objectValue, let key = o["request_key"]?.stringValue,
              let provider = o["provider"]?.stringValue.flatMap(ProviderKind.init(rawValue:)),
              let status = o["status"]?.stringValue.flatMap(Status.init(rawValue:)),
              let at = o["at"]?.stringValue else { return nil }
        self.init(requestKey: key, provider: provider, model: o["model"]?.stringValue ?? "", task: o["task"]?.stringValue ?? "",
                  promptSHA256: o["prompt_sha256"]?.stringValue ?? "", status: status,
                  tokensIn: Int(o["tokens_in"]?.doubleValue ?? 0), tokensOut: Int(o["tokens_out"]?.doubleValue ?? 0),
                  costUSD: o["cost_usd"]?.doubleValue ?? 0, latencyMs: Int(o["latency_ms"]?.doubleValue ?? 0),
                  cacheHit: o["cache_hit"] == .bool(true), finishReason: o["finish_reason"]?.stringValue,
                  error: o["error"]?.stringValue, at: at)
    }

    /// Micro-dollars are the finest unit a price table gives; rounding keeps manifests readable.
    static func roundedCost(_ usd: Double) -> Double { (usd * 1e8).rounded() / 1e8 }

    /// `{"llm": {"calls": [...], "totals": {...}}}` for a stage report's details.
    public static func details(_ calls: [LLMCallRecord], extra: [(String, JSONValue)] = []) -> JSONValue {
        var byStatus = JSONObject()
        for status in Status.allCases {
            let n = calls.filter { $0.status == status }.count
            if n > 0 { byStatus[status.rawValue] = .int(Int64(n)) }
        }
        var totals = JSONObject([
            ("calls", .int(Int64(calls.count))),
            ("sent", .int(Int64(calls.filter { !$0.cacheHit && $0.status != .skippedBudget }.count))),
            ("cache_hits", .int(Int64(calls.filter(\.cacheHit).count))),
            ("tokens_in", .int(Int64(calls.reduce(0) { $0 + $1.tokensIn }))),
            ("tokens_out", .int(Int64(calls.reduce(0) { $0 + $1.tokensOut }))),
            ("cost_usd", .double(roundedCost(calls.reduce(0) { $0 + $1.costUSD }))),
            ("by_status", .object(byStatus)),
        ])
        for (k, v) in extra { totals[k] = v }
        return .object(JSONObject([("llm", .object(JSONObject([
            ("calls", .array(calls.map(\.json))), ("totals", .object(totals)),
        ])))]))
    }

    /// What `provider` cost on `day` (UTC, `YYYY-MM-DD`), summed from the lake's call records.
    public static func spend(in lake: Lake, provider: ProviderKind, day: String) -> Double {
        UsageReport.from(ManifestStore(lake: lake).all().manifests).cost(provider: provider.rawValue, day: day)
    }
}
