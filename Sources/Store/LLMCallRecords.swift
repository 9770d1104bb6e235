import Foundation
import Lake

/// Fills `llm_requests` and `llm_responses` (one row each per call an enrich stage recorded)
/// and recomputes `llm_usage_stats` for the days those calls fall on.
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
        var days = Set<String>()
        for case .object(let call) in calls {
            guard let key = call["request_key"]?.stringValue, let provider = call["provider"]?.stringValue,
                  let model = call["model"]?.stringValue, let at = call["at"]?.stringValue,
                  let status = requestStatus(call["status"]?.stringValue) else { continue }
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
            days.insert(String(at.prefix(10)))
        }
        for day in days.sorted() { try recomputeUsage(day: day, in: database) }
    }

    /// The day's totals per provider and model, from every recorded call of that day: recording
    /// a manifest twice, or in another order, gives the same totals.
    static func recomputeUsage(day: String, in database: Database) throws {
        try database.run("""
            INSERT INTO llm_usage_stats (day, provider, model, requests, cache_hits, errors, input_tokens, output_tokens, cost_micro_usd)
            SELECT substr(q.requested_at, 1, 10), q.provider, q.model,
                   sum(q.status <> 'cached'), sum(q.status = 'cached'), sum(q.status = 'error'),
                   sum(CASE WHEN r.from_cache THEN 0 ELSE r.input_tokens END),
                   sum(CASE WHEN r.from_cache THEN 0 ELSE r.output_tokens END),
                   sum(CASE WHEN r.from_cache THEN 0 ELSE r.cost_micro_usd END)
            FROM llm_requests q JOIN llm_responses r ON r.request_id = q.id
            WHERE substr(q.requested_at, 1, 10) = ?
            GROUP BY q.provider, q.model
            ORDER BY q.provider, q.model
            ON CONFLICT (day, provider, model) DO UPDATE SET
                requests = excluded.requests, cache_hits = excluded.cache_hits, errors = excluded.errors,
                input_tokens = excluded.input_tokens, output_tokens = excluded.output_tokens,
                cost_micro_usd = excluded.cost_micro_usd
            """, [.text(day)])
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
