import Foundation
import Testing

/// End-to-end: `agentshop query` over the datasets and the store a pipeline wrote.
@Suite struct QueryTests {
    static let pipeline = """
    pipeline: shop
    stages:
      products:
        import: { from: raw_data/imports/products.csv }
        out: scraped_data/products/dt={run_date}/products.jsonl.gz
      by_category:
        aggregate:
          from: products
          group_by: [category]
          measures: { n: count(), avg_price: avg(price) }
          order_by: [n desc]
        out: processed_data/aggregations/by_category/dt={run_date}.csv
      store:
        materialize:
          from: products
          table: products
          key: slug
          columns: { slug: slug, name: name, price_cents: { from: price, type: money } }
    """

    static let products = """
    slug,name,category,price
    a,Red shoe,shoes,10
    b,Blue shoe,shoes,20
    c,Cook book,books,5.5
    d,Odd shoe,shoes,

    """

    func makeProject() throws -> Project {
        let project = try Project()
        #expect(try project.run(["init"]).status == 0)
        #expect(try project.run(["db", "init"]).status == 0)
        try project.write("pipelines/shop.yaml", Self.pipeline)
        try project.write("datalake/raw_data/imports/products.csv", Self.products)
        let (result, _) = try project.runPipeline("shop", ["--date", "2026-11-25"])
        #expect(result.status == 0, "\(result.stderr)")
        return project
    }

    @Test func csvJSONAndTableOutputOverAGlobAndAStage() throws {
        let project = try makeProject()
        let csv = try project.run(["query", "SELECT category, n FROM 'processed_data/aggregations/by_category/*.csv' ORDER BY n DESC",
                                   "--format", "csv"])
        #expect(csv.status == 0, "\(csv.stderr)")
        #expect(csv.stdout == "category,n\nshoes,3\nbooks,1\n")

        // Prices 10, 20, 5.5 and null: the column is widened to real, so 20 reads back as 20.0.
        let json = try project.run(["query", "SELECT slug, price FROM 'shop:products' WHERE price IS NULL OR price > 15 ORDER BY slug",
                                    "--format", "json"])
        #expect(json.status == 0, "\(json.stderr)")
        #expect(json.stdout == "[\n{\"slug\":\"b\",\"price\":20.0},\n{\"slug\":\"d\",\"price\":null}\n]\n")

        // Not a terminal: CSV unless asked; a table when asked, nulls shown as NULL.
        let table = try project.run(["query", "SELECT slug, price FROM 'shop:products' WHERE slug IN ('c', 'd') ORDER BY slug",
                                     "--format", "table"])
        #expect(table.stdout == "slug  price\n----  -----\nc     5.5\nd     NULL\n")
        let plain = try project.run(["query", "SELECT 1 AS one"])
        #expect(plain.stdout == "one\n1\n")
    }

    @Test func joinsAPathWithAStageAsJSONLines() throws {
        let project = try makeProject()
        let result = try project.run(["query", """
            SELECT c.category, count(*) AS products, sum(p.price) AS total
            FROM 'raw_data/imports/products.csv' c JOIN 'shop:products' p USING (slug)
            GROUP BY c.category ORDER BY c.category
            """, "--format", "jsonl"])
        #expect(result.status == 0, "\(result.stderr)")
        #expect(result.stdout == "{\"category\":\"books\",\"products\":1,\"total\":5.5}\n{\"category\":\"shoes\",\"products\":3,\"total\":30.0}\n")
    }

    @Test func schemaPrintsTheInferredColumns() throws {
        let project = try makeProject()
        let result = try project.run(["query", "SELECT * FROM 'shop:products' JOIN 'raw_data/imports/products.csv' USING (slug)", "--schema"])
        #expect(result.status == 0, "\(result.stderr)")
        #expect(result.stdout == """
            products: shop:products (4 rows, 1 file)
              slug      text
              name      text
              category  text
              price     real
            products_2: raw_data/imports/products.csv (4 rows, 1 file)
              slug      text
              name      text
              category  text
              price     real

            """)
    }

    @Test func theStoreIsAttachedReadOnly() throws {
        let project = try makeProject()
        let result = try project.run(["query", "SELECT slug, price_cents FROM store.products ORDER BY slug", "--format", "csv"])
        #expect(result.status == 0, "\(result.stderr)")
        #expect(result.stdout == "slug,price_cents\na,1000\nb,2000\nc,550\nd,\n")

        let write = try project.run(["query", "DELETE FROM store.products RETURNING slug", "--format", "csv"])
        #expect(write.status != 0)
        #expect(write.stderr.contains("readonly"), "\(write.stderr)")
        let count = try project.run(["query", "SELECT count(*) AS n FROM store.products", "--format", "csv"])
        #expect(count.stdout == "n\n4\n")
    }

    @Test func badQueriesExitTwoWithAClearMessage() throws {
        let project = try makeProject()
        let syntax = try project.run(["query", "SELEC slug FROM 'shop:products'"])
        #expect(syntax.status == 2)
        #expect(syntax.stderr.contains("the query is not valid SQLite SQL: near \"SELEC\": syntax error"), "\(syntax.stderr)")
        #expect(syntax.stdout.isEmpty)

        let column = try project.run(["query", "SELECT nope FROM 'shop:products'"])
        #expect(column.status == 2)
        #expect(column.stderr.contains("no such column: nope"), "\(column.stderr)")

        let missing = try project.run(["query", "SELECT * FROM 'processed_data/none/*.csv'"])
        #expect(missing.status == 2)
        #expect(missing.stderr.contains("no file in the lake matches 'processed_data/none/*.csv'"), "\(missing.stderr)")

        let stage = try project.run(["query", "SELECT * FROM 'shop:nothing'"])
        #expect(stage.status == 2)
        #expect(stage.stderr.contains("no successful run of pipeline 'shop' has written outputs for stage 'nothing'"))
    }
}
