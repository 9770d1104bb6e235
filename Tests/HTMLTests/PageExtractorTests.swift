import Lake
import Testing
@testable import HTML

struct PageExtractorTests {
    static let page = """
        <html><head><base href="/shop/"><meta property="og:image" content="img/a.png">
        <script type="application/ld+json">{"@type":"Product","offers":{"price":"12.5","availability":"OutOfStock"}}</script></head>
        <body><h1>  Big <b>red</b> ball </h1>
        <span class=rating>Rated 4,5 of 5</span><span class=count>1.234 reviews</span>
        <ul><li class=p>$1</li><li class=p>€2,50</li><li class=p>gratis</li></ul>
        <div itemscope><span itemprop="brand">Acme</span><link itemprop="url" href="/acme"></div>
        <a class=next href="?page=2">next</a>
        </body></html>
        """

    static func extract(_ fields: [FieldSpec], records: FieldSource? = nil) throws -> PageExtraction {
        let document = try HTMLDocument(html: page, url: "https://x.org/list/p.html")
        return try PageExtractor(fields: fields, records: records).extract(document)
    }

    static func field(_ name: String, _ source: FieldSource, _ type: FieldType = .string,
                      configure: (inout FieldSpec) -> Void = { _ in }) -> FieldSpec {
        var spec = FieldSpec(name: name, source: source, type: type)
        configure(&spec)
        return spec
    }

    @Test func typesEveryKindOfValue() throws {
        let result = try Self.extract([
            Self.field("name", .css("h1::text")),
            Self.field("whole", .css("h1")),
            Self.field("rating", .css(".rating::text"), .number),
            Self.field("count", .css(".count::text"), .int),
            Self.field("price", .jsonLD("Product.offers.price"), .money) { $0.currency = "EUR" },
            Self.field("in_stock", .jsonLD("Product.offers.availability"), .bool),
            Self.field("image", .meta("og:image"), .url),
            Self.field("next", .css("a.next::attr(href)"), .url),
            Self.field("brand", .itemprop("brand")),
            Self.field("brand_url", .itemprop("url")),
            Self.field("prices", .css("li.p::text"), .money, configure: { $0.list = true }),
            Self.field("missing", .css(".nope::text")),
            Self.field("defaulted", .css(".nope::text"), .int) { $0.defaultValue = "7" },
            Self.field("digits", .css(".count::text")) { $0.regex = "[0-9.]+" },
        ])
        #expect(result.failures.isEmpty, "\(result.failures)")
        let record = try #require(result.records.first)
        #expect(record["name"] == "Big ball")
        #expect(record["whole"] == "Big red ball")
        #expect(record["rating"] == .double(4.5))
        #expect(record["count"] == .int(1234))
        #expect(record["price"] == .double(12.5))
        #expect(record["price_currency"] == "EUR")
        #expect(record["in_stock"] == .bool(false))
        #expect(record["image"] == "https://x.org/shop/img/a.png")
        #expect(record["next"] == "https://x.org/shop/?page=2")
        #expect(record["brand"] == "Acme")
        #expect(record["brand_url"] == "https://x.org/acme")
        #expect(record["prices"] == .array([
            .object(JSONObject([("amount", .double(1)), ("currency", "USD")])),
            .object(JSONObject([("amount", .double(2.5)), ("currency", "EUR")])),
            .object(JSONObject([("amount", .double(0)), ("currency", .null)])),
        ]))
        #expect(record["missing"] == .null)
        #expect(record["defaulted"] == .int(7))
        #expect(record["digits"] == "1.234")
        #expect(record.keys.first == "name", "fields keep their declared order")
    }

    @Test(arguments: [
        (FieldSpec(name: "n", source: .css(".rating::text"), type: .int), "n: cannot read 'Rated 4,5 of 5' as an integer"),
        (FieldSpec(name: "d", source: .css("h1::text"), type: .date), "d: cannot read 'Big ball' as a date"),
        (FieldSpec(name: "b", source: .css("h1::text"), type: .bool), "b: cannot read 'Big ball' as true or false"),
        (FieldSpec(name: "m", source: .css("h1::text"), type: .money), "m: cannot read 'Big ball' as money"),
    ])
    func refusesValuesThatDoNotConvert(spec: FieldSpec, message: String) throws {
        var strict = spec
        strict.onError = .reject
        let result = try Self.extract([strict])
        #expect(result.records.isEmpty)
        #expect(result.failures == [message])
        // By default an optional field that does not convert is null, counted, and the record is kept.
        let lenient = try Self.extract([spec])
        #expect(lenient.failures.isEmpty)
        #expect(lenient.records.first?[spec.name] == .null)
        #expect(lenient.nulledOnError == [spec.name: 1])
    }

    @Test func requiredFieldsRejectTheRecordNotThePage() throws {
        let result = try Self.extract([
            Self.field("price", .css("::text"), .money) { $0.required = true },
        ], records: .css("li.p"))
        #expect(result.records.map { $0["price"] } == [.double(1), .double(2.5), .double(0)])
        let strict = try Self.extract([
            Self.field("label", .css("b::text")) { $0.required = true },
        ], records: .xpath("//li | //h1"))
        #expect(strict.records.count == 1)
        #expect(strict.failures == ["record 2: label: required field not found (css 'b::text')",
                                    "record 3: label: required field not found (css 'b::text')",
                                    "record 4: label: required field not found (css 'b::text')"])
    }

    /// A simple XPath path is matched in the page's one walk (`SimpleXPath`) and answers as the XPath
    /// did; from a record it stays absolute, so it still finds what lies outside the record.
    @Test func simpleXPathFieldsAnswerAsTheXPath() throws {
        let fields = [
            Self.field("count", .xpath("//span[@class='count']/text()"), .int),
            Self.field("items", .xpath("//ul/li[@class='p']/text()")) { $0.list = true },
            Self.field("first", .xpath("//ul/li/text()")),
            Self.field("brand", .xpath("//div[@itemscope]//span/text()")),
            Self.field("image", .meta("og:image"), .url),
        ]
        let page = try #require(Self.extract(fields).records.first)
        #expect(page["count"] == .int(1234))
        #expect(page["items"] == .array([.string("$1"), .string("€2,50"), .string("gratis")]))
        #expect(page["first"] == .string("$1 €2,50 gratis"))  // text nodes of one field are joined
        #expect(page["brand"] == .string("Acme"))
        #expect(page["image"] == .string("https://x.org/shop/img/a.png"))
        let perItem = try Self.extract(fields, records: .css("li"))
        #expect(perItem.records.count == 3)
        #expect(perItem.records.allSatisfy { $0["count"] == .int(1234) && $0["first"] == .string("$1 €2,50 gratis") })
    }

    @Test func reportsBadSelectorsAtConstruction() {
        #expect(throws: HTMLError.self) { try PageExtractor(fields: [FieldSpec(name: "x", source: .css("a:hover"))]) }
        #expect(throws: HTMLError.self) { try PageExtractor(fields: [FieldSpec(name: "x", source: .xpath("//a["))]) }
        #expect(throws: HTMLError.self) { try PageExtractor(fields: [FieldSpec(name: "x", source: .jsonLD("A..b"))]) }
        #expect(throws: HTMLError.self) { try PageExtractor(fields: [], records: .meta("x")) }
    }

    @Test(arguments: [("InStock", true), ("https://schema.org/OutOfStock", false), ("yes", true), ("Sold out", false),
                      ("0", false), ("maybe", nil)] as [(String, Bool?)])
    func readsBooleans(text: String, value: Bool?) {
        #expect(FieldValues.bool(text) == value)
    }
}
