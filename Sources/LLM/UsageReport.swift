import Foundation
import Lake

/// LLM spending summed from run manifests: every stage run's `details.llm.calls` (the enrich
/// stage's call records: `provider`, `model`, `status`, `tokens_in`, `tokens_out`, `cost_usd`,
/// `latency_ms`, `cache_hit`, `at`…), grouped by UTC day, provider and model.
public struct UsageReport: Sendable, Equatable {
    public struct Row: Sendable, Equatable, Codable {
        public var day: String
        public var provider: String
        public var model: String
        /// Requests sent to the provider (`success`, `error`, `invalid`): not cache hits, not records skipped for
        /// the budget (never sent); the store's `llm_usage_stats.requests`.
        public var calls: Int
        /// Answered from the cache (no provider call, no cost).
        public var cached: Int
        /// Requests sent that failed or whose answer stayed unusable (`error`, `invalid`).
        public var failed: Int
        public var tokensIn: Int
        public var tokensOut: Int
        public var costUSD: Double
        /// Mean latency of the calls that went to the provider.
        public var averageLatencyMs: Int?

        enum CodingKeys: String, CodingKey {
            case day, provider, model, calls, cached, failed
            case tokensIn = "tokens_in", tokensOut = "tokens_out", costUSD = "cost_usd", averageLatencyMs = "avg_latency_ms"
        }
    }

    public var rows: [Row]

    public var totalCostUSD: Double { rows.reduce(0) { $0 + $1.costUSD } }
    /// Requests sent to providers.
    public var totalCalls: Int { rows.reduce(0) { $0 + $1.calls } }

    /// Sums the call records of `manifests` made at or after `since`, of `provider` when given.
    /// Records without a readable `at` take their stage's start time.
    public static func from(_ manifests: [RunManifest], since: Date? = nil, provider: String? = nil) -> UsageReport {
        struct Key: Hashable { let day, provider, model: String }
        var sums: [Key: Row] = [:]
        var latency: [Key: (total: Int, count: Int)] = [:]
        for manifest in manifests {
            for stage in manifest.stages {
                guard let calls = stage.details?.member("llm")?.member("calls")?.arrayValue else { continue }
                for call in calls {
                    let at = call.member("at")?.stringValue.flatMap(Timestamp.parse)
                        ?? stage.startedAt.flatMap(Timestamp.parse) ?? Timestamp.parse(manifest.startedAt)
                    if let since, let at, at < since { continue }
                    let name = call.member("provider")?.stringValue ?? "unknown"
                    if let provider, name != provider { continue }
                    let key = Key(day: at.map(Timestamp.day) ?? "unknown", provider: name,
                                  model: call.member("model")?.stringValue ?? "")
                    var row = sums[key] ?? Row(day: key.day, provider: key.provider, model: key.model, calls: 0, cached: 0,
                                               failed: 0, tokensIn: 0, tokensOut: 0, costUSD: 0)
                    let status = call.member("status")?.stringValue ?? ""
                    // Not sent: the budget held it back. Neither a call nor a failure.
                    if status == "skipped_budget" { continue }
                    let cached = status == "cached" || call.member("cache_hit") == .bool(true)
                    if cached { row.cached += 1 } else { row.calls += 1 }
                    if ["error", "invalid"].contains(status) { row.failed += 1 }
                    row.tokensIn += call.member("tokens_in")?.integerValue ?? 0
                    row.tokensOut += call.member("tokens_out")?.integerValue ?? 0
                    row.costUSD += call.member("cost_usd")?.doubleValue ?? 0
                    if !cached, let ms = call.member("latency_ms")?.integerValue {
                        latency[key, default: (0, 0)].total += ms
                        latency[key, default: (0, 0)].count += 1
                    }
                    sums[key] = row
                }
            }
        }
        for (key, l) in latency where l.count > 0 { sums[key]?.averageLatencyMs = l.total / l.count }
        let rows = sums.values.sorted { ($0.day, $0.provider, $0.model) < ($1.day, $1.provider, $1.model) }
        return UsageReport(rows: rows)
    }

    /// USD spent on `provider` on the UTC day of `day` (for daily caps): the records' `cost_usd`.
    public func cost(provider: String, day: String) -> Double {
        rows.filter { $0.provider == provider && $0.day == day }.reduce(0) { $0 + $1.costUSD }
    }
}
