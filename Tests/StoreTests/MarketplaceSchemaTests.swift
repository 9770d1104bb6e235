import Foundation
import Testing
import TestSupport
@testable import Store

@Suite struct MarketplaceSchemaTests {
    @Test func migrateCreatesTheTwentyFourTablesViewsAndSeeds() throws {
        let dir = try TemporaryDirectory()
        let store = try Store.open(path: dir.file("store/agentshop.sqlite"))
        #expect(try store.schemaVersion() == 0)
        #expect(try store.migrate() == MarketplaceSchema.migrations.map(\.version))
        #expect(try store.schemaVersion() == MarketplaceSchema.latestVersion)
        #expect(try store.tableNames() == MarketplaceSchema.tableNames.sorted())
        #expect(MarketplaceSchema.tableNames.count == 24)
        let status = try store.status()
        #expect(status.views == MarketplaceSchema.viewNames.sorted())
        #expect(status.pendingMigrations.isEmpty)
        let db = store.database
        #expect(try db.scalar("SELECT count(*) FROM product_categories")?.int64 == 5)
        // The LLM catalogue's providers, names and defaults (EndToEndTests compares them with `llm providers`).
        #expect(try db.rows("SELECT provider, is_enabled, default_model, base_url FROM llm_provider_status ORDER BY provider") == [
            [.text("anthropic"), .integer(1), .text("claude-haiku-4-5"), .text("https://api.anthropic.com")],
            [.text("groq"), .integer(1), .text("llama-3.1-8b-instant"), .text("https://api.groq.com/openai/v1")],
            [.text("offline"), .integer(1), .text("rules-v2"), .null],
            [.text("ollama"), .integer(1), .text("llama3.2"), .text("http://localhost:11434")],
            [.text("openai"), .integer(1), .text("gpt-4o-mini"), .text("https://api.openai.com/v1")],
            [.text("perplexity"), .integer(1), .text("sonar"), .text("https://api.perplexity.ai")],
        ])
        // The seeded settings are the ones AgentShop reads, without values; the original's others are gone.
        #expect(try db.rows("SELECT key, value FROM config_settings ORDER BY key")
            == StoreSettings.keys.map(\.key).sorted().map { [.text($0), .null] })
        #expect(try db.scalar("SELECT count(*) FROM admin_users")?.int64 == 0)
        #expect(try db.scalar("SELECT count(*) FROM email_templates WHERE name = 'pipeline_failure'")?.int64 == 1)
        #expect(try db.rows("PRAGMA foreign_key_check").isEmpty)
        // A second run has nothing to do.
        #expect(try store.migrate().isEmpty)
    }

    @Test func refusesAStoreWithANewerSchema() throws {
        let dir = try TemporaryDirectory()
        let store = try Store.openMigrated(path: dir.file("a.sqlite"))
        try store.database.setUserVersion(MarketplaceSchema.latestVersion + 1)
        expectStoreError(StoreError.schemaTooNew) { try store.migrate() }
    }

    @Test func foreignKeysAreEnforced() throws {
        let dir = try TemporaryDirectory()
        let store = try Store.openMigrated(path: dir.file("a.sqlite"))
        expectStoreError(StoreError.constraint) {
            try store.database.run("INSERT INTO product_reviews (product_id, rating) VALUES (999, 4)")
        }
    }

    @Test func moneyIsIntegerCentsAndOrderTotalsMustAddUp() throws {
        let dir = try TemporaryDirectory()
        let store = try Store.openMigrated(path: dir.file("a.sqlite"))
        expectStoreError(StoreError.constraint) {
            try store.database.run("INSERT INTO orders (order_number, subtotal_cents, total_cents) VALUES ('x', 100, 99)")
        }
        expectStoreError(StoreError.constraint) {
            try store.database.run("INSERT INTO products (slug, name, price_cents) VALUES ('p', 'P', -1)")
        }
    }

    @Test func updatedAtIsStampedUnlessTheUpdateSetsIt() throws {
        let dir = try TemporaryDirectory()
        let db = try Store.openMigrated(path: dir.file("a.sqlite")).database
        try db.run("INSERT INTO products (slug, name, updated_at) VALUES ('p', 'P', '2000-01-01T00:00:00.000Z')")
        try db.run("UPDATE products SET name = 'Q' WHERE slug = 'p'")
        let stamped = try db.scalar("SELECT updated_at FROM products")?.string ?? ""
        #expect(stamped > "2020")
        try db.run("UPDATE products SET name = 'R', updated_at = '2001-01-01T00:00:00.000Z' WHERE slug = 'p'")
        #expect(try db.scalar("SELECT updated_at FROM products")?.string == "2001-01-01T00:00:00.000Z")
    }

    @Test func viewsSummariseRatingsAndUsage() throws {
        let dir = try TemporaryDirectory()
        let store = try makePopulatedStore(at: dir.file("a.sqlite"))
        let row = try store.database.rows(
            "SELECT review_count, average_rating, rating_5, rating_3 FROM product_ratings_summary WHERE slug = 'product-0'")
        #expect(row == [[.integer(2), .real(4.0), .integer(1), .integer(1)]])
        let usage = try store.database.rows("SELECT provider, requests, input_tokens, cost_micro_usd FROM daily_llm_usage")
        #expect(usage == [[.text("ollama"), .integer(1), .integer(10), .integer(3)]])
    }

    @Test func catalogKnowsKeysForConflictTargets() throws {
        let products = try #require(StoreCatalog.marketplace["products"])
        #expect(products.uniqueKeys.contains(["slug"]))
        #expect(products.uniqueKeys.contains(["id"]))
        let usage = try #require(StoreCatalog.marketplace["llm_usage_stats"])
        #expect(usage.uniqueKeys.contains(["period_type", "period_start", "provider", "model"]))
    }
}
