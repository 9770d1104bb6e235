import Foundation
import Lake
import Logging
import Postgres

/// `RunRecords` for a PostgreSQL store: the same rows a run manifest gives in SQLite
/// (`data_processing_tasks`, `webcrawler_jobs`, `scraped_data`, `llm_requests`, `llm_responses`,
/// `llm_usage_stats` in hour, day and month buckets, the call figures of `llm_provider_status`), so that `RunRecords`, `CrawlRecords` and `LLMCallRecords` stay the one place
/// that knows what a manifest means.
///
/// The manifest is recorded first into a scratch in-memory SQLite store (holding, for the stages
/// this run did not run, the rows the PostgreSQL store already has, so that those are kept), then
/// the rows the run wrote are upserted into PostgreSQL by their natural keys in one transaction,
/// with the row ids they point at (a page's crawl job, a response's request) looked up there.
public enum PostgresRunRecords {
    /// Upserts the rows `manifest` stands for. Returns the stage runs recorded.
    @discardableResult
    public static func record(_ manifest: RunManifest, lake: Lake? = nil, schedule: String? = nil,
                              into store: PostgresStore) throws -> Int {
        let scratch = try Database(path: ":memory:")
        try Store(database: scratch, logger: store.logger).migrate()
        let db = store.connection
        let taskKeys = manifest.stages.map { "\(manifest.pipeline)/\($0.name)" }
        for key in try db.query("SELECT task_key FROM data_processing_tasks WHERE task_key = ANY($1::text[])",
                                [arrayLiteral(taskKeys)]).compactMap({ $0[0] }) {
            try scratch.run("INSERT INTO data_processing_tasks (task_key, kind) VALUES (?, 'recorded')", [.text(key)])
        }
        let count = try RunRecords.record(manifest, lake: lake, schedule: schedule, in: scratch)
        let skip: Set<String> = schedule == nil ? ["id", "created_at", "updated_at", "schedule"] : ["id", "created_at", "updated_at"]
        try store.transaction {
            try copy(scratch, "data_processing_tasks", keys: ["task_key"], skip: skip, where: "run_id = ?",
                     [.text(manifest.runID)], into: store)
            try copy(scratch, "webcrawler_jobs", keys: ["job_key"], skip: skip, into: store)
            try copy(scratch, "scraped_data", keys: ["url", "content_sha256"], skip: skip,
                     reference: ("crawler_job_id", "webcrawler_jobs", "job_key"), into: store)
            try copy(scratch, "llm_requests", keys: ["request_key"], skip: skip, into: store)
            try copy(scratch, "llm_responses", keys: ["request_id"], skip: skip,
                     reference: ("request_id", "llm_requests", "request_key"), into: store)
            let times = try scratch.rows("SELECT DISTINCT requested_at FROM llm_requests").compactMap { $0[0].string }
            let buckets = Set(LLMCallRecords.periods.flatMap { period in
                times.map { LLMCallRecords.Bucket(period: period, start: LLMCallRecords.bucketStart(period, $0)) }
            })
            for bucket in buckets.sorted(by: { ($0.period, $0.start) < ($1.period, $1.start) }) {
                try recomputeUsage(bucket, in: db)
            }
            try recomputeProviderCalls(in: db)
        }
        return count
    }

    /// Upserts the rows of `table` in `scratch` (those `filter` selects) into the PostgreSQL store; a
    /// `reference` column is rewritten from the scratch row id to the PostgreSQL id of the row with the
    /// same natural key.
    static func copy(_ scratch: Database, _ table: String, keys: [String], skip: Set<String>, where filter: String? = nil,
                     _ values: [SQLValue] = [], reference: (column: String, table: String, key: String)? = nil,
                     into store: PostgresStore) throws {
        guard let info = try StoreCatalog.table(table, in: scratch) else { return }
        let columns = info.columns.map(\.name).filter { !skip.contains($0) }
        var select = columns.map { SQLLiteral.quoteName($0) }
        if let reference {
            select.append("(SELECT r.\(SQLLiteral.quoteName(reference.key)) FROM \(SQLLiteral.quoteName(reference.table)) r "
                          + "WHERE r.id = \(SQLLiteral.quoteName(table)).\(SQLLiteral.quoteName(reference.column)))")
        }
        let rows = try scratch.rows("SELECT \(select.joined(separator: ", ")) FROM \(SQLLiteral.quoteName(table))"
                                    + (filter.map { " WHERE \($0)" } ?? "") + " ORDER BY id", values)
        guard !rows.isEmpty else { return }
        let loader = try store.loader(table: table, keys: keys, mode: .upsert)
        var ids: [SQLValue: SQLValue] = [:]
        for row in rows {
            var out: [(column: String, value: SQLValue)] = []
            for (index, column) in columns.enumerated() {
                if let reference, column == reference.column {
                    let naturalKey = row[columns.count]
                    if ids[naturalKey] == nil {
                        ids[naturalKey] = try store.id(in: reference.table, where: reference.key, equals: naturalKey)
                            .map(SQLValue.integer) ?? .null
                    }
                    out.append((column, ids[naturalKey]!))
                } else {
                    out.append((column, row[index]))
                }
            }
            try loader.write(out)
        }
        try loader.finish()
    }

    /// `LLMCallRecords.recomputeUsage` in PostgreSQL's dialect: the hour, day or month bucket starting at
    /// `bucket.start` (ISO 8601 UTC), for every provider and model, from the calls recorded in it.
    static func recomputeUsage(_ bucket: LLMCallRecords.Bucket, in db: PGConnection) throws {
        // A range over requested_at (indexed), not the bucket expression; the length is counted in UTC.
        try db.run(PostgresSchema.bucketSQL(bucket.period, where: """
            q.requested_at >= $1::timestamptz
            AND q.requested_at < (($1::timestamptz AT TIME ZONE 'UTC') + interval '1 \(bucket.period)') AT TIME ZONE 'UTC'
            """), [bucket.start])
    }

    /// `LLMProviderStatusRecords.recomputeCalls` in PostgreSQL's dialect: every provider row's figures of
    /// `now`'s UTC day from the recorded calls, the errors since the last success, and, when the last call
    /// sent is newer than the last check, the status it gives and its time. Unchanged rows are not written.
    static func recomputeProviderCalls(now: Date = Date(), in db: PGConnection) throws {
        let down = LLMProviderStatusRecords.downAfter
        try db.run("""
            WITH figures AS (
                SELECT p.provider, t.requests, t.errors, t.latency, t.cost, c.consecutive,
                       l.requested_at AS last_at, l.status AS last_status, l.error AS last_error,
                       l.requested_at > coalesce(p.last_checked_at, '-infinity') AS newer
                FROM llm_provider_status p
                CROSS JOIN LATERAL (
                    SELECT count(*) AS requests, count(*) FILTER (WHERE q.status = 'error') AS errors,
                           round(avg(r.latency_ms))::bigint AS latency, coalesce(sum(r.cost_micro_usd), 0) AS cost
                    FROM llm_requests q JOIN llm_responses r ON r.request_id = q.id
                    WHERE q.provider = p.provider AND q.status <> 'cached'
                      AND q.requested_at >= $1::date::timestamp AT TIME ZONE 'UTC'
                      AND q.requested_at < ($1::date + 1)::timestamp AT TIME ZONE 'UTC') t
                CROSS JOIN LATERAL (
                    SELECT count(*) AS consecutive FROM llm_requests q
                    WHERE q.provider = p.provider AND q.status = 'error'
                      AND q.requested_at > coalesce((SELECT max(requested_at) FROM llm_requests
                                                     WHERE provider = p.provider AND status = 'success'), '-infinity')) c
                LEFT JOIN LATERAL (
                    SELECT q.requested_at, q.status, r.error
                    FROM llm_requests q JOIN llm_responses r ON r.request_id = q.id
                    WHERE q.provider = p.provider AND q.status <> 'cached'
                    ORDER BY q.requested_at DESC, q.id DESC LIMIT 1) l ON true
            ), updated AS (
                SELECT f.provider, f.requests, f.errors,
                       CASE WHEN f.requests > 0 THEN f.errors::double precision / f.requests END AS error_rate,
                       f.latency, f.cost, f.consecutive,
                       CASE WHEN f.newer THEN CASE WHEN f.consecutive = 0 THEN 'healthy'
                                                   WHEN f.consecutive < \(down) THEN 'degraded' ELSE 'down' END
                            ELSE s.status END AS status,
                       CASE WHEN f.newer THEN f.last_at ELSE s.last_checked_at END AS last_checked_at,
                       CASE WHEN f.newer AND f.last_status = 'error' AND f.last_error IS NOT NULL THEN f.last_error
                            ELSE s.last_error END AS last_error
                FROM figures f JOIN llm_provider_status s ON s.provider = f.provider
            )
            UPDATE llm_provider_status s SET stats_day = $1::date, requests_today = u.requests, errors_today = u.errors,
                error_rate = u.error_rate, avg_latency_ms = u.latency, cost_today_micro_usd = u.cost,
                consecutive_failures = u.consecutive, status = u.status, last_checked_at = u.last_checked_at,
                last_error = u.last_error
            FROM updated u
            WHERE u.provider = s.provider
              AND (s.stats_day, s.requests_today, s.errors_today, s.error_rate, s.avg_latency_ms, s.cost_today_micro_usd,
                   s.consecutive_failures, s.status, s.last_checked_at, s.last_error)
                  IS DISTINCT FROM ($1::date, u.requests, u.errors, u.error_rate, u.latency, u.cost, u.consecutive, u.status,
                                    u.last_checked_at, u.last_error)
            """, [Timestamp.day(now)])
    }

    /// A PostgreSQL array literal of texts: `{"a","b"}`.
    static func arrayLiteral(_ values: [String]) -> String {
        "{" + values.map { "\"" + $0.replacingOccurrences(of: "\\", with: "\\\\").replacingOccurrences(of: "\"", with: "\\\"") + "\"" }
            .joined(separator: ",") + "}"
    }
}
