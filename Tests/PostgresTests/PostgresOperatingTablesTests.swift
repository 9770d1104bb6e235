import Foundation
import Lake
import Postgres
import Store
import TestSupport
import Testing

/// The seed's operating tables in PostgreSQL, as in SQLite: a recorded run fills `llm_usage_stats` in
/// hour, day and month buckets, and migration 4 carries a version-3 store over.
@Suite struct PostgresOperatingTablesTests {
    func manifest(_ runID: String, calls: [JSONValue]) -> RunManifest {
        var manifest = RunManifest(runID: runID, pipeline: "shop", pipelineFile: "pipelines/shop.yaml",
                                   startedAt: Date(timeIntervalSince1970: 1_795_000_000), runDate: "2026-11-18",
                                   toolVersion: "0.1.0", options: [], logFile: "raw_data/logs/shop/x.log")
        var stage = RunManifest.StageRun(name: "sentiment", kind: "enrich", status: .ran, reason: "", fingerprint: "e")
        stage.details = .object(JSONObject([("llm", .object(JSONObject([("calls", .array(calls))])))]))
        manifest.stages = [stage]
        manifest.status = .succeeded
        return manifest
    }

    func call(_ key: String, provider: String = "openai", model: String = "gpt-4o-mini", status: String,
              tokensIn: Int64 = 100, tokensOut: Int64 = 20, cost: Double = 0.000027, latency: Int64 = 210, at: String) -> JSONValue {
        .object(JSONObject([
            ("request_key", .string(key)), ("provider", .string(provider)), ("model", .string(model)), ("task", "sentiment"),
            ("prompt_sha256", .string("p" + key)), ("status", .string(status)), ("tokens_in", .int(tokensIn)),
            ("tokens_out", .int(tokensOut)), ("cost_usd", .double(status == "cached" ? 0 : cost)), ("latency_ms", .int(latency)),
            ("cache_hit", .bool(status == "cached")), ("finish_reason", "stop"),
            ("error", status == "error" ? "openai: rate limited (HTTP 429)" : .null), ("at", .string(at)),
        ]))
    }

    /// `llm_usage_stats` as text rows, the same in both stores.
    static let sqliteBuckets = """
        SELECT period_type, period_start, day, provider, model, requests, cache_hits, errors, input_tokens, output_tokens,
               cost_micro_usd, avg_latency_ms
        FROM llm_usage_stats ORDER BY period_type, period_start, provider, model
        """
    static let postgresBuckets = """
        SELECT period_type, to_char(period_start AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.MS"Z"'), day::text, provider, model,
               requests, cache_hits, errors, input_tokens, output_tokens, cost_micro_usd, avg_latency_ms
        FROM llm_usage_stats ORDER BY period_type, period_start, provider, model
        """

    /// A migrated SQLite store in a new temporary folder, and the folder.
    static func sqliteStore() throws -> (Database, String) {
        let folder = NSTemporaryDirectory() + "agentshop-pg-sqlite-" + UUID().uuidString
        try FileManager.default.createDirectory(atPath: folder, withIntermediateDirectories: true)
        return (try Store.openMigrated(path: folder + "/store.sqlite").database, folder)
    }

    static func text(_ value: SQLValue) -> String? {
        switch value {
        case .null: return nil
        case .integer(let i): return String(i)
        case .real(let d): return String(d)
        case .text(let s): return s
        case .blob(let b): return String(decoding: b, as: UTF8.self)
        }
    }

    @Test func aRecordedRunFillsHourDayAndMonthBucketsAsInSQLite() throws {
        guard let database = try PostgresServer.database() else { return }
        defer { database.drop() }
        let store = try PostgresStore.openMigrated(url: try PostgresURL(database.url))
        let db = store.connection
        let first = manifest("r1", calls: [
            call("a", status: "success", latency: 100, at: "2026-11-18T10:05:00.000Z"),
            call("b", status: "error", tokensIn: 0, tokensOut: 0, cost: 0, latency: 205, at: "2026-11-18T10:59:59.999Z"),
            call("c", status: "success", at: "2026-11-18T11:00:00.000Z"),
            call("d", status: "cached", at: "2026-11-19T08:00:00.000Z"),
            call("e", status: "skipped_budget", at: "2026-11-19T08:00:00.000Z"),
            call("f", status: "success", at: "2026-12-01T00:00:00.000Z"),
            call("g", provider: "groq", model: "llama-3.1-8b-instant", status: "success", at: "2026-11-30T23:59:59.999Z"),
        ])
        // A later run adds a call to buckets the first one filled: they are recomputed from both runs' calls.
        let second = manifest("r2", calls: [call("a", status: "success", latency: 300, at: "2026-11-18T10:30:00.000Z")])

        let (sqlite, folder) = try Self.sqliteStore()
        defer { try? FileManager.default.removeItem(atPath: folder) }
        for run in [first, second] {
            try RunRecords.record(run, in: sqlite)
            try PostgresRunRecords.record(run, into: store)
        }
        let expected = try sqlite.rows(Self.sqliteBuckets).map { $0.map(Self.text) }
        let rows = Array(try db.query(Self.postgresBuckets))
        #expect(rows == expected)
        #expect(rows.count == 12)  // 5 hours, 4 days, 3 months
        func bucket(_ period: String, _ start: String, _ provider: String = "openai") throws -> String? {
            try db.scalar("""
                SELECT requests || '/' || cache_hits || '/' || errors || '/' || input_tokens || '/' || coalesce(avg_latency_ms::text, '-')
                FROM llm_usage_stats WHERE period_type = $1 AND period_start = $2::timestamptz AND provider = $3
                """, [period, start, provider])
        }
        #expect(try bucket("hour", "2026-11-18T10:00:00Z") == "3/0/1/200/202")  // (100 + 205 + 300) / 3, rounded
        #expect(try bucket("day", "2026-11-18T00:00:00Z") == "4/0/1/300/204")
        #expect(try bucket("day", "2026-11-19T00:00:00Z") == "0/1/0/0/-")
        #expect(try bucket("month", "2026-11-01T00:00:00Z") == "4/1/1/300/204")
        #expect(try bucket("month", "2026-11-01T00:00:00Z", "groq") == "1/0/0/100/210")
        #expect(try bucket("month", "2026-12-01T00:00:00Z") == "1/0/0/100/210")
        #expect(try db.scalar("SELECT day::text FROM llm_usage_stats WHERE period_type = 'month' AND provider = 'groq'") == "2026-11-01")

        // Recording a run again writes no bucket.
        let versions = try db.scalar("SELECT string_agg(xmin::text, ',' ORDER BY id) FROM llm_usage_stats")
        try PostgresRunRecords.record(first, into: store)
        #expect(try db.scalar("SELECT string_agg(xmin::text, ',' ORDER BY id) FROM llm_usage_stats") == versions)
        #expect(Array(try db.query(Self.postgresBuckets)) == expected)
    }

    @Test func aRecordedRunGivesTheProvidersTheFiguresOfTheDayAsInSQLite() throws {
        guard let database = try PostgresServer.database() else { return }
        defer { database.drop() }
        let store = try PostgresStore.openMigrated(url: try PostgresURL(database.url))
        let now = Date()
        func at(_ seconds: Double) -> String { Timestamp.iso(now.addingTimeInterval(seconds)) }
        let run = manifest("r1", calls: [
            call("a", status: "success", cost: 0.001, at: at(-50)),
            call("b", status: "error", tokensIn: 0, tokensOut: 0, cost: 0, latency: 100, at: at(-40)),
            call("c", status: "error", tokensIn: 0, tokensOut: 0, cost: 0, at: at(-30)),
            call("d", status: "skipped_budget", at: at(-20)),
            call("e", provider: "groq", model: "llama-3.1-8b-instant", status: "success", cost: 0.002, at: at(-10)),
            call("f", provider: "groq", model: "llama-3.1-8b-instant", status: "success", at: at(-86_400 * 40)),
        ])
        let (sqlite, folder) = try Self.sqliteStore()
        defer { try? FileManager.default.removeItem(atPath: folder) }
        try RunRecords.record(run, in: sqlite)
        try PostgresRunRecords.record(run, into: store)
        let expected = try sqlite.rows("""
            SELECT provider, stats_day, requests_today, errors_today, CAST(round(error_rate * 10000) AS INTEGER), avg_latency_ms,
                   cost_today_micro_usd, consecutive_failures, status, last_checked_at, last_error
            FROM llm_provider_status ORDER BY provider
            """).map { $0.map(Self.text) }
        let rows = Array(try store.connection.query("""
            SELECT provider, stats_day::text, requests_today, errors_today, round(error_rate * 10000)::bigint, avg_latency_ms,
                   cost_today_micro_usd, consecutive_failures, status,
                   to_char(last_checked_at AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.MS"Z"'), last_error
            FROM llm_provider_status ORDER BY provider
            """))
        #expect(rows == expected)
        #expect(rows.first { $0[0] == "openai" } == [
            "openai", Timestamp.day(now), "3", "2", "6667", "173", "1000", "2", "degraded", at(-30), "openai: rate limited (HTTP 429)",
        ])
        #expect(rows.first { $0[0] == "groq" }.map { Array($0[2...8]) } == ["1", "0", "0", "210", "2000", "0", "healthy"])
        // Recording it again writes no provider row.
        let versions = try store.connection.scalar("SELECT string_agg(xmin::text, ',' ORDER BY id) FROM llm_provider_status")
        try PostgresRunRecords.record(run, into: store)
        #expect(try store.connection.scalar("SELECT string_agg(xmin::text, ',' ORDER BY id) FROM llm_provider_status") == versions)
    }

    @Test func migrationFourCarriesAVersionThreeStoreOver() throws {
        guard let database = try PostgresServer.database() else { return }
        defer { database.drop() }
        let store = try PostgresStore.open(url: try PostgresURL(database.url))
        let db = store.connection
        // A store as version 3 left it, with two calls recorded and the day row of them.
        try db.execute("""
            CREATE TABLE schema_migrations (version INTEGER PRIMARY KEY, name TEXT NOT NULL,
                                            applied_at TIMESTAMPTZ NOT NULL DEFAULT now())
            """)
        for migration in PostgresSchema.migrations where migration.version <= 3 {
            try db.transaction {
                try db.execute(migration.sql)
                try db.run("INSERT INTO schema_migrations (version, name) VALUES ($1, $2)", ["\(migration.version)", migration.name])
            }
        }
        #expect(try store.schemaVersion() == 3)
        try db.run("UPDATE config_settings SET value = 'My Shop' WHERE key = 'site.name'")
        try db.run("""
            INSERT INTO llm_requests (request_key, provider, model, status, requested_at) VALUES
                ('k1', 'openai', 'm', 'success', '2026-11-18T10:05:00.000Z'), ('k2', 'openai', 'm', 'error', '2026-11-18T12:00:00.000Z')
            """)
        try db.run("""
            INSERT INTO llm_responses (request_id, input_tokens, output_tokens, cost_micro_usd, latency_ms)
            SELECT id, 10, 5, 7, 100 FROM llm_requests
            """)
        try db.run("""
            INSERT INTO llm_usage_stats (id, day, provider, model, requests, errors, cost_micro_usd)
            VALUES (7, '2026-11-18', 'openai', 'm', 2, 1, 14), (8, '2026-11-17', 'openai', 'old', 5, 0, 50)
            """)

        #expect(try store.migrate() == [4, 5])
        #expect(Array(try db.query("""
            SELECT period_type, to_char(period_start AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI'), day::text, model, requests, errors,
                   cost_micro_usd, avg_latency_ms
            FROM llm_usage_stats ORDER BY period_type, period_start, model
            """)) == [
            ["day", "2026-11-17T00:00", "2026-11-17", "old", "5", "0", "50", nil],
            ["day", "2026-11-18T00:00", "2026-11-18", "m", "2", "1", "14", "100"],
            ["hour", "2026-11-18T10:00", "2026-11-18", "m", "1", "0", "7", "100"],
            ["hour", "2026-11-18T12:00", "2026-11-18", "m", "1", "1", "7", "100"],
            ["month", "2026-11-01T00:00", "2026-11-01", "m", "2", "1", "14", "100"],
        ])
        // The day rows keep their ids, and new rows get ids after them.
        #expect(try db.scalar("SELECT string_agg(id::text, ',' ORDER BY id) FROM llm_usage_stats WHERE period_type = 'day'") == "7,8")
        #expect(try db.scalar("SELECT min(id) FROM llm_usage_stats WHERE period_type <> 'day'") == "9")
        // The touch trigger is there again.
        let stamped = try db.scalar("SELECT updated_at FROM llm_usage_stats WHERE id = 8")
        try db.run("UPDATE llm_usage_stats SET requests = 6 WHERE id = 8")
        #expect(try db.scalar("SELECT updated_at FROM llm_usage_stats WHERE id = 8") != stamped)

        #expect(try db.query("SELECT provider FROM llm_provider_status ORDER BY provider").map { $0[0] } == [
            "anthropic", "groq", "offline", "ollama", "openai", "perplexity"])
        #expect(try db.scalar("SELECT count(*) FROM llm_provider_status WHERE NOT is_enabled") == "0")
        #expect(try db.scalar("SELECT base_url || ' ' || default_model FROM llm_provider_status WHERE provider = 'anthropic'")
            == "https://api.anthropic.com claude-haiku-4-5")
        // A setting the user changed stays; the seeded ones nothing reads are gone.
        #expect(Array(try db.query("SELECT key, value FROM config_settings WHERE value IS NOT NULL")) == [["site.name", "My Shop"]])
        #expect(try db.scalar("""
            SELECT string_agg(name, ',' ORDER BY name) FROM email_templates
            WHERE name IN ('automation_success', 'automation_error', 'weekly_report', 'data_analysis_complete')
            """) == "automation_error,automation_success,data_analysis_complete,weekly_report")
        #expect(try db.scalar("SELECT to_regclass('llm_requests_time') IS NOT NULL") == "t")
    }

    @Test func theSeedsTemplatesAreTheSameAsInSQLiteAndARowOfThatNameIsKept() throws {
        guard let database = try PostgresServer.database() else { return }
        defer { database.drop() }
        let store = try PostgresStore.open(url: try PostgresURL(database.url))
        let db = store.connection
        try db.execute(PostgresSchema.migrations[0].sql)
        try db.run("INSERT INTO email_templates (name, subject, body_text) VALUES ('weekly_report', 'Mine', 'My text')")
        try db.execute(try #require(PostgresSchema.migrations.first { $0.version == 3 }).sql)
        let (sqlite, folder) = try Self.sqliteStore()
        defer { try? FileManager.default.removeItem(atPath: folder) }
        let names = "('automation_success', 'automation_error', 'data_analysis_complete')"
        #expect(Array(try db.query("SELECT name, subject, body_text, variables_json::text FROM email_templates WHERE name IN \(names) ORDER BY name"))
            == (try sqlite.rows("""
                SELECT name, subject, body_text, replace(variables_json, ',', ', ')
                FROM email_templates WHERE name IN \(names) ORDER BY name
                """).map { $0.map(Self.text) }))
        #expect(try db.scalar("SELECT subject FROM email_templates WHERE name = 'weekly_report'") == "Mine")
        #expect(try db.scalar("SELECT body_text FROM email_templates WHERE name = 'automation_error'")?.contains("\n\nFailed stages: ") == true)
    }
}
