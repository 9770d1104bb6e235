import Foundation
import Lake
import Testing
import TestSupport
@testable import Store

/// The seed's operating tables follow the recorded calls: `llm_usage_stats` in hour, day and month
/// buckets, `llm_provider_status` with the day's figures; migration 4 carries a version-3 store over.
@Suite struct OperatingTablesTests {
    let records = DerivedRecordsTests()

    @Test func usageStatsKeepHourDayAndMonthBuckets() throws {
        let dir = try TemporaryDirectory()
        let db = try Store.openMigrated(path: dir.file("store.sqlite")).database
        let run = records.manifest("r1", stages: [records.enrich([
            records.call("a", status: "success", at: "2026-11-18T10:05:00.000Z"),
            records.call("b", status: "error", tokensIn: 0, tokensOut: 0, cost: 0, at: "2026-11-18T10:59:59.999Z"),
            records.call("c", status: "success", at: "2026-11-18T11:00:00.000Z"),
            records.call("d", status: "cached", at: "2026-11-19T08:00:00.000Z"),
            records.call("e", status: "skipped_budget", at: "2026-11-19T08:00:00.000Z"),
            records.call("f", status: "success", at: "2026-12-01T00:00:00.000Z"),
        ])])
        for _ in 0..<2 { try RunRecords.record(run, in: db) }  // recording twice changes nothing
        #expect(try db.rows("""
            SELECT period_type, period_start, day, requests, cache_hits, errors, input_tokens, cost_micro_usd, avg_latency_ms
            FROM llm_usage_stats ORDER BY period_type, period_start
            """) == [
            [.text("day"), .text("2026-11-18T00:00:00.000Z"), .text("2026-11-18"), .integer(3), .integer(0), .integer(1), .integer(200), .integer(54), .integer(210)],
            [.text("day"), .text("2026-11-19T00:00:00.000Z"), .text("2026-11-19"), .integer(0), .integer(1), .integer(0), .integer(0), .integer(0), .null],
            [.text("day"), .text("2026-12-01T00:00:00.000Z"), .text("2026-12-01"), .integer(1), .integer(0), .integer(0), .integer(100), .integer(27), .integer(210)],
            [.text("hour"), .text("2026-11-18T10:00:00.000Z"), .text("2026-11-18"), .integer(2), .integer(0), .integer(1), .integer(100), .integer(27), .integer(210)],
            [.text("hour"), .text("2026-11-18T11:00:00.000Z"), .text("2026-11-18"), .integer(1), .integer(0), .integer(0), .integer(100), .integer(27), .integer(210)],
            [.text("hour"), .text("2026-11-19T08:00:00.000Z"), .text("2026-11-19"), .integer(0), .integer(1), .integer(0), .integer(0), .integer(0), .null],
            [.text("hour"), .text("2026-12-01T00:00:00.000Z"), .text("2026-12-01"), .integer(1), .integer(0), .integer(0), .integer(100), .integer(27), .integer(210)],
            [.text("month"), .text("2026-11-01T00:00:00.000Z"), .text("2026-11-01"), .integer(3), .integer(1), .integer(1), .integer(200), .integer(54), .integer(210)],
            [.text("month"), .text("2026-12-01T00:00:00.000Z"), .text("2026-12-01"), .integer(1), .integer(0), .integer(0), .integer(100), .integer(27), .integer(210)],
        ])
    }

    @Test func providerStatusFollowsTheCallsOfTheDay() throws {
        let dir = try TemporaryDirectory()
        let db = try Store.openMigrated(path: dir.file("store.sqlite")).database
        // The calls are up to 100 s before `now`: in the first minutes after midnight (UTC), `now` is moved
        // past them, so that they all fall on the day the figures are of.
        let midnight = Date(timeIntervalSince1970: (Date().timeIntervalSince1970 / 86_400).rounded(.down) * 86_400)
        let now = max(Date(), midnight.addingTimeInterval(120))
        let today = Timestamp.day(now)
        func at(_ seconds: Double) -> String { Timestamp.iso(now.addingTimeInterval(seconds)) }
        let run = records.manifest("r1", stages: [records.enrich([
            records.call("a", status: "success", cost: 0.001, at: at(-50)),
            records.call("b", status: "error", tokensIn: 0, tokensOut: 0, cost: 0, at: at(-40)),
            records.call("c", status: "error", tokensIn: 0, tokensOut: 0, cost: 0, at: at(-30)),
            records.call("d", status: "skipped_budget", at: at(-20)),
            records.call("e", provider: "groq", model: "llama-3.1-8b-instant", status: "success", cost: 0.002, at: at(-10)),
        ])])
        try RunRecords.record(run, in: db)
        let rows = try db.rows("""
            SELECT provider, stats_day, requests_today, errors_today, round(error_rate, 4), avg_latency_ms, cost_today_micro_usd,
                   consecutive_failures, status, last_error
            FROM llm_provider_status WHERE provider IN ('openai', 'groq', 'anthropic') ORDER BY provider
            """)
        #expect(rows == [
            [.text("anthropic"), .text(today), .integer(0), .integer(0), .null, .null, .integer(0), .integer(0), .text("unknown"), .null],
            [.text("groq"), .text(today), .integer(1), .integer(0), .real(0), .integer(210), .integer(2000), .integer(0), .text("healthy"), .null],
            [.text("openai"), .text(today), .integer(3), .integer(2), .real(0.6667), .integer(210), .integer(1000), .integer(2),
             .text("degraded"), .text("openai: rate limited (HTTP 429)")],
        ])
        // A health check newer than the last call decides the status; an older one does not.
        try LLMProviderStatusRecords.sync([
            .init(name: "openai", displayName: "OpenAI", baseURL: "https://api.openai.com/v1", defaultModel: "gpt-4o-mini",
                  enabled: false, health: .init(ok: true, checkedAt: at(5), detail: "3 models")),
            .init(name: "groq", displayName: "Groq", baseURL: "https://api.groq.com/openai/v1", defaultModel: "llama-3.1-8b-instant",
                  enabled: true, requestsPerMinute: 30, health: .init(ok: false, checkedAt: at(-100), detail: "timeout")),
        ], now: now, in: db)
        #expect(try db.rows("SELECT provider, is_enabled, status, requests_per_minute FROM llm_provider_status WHERE provider IN ('openai', 'groq') ORDER BY provider") == [
            [.text("groq"), .integer(1), .text("healthy"), .integer(30)],
            [.text("openai"), .integer(0), .text("healthy"), .null],
        ])
    }

    @Test func migrationFourCarriesAVersionThreeStoreOver() throws {
        let dir = try TemporaryDirectory()
        let path = dir.file("old.sqlite")
        try versionThreeStore(path)
        let store = try Store.open(path: path)
        let db = store.database
        #expect(try store.migrate() == [4, 5])
        #expect(try db.rows("SELECT period_type, period_start, requests, errors, cost_micro_usd FROM llm_usage_stats ORDER BY period_type, period_start") == [
            [.text("day"), .text("2026-11-18T00:00:00.000Z"), .integer(2), .integer(1), .integer(14)],
            [.text("hour"), .text("2026-11-18T10:00:00.000Z"), .integer(1), .integer(0), .integer(7)],
            [.text("hour"), .text("2026-11-18T12:00:00.000Z"), .integer(1), .integer(1), .integer(7)],
            [.text("month"), .text("2026-11-01T00:00:00.000Z"), .integer(2), .integer(1), .integer(14)],
        ])
        #expect(try db.rows("SELECT provider FROM llm_provider_status ORDER BY provider").map { $0[0] } == [
            .text("anthropic"), .text("groq"), .text("offline"), .text("ollama"), .text("openai"), .text("perplexity")])
        // A setting the user changed stays; the seeded ones nothing read are gone.
        #expect(try db.rows("SELECT key, value FROM config_settings WHERE value IS NOT NULL") == [[.text("site.name"), .text("My Shop")]])
        // The same objects as a store created at version 5.
        #expect(try KnownSchema.objects(in: db).map(\.name).sorted() == KnownSchema.objects(atVersion: 5).map(\.name).sorted())
    }

    /// A store as version 3 left it, with two calls recorded and the day row of them.
    func versionThreeStore(_ path: String) throws {
        let db = try Database(path: path)
        for migration in MarketplaceSchema.migrations where migration.version <= 3 {
            try db.execute(migration.sql)
            try db.setUserVersion(migration.version)
        }
        try db.run("UPDATE config_settings SET value = 'My Shop' WHERE key = 'site.name'")
        try db.run("""
            INSERT INTO llm_requests (request_key, provider, model, status, requested_at) VALUES
                ('k1', 'openai', 'm', 'success', '2026-11-18T10:05:00.000Z'), ('k2', 'openai', 'm', 'error', '2026-11-18T12:00:00.000Z')
            """)
        try db.run("""
            INSERT INTO llm_responses (request_id, input_tokens, output_tokens, cost_micro_usd, latency_ms)
            SELECT id, 10, 5, 7, 100 FROM llm_requests
            """)
        try db.run("INSERT INTO llm_usage_stats (day, provider, model, requests, errors, cost_micro_usd) VALUES ('2026-11-18', 'openai', 'm', 2, 1, 14)")
    }
}
