import Foundation
import Lake
import Logging
import Pipeline
import Stages
import Testing
import TestSupport
@testable import Store

/// A lake in a temporary folder, a pipeline file in it, and a way to run that pipeline.
final class PipelineFixture {
    let folder: TemporaryDirectory
    let lake: Lake
    let registry = StageRegistry([MaterializeStage.kind, DumpStage.kind])

    init() throws {
        folder = try TemporaryDirectory()
        lake = Lake(root: folder.path + "/lake")
        try LakeLayout.create(at: lake)
    }

    func write(_ relative: String, _ text: String) throws {
        try AtomicFile.write(text, to: lake.root + "/" + relative)
    }

    func load(_ yaml: String) throws(PipelineValidationError) -> PipelineSpec {
        let file = folder.path + "/pipeline.yaml"
        try! AtomicFile.write(yaml, to: file)
        return try PipelineLoader(registry: registry, environment: PipelineEnvironment(variables: [:]), lake: lake)
            .load(file: file).0
    }

    /// Problems `validate` would print, as `line:col: key.path: message`.
    func problems(_ yaml: String) -> [String] {
        do {
            _ = try load(yaml)
            return []
        } catch {
            return error.diagnostics.map { "\($0.line):\($0.column): \($0.keyPath): \($0.message)" }
        }
    }

    func run(_ yaml: String, force: Bool = true) async throws -> RunManifest {
        let spec = try load(yaml)
        var options = RunOptions()
        options.force = force
        var logger = Logger(label: "test")
        logger.logLevel = .warning
        return await PipelineRunner(spec: spec, lake: lake, environment: PipelineEnvironment(variables: [:]),
                                    logger: logger, options: options).run()
    }

    func store() throws -> Database { try Database(path: lake.storePath, mode: .readOnly) }
}

// One test at a time: each run fsyncs outputs, stores and dumps, and on a 2-core machine the
// cooperative pool has two threads that other suites' time-limited tests need too.
@Suite(.serialized) struct MaterializeStageTests {
    static let pipeline = """
        pipeline: shop
        stages:
          store:
            materialize:
              from: raw_data/imports/products.jsonl
              table: products
              key: slug
              columns:
                slug: slug
                name: title
                price_cents: { from: offer.price, type: money }
                tags_json: tags
                scraped_at: { from: seen, type: datetime }
        """

    @Test func upsertCountsInsertedUpdatedAndUnchanged() async throws {
        let fixture = try PipelineFixture()
        try fixture.write("raw_data/imports/products.jsonl", """
            {"slug": "a", "title": "Alpha", "offer": {"price": "$1,299.99"}, "tags": ["x", "y"], "seen": "2026-11-25 10:00:00"}
            {"slug": "b", "title": "Beta", "offer": {"price": 12.5}, "tags": [], "seen": 1795000000}
            {"slug": "c", "title": "Gamma", "offer": {"price": "7,10 €"}, "seen": "2026-11-25T10:00:00+02:00"}

            """)
        let first = try await fixture.run(Self.pipeline)
        #expect(first.stages.first?.status == .ran, "\(first.stages.first?.error ?? "")")
        #expect(first.stages.first?.counts == ["records_in": 3, "inserted": 3, "updated": 0, "unchanged": 0, "rejected": 0])
        let db = try fixture.store()
        #expect(try db.rows("SELECT slug, name, price_cents, tags_json, scraped_at FROM products ORDER BY slug") == [
            [.text("a"), .text("Alpha"), .integer(129_999), .text("[\"x\",\"y\"]"), .text("2026-11-25T10:00:00.000Z")],
            [.text("b"), .text("Beta"), .integer(1250), .text("[]"), .text("2026-11-18T11:06:40.000Z")],
            [.text("c"), .text("Gamma"), .integer(710), .null, .text("2026-11-25T08:00:00.000Z")],
        ])
        let stampedBefore = try db.scalar("SELECT updated_at FROM products WHERE slug = 'a'")

        // b changes price, c is the same, d is new.
        try fixture.write("raw_data/imports/products.jsonl", """
            {"slug": "a", "title": "Alpha", "offer": {"price": "$1,299.99"}, "tags": ["x", "y"], "seen": "2026-11-25 10:00:00"}
            {"slug": "b", "title": "Beta", "offer": {"price": 11}, "tags": [], "seen": 1795000000}
            {"slug": "c", "title": "Gamma", "offer": {"price": "7,10 €"}, "seen": "2026-11-25T10:00:00+02:00"}
            {"slug": "d", "title": "Delta", "offer": {"price": 0.1}, "seen": "2026-11-26"}
            """)
        let second = try await fixture.run(Self.pipeline)
        #expect(second.stages.first?.counts == ["records_in": 4, "inserted": 1, "updated": 1, "unchanged": 2, "rejected": 0])
        #expect(try db.scalar("SELECT price_cents FROM products WHERE slug = 'b'") == .integer(1100))
        #expect(try db.scalar("SELECT price_cents FROM products WHERE slug = 'd'") == .integer(10))
        // An unchanged row keeps its updated_at: no update happened.
        #expect(try db.scalar("SELECT updated_at FROM products WHERE slug = 'a'") == stampedBefore)
    }

    @Test func withoutColumnsFieldsLoadByNameMoneyAndJSONBySuffix() async throws {
        let fixture = try PipelineFixture()
        // The DESIGN.md sketch: `materialize: { from: enriched, table: products, key: slug }`.
        try fixture.write("raw_data/imports/enriched.jsonl", """
            {"id": "src-991", "slug": "lamp", "name": "Lamp", "price": "19.99", "tags": ["home"], "sentiment": "positive", "unknown": 1}
            """)
        let run = try await fixture.run("""
            pipeline: shop
            stages:
              store:
                materialize: { from: raw_data/imports/enriched.jsonl, table: products, key: slug }
            """)
        #expect(run.stages.first?.status == .ran, "\(run.stages.first?.error ?? "")")
        #expect(try fixture.store().rows("SELECT id, slug, name, price_cents, tags_json, sentiment FROM products")
                == [[.integer(1), .text("lamp"), .text("Lamp"), .integer(1999), .text("[\"home\"]"), .text("positive")]])
    }

    @Test func rebuildFromTheLakeEqualsTheIncrementallyBuiltStore() async throws {
        let yaml = """
            pipeline: shop
            stages:
              store:
                materialize:
                  from: raw_data/imports/dt=*/products.jsonl
                  table: products
                  key: slug
                  columns: { slug: slug, name: title, price_cents: { from: price, type: money } }
            """
        let day1 = """
            {"slug": "a", "title": "Alpha", "price": 1}
            {"slug": "b", "title": "Beta", "price": 2}
            """
        let day2 = """
            {"slug": "b", "title": "Beta v2", "price": 2.5}
            {"slug": "c", "title": "Gamma", "price": 3}
            """
        let incremental = try PipelineFixture()
        try incremental.write("raw_data/imports/dt=2026-11-24/products.jsonl", day1)
        _ = try await incremental.run(yaml, force: false)
        try incremental.write("raw_data/imports/dt=2026-11-25/products.jsonl", day2)
        let second = try await incremental.run(yaml, force: false)
        #expect(second.stages.first?.status == .ran)

        let rebuilt = try PipelineFixture()
        try rebuilt.write("raw_data/imports/dt=2026-11-24/products.jsonl", day1)
        try rebuilt.write("raw_data/imports/dt=2026-11-25/products.jsonl", day2)
        _ = try await rebuilt.run(yaml, force: false)

        // Everything but the wall-clock stamps.
        let columns = try #require(StoreCatalog.marketplace["products"]).columns.map(\.name)
            .filter { $0 != "created_at" && $0 != "updated_at" }.map(SQLLiteral.quoteName).joined(separator: ", ")
        let query = "SELECT \(columns) FROM products ORDER BY id"
        let expected = try incremental.store().rows(query)
        #expect(expected.count == 3)
        #expect(try rebuilt.store().rows(query) == expected)
    }

    @Test func replaceDeletesRowsTheDatasetNoLongerHolds() async throws {
        let fixture = try PipelineFixture()
        let yaml = """
            pipeline: shop
            stages:
              store:
                materialize: { from: raw_data/imports/cats.csv, table: product_categories, key: slug, mode: replace }
            """
        try fixture.write("raw_data/imports/cats.csv", "slug,name,sort_order\nelectronics,Electronics,1\ntoys,Toys,9\n")
        let run = try await fixture.run(yaml)
        #expect(run.stages.first?.status == .ran, "\(run.stages.first?.error ?? "")")
        // The seeds had 5 categories: electronics is unchanged, toys is new, the other 4 are deleted.
        #expect(run.stages.first?.counts["inserted"] == 1)
        #expect(run.stages.first?.counts["unchanged"] == 1)
        #expect(run.stages.first?.counts["deleted"] == 4)
        #expect(try fixture.store().rows("SELECT slug, sort_order FROM product_categories ORDER BY slug")
                == [[.text("electronics"), .integer(1)], [.text("toys"), .integer(9)]])
    }

    @Test func appendInsertsAndAKeyConflictFailsTheWholeLoad() async throws {
        let fixture = try PipelineFixture()
        let yaml = """
            pipeline: shop
            stages:
              events:
                materialize: { from: raw_data/imports/events.jsonl, table: analytics_events, mode: append }
            """
        try fixture.write("raw_data/imports/events.jsonl", """
            {"event_type": "view", "occurred_at": "2026-11-25T10:00:00Z", "properties_json": {"page": "/"}}
            {"event_type": "buy", "occurred_at": "2026-11-25T10:05:00Z"}
            """)
        let run = try await fixture.run(yaml)
        #expect(run.stages.first?.counts["inserted"] == 2)
        #expect(try fixture.store().rows("SELECT event_type, properties_json FROM analytics_events ORDER BY id")
                == [[.text("view"), .text("{\"page\":\"/\"}")], [.text("buy"), .null]])

        // A unique slug that is already there: the load fails at that line, and nothing of it stays.
        try fixture.write("raw_data/imports/cats.jsonl", """
            {"slug": "toys", "name": "Toys"}
            {"slug": "electronics", "name": "Again"}
            """)
        let failed = try await fixture.run("""
            pipeline: shop
            stages:
              cats:
                materialize: { from: raw_data/imports/cats.jsonl, table: product_categories, mode: append }
            """)
        #expect(failed.stages.first?.status == .failed)
        #expect(failed.stages.first?.error?.contains("raw_data/imports/cats.jsonl:2") == true, "\(failed.stages.first?.error ?? "")")
        #expect(failed.stages.first?.error?.contains("UNIQUE constraint failed: product_categories.slug") == true)
        // One transaction: the first line of the failed load is not visible either.
        #expect(try fixture.store().scalar("SELECT count(*) FROM product_categories WHERE slug = 'toys'") == .integer(0))
    }

    @Test func invalidRecordsFailWithFileAndLineOrGoToRejects() async throws {
        let fixture = try PipelineFixture()
        try fixture.write("raw_data/imports/products.jsonl", """
            {"slug": "a", "title": "Alpha", "offer": {"price": "12.00"}}
            {"slug": "b", "title": "Beta", "offer": {"price": "call us"}}
            {"title": "No slug", "offer": {"price": 1}}
            """)
        let failed = try await fixture.run(Self.pipeline)
        #expect(failed.stages.first?.status == .failed)
        #expect(failed.stages.first?.error?.contains("raw_data/imports/products.jsonl:2: column 'price_cents'") == true,
                "\(failed.stages.first?.error ?? "")")
        #expect(try fixture.store().scalar("SELECT count(*) FROM products") == .integer(0))

        let skipping = Self.pipeline + "\n      on_invalid: skip\n"
        let run = try await fixture.run(skipping)
        #expect(run.stages.first?.status == .ran, "\(run.stages.first?.error ?? "")")
        #expect(run.stages.first?.counts["inserted"] == 1)
        #expect(run.stages.first?.counts["rejected"] == 2)
        let rejects = try fixture.lake.glob("raw_data/logs/shop/*.rejects.jsonl")
        #expect(rejects.count == 1)
        let lines = try String(contentsOfFile: rejects[0].absolute, encoding: .utf8).split(separator: "\n")
        #expect(lines.count == 2)
        #expect(lines[1].contains("no field 'slug' for key column 'slug'"))
    }

    @Test func configurationProblemsPointAtTheirLines() throws {
        let fixture = try PipelineFixture()
        try fixture.write("raw_data/imports/p.jsonl", "{}\n")
        let problems = fixture.problems("""
            pipeline: shop
            stages:
              a:
                materialize:
                  from: raw_data/imports/p.jsonl
                  table: prodcts
                  key: slug
              b:
                materialize:
                  from: raw_data/imports/p.jsonl
                  table: "products; DROP TABLE products"
                  key: slug
              c:
                materialize:
                  from: raw_data/imports/p.jsonl
                  table: products
                  key: name
                  mode: merge
                  columns:
                    nme: title
                    price_cents: { from: price, type: dollars }
                  extra: 1
            """)
        #expect(problems.contains("6:14: stages.a.materialize.table: no table 'prodcts' in the store (did you mean 'products'?); to load a table of your own, add create: true"))
        #expect(problems.contains { $0.hasPrefix("11:14: stages.b.materialize.table: 'products; DROP TABLE products' is not a valid table name") })
        #expect(problems.contains { $0.hasPrefix("17:12: stages.c.materialize.key: (name) is not a unique key of 'products'") })
        #expect(problems.contains { $0.hasPrefix("18:13: stages.c.materialize.mode: expected one of upsert, replace, append") })
        #expect(problems.contains("20:14: stages.c.materialize.columns.nme: table 'products' has no column 'nme' (did you mean 'name'?)"))
        #expect(problems.contains { $0.hasPrefix("21:43: stages.c.materialize.columns.price_cents.type: expected one of auto") })
        #expect(problems.contains { $0.hasPrefix("22:7: stages.c.materialize.extra: unknown key 'extra'") })
        #expect(problems.count == 7, "\(problems)")
    }

    /// The marketplace flow's relations: categories under their breadcrumb parent, products linked
    /// to their category and reviews to their product, each by the other table's unique key.
    @Test func referencesLinkRowsByTheOtherTablesKey() async throws {
        let fixture = try PipelineFixture()
        try fixture.write("raw_data/imports/products.jsonl", """
            {"slug": "p1", "name": "Kettle", "category": "Kitchen", "parent": "Home & Garden", "price": "$12.50"}
            {"slug": "p2", "name": "Speaker", "category": "Audio", "parent": "Électronics", "price": 30}
            {"slug": "p3", "name": "Stapler", "category": "Office", "price": 4}
            """)
        try fixture.write("raw_data/imports/reviews.jsonl", """
            {"id": "r1", "product": "p1", "stars": 5, "text": "great"}
            {"id": "r2", "product": "p1", "stars": 2, "text": "meh"}
            {"id": "r3", "product": "p9", "stars": 4, "text": "no such product"}
            """)
        let yaml = """
            pipeline: shop
            stages:
              parents:
                materialize:
                  from: raw_data/imports/products.jsonl
                  table: product_categories
                  key: slug
                  where: "parent is not null"
                  columns: { slug: { from: parent, type: slug }, name: parent }
              categories:
                materialize:
                  from: raw_data/imports/products.jsonl
                  table: product_categories
                  key: slug
                  columns: { slug: { from: category, type: slug }, name: category }
                  references:
                    parent_id: { table: product_categories, key: slug, from: parent, type: slug }
                after: [parents]
              products:
                materialize:
                  from: raw_data/imports/products.jsonl
                  table: products
                  key: slug
                  columns: { slug: slug, name: name, price_cents: { from: price, type: money } }
                  references:
                    category_id: { table: product_categories, key: slug, type: slug }
                after: [categories]
              reviews:
                materialize:
                  from: raw_data/imports/reviews.jsonl
                  table: product_reviews
                  key: external_id
                  on_invalid: skip
                  columns: { external_id: id, rating: stars, body: text }
                  references:
                    product_id: { table: products, key: slug, from: product }
                after: [products]
            """
        let run = try await fixture.run(yaml)
        let byName = Dictionary(uniqueKeysWithValues: run.stages.map { ($0.name, $0) })
        #expect(run.status == .succeeded, "\(run.stages.compactMap(\.error))")
        // 'home-garden' is a seeded category: the breadcrumb's parent is that row, not a second one.
        #expect(byName["parents"]?.counts == ["records_in": 3, "inserted": 0, "updated": 1, "unchanged": 1, "rejected": 0,
                                              "filtered_out": 1])
        #expect(byName["reviews"]?.counts["inserted"] == 2)
        #expect(byName["reviews"]?.counts["rejected"] == 1)
        let db = try fixture.store()
        #expect(try db.rows("""
            SELECT p.slug, c.slug, parent.slug FROM products p JOIN product_categories c ON c.id = p.category_id
            LEFT JOIN product_categories parent ON parent.id = c.parent_id ORDER BY p.slug
            """) == [
                [.text("p1"), .text("kitchen"), .text("home-garden")],
                [.text("p2"), .text("audio"), .text("electronics")],
                [.text("p3"), .text("office"), .null],
            ])
        #expect(try db.rows("SELECT r.external_id, p.slug FROM product_reviews r JOIN products p ON p.id = r.product_id ORDER BY 1")
                == [[.text("r1"), .text("p1")], [.text("r2"), .text("p1")]])
        let rejects = try String(contentsOfFile: fixture.lake.root + "/raw_data/logs/shop/" + run.runID + ".reviews.rejects.jsonl",
                                 encoding: .utf8)
        #expect(rejects.contains("references.product_id: no row of 'products' with slug = 'p9' (from field 'product')"))

        // Rerun with nothing changed: nothing is written; a changed price updates one row.
        let again = try await fixture.run(yaml)
        for stage in again.stages {
            #expect(stage.counts["inserted"] == 0 && stage.counts["updated"] == 0, "\(stage.name): \(stage.counts)")
        }
        try fixture.write("raw_data/imports/products.jsonl", """
            {"slug": "p1", "name": "Kettle", "category": "Kitchen", "parent": "Home & Garden", "price": "$12.99"}
            {"slug": "p2", "name": "Speaker", "category": "Audio", "parent": "Électronics", "price": 30}
            {"slug": "p3", "name": "Stapler", "category": "Office", "price": 4}
            """)
        let changed = try await fixture.run(yaml)
        #expect(changed.stages.first { $0.name == "products" }?.counts["updated"] == 1)
        #expect(changed.stages.filter { $0.name != "products" }.allSatisfy { $0.counts["updated"] == 0 })
        #expect(try db.scalar("SELECT price_cents FROM products WHERE slug = 'p1'") == .integer(1299))
    }

    /// `create: true`: a table of the user's own, made from the records like sqlite-utils insert,
    /// widened when a later load brings a new field.
    @Test func createMakesAndWidensATableOfTheUsersOwn() async throws {
        let fixture = try PipelineFixture()
        let yaml = """
            pipeline: shop
            stages:
              prices:
                materialize: { from: raw_data/imports/prices.jsonl, table: competitor_prices, key: [shop, sku], create: true }
            """
        try fixture.write("raw_data/imports/prices.jsonl", """
            {"shop": "a", "sku": "X1", "price": 10, "seen": {"when": "today"}}
            {"shop": "b", "sku": "X1", "price": 9.5, "in_stock": true}
            """)
        let first = try await fixture.run(yaml)
        #expect(first.status == .succeeded, "\(first.stages.compactMap(\.error))")
        #expect(first.stages.first?.counts["inserted"] == 2)
        let db = try fixture.store()
        #expect(try db.rows("SELECT name, type FROM pragma_table_info('competitor_prices') ORDER BY cid") == [
            [.text("shop"), .text("TEXT")], [.text("sku"), .text("TEXT")], [.text("price"), .text("REAL")],
            [.text("seen"), .text("TEXT")], [.text("in_stock"), .text("INTEGER")],
        ])
        #expect(try StoreCatalog.table("competitor_prices", in: db)?.uniqueKeys.contains(["shop", "sku"]) == true)

        try fixture.write("raw_data/imports/prices.jsonl", """
            {"shop": "a", "sku": "X1", "price": 11, "seen": {"when": "today"}, "url": "https://a.example/x1"}
            """)
        let second = try await fixture.run(yaml)
        #expect(second.stages.first?.counts["updated"] == 1)
        #expect(try db.rows("SELECT price, url FROM competitor_prices WHERE shop = 'a'") == [[.real(11), .text("https://a.example/x1")]])

        // Declared columns: the type follows the column's `type:`, even when every value is null.
        let declared = try await fixture.run("""
            pipeline: shop
            stages:
              seen:
                materialize:
                  from: raw_data/imports/prices.jsonl
                  table: price_checks
                  key: sku
                  create: true
                  columns: { sku: sku, cents: { from: price, type: money }, checked: { from: nowhere, type: datetime } }
            """)
        #expect(declared.status == .succeeded, "\(declared.stages.compactMap(\.error))")
        #expect(try db.rows("SELECT name, type FROM pragma_table_info('price_checks') ORDER BY cid") == [
            [.text("sku"), .text("TEXT")], [.text("cents"), .text("INTEGER")], [.text("checked"), .text("TEXT")],
        ])
        #expect(try db.rows("SELECT sku, cents, checked FROM price_checks") == [[.text("X1"), .integer(1100), .null]])
    }

    @Test func referencesCreateAndWhereAreCheckedAtTheirPositions() throws {
        let fixture = try PipelineFixture()
        try fixture.write("raw_data/imports/x.jsonl", "{}\n")
        let problems = fixture.problems("""
            pipeline: shop
            stages:
              a:
                materialize:
                  from: raw_data/imports/x.jsonl
                  table: products
                  key: slug
                  create: true
                  where: "price >"
                  references:
                    category_id: { table: product_categories, key: name, from: category }
                    brand_id: { table: product_categories, key: slug }
                    parent: { table: nowhere_known, key: slug, from: x, missing: maybe }
              b:
                materialize: { from: raw_data/imports/x.jsonl, table: my_table, key: slug }
              c:
                materialize: { from: raw_data/imports/x.jsonl, table: Product_Ratings_Summary, create: true, mode: append }
            """)
        func has(_ line: Int, _ text: String) -> Bool { problems.contains { $0.hasPrefix("\(line):") && $0.contains(text) } }
        #expect(has(8, "stages.a.materialize.create: 'products' is a table of the marketplace schema; create: true is for a table of your own"),
                "\(problems)")
        #expect(has(9, "stages.a.materialize.where: "))
        #expect(has(11, "stages.a.materialize.references.category_id.key: 'name' is not a unique column of 'product_categories'"))
        #expect(has(12, "stages.a.materialize.references.brand_id: table 'products' has no column 'brand_id'"))
        #expect(has(13, "stages.a.materialize.references.parent: table 'products' has no column 'parent'"))
        #expect(has(15, "stages.b.materialize.table: no table 'my_table' in the store; to load a table of your own, add create: true"))
        #expect(has(17, "stages.c.materialize.table: 'Product_Ratings_Summary' is a view of the marketplace schema"))
        #expect(problems.count == 7, "\(problems)")
    }

    @Test func dumpStageWritesAVerifiedDumpAndAppliesRetention() async throws {
        let fixture = try PipelineFixture()
        try fixture.write("raw_data/imports/products.jsonl", "{\"slug\": \"a\", \"title\": \"A\", \"offer\": {\"price\": 1}}\n")
        let catalog = DumpCatalog(lake: fixture.lake)
        // An expired daily dump from long ago, and a newer one that retention keeps.
        for days in [400.0, 1.0] {
            let old = catalog.folder(.daily) + "/" + StoreDumper.baseName(for: Date().addingTimeInterval(-days * 86_400)) + ".sqlite.gz"
            try AtomicFile.write("old", to: old)
        }
        let yaml = Self.pipeline + """

              backup:
                dump: { after: store, to: db_dumps/daily, format: both, retention: { daily: 30d, weekly: 8w } }
            """
        let run = try await fixture.run(yaml)
        let backup = try #require(run.stages.first { $0.name == "backup" })
        #expect(backup.status == .ran, "\(backup.error ?? "")")
        #expect(backup.counts["dumps"] == 2)
        #expect(backup.counts["expired"] == 1)
        let entries = catalog.entries().filter { catalog.verify($0) == .ok }
        #expect(Set(entries.map(\.format)) == [.sqlite, .sql])
        let sidecar = try DumpSidecar.read(path: entries[0].sidecarPath)
        #expect(sidecar.tables["products"] == 1)
        #expect(catalog.entries().count == 3)
    }

    @Test func dumpStageConfigurationIsChecked() throws {
        let fixture = try PipelineFixture()
        let problems = fixture.problems("""
            pipeline: shop
            stages:
              backup:
                dump: { to: hourly, format: [sqlite, zip], retention: { daily: 2h } }
            """)
        #expect(problems.contains { $0.contains("stages.backup.dump.to: expected daily, weekly or manual") })
        #expect(problems.contains { $0.contains("stages.backup.dump.format: expected sqlite, sql or both, found 'zip'") })
        #expect(problems.contains { $0.contains("stages.backup.dump.retention.daily: keep daily dumps at least 1d") })
    }
}
