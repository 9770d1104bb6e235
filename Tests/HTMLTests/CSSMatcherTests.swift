import Testing
@testable import HTML

/// The native matcher answers exactly as the selector's XPath: the same nodes, in the same order,
/// from the document and from an element (a record), for every selector of the conformance tests.
struct CSSMatcherTests {
    static let selectors = [
        "li", "#main > h1::text", ".intro", "[rel]", "a[rel=next]::attr(href)", "a[href^=https]", "a[href$='.pdf']",
        "a[href*=shop]", "a[href*=SHOP i]", "A[HREF*=shop]", "div[class~=big] > p.x", "[class~=bi]", "span[lang|=en]",
        "div h1 small", "h1 ::text", "h1 + p", "h1 ~ p", "p + h1", "li:first-child", "li:last-child", "li:only-child",
        "li:nth-child(2)", "li:nth-child(odd)", "li:nth-child(even)", "li:nth-child(-n+2)", "li:nth-child(3n+2)",
        "li:nth-child(n)", "li:nth-last-child(1)", "li:first-of-type", "p:last-of-type", "li:not(.sel)", "p:not(.x, .intro)",
        "p:not([class])", "h1::text, p.x::text", "p[class=\"it's\"]", "#main", "ul *:first-child::text",
        ":root > body > #d2 b::text", "html:root > head > title::text", "body:root", "#d2:root", "#d1 > p:only-of-type",
        "#d1 > span:only-of-type::text", "em:only-of-type::text", "b:only-of-type::text", "i:only-of-type",
        "u:only-of-type::text", "p:first-of-type::text", "p:last-of-type::text", "p:nth-of-type(2)::text",
        "p:nth-last-of-type(1)::text", "i:nth-last-of-type(2)::text", "#d3 > :nth-last-child(2)::text",
        "#d3 > :nth-last-child(odd)::text", "#d2 > :only-child::text", "#d3 > :only-child", "section:empty::attr(id)",
        "a:link::text", ":any-link::text", "#d1 > :is(span, em)::text", "#d1 > :where(p:first-child, em)::text",
        "#d1 > :not(p, span)::text", "INPUT[NAME=c1]::attr(name)", "img::attr(alt)", "img[alt='']::attr(src)",
        // Beyond the conformance lists: unions in document order, nesting, the descendant pseudo-elements.
        "div ::attr(class)", "div, p, li", "p, div", "li::text, ul", "div > * ::text", "* > ::text", "ul > ::text",
        "div::attr(id), p::attr(class)", "[class]", "[class=''], [lang]", "a[href^=''], a[href$=''], a[href*='']",
        "li ~ li", "li + li + li", "div p, div > p", "[class~='box']", "[CLASS~=BOX i]", "[lang|=EN i]", "*",
        "body > div:nth-child(2n) ::text", "p:nth-child(-2n+5)", ":not(p):not(li)::text", "x\\:y > [ö=1]",
    ]

    static let pages = [CSSSelectorTests.page, CSSSelectorTests.structure, """
        <html><body><div id="a" class=" box\tbig "><div class="box"><p class="x">one <b>two</b> three</p></div>
        <p lang="EN-gb" class="">four</p></div><div id="b"><p>five</p><p>six<!-- c --></p></div></body></html>
        """]

    func xpathNodes(_ document: HTMLDocument, _ selector: CSSSelector, _ node: HTMLNode?) throws -> [HTMLNode] {
        try document.evaluate(selector.xpath, in: node).nodes
    }

    @Test(arguments: Self.selectors)
    func answersAsTheXPathFromTheDocument(css: String) throws {
        let selector = try CSSSelector(css)
        #expect(selector.native != nil, "\(css) has no native form")
        for page in Self.pages {
            let document = try HTMLDocument(html: page)
            let native = try document.select(selector)
            let xpath = try xpathNodes(document, selector, nil)
            #expect(native == xpath, "\(css): \(native.map(\.value)) != \(xpath.map(\.value))")
        }
    }

    /// From every element of the page as the record, as a record selector would give them.
    @Test(arguments: Self.selectors)
    func answersAsTheXPathFromEachElement(css: String) throws {
        let selector = try CSSSelector(css)
        for page in Self.pages {
            let document = try HTMLDocument(html: page)
            for element in try document.evaluate(XPathExpression("//*"), in: nil).nodes {
                let native = try document.select(selector, in: element)
                let xpath = try xpathNodes(document, selector, element)
                #expect(native == xpath, "\(css) from <\(element.name)>: \(native.map(\.value)) != \(xpath.map(\.value))")
            }
        }
    }

    /// Several selectors in one walk give each its own answer.
    @Test func oneWalkAnswersEachSelector() throws {
        let document = try HTMLDocument(html: CSSSelectorTests.page)
        let selectors = try Self.selectors.prefix(40).map { try CSSSelector($0) }
        let together = CSSMatcher.match(selectors.map { $0.native! }, scope: document.document.raw)
        for (selector, nodes) in zip(selectors, together) {
            let alone = try xpathNodes(document, selector, nil)
            #expect(nodes?.map { HTMLNode(document: document, raw: $0) } == alone, "\(selector)")
        }
    }

    /// More than 64 alternatives in one walk (the matched flags take a second bit-set word per
    /// element), from the document and from an element.
    @Test func oneWalkOfMoreThan64AlternativesAnswersEachSelector() throws {
        let document = try HTMLDocument(html: CSSSelectorTests.page)
        let selectors = try Self.selectors.map { try CSSSelector($0) }
        #expect(selectors.reduce(0) { $0 + $1.native!.alternatives.count } > 64)
        let body = try #require(document.xpath("//body").nodes.first)
        for scope in [document.document, body] {
            let together = CSSMatcher.match(selectors.map { $0.native! }, scope: scope.raw)
            for (selector, nodes) in zip(selectors, together) {
                guard let nodes else { continue }  // `+`/`~` from an element: left to XPath
                let alone = try xpathNodes(document, selector, scope == document.document ? nil : scope)
                #expect(nodes.map { HTMLNode(document: document, raw: $0) } == alone, "\(selector)")
            }
        }
    }

    /// `+` and `~` from a record reach the record's siblings, outside the record: the walk leaves
    /// those to the XPath, which gives them.
    @Test func siblingCombinatorsFromARecordGoThroughXPath() throws {
        let document = try HTMLDocument(html: "<ul><li class='r'>a</li><li>b</li></ul>")
        let record = try #require(document.evaluate(XPathExpression("//li[1]"), in: nil).nodes.first)
        #expect(try document.css("li + li", in: record) == ["b"])
        #expect(CSSMatcher.match([try CSSSelector("li + li").native!], scope: record.raw)[0] == nil)
    }

    /// The constructs left to XPath have no native form (and still answer through it).
    @Test(arguments: ["input:checked", "button:disabled", "input:enabled", "::text", "::attr(href)", "a[href$='e\u{301}']"])
    func constructsLeftToXPath(css: String) throws {
        #expect(try CSSSelector(css).native == nil)
        _ = try HTMLDocument(html: CSSSelectorTests.structure).css(css)
    }

    /// The bench's and the demo's field selectors all take the native path.
    @Test(arguments: ["h1.product-title::text", ".price-box .price::text", ".sku::text", "ul.breadcrumb li:last-child a::text",
                      "time.released::text", ".tags a::text", "script[type=\"application/ld+json\"]::text",
                      "div.rating > span.count::text", "meta[property=\"og:image\"]::attr(content)"])
    func benchSelectorsAreNative(css: String) throws {
        #expect(try CSSSelector(css).native != nil)
    }

    static let simplePaths = [
        "//li", "//div[@class='rating']/span[@class='count']/text()", "//p[@class=\"x\"]//text()", "//a/@href",
        "//div//@class", "//*[@id]/p", "//body/div/p[@class][@lang]/text()", "//ul/li/text()", "//div//p//b/text()",
        "//*", "//p/text()", "//img/@alt", "//meta[@property='og:image']/@content", "//div[@id='d1']/*/text()",
    ]

    /// The simple XPath paths a field may use take the native walk and answer exactly as libxml2's XPath.
    @Test(arguments: Self.simplePaths)
    func simpleXPathAnswersAsTheXPath(path: String) throws {
        let native = try #require(SimpleXPath.native(path), "\(path) has no native form")
        for page in Self.pages {
            let document = try HTMLDocument(html: page)
            let walked = try #require(CSSMatcher.match([native], scope: document.document.raw)[0])
            let xpath = try document.xpath(path).nodes
            #expect(walked.map { HTMLNode(document: document, raw: $0) } == xpath, "\(path): \(xpath.map(\.value))")
        }
    }

    /// Anything outside the subset stays with the XPath engine.
    @Test(arguments: ["/html/body", "//li[1]", "//LI", "//p[@class = 'x']", "//p/..", "count(//p)", "//p[contains(@class,'x')]",
                      "//p/text()/..", "//p | //li", "li", "//p/@*", "//p[@x='1'", "//p/node()", "//x:y"])
    func otherXPathIsNotSimple(path: String) {
        #expect(SimpleXPath.native(path) == nil)
    }

    /// The walk keeps its own stack: a page nested 20,000 deep (libxml2 keeps it, XML_PARSE_HUGE)
    /// does not overflow the thread's (the first, recursive walk crashed HostilePageTests).
    @Test func deepPagesDoNotOverflowTheStack() throws {
        let depth = 20_000
        let html = String(repeating: "<div>", count: depth) + "<b class='x'>deep</b>" + String(repeating: "</div>", count: depth)
        let document = try HTMLDocument(html: html)
        #expect(try document.css("div > b.x::text") == ["deep"])
        #expect(try document.css("div div b::text") == ["deep"])
    }
}
