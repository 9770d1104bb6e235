import Foundation
import Lake

/// Keeps `llm_provider_status` in step with reality: one row per provider of the LLM module's catalogue
/// (name, display name, endpoint, default model and limits as the process resolves them, switched on or
/// off), the last health check, and the figures of the recorded calls (`llm_requests`): the day's
/// requests, errors, error rate, mean latency and cost, and the errors since the last success.
///
/// The Store does not know the LLM module: the caller (`agentshop llm …`, `db init`, `run`) hands in what
/// the catalogue says (`Provider`); the call figures are recomputed from the store's own call rows, so that
/// recording a run (`RunRecords`) updates them too.
public enum LLMProviderStatusRecords {
    /// A provider as the LLM catalogue resolves it.
    public struct Provider: Sendable, Equatable {
        public var name: String
        public var displayName: String
        /// Nil for a provider without an endpoint (offline rules).
        public var baseURL: String?
        public var defaultModel: String
        public var enabled: Bool
        public var requestsPerMinute: Int?
        public var dailyCostLimitMicroUSD: Int64?
        /// The last health check, if there was one.
        public var health: Health?

        public init(name: String, displayName: String, baseURL: String?, defaultModel: String, enabled: Bool,
                    requestsPerMinute: Int? = nil, dailyCostLimitMicroUSD: Int64? = nil, health: Health? = nil) {
            self.name = name
            self.displayName = displayName
            self.baseURL = baseURL
            self.defaultModel = defaultModel
            self.enabled = enabled
            self.requestsPerMinute = requestsPerMinute
            self.dailyCostLimitMicroUSD = dailyCostLimitMicroUSD
            self.health = health
        }
    }

    /// One health check: passed or not, when (ISO 8601 UTC), and the detail (the error when it failed).
    public struct Health: Sendable, Equatable {
        public var ok: Bool
        public var checkedAt: String
        public var detail: String

        public init(ok: Bool, checkedAt: String, detail: String) {
            self.ok = ok
            self.checkedAt = checkedAt
            self.detail = detail
        }
    }

    /// Consecutive errors from which a provider counts as down rather than degraded.
    public static let downAfter = 3

    /// Upserts a row per provider of `providers` (catalogue, switch, limits, last health check), then
    /// recomputes every row's call figures for `now`'s UTC day. Rows of providers the catalogue no longer
    /// has are left as they are.
    public static func sync(_ providers: [Provider], now: Date = Date(), in database: Database) throws {
        try database.transaction {
            for p in providers {
                try database.run("""
                    INSERT INTO llm_provider_status (provider, display_name, is_enabled, base_url, default_model,
                                                     requests_per_minute, daily_cost_limit_micro_usd)
                    VALUES (?, ?, ?, ?, ?, ?, ?)
                    ON CONFLICT (provider) DO UPDATE SET
                        display_name = excluded.display_name, is_enabled = excluded.is_enabled,
                        base_url = excluded.base_url, default_model = excluded.default_model,
                        requests_per_minute = excluded.requests_per_minute,
                        daily_cost_limit_micro_usd = excluded.daily_cost_limit_micro_usd
                    WHERE (display_name, is_enabled, base_url, default_model, requests_per_minute, daily_cost_limit_micro_usd)
                          IS NOT (excluded.display_name, excluded.is_enabled, excluded.base_url, excluded.default_model,
                                  excluded.requests_per_minute, excluded.daily_cost_limit_micro_usd)
                    """, [.text(p.name), .text(p.displayName), .integer(p.enabled ? 1 : 0), p.baseURL.map(SQLValue.text) ?? .null,
                          .text(p.defaultModel), p.requestsPerMinute.map { .integer(Int64($0)) } ?? .null,
                          p.dailyCostLimitMicroUSD.map(SQLValue.integer) ?? .null])
                if let health = p.health {
                    // A check newer than what the row knows (a check or a call) decides the status.
                    try database.run("""
                        UPDATE llm_provider_status SET status = ?, last_checked_at = ?,
                            last_error = CASE WHEN ? THEN last_error ELSE ? END
                        WHERE provider = ? AND (last_checked_at IS NULL OR last_checked_at < ?)
                        """, [.text(health.ok ? "healthy" : "down"), .text(health.checkedAt), .integer(health.ok ? 1 : 0),
                              .text(health.detail), .text(p.name), .text(health.checkedAt)])
                }
            }
            try recomputeCalls(now: now, in: database)
        }
    }

    /// Recomputes every row's call figures from the recorded calls: the figures of `now`'s UTC day
    /// (`stats_day`, requests sent, errors, error rate, mean latency, cost), the errors since the last
    /// success, and, when the last call sent is newer than the last check, the status it gives
    /// (healthy; degraded after an error; down after `downAfter` in a row) and its time.
    public static func recomputeCalls(now: Date = Date(), in database: Database) throws {
        let day = Timestamp.day(now)
        let start = day + "T00:00:00.000Z"
        let providers = try database.rows("SELECT provider, last_checked_at FROM llm_provider_status ORDER BY provider")
        for row in providers {
            guard let provider = row[0].string else { continue }
            let lastChecked = row[1].string ?? ""
            let today = try database.rows("""
                SELECT count(*), coalesce(sum(q.status = 'error'), 0), CAST(round(avg(r.latency_ms)) AS INTEGER),
                       coalesce(sum(r.cost_micro_usd), 0)
                FROM llm_requests q JOIN llm_responses r ON r.request_id = q.id
                WHERE q.provider = ?1 AND q.status <> 'cached'
                  AND q.requested_at >= ?2 AND q.requested_at < strftime('%Y-%m-%dT%H:%M:%fZ', ?2, '+1 day')
                """, [.text(provider), .text(start)])[0]
            let requests = today[0].int64 ?? 0
            let errors = today[1].int64 ?? 0
            let lastSuccess = try database.scalar("""
                SELECT max(requested_at) FROM llm_requests WHERE provider = ? AND status = 'success'
                """, [.text(provider)])?.string ?? ""
            let consecutive = try database.scalar("""
                SELECT count(*) FROM llm_requests WHERE provider = ? AND status = 'error' AND requested_at > ?
                """, [.text(provider), .text(lastSuccess)])?.int64 ?? 0
            var values: [SQLValue] = [
                .text(day), .integer(requests), .integer(errors),
                requests > 0 ? .real(Double(errors) / Double(requests)) : .null,
                today[2].int64.map(SQLValue.integer) ?? .null, .integer(today[3].int64 ?? 0), .integer(consecutive),
            ]
            var sql = """
                UPDATE llm_provider_status SET stats_day = ?, requests_today = ?, errors_today = ?, error_rate = ?,
                    avg_latency_ms = ?, cost_today_micro_usd = ?, consecutive_failures = ?
                """
            let last = try database.rows("""
                SELECT q.requested_at, q.status, r.error FROM llm_requests q JOIN llm_responses r ON r.request_id = q.id
                WHERE q.provider = ? AND q.status <> 'cached' ORDER BY q.requested_at DESC, q.id DESC LIMIT 1
                """, [.text(provider)]).first
            if let last, let at = last[0].string, at > lastChecked {
                let status = consecutive == 0 ? "healthy" : consecutive < Int64(downAfter) ? "degraded" : "down"
                sql += ", status = ?, last_checked_at = ?"
                values += [.text(status), .text(at)]
                if last[1].string == "error", let error = last[2].string {
                    sql += ", last_error = ?"
                    values.append(.text(error))
                }
            }
            // Unchanged figures are not written, so `updated_at` says when something last changed.
            let columns = ["stats_day", "requests_today", "errors_today", "error_rate", "avg_latency_ms",
                           "cost_today_micro_usd", "consecutive_failures"]
            let extra = values.count - columns.count
            let all = columns + (extra >= 2 ? ["status", "last_checked_at"] : []) + (extra == 3 ? ["last_error"] : [])
            sql += " WHERE provider = ? AND (" + all.joined(separator: ", ") + ") IS NOT ("
                + all.map { _ in "?" }.joined(separator: ", ") + ")"
            try database.run(sql, values + [.text(provider)] + values)
        }
    }
}

extension LLMProviderStatusRecords {
    /// `sync` for a PostgreSQL store: the same upserts in its dialect, then `recomputeProviderCalls`.
    public static func sync(_ providers: [Provider], now: Date = Date(), in store: PostgresStore) throws {
        let db = store.connection
        try store.transaction {
            for p in providers {
                try db.run("""
                    INSERT INTO llm_provider_status (provider, display_name, is_enabled, base_url, default_model,
                                                     requests_per_minute, daily_cost_limit_micro_usd)
                    VALUES ($1, $2, $3::boolean, $4, $5, $6::bigint, $7::bigint)
                    ON CONFLICT (provider) DO UPDATE SET
                        display_name = excluded.display_name, is_enabled = excluded.is_enabled,
                        base_url = excluded.base_url, default_model = excluded.default_model,
                        requests_per_minute = excluded.requests_per_minute,
                        daily_cost_limit_micro_usd = excluded.daily_cost_limit_micro_usd
                    WHERE (llm_provider_status.display_name, llm_provider_status.is_enabled, llm_provider_status.base_url,
                           llm_provider_status.default_model, llm_provider_status.requests_per_minute,
                           llm_provider_status.daily_cost_limit_micro_usd)
                          IS DISTINCT FROM (excluded.display_name, excluded.is_enabled, excluded.base_url, excluded.default_model,
                                            excluded.requests_per_minute, excluded.daily_cost_limit_micro_usd)
                    """, [p.name, p.displayName, p.enabled ? "true" : "false", p.baseURL, p.defaultModel,
                          p.requestsPerMinute.map(String.init), p.dailyCostLimitMicroUSD.map(String.init)])
                if let health = p.health {
                    // A check newer than what the row knows (a check or a call) decides the status.
                    try db.run("""
                        UPDATE llm_provider_status SET status = $1, last_checked_at = $2::timestamptz,
                            last_error = CASE WHEN $3::boolean THEN last_error ELSE $4 END
                        WHERE provider = $5 AND (last_checked_at IS NULL OR last_checked_at < $2::timestamptz)
                        """, [health.ok ? "healthy" : "down", health.checkedAt, health.ok ? "true" : "false", health.detail, p.name])
                }
            }
            try PostgresRunRecords.recomputeProviderCalls(now: now, in: db)
        }
    }
}
