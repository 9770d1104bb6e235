import Foundation
import Lake
@testable import Store

/// Every row of every table (and the schema, user_version and sqlite_sequence), for comparisons.
func snapshot(of path: String) throws -> [String: [[SQLValue]]] {
    let db = try Database(path: path, mode: .readOnly)
    var out: [String: [[SQLValue]]] = [:]
    for table in try StoreCatalog.userTables(in: db) {
        out[table] = try db.rows("SELECT * FROM \(SQLLiteral.quoteName(table)) ORDER BY rowid")
    }
    out["<schema>"] = try db.rows("SELECT type, name, tbl_name, sql FROM sqlite_schema ORDER BY type, name")
    out["<user_version>"] = [[.integer(Int64(try db.userVersion()))]]
    if try db.scalar("SELECT 1 FROM sqlite_schema WHERE name = 'sqlite_sequence'") != nil {
        out["<sqlite_sequence>"] = try db.rows("SELECT name, seq FROM sqlite_sequence ORDER BY name")
    }
    return out
}

/// A migrated store with rows in many tables and awkward values.
func makePopulatedStore(at path: String, products: Int = 50) throws -> Store {
    let store = try Store.openMigrated(path: path)
    let db = store.database
    try db.transaction {
        try db.run("INSERT INTO customers (email, first_name, address_json) VALUES (?, ?, ?)",
                   [.text("ana@example.com"), .text("Ana 'quote' \"double\"\nnewline ünïcødé 🎉"), .text("{\"city\":\"Köln\"}")])
        let insert = try db.prepare("""
            INSERT INTO products (slug, name, description, category_id, price_cents, sentiment_score, tags_json)
            VALUES (?, ?, ?, ?, ?, ?, ?)
            """)
        for i in 0..<products {
            try insert.execute([.text("product-\(i)"), .text("Product \(i)"),
                                i % 3 == 0 ? .null : .text("line one\nline two; with semicolon; 'q' -- not a comment"),
                                .integer(Int64(i % 5 + 1)), .integer(Int64(i * 199)),
                                .real(Double(i) / 7.0), .text("[\"t\(i)\"]")])
        }
        try db.run("INSERT INTO product_reviews (product_id, rating, body) VALUES (1, 5, 'great'), (1, 3, NULL), (2, 1, 'bad')")
        try db.run("INSERT INTO orders (order_number, customer_id, subtotal_cents, tax_cents, total_cents) VALUES ('A-1', 1, 1000, 80, 1080)")
        try db.run("INSERT INTO order_items (order_id, product_id, product_name, quantity, unit_price_cents, total_cents) VALUES (1, 1, 'Product 0', 2, 500, 1000)")
        try db.run("INSERT INTO analytics_events (event_type, occurred_at, properties_json) VALUES ('view', '2026-11-25T10:00:00Z', '{}'), ('buy', '2026-11-25T10:01:00Z', NULL)")
        try db.run("DELETE FROM analytics_events WHERE event_type = 'buy'")  // sqlite_sequence stays at 2
        try db.run("INSERT INTO llm_requests (request_key, provider, model, status) VALUES ('k1', 'ollama', 'llama3.1', 'success')")
        try db.run("INSERT INTO llm_responses (request_id, content, input_tokens, output_tokens, cost_micro_usd) VALUES (1, 'ok', 10, 20, 3)")
        try db.run("INSERT INTO scraped_data (url, content_sha256, fetched_at, data_json) VALUES ('https://x.test/a', 'abc', '2026-11-25T00:00:00Z', '[1,2]')")
        // Values that test the SQL text: a blob, extreme integers and reals, NUL inside text.
        try db.run("INSERT INTO config_settings (key, value) VALUES ('blob', ?), ('big', ?), ('tiny', ?), ('nul', ?)",
                   [.blob([0, 1, 2, 255, 39]), .integer(Int64.min), .real(1e-300), .text("a\u{0}b")])
    }
    return store
}

import Testing

/// Expects `body` to throw a `StoreError` of `kind`'s kind; returns it for further checks.
@discardableResult
func expectStoreError(_ kind: StoreError, sourceLocation: SourceLocation = #_sourceLocation,
                      _ body: () throws -> Void) -> StoreError? {
    do {
        try body()
        Issue.record("expected a '\(kind.reason)' error, but nothing was thrown", sourceLocation: sourceLocation)
        return nil
    } catch {
        #expect(kind ~= error, "expected a '\(kind.reason)' error, got: \(error)", sourceLocation: sourceLocation)
        return error as? StoreError
    }
}
