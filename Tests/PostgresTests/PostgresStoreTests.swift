import Foundation
import Postgres
import Store
import TestSupport
import Testing

/// The marketplace store on a real PostgreSQL server: schema, migrations, loads, status.
@Suite struct PostgresStoreTests {
    @Test func migrationsCreateTheSameTablesAndColumnsAsSQLiteAndAreIdempotent() throws {
        guard let database = try PostgresServer.database() else { return }
        defer { database.drop() }
        let url = try PostgresURL(database.url)
        let store = try PostgresStore.open(url: url)
        #expect(try store.schemaVersion() == 0)
        #expect(try store.migrate() == PostgresSchema.migrations.map(\.version))
        #expect(try store.migrate() == [])
        // A second process migrating the same database applies nothing either.
        #expect(try PostgresStore.openMigrated(url: url).schemaVersion() == PostgresSchema.latestVersion)
        #expect(try store.connection.scalar("SELECT count(*) FROM schema_migrations") == "\(PostgresSchema.migrations.count)")

        let tables = try store.tableNames()
        #expect(tables == MarketplaceSchema.tableNames.sorted())
        for name in MarketplaceSchema.tableNames {
            let sqlite = try #require(StoreCatalog.marketplace[name])
            let postgres = try #require(try store.table(name))
            #expect(postgres.columns.map(\.name) == sqlite.columns.map(\.name), "columns of \(name)")
            #expect(Set(postgres.uniqueKeys.map { Set($0) }) == Set(sqlite.uniqueKeys.map { Set($0) }), "unique keys of \(name)")
        }
        // Seed rows, as in SQLite.
        #expect(try store.connection.scalar("SELECT count(*) FROM product_categories") == "5")
        // As SQLite's migration 4 leaves them: every provider of the catalogue on, the seeded settings gone.
        #expect(try store.connection.scalar("SELECT string_agg(provider, ',' ORDER BY provider) FROM llm_provider_status WHERE is_enabled")
            == "anthropic,groq,offline,ollama,openai,perplexity")
        #expect(try store.connection.scalar("SELECT body_text FROM email_templates WHERE name = 'order_shipped'")?
            .contains("\n\nYour order") == true)
        let status = try store.status()
        #expect(status.views == MarketplaceSchema.viewNames.sorted())
        #expect(status.pendingMigrations.isEmpty)
        #expect(status.tables.count == 24)
        #expect(status.tables.first { $0.name == "config_settings" }?.rows == StoreSettings.keys.count)
        #expect(status.tables.first { $0.name == "email_templates" }?.rows == 12)
        #expect(status.bytes > 0)
        #expect(!status.url.contains(url.password ?? "none"))
    }

    @Test func aNewerSchemaIsRefused() throws {
        guard let database = try PostgresServer.database() else { return }
        defer { database.drop() }
        let store = try PostgresStore.openMigrated(url: try PostgresURL(database.url))
        try store.connection.run("INSERT INTO schema_migrations (version, name) VALUES (999, 'from the future')")
        expectError(StoreError.schemaTooNew) { _ = try store.migrate() }
    }

    @Test func upsertInsertsThenWritesNothingThenUpdatesOneRow() throws {
        guard let database = try PostgresServer.database() else { return }
        defer { database.drop() }
        let store = try PostgresStore.openMigrated(url: try PostgresURL(database.url))
        let db = store.connection
        func product(_ i: Int, price: Int64) -> [(column: String, value: SQLValue)] {
            [("slug", .text("p-\(i)")), ("name", .text("Product \(i)")), ("price_cents", .integer(price)),
             ("is_active", .integer(1)), ("tags_json", .text("[\"a\",\"b\"]")), ("scraped_at", .text("2026-11-25T15:42:00.000Z")),
             ("sentiment_score", .real(0.25))]
        }
        func load(_ rows: [[(column: String, value: SQLValue)]], batchSize: Int = 7) throws -> TableLoader.Counts {
            try db.transaction {
                let loader = try PostgresTableLoader(connection: db, table: "products", keys: ["slug"], mode: .upsert,
                                                     batchSize: batchSize)
                for row in rows { try loader.write(row) }
                return try loader.finish()
            }
        }
        let rows = (0..<20).map { product($0, price: 100 + Int64($0)) }
        var counts = try load(rows)
        #expect(counts.inserted == 20 && counts.updated == 0 && counts.unchanged == 0)
        let xmin = try db.scalar("SELECT string_agg(xmin::text, ',' ORDER BY slug) FROM products")

        counts = try load(rows)
        #expect(counts.inserted == 0 && counts.updated == 0 && counts.unchanged == 20)
        // Nothing was written: no row has a new version.
        #expect(try db.scalar("SELECT string_agg(xmin::text, ',' ORDER BY slug) FROM products") == xmin)

        var changed = rows
        changed[3] = product(3, price: 999)
        let stampedBefore = try db.scalar("SELECT updated_at FROM products WHERE slug = 'p-3'")
        counts = try load(changed)
        #expect(counts.inserted == 0 && counts.updated == 1 && counts.unchanged == 19)
        #expect(try db.scalar("SELECT price_cents FROM products WHERE slug = 'p-3'") == "999")
        #expect(try db.scalar("SELECT is_active AND tags_json = '[\"a\", \"b\"]'::jsonb FROM products WHERE slug = 'p-3'") == "t")
        #expect(try db.scalar("SELECT updated_at FROM products WHERE slug = 'p-3'") != stampedBefore)

        // The same key twice in one load: the second write updates the first.
        counts = try load([product(50, price: 1), product(50, price: 2)], batchSize: 100)
        #expect(counts.inserted == 1 && counts.updated == 1)
        #expect(try db.scalar("SELECT price_cents FROM products WHERE slug = 'p-50'") == "2")
    }

    @Test func replaceDeletesWhatTheLoadDidNotWriteAndAppendInsertsAll() throws {
        guard let database = try PostgresServer.database() else { return }
        defer { database.drop() }
        let store = try PostgresStore.openMigrated(url: try PostgresURL(database.url))
        let db = store.connection
        let counts = try db.transaction {
            let loader = try PostgresTableLoader(connection: db, table: "product_categories", keys: ["slug"], mode: .replace)
            try loader.write([("slug", .text("books")), ("name", .text("Books"))])
            try loader.write([("slug", .text("toys")), ("name", .text("Toys"))])
            return try loader.finish()
        }
        #expect(counts.inserted == 1 && counts.unchanged == 1 && counts.deleted == 4)
        #expect(try db.scalar("SELECT string_agg(slug, ',' ORDER BY slug) FROM product_categories") == "books,toys")

        let appended = try db.transaction {
            let loader = try PostgresTableLoader(connection: db, table: "analytics_events", keys: [], mode: .append)
            for i in 0..<3 {
                try loader.write([("event_type", .text("view")), ("occurred_at", .text("2026-11-2\(i)T00:00:00Z"))])
            }
            return try loader.finish()
        }
        #expect(appended.inserted == 3)
        expectError(StoreError.invalidIdentifier) {
            _ = try PostgresTableLoader(connection: db, table: "products", keys: ["name"], mode: .upsert)
        }
        expectError(StoreError.notFound) {
            _ = try PostgresTableLoader(connection: db, table: "no_such_table", keys: ["x"], mode: .upsert)
        }
    }

    @Test func storeLocationFromOptionEnvironmentOrLake() throws {
        let env = ["AGENTSHOP_STORE_URL": "postgres://shop:${PW}@db/market", "PW": "secret-pass"]
        let fromEnv = try StoreLocation.resolve(nil, environment: env, defaultPath: "lake/store/agentshop.sqlite")
        #expect(fromEnv.postgresURL?.password == "secret-pass")
        #expect(fromEnv.description == "postgres://shop:***@db/market")
        let fromOption = try StoreLocation.resolve("other.sqlite", environment: env, defaultPath: "x")
        #expect(fromOption.description == "other.sqlite")
        #expect(try StoreLocation.resolve(nil, environment: [:], defaultPath: "lake/store.sqlite").description == "lake/store.sqlite")
        expectError(StoreError.open) { _ = try StoreLocation.resolve("postgres://u:${UNSET}@h/d", environment: [:], defaultPath: "x") }
    }
}

@Suite struct PostgresRefusedRowTests {
    @Test func aRefusedRowIsLeftOutAndReportedWhenAskedAndFailsTheLoadOtherwise() throws {
        guard let database = try PostgresServer.database() else { return }
        defer { database.drop() }
        let store = try PostgresStore.openMigrated(url: try PostgresURL(database.url))
        let db = store.connection
        func review(_ id: String, rating: Int64) -> [(column: String, value: SQLValue)] {
            [("external_id", .text(id)), ("product_id", .integer(1)), ("rating", .integer(rating))]
        }
        try db.run("INSERT INTO products (id, slug, name) VALUES (1, 'p', 'P')")
        var refused: [String] = []
        let counts = try db.transaction {
            let loader = try PostgresTableLoader(connection: db, table: "product_reviews", keys: ["external_id"], mode: .upsert)
            for (id, rating) in [("r1", 5), ("r2", 9), ("r3", 4)] as [(String, Int64)] {
                try loader.write(review(id, rating: rating), refused: { refused.append("\(id): \($0)") })
            }
            return try loader.finish()
        }
        #expect(counts.inserted == 2)
        #expect(refused.count == 1 && refused[0].hasPrefix("r2: ") && refused[0].contains("check constraint"))
        #expect(try db.scalar("SELECT string_agg(external_id, ',' ORDER BY external_id) FROM product_reviews") == "r1,r3")
        #expect(throws: PGError.self) {
            try db.transaction {
                let loader = try PostgresTableLoader(connection: db, table: "product_reviews", keys: ["external_id"], mode: .upsert)
                try loader.write(review("r4", rating: 0))
                try loader.finish()
            }
        }
        #expect(try db.scalar("SELECT count(*) FROM product_reviews") == "2")
    }
}
