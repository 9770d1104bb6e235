import Foundation
import Lake
import Store
import Testing

/// The flagship pipeline (pipelines/marketplace.yaml) through the built binary, on a fresh copy of
/// the sample shop made by scripts/make_fixture_site.py: a product followed from its HTML page to
/// its store row, into a dump and out of it into a fresh store; the parsed records compared with
/// the generator's truth; a rerun that writes nothing and a price change that updates one row.
@Suite(.serialized) struct MarketplaceFlowTests {
    static let repository = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
        .deletingLastPathComponent().path
    static let date = "2026-11-25"

    /// A project with the shop generated into the lake and the repository's marketplace.yaml;
    /// `transform` edits the pipeline text first.
    func makeProject(_ transform: (String) -> String = { $0 }) throws -> Project {
        let project = try Project()
        #expect(try project.run(["init"]).status == 0)
        let generator = Process()
        generator.executableURL = URL(fileURLWithPath: "/usr/bin/env")
        generator.arguments = ["python3", Self.repository + "/scripts/make_fixture_site.py",
                               project.lake + "/raw_data/imports/demo", "--count", "16", "--per-page", "6"]
        generator.standardOutput = FileHandle.nullDevice
        try generator.run()
        generator.waitUntilExit()
        #expect(generator.terminationStatus == 0)
        let yaml = try String(contentsOfFile: Self.repository + "/pipelines/marketplace.yaml", encoding: .utf8)
        try project.write("pipelines/marketplace.yaml", transform(yaml))
        return project
    }

    func truth(_ project: Project, _ name: String) throws -> [[String: Any]] {
        try project.read("datalake/raw_data/imports/demo/" + name).split(separator: "\n").map {
            try JSONSerialization.jsonObject(with: Data($0.utf8)) as! [String: Any]
        }
    }

    static func records(_ path: String) throws -> [JSONObject] {
        let reader = try RecordReader(path: path)
        var out: [JSONObject] = []
        while let record = try reader.next() { out.append(record) }
        return out
    }

    static func stage(_ manifest: [String: Any], _ name: String) -> [String: Any] {
        (manifest["stages"] as? [[String: Any]] ?? []).first { $0["name"] as? String == name } ?? [:]
    }

    static func counts(_ manifest: [String: Any], _ name: String) -> [String: Int] {
        stage(manifest, name)["counts"] as? [String: Int] ?? [:]
    }

    /// name, price in cents, currency, category, its parent, and the product's review count.
    static let productRow = """
        SELECT p.name, p.price_cents, p.currency, c.name, pc.name, p.brand,
               (SELECT count(*) FROM product_reviews r WHERE r.product_id = p.id)
        FROM products p
        LEFT JOIN product_categories c ON c.id = p.category_id
        LEFT JOIN product_categories pc ON pc.id = c.parent_id
        WHERE p.slug = ?
        """

    @Test func oneProductFromItsPageToItsStoreRowIntoTheDumpAndARestoredStore() throws {
        let project = try makeProject()
        let (result, manifest) = try project.runPipeline("marketplace", ["--date", Self.date])
        #expect(result.status == 0, "\(result.stderr)")
        let statuses = Project.statuses(manifest)
        #expect(statuses.values.allSatisfy { $0 == "ran" }, "\(statuses)")

        // A product with a parent category and reviews, as its page shows it.
        let products = try truth(project, "truth.jsonl")
        let reviews = try truth(project, "reviews_truth.jsonl")
        let product = try #require(products.first { p in
            p["parent_category"] is String && reviews.contains { $0["url"] as? String == p["url"] as? String }
        })
        let slug = product["slug"] as! String
        let page = try project.read("datalake/raw_data/imports/demo/site/products/\(slug).html")
        #expect(page.contains("<link rel=\"canonical\" href=\"https://shop.example/products/\(slug).html\">"))
        let reviewCount = reviews.filter { $0["url"] as? String == product["url"] as? String }.count

        func expectRow(in path: String) throws {
            let db = try Database(path: path, mode: .readOnly)
            let row = try #require(try db.rows(Self.productRow, [.text(slug)]).first)
            #expect(row[0].string == product["name"] as? String)
            #expect(row[1].int64 == (product["price_cents"] as! NSNumber).int64Value)
            #expect(row[2].string == product["price_currency"] as? String)
            #expect(row[3].string == product["category"] as? String)
            #expect(row[4].string == product["parent_category"] as? String)
            #expect(row[5].string == product["brand"] as? String)
            #expect(row[6].int64 == Int64(reviewCount))
        }
        let store = project.lake + "/store/agentshop.sqlite"
        try expectRow(in: store)

        // The enrichment's summary is in its row, measured in the lake: its compression ratio (summary characters
        // over the characters of the text it summarised) is there beside it.
        let enriched = try Self.records(project.lake + "/processed_data/ml_datasets/shop_products/dt=\(Self.date)/part.jsonl.gz")
        let summarised = try #require(enriched.first { $0["slug"]?.stringValue == slug })
        let ratio = try #require(summarised["compression_ratio"]?.doubleValue)
        #expect(ratio > 0 && ratio <= 1, "\(ratio)")
        #expect(try Database(path: store, mode: .readOnly).scalar("SELECT summary FROM products WHERE slug = ?", [.text(slug)])?.string
                == summarised["summary"]?.stringValue)

        // Every product and review is in, and linked.
        let db = try Database(path: store, mode: .readOnly)
        #expect(try db.scalar("SELECT count(*) FROM products")?.int64 == Int64(products.count))
        #expect(try db.scalar("SELECT count(*) FROM products WHERE category_id IS NULL")?.int64 == 0)
        #expect(try db.scalar("SELECT count(*) FROM product_reviews")?.int64 == Int64(reviews.count))
        #expect(try db.scalar("SELECT count(*) FROM product_reviews WHERE sentiment IS NULL")?.int64 == 0)
        // The breadcrumb's parents join the seeded categories of the same slug (no duplicate 'Electronics').
        #expect(try db.scalar("SELECT count(*) FROM product_categories WHERE slug = 'electronics'")?.int64 == 1)
        #expect(try db.scalar("SELECT parent_id IS NOT NULL FROM product_categories WHERE slug = 'kitchen'")?.int64 == 1)
        // One row per crawled page, with the lake file and offset it came from.
        let crawled = try project.read("datalake/raw_data/imports/demo/crawl_truth.txt").split(separator: "\n").count
        #expect(try db.scalar("SELECT count(*) FROM scraped_data")?.int64 == Int64(crawled))
        #expect(try db.scalar("SELECT count(*) FROM scraped_data WHERE warc_file IS NULL OR warc_offset IS NULL")?.int64 == 0)
        // Its title is read back from the WARC record (this page may be Windows-1252).
        #expect(try db.scalar("SELECT title FROM scraped_data WHERE url = ?", [.text(product["url"] as! String)])?.string
                == (product["name"] as! String) + " | Fixture Shop")
        #expect(try db.scalar("SELECT count(*) FROM scraped_data WHERE title IS NULL")?.int64 == 0)
        #expect(try db.rows("SELECT job_key, target_url, status, pages_fetched, data_file FROM webcrawler_jobs") == [[
            .text("marketplace/crawl"), .text("file:raw_data/imports/demo/site/index.html"), .text("completed"),
            .integer(Int64(crawled)), .text("scraped_data/products/dt=\(Self.date)/shop_pages.warc.gz")]])
        #expect(try db.scalar("SELECT count(*) FROM data_processing_tasks")?.int64 == Int64(statuses.count))

        // The pipeline's own dump holds the row too: restored into a fresh store, it is there.
        #expect(Self.counts(manifest, "backup")["dumps"] == 2)
        let fromPipeline = project.folder + "/from-pipeline/agentshop.sqlite"
        let restored = try project.run(["db", "restore", "latest", "--to", fromPipeline])
        #expect(restored.status == 0, "\(restored.stderr)")
        #expect(restored.stdout.contains("db_dumps/daily/"), "\(restored.stdout)")
        try expectRow(in: fromPipeline)

        // `db dump`, then `db restore` into a fresh store.
        let dump = try project.run(["db", "dump", "--to", "manual"])
        #expect(dump.status == 0, "\(dump.stderr)")
        let dumpPath = try #require(dump.stdout.split(separator: " ").first.map(String.init))
        let fresh = project.folder + "/fresh/agentshop.sqlite"
        let restore = try project.run(["db", "restore", dumpPath, "--to", fresh])
        #expect(restore.status == 0, "\(restore.stderr)")
        try expectRow(in: fresh)
    }

    /// `db rebuild` gives the flow's store back from the lake alone, ids and seeded categories included.
    @Test func rebuildFromTheLakeGivesTheSameMarketplaceRows() throws {
        let project = try makeProject()
        #expect(try project.runPipeline("marketplace", ["--date", Self.date]).0.status == 0)
        let store = project.lake + "/store/agentshop.sqlite"
        func rows() throws -> [[SQLValue]] {
            let db = try Database(path: store, mode: .readOnly)
            return try db.rows("SELECT id, slug, name, description, parent_id FROM product_categories ORDER BY id")
                + db.rows("SELECT id, slug, category_id, price_cents, summary FROM products ORDER BY id")
                + db.rows("SELECT id, external_id, product_id, rating, sentiment FROM product_reviews ORDER BY id")
                + db.rows("SELECT job_key, run_id, target_url FROM webcrawler_jobs")
                + db.rows("SELECT url, title, warc_offset FROM scraped_data ORDER BY url")
        }
        let before = try rows()
        let rebuild = try project.run(["db", "rebuild"])
        #expect(rebuild.status == 0, "\(rebuild.stderr)")
        #expect(try rows() == before)
    }

    @Test func parsedProductsAndReviewsMatchTheGeneratorsTruth() throws {
        let project = try makeProject()
        #expect(try project.runPipeline("marketplace", ["--date", Self.date]).0.status == 0)
        let products = try truth(project, "truth.jsonl")
        let parsed = try Self.records(project.lake + "/scraped_data/products/dt=\(Self.date)/shop_products.jsonl.gz")
        #expect(parsed.count == products.count)
        let bySlug = Dictionary(uniqueKeysWithValues: parsed.map { ($0["slug"]?.stringValue ?? "", $0) })
        for truth in products {
            let slug = truth["slug"] as! String
            let record = try #require(bySlug[slug], "no parsed record for \(slug)")
            #expect(record["url"]?.stringValue == truth["url"] as? String)
            #expect(record["name"]?.stringValue == truth["name"] as? String, "\(slug)")
            #expect(record["price"]?.doubleValue == (truth["price"] as! NSNumber).doubleValue, "\(slug)")
            #expect(record["price_currency"]?.stringValue == truth["price_currency"] as? String, "\(slug)")
            #expect(record["sku"]?.stringValue == truth["sku"] as? String)
            #expect(record["vendor"]?.stringValue == truth["brand"] as? String, "\(slug)")
            #expect(record["category"]?.stringValue == truth["category"] as? String, "\(slug)")
            #expect(record["parent_category"]?.stringValue == truth["parent_category"] as? String, "\(slug)")
            #expect(record["description"]?.stringValue == truth["description"] as? String, "\(slug)")
            #expect(record["image"]?.stringValue == truth["image"] as? String, "\(slug)")
            #expect(record["images"]?.arrayValue?.compactMap(\.stringValue) == truth["images"] as? [String], "\(slug)")
            #expect(record["review_count"] == .int(Int64(truth["review_count"] as! Int)), "\(slug)")
            #expect(record["tags"]?.arrayValue?.compactMap(\.stringValue) == truth["tags"] as? [String], "\(slug)")
        }

        let reviews = try truth(project, "reviews_truth.jsonl")
        let parsedReviews = try Self.records(project.lake + "/scraped_data/reviews/dt=\(Self.date)/shop_reviews.jsonl.gz")
        #expect(parsedReviews.count == reviews.count)
        let byID = Dictionary(uniqueKeysWithValues: parsedReviews.map { ($0["review_id"]?.stringValue ?? "", $0) })
        for truth in reviews {
            let id = truth["review_id"] as! String
            let record = try #require(byID[id], "no parsed review \(id)")
            #expect((truth["url"] as! String).hasSuffix("/" + (record["product"]?.stringValue ?? "?") + ".html"))
            #expect(record["author"]?.stringValue == truth["author"] as? String)
            #expect(record["rating"] == .int(Int64(truth["stars"] as! Int)))
            #expect(record["text"]?.stringValue == truth["body"] as? String)
            #expect(record["date"]?.stringValue == truth["date"] as? String)
        }
    }

    @Test func aRerunWithNothingChangedWritesNothingAndAChangedPriceUpdatesOneRow() throws {
        // Without the refresh window every run fetches the pages again, so a changed page is seen.
        let project = try makeProject { $0.replacingOccurrences(of: "      refresh: 24h\n", with: "") }
        #expect(try project.runPipeline("marketplace", ["--date", Self.date]).0.status == 0)
        let store = project.lake + "/store/agentshop.sqlite"
        let before = try Database(path: store, mode: .readOnly).rows("SELECT slug, updated_at FROM products ORDER BY slug")

        let (again, manifest) = try project.runPipeline("marketplace", ["--date", Self.date, "--force"])
        #expect(again.status == 0, "\(again.stderr)")
        for stage in ["parent_categories", "categories", "store_products", "store_reviews"] {
            let counts = Self.counts(manifest, stage)
            #expect(counts["inserted"] == 0 && counts["updated"] == 0, "\(stage): \(counts)")
            #expect((counts["unchanged"] ?? 0) > 0, "\(stage): \(counts)")
        }
        #expect(try Database(path: store, mode: .readOnly).rows("SELECT slug, updated_at FROM products ORDER BY slug") == before)

        // One price changes on the shop: one row is updated, and only its price.
        let products = try truth(project, "truth.jsonl")
        let product = products.first { $0["price_currency"] as? String == "USD" }!
        let slug = product["slug"] as! String
        let pagePath = "datalake/raw_data/imports/demo/site/products/\(slug).html"
        let page = try String(contentsOfFile: project.folder + "/" + pagePath, encoding: .isoLatin1)
        let cents = (product["price_cents"] as! NSNumber).int64Value
        let shown = Self.usd(cents)
        #expect(page.contains("<span class=\"price\" itemprop=\"price\">\(shown)</span>"))
        let changed = page.replacingOccurrences(of: "itemprop=\"price\">\(shown)</span>", with: "itemprop=\"price\">$1,234.56</span>")
        try changed.write(toFile: project.folder + "/" + pagePath, atomically: true, encoding: .isoLatin1)

        let (third, changedManifest) = try project.runPipeline("marketplace", ["--date", Self.date])
        #expect(third.status == 0, "\(third.stderr)")
        let counts = Self.counts(changedManifest, "store_products")
        #expect(counts["updated"] == 1 && counts["inserted"] == 0, "\(counts)")
        let row = try Database(path: store, mode: .readOnly).rows("SELECT price_cents FROM products WHERE slug = ?", [.text(slug)])
        #expect(row.first?.first?.int64 == 123_456)
    }

    /// `$1,299.00`, as the shop prints dollars.
    static func usd(_ cents: Int64) -> String {
        let whole = String(cents / 100)
        var grouped = ""
        for (i, c) in whole.reversed().enumerated() {
            if i > 0 && i % 3 == 0 { grouped.append(",") }
            grouped.append(c)
        }
        return "$" + String(grouped.reversed()) + "." + String(format: "%02d", cents % 100)
    }
}
