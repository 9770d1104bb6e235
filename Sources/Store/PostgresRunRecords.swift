import Foundation
import Lake
import Logging
import Postgres

/// `RunRecords` for a PostgreSQL store: the same rows a run manifest gives in SQLite
/// (`data_processing_tasks`, `webcrawler_jobs`, `scraped_data`, `llm_requests`, `llm_responses`,
/// `llm_usage_stats`), so that `RunRecords`, `CrawlRecords` and `LLMCallRecords` stay the one place
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
            let days = try scratch.rows("SELECT DISTINCT substr(requested_at, 1, 10) FROM llm_requests").compactMap { $0[0].string }
            for day in days.sorted() { try recomputeUsage(day: day, in: db) }
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

    /// `LLMCallRecords.recomputeUsage` in PostgreSQL's dialect.
    static func recomputeUsage(day: String, in db: PGConnection) throws {
        try db.run("""
            INSERT INTO llm_usage_stats (day, provider, model, requests, cache_hits, errors, input_tokens, output_tokens, cost_micro_usd)
            SELECT (q.requested_at AT TIME ZONE 'UTC')::date, q.provider, q.model,
                   count(*) FILTER (WHERE q.status <> 'cached'), count(*) FILTER (WHERE q.status = 'cached'),
                   count(*) FILTER (WHERE q.status = 'error'),
                   sum(CASE WHEN r.from_cache THEN 0 ELSE r.input_tokens END),
                   sum(CASE WHEN r.from_cache THEN 0 ELSE r.output_tokens END),
                   sum(CASE WHEN r.from_cache THEN 0 ELSE r.cost_micro_usd END)
            FROM llm_requests q JOIN llm_responses r ON r.request_id = q.id
            WHERE (q.requested_at AT TIME ZONE 'UTC')::date = $1::date
            GROUP BY 1, q.provider, q.model
            ON CONFLICT (day, provider, model) DO UPDATE SET
                requests = EXCLUDED.requests, cache_hits = EXCLUDED.cache_hits, errors = EXCLUDED.errors,
                input_tokens = EXCLUDED.input_tokens, output_tokens = EXCLUDED.output_tokens,
                cost_micro_usd = EXCLUDED.cost_micro_usd
            WHERE (llm_usage_stats.requests, llm_usage_stats.cache_hits, llm_usage_stats.errors, llm_usage_stats.input_tokens,
                   llm_usage_stats.output_tokens, llm_usage_stats.cost_micro_usd)
                IS DISTINCT FROM (EXCLUDED.requests, EXCLUDED.cache_hits, EXCLUDED.errors, EXCLUDED.input_tokens,
                                  EXCLUDED.output_tokens, EXCLUDED.cost_micro_usd)
            """, [day])
    }

    /// A PostgreSQL array literal of texts: `{"a","b"}`.
    static func arrayLiteral(_ values: [String]) -> String {
        "{" + values.map { "\"" + $0.replacingOccurrences(of: "\\", with: "\\\\").replacingOccurrences(of: "\"", with: "\\\"") + "\"" }
            .joined(separator: ",") + "}"
    }
}
