import Foundation
import TestSupport
import Testing
@testable import Store

/// The keys migration 5 seeds are the ones `StoreSettings` reads; each gives its variable once it has a value.
@Suite struct StoreSettingsTests {
    @Test func seededKeysGiveTheirVariablesOnceSet() throws {
        let dir = try TemporaryDirectory()
        let path = dir.file("store/agentshop.sqlite")
        // No store yet: nothing, and nothing is created.
        #expect(try StoreSettings.variables(at: .sqlite(path: path)) == [:])
        #expect(!FileManager.default.fileExists(atPath: path))

        let store = try Store.open(path: path)
        try store.migrate()
        let db = store.database
        #expect(try db.rows("SELECT key FROM config_settings ORDER BY key").map { $0[0].string } == StoreSettings.keys.map(\.key).sorted())
        // Seeded without values: no variable.
        #expect(try StoreSettings.variables(in: db) == [:])

        try db.run("UPDATE config_settings SET value = ' anthropic,offline ' WHERE key = 'llm.default_provider'")
        try db.run("UPDATE config_settings SET value = '2.5' WHERE key = 'llm.daily_cost_limit_usd'")
        try db.run("UPDATE config_settings SET value = '' WHERE key = 'site.admin_email'")
        // A key of the user's own is not a setting of AgentShop's.
        try db.run("INSERT INTO config_settings (key, value) VALUES ('my.tool.color', 'blue')")
        let expected = ["AGENTSHOP_LLM_PROVIDER": "anthropic,offline", "LLM_COST_LIMIT_DAILY": "2.5"]
        #expect(try StoreSettings.variables(in: db) == expected)
        #expect(try StoreSettings.variables(at: .sqlite(path: path)) == expected)

        try db.run("UPDATE config_settings SET value = 'ops@example.com' WHERE key = 'site.admin_email'")
        #expect(try StoreSettings.variables(in: db)["NOTIFICATION_EMAIL_TO"] == "ops@example.com")
    }

    /// A key a user set before migration 5 keeps its value.
    @Test func migrationFiveKeepsAValueAlreadySet() throws {
        let dir = try TemporaryDirectory()
        let db = try Database(path: dir.file("agentshop.sqlite"))
        for migration in MarketplaceSchema.migrations where migration.version <= 4 {
            try db.execute(migration.sql)
            try db.setUserVersion(migration.version)
        }
        try db.run("INSERT INTO config_settings (key, value) VALUES ('site.admin_email', 'me@example.com')")
        try db.execute(MarketplaceSchema.migrations.first { $0.version == 5 }!.sql)
        #expect(try db.rows("SELECT key, value FROM config_settings WHERE value IS NOT NULL") == [[.text("site.admin_email"), .text("me@example.com")]])
        #expect(try db.scalar("SELECT count(*) FROM config_settings")?.int64 == Int64(StoreSettings.keys.count))
    }
}
