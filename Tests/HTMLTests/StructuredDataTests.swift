import Lake
import Testing
@testable import HTML

struct StructuredDataTests {
    static func data(_ head: String, body: String = "", url: String = "https://shop.example/p/1") throws -> StructuredData {
        StructuredData(document: try HTMLDocument(html: "<html><head>\(head)</head><body>\(body)</body></html>", url: url))
    }

    static func ld(_ json: String) -> String { "<script type=\"application/ld+json\">\(json)</script>" }

    static let product = """
        {"@context": "https://schema.org", "@type": "Product", "name": "Kettle &amp; Co", "sku": "K-1",
         "brand": {"@type": "Brand", "name": "Acme"},
         "offers": {"@type": "Offer", "price": "49.90", "priceCurrency": "EUR", "availability": "https://schema.org/InStock"},
         "aggregateRating": {"@type": "AggregateRating", "ratingValue": 4.5, "reviewCount": 12},
         "review": [{"@type": "Review", "author": {"@type": "Person", "name": "Ana"}, "reviewRating": {"ratingValue": "5"}},
                    {"@type": "Review", "author": "Bo", "reviewRating": {"ratingValue": 3}}]}
        """

    /// (JSON-LD blocks, path, expected texts)
    @Test(arguments: [
        ([product], "Product.name", ["Kettle & Co"]),
        ([product], "Product.sku", ["K-1"]),
        ([product], "Product.brand", ["Acme"]),
        ([product], "Product.offers.price", ["49.90"]),
        ([product], "Offer.priceCurrency", ["EUR"]),
        ([product], "AggregateRating.ratingValue", ["4.5"]),
        ([product], "Product.aggregateRating.reviewCount", ["12"]),
        ([product], "Review.author", ["Ana", "Bo"]),
        ([product], "Product.review.reviewRating.ratingValue", ["5", "3"]),
        ([product], "name", ["Kettle & Co"]),
        // @graph, arrays, offers as a list, full type IRIs, a type list.
        (["{\"@context\":\"https://schema.org\",\"@graph\":[{\"@type\":\"WebSite\",\"name\":\"S\"},{\"@type\":\"Product\",\"name\":\"G\"}]}"],
         "Product.name", ["G"]),
        (["[{\"@type\":\"Organization\",\"name\":\"O\"},{\"@type\":\"Product\",\"name\":\"A\"}]"], "Product.name", ["A"]),
        (["{\"@type\":\"Product\",\"offers\":[{\"@type\":\"Offer\",\"price\":1},{\"@type\":\"Offer\",\"price\":2.5}]}"],
         "Product.offers.price", ["1", "2.5"]),
        (["{\"@type\":\"http://schema.org/Product\",\"name\":\"IRI\"}"], "Product.name", ["IRI"]),
        (["{\"@type\":[\"Product\",\"Thing\"],\"name\":\"Multi\"}"], "Product.name", ["Multi"]),
        // A malformed block is skipped; the next one still counts.
        (["{\"@type\": \"Product\", \"name\": ", "{\"@type\":\"Product\",\"name\":\"Second\"}"], "Product.name", ["Second"]),
        // What sites write: comments, CDATA, trailing commas, raw newlines in strings.
        (["<!-- {\"@type\":\"Product\",\"name\":\"Commented\"} -->"], "Product.name", ["Commented"]),
        (["//<![CDATA[\n{\"@type\":\"Product\",\"name\":\"CDATA\"}\n//]]>"], "Product.name", ["CDATA"]),
        (["{\"@type\":\"Product\",\"name\":\"Trailing\",\"offers\":[{\"price\":3},],}"], "Product.offers.price", ["3"]),
        (["{\"@type\":\"Product\",\"name\":\"Two\nlines\"}"], "Product.name", ["Two lines"]),
        ([product], "Product.gtin", []),
        ([product], "Recipe.name", []),
    ])
    func findsJSONLDValues(blocks: [String], path: String, expected: [String]) throws {
        let data = try Self.data(blocks.map(Self.ld).joined())
        let values = data.jsonLD(try JSONLDPath(path)).compactMap(StructuredData.text(of:))
        #expect(values == expected)
    }

    @Test func warnsAboutMalformedBlocks() throws {
        let data = try Self.data(Self.ld("{\"@type\": \"Product\", \"name\": ") + Self.ld("[1, 2") + Self.ld(Self.product))
        #expect(data.warnings.count == 2)
        #expect(data.warnings[0].contains("JSON-LD block 1"))
        #expect(data.jsonLD.count == 1)
    }

    @Test func readsMetaTitleAndCanonical() throws {
        let data = try Self.data("""
            <title> Kettle | Shop </title>
            <meta property="og:title" content="OG Kettle"><meta property="OG:Image" content="/img/k.jpg">
            <meta name="description" content="Boils &amp;amp; pours"><meta name="twitter:card" content="summary">
            <link rel="canonical" href="/p/kettle">
            """)
        #expect(data.meta["og:title"] == "OG Kettle")
        #expect(data.meta["og:image"] == "/img/k.jpg")
        #expect(data.meta["description"] == "Boils & pours")
        #expect(data.meta["twitter:card"] == "summary")
        #expect(data.meta["title"] == "Kettle | Shop")
        #expect(data.meta["canonical"] == "https://shop.example/p/kettle")
    }

    @Test func readsMicrodataByElement() throws {
        let data = try Self.data("", body: """
            <div itemscope itemtype="https://schema.org/Product">
              <h1 itemprop="name"> Micro  Kettle </h1>
              <meta itemprop="sku" content="M-1">
              <img itemprop="image" src="/i.png">
              <link itemprop="availability" href="https://schema.org/InStock">
              <time itemprop="releaseDate" datetime="2026-01-02">Jan 2</time>
              <data itemprop="price" value="9.50">€9,50</data>
              <span itemprop="name alternateName">Second</span>
            </div>
            """)
        #expect(data.microdata["name"] == ["Micro Kettle", "Second"])
        #expect(data.microdata["alternateName"] == ["Second"])
        #expect(data.microdata["sku"] == ["M-1"])
        #expect(data.microdata["image"] == ["https://shop.example/i.png"])
        #expect(data.microdata["availability"] == ["https://schema.org/InStock"])
        #expect(data.microdata["releaseDate"] == ["2026-01-02"])
        #expect(data.microdata["price"] == ["9.50"])
    }

    @Test(arguments: [("Product..name", 9), ("", 1), (".x", 1), ("Product.my key", 9)])
    func rejectsBadPaths(path: String, position: Int) {
        #expect(throws: HTMLError.self) { try JSONLDPath(path) }
        do { _ = try JSONLDPath(path) } catch { #expect(error.position == position) }
    }
}
