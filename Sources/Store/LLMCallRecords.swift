import Foundation
import Lake

/// Fills `llm_requests` and `llm_responses` (one row each per call an enrich stage recorded)
/// and recomputes the `llm_usage_stats` buckets (hour, day and month) those calls fall in.
///
/// An enrich stage records its calls in the run manifest as `details.llm.calls`, each an object
/// with `request_key, provider, model, task, prompt_sha256, status, tokens_in, tokens_out,
/// cost_usd, latency_ms, cache_hit, finish_reason, error, at` (and `content` when kept).
/// A call skipped by a budget was never sent, so it is not a request.
enum LLMCallRecords {
    static func record(_ manifest: RunManifest, stage: RunManifest.StageRun, in database: Database) throws {
        guard let calls = stage.details?.objectValue?["llm"]?.objectValue?["calls"]?.arrayValue, !calls.isEmpty else { return }
        let requests = try TableLoader(database: database, table: "llm_requests", keys: ["request_key"], mode: .upsert)
        let responses = try TableLoader(database: database, table: "llm_responses", keys: ["request_id"], mode: .upsert)
        var buckets = Set<Bucket>()
        // A question asked twice in one stage is sent once; the repeat, a cache hit, shares the sent call's row
        // and must not replace it (which one the manifest lists last depends on timing).
        var sentKeys = Set<String>()
        for case .object(let call) in calls {
            if let key = call["request_key"]?.stringValue, let status = requestStatus(call["status"]?.stringValue), status != "cached" {
                sentKeys.insert(key)
            }
        }
        for case .object(let call) in calls {
            guard let key = call["request_key"]?.stringValue, let provider = call["provider"]?.stringValue,
                  let model = call["model"]?.stringValue, let at = call["at"]?.stringValue,
                  let status = requestStatus(call["status"]?.stringValue) else { continue }
            if status == "cached" && sentKeys.contains(key) { continue }
            let rowKey = "\(manifest.runID)/\(stage.name)/\(key)"
            try requests.write([
                ("request_key", .text(rowKey)),
                ("provider", .text(provider)),
                ("model", .text(model)),
                ("task", text(call["task"])),
                ("prompt_sha256", text(call["prompt_sha256"])),
                ("status", .text(status)),
                ("pipeline", .text(manifest.pipeline)),
                ("stage", .text(stage.name)),
                ("run_id", .text(manifest.runID)),
                ("requested_at", .text(at)),
            ])
            guard let requestID = try database.scalar("SELECT id FROM llm_requests WHERE request_key = ?",
                                                      [.text(rowKey)])?.int64 else { continue }
            let cost = call["cost_usd"]?.doubleValue.map { Int64(($0 * 1_000_000).rounded()) } ?? 0
            try responses.write([
                ("request_id", .integer(requestID)),
                ("content", text(call["content"])),
                ("finish_reason", text(call["finish_reason"])),
                ("input_tokens", .integer(max(0, CrawlRecords.int(call["tokens_in"]) ?? 0))),
                ("output_tokens", .integer(max(0, CrawlRecords.int(call["tokens_out"]) ?? 0))),
                ("cost_micro_usd", .integer(max(0, cost))),
                ("latency_ms", CrawlRecords.int(call["latency_ms"]).map(SQLValue.integer) ?? .null),
                ("from_cache", .integer(call["cache_hit"] == .bool(true) || status == "cached" ? 1 : 0)),
                ("error", text(call["error"])),
            ])
            for period in periods { buckets.insert(Bucket(period: period, start: bucketStart(period, at))) }
        }
        for bucket in buckets.sorted(by: { ($0.period, $0.start) < ($1.period, $1.start) }) {
            try recomputeUsage(bucket, in: database)
        }
    }

    /// The buckets of `llm_usage_stats`, as the original AgentShop's `period_type` named them.
    static let periods = ["hour", "day", "month"]

    struct Bucket: Hashable {
        let period: String
        /// The bucket's first instant, `2026-11-18T15:00:00.000Z` (hour), `…T00:00:00.000Z` (day), `2026-11-01T…` (month).
        let start: String
    }

    /// The SQL expression of the bucket start of `q.requested_at` (ISO 8601 UTC text).
    static func startExpression(_ period: String) -> String {
        switch period {
        case "hour": return "substr(q.requested_at, 1, 13) || ':00:00.000Z'"
        case "month": return "substr(q.requested_at, 1, 7) || '-01T00:00:00.000Z'"
        default: return "substr(q.requested_at, 1, 10) || 'T00:00:00.000Z'"
        }
    }

    /// The start of the `period` bucket that `at` falls in, as `startExpression` computes it.
    static func bucketStart(_ period: String, _ at: String) -> String {
        switch period {
        case "hour": return String(at.prefix(13)) + ":00:00.000Z"
        case "month": return String(at.prefix(7)) + "-01T00:00:00.000Z"
        default: return String(at.prefix(10)) + "T00:00:00.000Z"
        }
    }

    /// The statement that recomputes the `period` buckets of the calls matching `condition` (over `q`, the
    /// request, and `r`, its response) from every recorded call in them: recording a manifest twice, or in
    /// another order, gives the same totals. Requests are those sent to a provider (a cache hit is counted
    /// apart, a call skipped for the budget was never recorded); the mean latency is theirs.
    static func bucketSQL(_ period: String, where condition: String) -> String {
        let start = startExpression(period)
        return """
            INSERT INTO llm_usage_stats (period_type, period_start, day, provider, model, requests, cache_hits, errors,
                                         input_tokens, output_tokens, cost_micro_usd, avg_latency_ms)
            SELECT '\(period)', \(start), substr(\(start), 1, 10), q.provider, q.model,
                   sum(q.status <> 'cached'), sum(q.status = 'cached'), sum(q.status = 'error'),
                   sum(CASE WHEN r.from_cache THEN 0 ELSE r.input_tokens END),
                   sum(CASE WHEN r.from_cache THEN 0 ELSE r.output_tokens END),
                   sum(CASE WHEN r.from_cache THEN 0 ELSE r.cost_micro_usd END),
                   CAST(round(avg(CASE WHEN q.status <> 'cached' THEN r.latency_ms END)) AS INTEGER)
            FROM llm_requests q JOIN llm_responses r ON r.request_id = q.id
            WHERE \(condition)
            GROUP BY \(start), q.provider, q.model
            ORDER BY \(start), q.provider, q.model
            ON CONFLICT (period_type, period_start, provider, model) DO UPDATE SET
                requests = excluded.requests, cache_hits = excluded.cache_hits, errors = excluded.errors,
                input_tokens = excluded.input_tokens, output_tokens = excluded.output_tokens,
                cost_micro_usd = excluded.cost_micro_usd, avg_latency_ms = excluded.avg_latency_ms
            """
    }

    static func recomputeUsage(_ bucket: Bucket, in database: Database) throws {
        let length = bucket.period == "hour" ? "+1 hour" : bucket.period == "month" ? "+1 month" : "+1 day"
        // A range over requested_at (indexed), not the bucket expression.
        try database.run(bucketSQL(bucket.period, where: """
            q.requested_at >= ?1 AND q.requested_at < strftime('%Y-%m-%dT%H:%M:%fZ', ?1, '\(length)')
            """), [.text(bucket.start)])
    }

    /// The store's request status for a recorded call status; nil for a call that was not sent.
    static func requestStatus(_ status: String?) -> String? {
        switch status {
        case "success"?: return "success"
        case "cached"?: return "cached"
        case "error"?, "invalid"?: return "error"
        default: return nil
        }
    }

    private static func text(_ value: JSONValue?) -> SQLValue {
        guard let value, !value.isNull else { return .null }
        return .text(value.stringValue ?? value.serialized())
    }
}
