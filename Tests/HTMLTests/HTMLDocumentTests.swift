import Foundation
import Testing
@testable import HTML

struct HTMLDocumentTests {
    @Test(arguments: [
        ("<div><p>one<p>two</div></span><li>x", "//p", ["one", "two"]),
        ("<ul><li>a<li>b<li>c</ul>", "//li", ["a", "b", "c"]),
        ("</div></div><h1>Title</h1></body></html><p>after", "//h1 | //p", ["Title", "after"]),
        ("<table><tr><td>1<td>2</table>", "//td", ["1", "2"]),
        ("<p>unclosed <b>bold <i>both</p><p>next", "//p", ["unclosed bold both", "next"]),
        ("<div class=\"a\"<p>bad attribute</p>", "//div", ["bad attribute"]),
        ("<p>a &amp; b &lt;c&gt; &nbsp;&euro;5 &#8212; &#x41; &bogus;</p>", "//p", ["a & b <c> €5 — A &bogus;"]),
        ("<p>  spread \n\t over\u{00A0}lines  </p>", "//p", ["spread over lines"]),
        ("<script>if (a < b) { document.write('<p>no</p>') }</script><p>yes</p>", "//p", ["yes"]),
        ("<!-- <p>comment</p> --><p>real</p>", "//p", ["real"]),
        ("", "//p", []),
        ("just text", "//body", ["just text"]),
    ])
    func recoversFromBrokenMarkup(html: String, xpath: String, expected: [String]) throws {
        let document = try HTMLDocument(html: html)
        #expect(try document.xpath(xpath).strings == expected)
    }

    @Test func keepsHugeAttributeValues() throws {
        let big = String(repeating: "x", count: 2_000_000)
        let document = try HTMLDocument(html: "<div data-blob=\"\(big)\"><p>after</p></div>")
        #expect(try document.css("div::attr(data-blob)").first?.count == 2_000_000)
        #expect(try document.css("p") == ["after"])
    }

    @Test func evaluatesEveryXPathType() throws {
        let document = try HTMLDocument(html: "<h1>Title</h1><p>1</p><p>2</p>")
        guard case .number(let n) = try document.xpath("count(//p)") else { Issue.record("not a number"); return }
        #expect(n == 2)
        guard case .string(let s) = try document.xpath("string(//h1)") else { Issue.record("not a string"); return }
        #expect(s == "Title")
        guard case .boolean(let b) = try document.xpath("boolean(//h2)") else { Issue.record("not a boolean"); return }
        #expect(b == false)
        #expect(try document.xpath("//p").nodes.map(\.text) == ["1", "2"])
        #expect(try document.xpath("sum(//p)").strings == ["3"])
        #expect(try document.xpath("1 div 4").strings == ["0.25"])
    }

    @Test func queriesRelativeToANode() throws {
        let document = try HTMLDocument(html: "<div class=r><b>1</b></div><div class=r><b>2</b></div><b>3</b>")
        let records = try document.xpath("//div").nodes
        #expect(records.count == 2)
        #expect(try records[1].xpath(".//b").strings == ["2"])
        #expect(try records[0].css("b") == ["1"])
        #expect(records[0].attribute("class") == "r")
        #expect(records[0].name == "div")
        #expect(records[0].outerHTML.hasPrefix("<div class=\"r\"><b>1</b></div>"), "\(records[0].outerHTML)")
    }

    @Test(arguments: ["//p[", "count(", "//p[@x=']", "foo(//p)"])
    func reportsBadXPath(expression: String) throws {
        let document = try HTMLDocument(html: "<p>x</p>")
        do {
            _ = try document.xpath(expression)
            Issue.record("'\(expression)' should fail")
        } catch {
            #expect(error.subject == expression)
            #expect(error.description.contains(expression))
        }
    }

    @Test func nodesKeepTheirDocumentAlive() throws {
        func firstParagraph() throws -> HTMLNode {
            let document = try HTMLDocument(html: "<p>survives</p>")
            return try document.xpath("//p").nodes[0]
        }
        let node = try firstParagraph()
        #expect(node.text == "survives")
    }

    /// Every document (and the libxml2 handle it owns) is freed once the last reference goes, nodes
    /// kept past their document included; and resident memory stays flat over many large parses
    /// (400 pages of ~120 KB leaked would add well over 100 MB).
    @Test func manyDocumentsDoNotLeakOrCrash() throws {
        let expression = try XPathExpression("//li")
        let items = (0..<2000).map { "<li class=item>item \($0) <b>bold</b></li>" }.joined()
        weak var lastHandle: XMLDocHandle?
        weak var keptHandle: XMLDocHandle?
        var kept: [String] = []
        func parse(_ i: Int) throws {
            let document = try HTMLDocument(html: "<ul><li>\(i)</li>\(items)</ul>")
            let found = try document.evaluate(expression).strings
            #expect(found.count == 2001 && found.first == "\(i)")
            lastHandle = document.handle
        }
        func keepANode() throws -> HTMLNode? {
            let document = try HTMLDocument(html: "<p>kept</p>")
            keptHandle = document.handle
            return try document.xpath("//p").nodes.first
        }
        var node = try keepANode()
        #expect(keptHandle != nil)  // the node keeps its document alive
        kept.append(node?.text ?? "")
        node = nil
        #expect(keptHandle == nil)  // and lets it go with the last node
        #expect(kept == ["kept"])

        for i in 0..<50 { try parse(i) }  // warm the allocator
        let before = Self.residentBytes()
        for i in 50..<450 {
            try parse(i)
            #expect(lastHandle == nil, "document \(i) is still alive after its last reference went")
            if lastHandle != nil { break }
        }
        let grown = Self.residentBytes() - before
        #expect(grown < 60 << 20, "resident memory grew by \(grown >> 20) MB over 400 parses")
    }

    /// The resident set size of this process (Linux: /proc/self/statm).
    static func residentBytes() -> Int {
        guard let text = try? String(contentsOfFile: "/proc/self/statm", encoding: .utf8) else { return 0 }
        let fields = text.split(separator: " ")
        return fields.count > 1 ? (Int(fields[1]) ?? 0) * Int(sysconf(Int32(_SC_PAGESIZE))) : 0
    }

    @Test func listsLinksToFollow() throws {
        let document = try HTMLDocument(html: """
            <base href="https://shop.example/c/"><a href="p1.html#reviews" class=product>1</a>
            <a href="p1.html" class=product>again</a><a href="/p2.html" class="product big">2</a>
            <a href="mailto:x@y.z">mail</a><a href="javascript:void(0)">js</a><a href="tel:123">tel</a>
            <a href="/login" rel="nofollow noopener">login</a><a rel=next href="?page=2">next</a>
            <map><area href="/area.html"></map><a name=anchor>no href</a>
            """, url: "https://shop.example/c/index.html")
        #expect(try document.links() == ["https://shop.example/c/p1.html", "https://shop.example/p2.html",
                                         "https://shop.example/c/?page=2", "https://shop.example/area.html"])
        #expect(try document.links("a[rel=next], a.product") == ["https://shop.example/c/p1.html", "https://shop.example/p2.html",
                                                                 "https://shop.example/c/?page=2"])
        #expect(try document.links("a[href^='/login']", followNofollow: true) == ["https://shop.example/login"])
        #expect(throws: HTMLError.self) { try document.links("a:hover") }
    }

    @Test func linksByXPathAndOfOtherSchemes() throws {
        let document = try HTMLDocument(html: """
            <a class=next href="page-2.html">next</a><a href="../products/p1.html" class=product>1</a>
            <a href="mailto:x@y.z">mail</a>
            """, url: "file:///lake/site/list/page-1.html")
        // A saved site links over file://, which only a crawl of one asks for.
        #expect(try document.links() == [])
        #expect(try document.links(schemes: ["file"]) == ["file:///lake/site/list/page-2.html", "file:///lake/site/products/p1.html"])
        let expression = try XPathExpression("//a[@class='product']")
        #expect(try document.links(xpath: expression, schemes: ["file"]) == ["file:///lake/site/products/p1.html"])
    }

    @Test func resolvesLinksAgainstBaseHref() throws {
        let document = try HTMLDocument(html: "<head><base href=\"/shop/\"></head><a href=\"p 1.html?x=1#top\">x</a>",
                                        url: "https://Example.com/a/b.html")
        #expect(document.baseURL == "https://example.com/shop/")
        #expect(document.absoluteURL("p 1.html?x=1#top") == "https://example.com/shop/p%201.html?x=1#top")
        #expect(document.absoluteURL("//cdn.example.com/i.png") == "https://cdn.example.com/i.png")
        #expect(document.absoluteURL("javascript:void(0)") == nil)
        #expect(document.absoluteURL("  ") == nil)
        let plain = try HTMLDocument(html: "<a href=x>x</a>", url: "https://example.com/a/b.html")
        #expect(plain.absoluteURL("../c") == "https://example.com/c")
    }
}

/// libxml2 from many tasks at once: each task its own documents and compiled expressions, as the
/// parse stage's workers do. Errors stay per thread and results stay right.
struct ConcurrentParsingTests {
    @Test func parsesOnManyTasksAtOnce() async throws {
        let results = try await withThrowingTaskGroup(of: [String].self) { group in
            for worker in 0..<8 {
                group.addTask {
                    let expression = try XPathExpression("//li[@class='n']/text()")
                    var seen: [String] = []
                    for i in 0..<200 {
                        let document = try HTMLDocument(html: "<ul><li class=n>\(worker)-\(i)</li><li>x</ul><p>unclosed")
                        seen += try document.evaluate(expression).strings
                        // A bad expression on another task must not disturb this one.
                        if i % 50 == 0 { #expect(throws: HTMLError.self) { try XPathExpression("//li[") } }
                    }
                    return seen
                }
            }
            var all: [[String]] = []
            for try await r in group { all.append(r) }
            return all
        }
        #expect(results.count == 8)
        for list in results {
            #expect(list.count == 200)
            let worker = list[0].split(separator: "-")[0]
            #expect(list == (0..<200).map { "\(worker)-\($0)" })
        }
    }
}

/// Pages built to hurt the parser: never a silently shorter page, never unbounded memory.
struct HostilePageTests {
    static func nested(_ depth: Int, tag: String = "div") -> String {
        "<html><body>" + String(repeating: "<\(tag)>", count: depth) + "<h1>the end</h1><p class=price>$5</p></body></html>"
    }

    @Test(arguments: [300, 5_000, 100_000])
    func nestingDeeperThanLibxml2sDefaultKeepsTheRestOfThePage(depth: Int) throws {
        // libxml2 stops at 256 levels by default and keeps only what came before.
        let document = try HTMLDocument(html: Self.nested(depth))
        #expect(try document.css("h1::text") == ["the end"])
        #expect(try document.css(".price::text") == ["$5"])
    }

    @Test func aNULByteDoesNotEndThePage() throws {
        let bytes = Array("<html><body><p>before</p>".utf8) + [0] + Array("<h1>after</h1></body></html>".utf8)
        let document = try HTMLDocument(bytes: bytes, url: "https://shop.example/p")
        #expect(try document.css("h1::text") == ["after"])
        #expect(try document.css("p::text") == ["before"])
    }

    @Test func aPageOverTheSizeCapIsAnErrorWithTheReasonAndURL() throws {
        let bytes = Array(("<html><body>" + String(repeating: "<p>x</p>", count: 200) + "</body></html>").utf8)
        do {
            _ = try HTMLDocument(bytes: bytes, url: "https://shop.example/big", maxBytes: 1000)
            Issue.record("expected the page to be refused")
        } catch {
            #expect(error.description == "https://shop.example/big: the page is \(bytes.count) bytes, more than the 1000 parsed at most")
        }
        #expect(try HTMLDocument(bytes: bytes, maxBytes: bytes.count).css("p::text").count == 200)
        #expect(HTMLDocument.defaultMaxBytes == 32 << 20)
    }
}
