import Foundation
import Store
import Testing

/// `agentshop db rebuild` against the store the runs built incrementally.
@Suite struct RebuildTests {
    static let pipeline = """
    pipeline: shop
    stages:
      products:
        import: { from: raw_data/imports/products.csv, infer_types: true }
        out: scraped_data/products/dt={run_date}/products.jsonl.gz
      store:
        materialize:
          from: products
          table: products
          key: slug
          columns: { slug: slug, name: name, price_cents: { from: price, type: money } }
    """

    /// The lake-derived tables without their clocks, in key order.
    static func derived(_ path: String) throws -> [String: [[SQLValue]]] {
        let db = try Database(path: path, mode: .readOnly)
        return [
            "products": try db.rows("SELECT id, slug, name, price_cents FROM products ORDER BY slug"),
            "tasks": try db.rows("""
                SELECT task_key, pipeline, stage, run_id, kind, status, records_in, records_out, started_at,
                       finished_at, duration_ms, error, details_json
                FROM data_processing_tasks ORDER BY task_key
                """),
            "kept": try db.rows("SELECT c.email, o.order_number, i.product_id FROM customers c JOIN orders o ON o.customer_id = c.id JOIN order_items i ON i.order_id = o.id"),
        ]
    }

    func makeProject() throws -> Project {
        let project = try Project()
        #expect(try project.run(["init"]).status == 0)
        #expect(try project.run(["db", "init"]).status == 0)
        try project.write("pipelines/shop.yaml", Self.pipeline)
        try project.write("datalake/raw_data/imports/products.csv", "slug,name,price\na,Red shoe,10\nb,Blue shoe,20\nc,Cook book,5.5\n")
        #expect(try project.runPipeline("shop", ["--date", "2026-11-01"]).0.status == 0)
        // A second day: b changes, c is gone from the feed (it stays in the store), d is new.
        try project.write("datalake/raw_data/imports/products.csv", "slug,name,price\na,Red shoe,10\nb,Blue shoe,18\nd,Desk lamp,30\n")
        #expect(try project.runPipeline("shop", ["--date", "2026-11-02"]).0.status == 0)
        // Rows the lake does not hold: a customer's order of product c.
        let db = try Database(path: project.lake + "/store/agentshop.sqlite")
        try db.execute("""
            INSERT INTO customers (email, first_name) VALUES ('ana@example.com', 'Ana');
            INSERT INTO orders (order_number, customer_id, status, subtotal_cents, total_cents) VALUES ('A-1', 1, 'pending', 550, 550);
            INSERT INTO order_items (order_id, product_id, product_name, quantity, unit_price_cents, total_cents)
                SELECT 1, id, name, 1, 550, 550 FROM products WHERE slug = 'c';
            """)
        return project
    }

    @Test func rebuildEqualsTheIncrementallyBuiltStoreAndKeepsOtherTables() throws {
        let project = try makeProject()
        let store = project.lake + "/store/agentshop.sqlite"
        let incremental = try Self.derived(store)
        #expect(incremental["products"]?.count == 4)
        #expect(incremental["tasks"]?.count == 2)  // one row per stage, holding the second run
        #expect(incremental["kept"]?.count == 1)

        let result = try project.run(["db", "rebuild"])
        #expect(result.status == 0, "\(result.stderr)")
        #expect(result.stdout.contains("2 run manifests"), "\(result.stdout)")
        #expect(result.stdout.contains("2 loads replayed"), "\(result.stdout)")
        #expect(try Self.derived(store) == incremental)
        #expect(project.exists("datalake/store/agentshop.sqlite.pre-rebuild"))
        #expect(project.temporaryFiles().isEmpty)
        // The rebuilt store is a whole, normal store: the next run is recorded as usual.
        #expect(try project.runPipeline("shop", ["--date", "2026-11-03", "--force"]).0.status == 0)
        #expect(try Database(path: store, mode: .readOnly).scalar("SELECT run_id FROM data_processing_tasks WHERE stage = 'store'")
                != incremental["tasks"]?.first?[3])
    }

    @Test func aRebuildThatWouldBreakOrdersIsRefusedAndChangesNothing() throws {
        let project = try makeProject()
        let store = project.lake + "/store/agentshop.sqlite"
        // The first day's partition is lost: product c, which an order points at, cannot come back.
        try FileManager.default.removeItem(atPath: project.lake + "/scraped_data/products/dt=2026-11-01/products.jsonl.gz")
        let before = try Self.derived(store)
        let bytes = try Data(contentsOf: URL(fileURLWithPath: store))

        let result = try project.run(["db", "rebuild", "--allow-missing"])
        #expect(result.status == 1)
        #expect(result.stderr.contains("warning: run ") && result.stderr.contains("dt=2026-11-01/products.jsonl.gz is missing"),
                "\(result.stderr)")
        #expect(result.stderr.contains("repoint 1 references from tables that were kept (order_items.product_id = 3 → products slug 'c')"), "\(result.stderr)")
        #expect(result.stderr.contains("live store is unchanged"), "\(result.stderr)")
        #expect(try Self.derived(store) == before)
        #expect(try Data(contentsOf: URL(fileURLWithPath: store)) == bytes)
        #expect(!project.exists("datalake/store/agentshop.sqlite.pre-rebuild"))
        #expect(project.temporaryFiles().isEmpty)
    }

    /// The manifests of a project's runs, oldest first: (run id, pipeline).
    static func runIDs(_ project: Project) throws -> [String] {
        let result = try project.run(["runs", "--json"])
        let runs = (try? JSONSerialization.jsonObject(with: Data(result.stdout.utf8))) as? [[String: Any]] ?? []
        return runs.compactMap { $0["run_id"] as? String }.sorted()
    }

    @Test func aMissingInputStopsTheRebuildNamesItAndChangesNothing() throws {
        let project = try makeProject()
        let store = project.lake + "/store/agentshop.sqlite"
        try FileManager.default.removeItem(atPath: project.lake + "/scraped_data/products/dt=2026-11-02/products.jsonl.gz")
        let bytes = try Data(contentsOf: URL(fileURLWithPath: store))

        let result = try project.run(["db", "rebuild"])
        #expect(result.status == 1, "\(result.stdout)")
        #expect(result.stderr.contains("cannot rebuild the store: 1 of the inputs the runs read is missing or changed"), "\(result.stderr)")
        #expect(result.stderr.contains(", stage store: scraped_data/products/dt=2026-11-02/products.jsonl.gz is missing"), "\(result.stderr)")
        #expect(result.stderr.contains("live store is unchanged"))
        #expect(try Data(contentsOf: URL(fileURLWithPath: store)) == bytes)
        #expect(!project.exists("datalake/store/agentshop.sqlite.pre-rebuild"))
        #expect(project.temporaryFiles().isEmpty)
    }

    /// The reported case: a second run of the same day overwrote the day's partition with fewer rows;
    /// a rebuild from it would drop b and c and give d another id. It stops and says which file changed.
    @Test func aSameDayPartitionOverwrittenSinceStopsTheRebuild() throws {
        let project = try makeProject()
        let store = project.lake + "/store/agentshop.sqlite"
        try project.write("datalake/raw_data/imports/products.csv", "slug,name,price\na,Red shoe,10\n")
        #expect(try project.runPipeline("shop", ["--date", "2026-11-01"]).0.status == 0)
        let before = try Self.derived(store)
        #expect(before["products"]?.count == 4)

        let result = try project.run(["db", "rebuild"])
        #expect(result.status == 1, "\(result.stdout)")
        #expect(result.stderr.contains("dt=2026-11-01/products.jsonl.gz has changed since the run read it (sha256 "), "\(result.stderr)")
        #expect(try Self.derived(store) == before)

        // Lossy on request: rows from the lost version are gone, as the warning said.
        let lossy = try project.run(["db", "rebuild", "--allow-missing"])
        #expect(lossy.stderr.contains("warning: run ") && lossy.stderr.contains("has changed since"), "\(lossy.stderr)")
    }

    /// Runs of two pipelines overlapped: `late` started first but loaded after `early`. The rebuild
    /// replays loads in the order they were written, so every product keeps its id.
    @Test func overlappingRunsKeepTheirIdsInTheRebuild() throws {
        let project = try makeProject()
        let store = project.lake + "/store/agentshop.sqlite"
        try project.write("pipelines/more.yaml", Self.pipeline.replacingOccurrences(of: "pipeline: shop", with: "pipeline: more")
            .replacingOccurrences(of: "raw_data/imports/products.csv", with: "raw_data/imports/more.csv")
            .replacingOccurrences(of: "scraped_data/products/", with: "scraped_data/more/"))
        try project.write("datalake/raw_data/imports/more.csv", "slug,name,price\ne,Egg cup,3\n")
        #expect(try project.runPipeline("more", ["--date", "2026-11-03"]).0.status == 0)
        try project.write("datalake/raw_data/imports/products.csv", "slug,name,price\nf,Fork,2\n")
        #expect(try project.runPipeline("shop", ["--date", "2026-11-03"]).0.status == 0)
        let incremental = try Self.derived(store)
        // Make the last shop run look as if it had started before the more run (its loads still came later).
        let folder = project.lake + "/raw_data/logs/more"
        let moreManifest = try #require(try FileManager.default.contentsOfDirectory(atPath: folder).first { $0.hasSuffix(".json") })
        let moreStarted = try #require((try JSONSerialization.jsonObject(with: Data(contentsOf: URL(fileURLWithPath: folder + "/" + moreManifest))) as? [String: Any])?["started_at"] as? String)
        let shopFolder = project.lake + "/raw_data/logs/shop"
        let shopManifests = try FileManager.default.contentsOfDirectory(atPath: shopFolder).filter { $0.hasSuffix(".json") }.sorted()
        let last = shopFolder + "/" + shopManifests.last!
        var json = try #require(try JSONSerialization.jsonObject(with: Data(contentsOf: URL(fileURLWithPath: last))) as? [String: Any])
        json["started_at"] = String(moreStarted.replacingOccurrences(of: "Z", with: "").dropLast(3)) + "000Z"
        try JSONSerialization.data(withJSONObject: json).write(to: URL(fileURLWithPath: last))

        let result = try project.run(["db", "rebuild"])
        #expect(result.status == 0, "\(result.stderr)")
        #expect(try Self.derived(store) == incremental)
    }
}
