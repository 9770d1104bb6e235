import Foundation
import Testing
@testable import HTML

/// libxml2 parses into a per-document arena (CXMLArena, installed by `LibXML`): the tree must come
/// out the same, live as long as its document on any thread, and be given back when it goes.
struct XMLArenaTests {
    /// A Windows-1252 page converted to UTF-8 keeps its `<meta>` naming Windows-1252: libxml2 is
    /// told the bytes are UTF-8, so it does not go by the meta (it would when told nothing), and the
    /// document serialises non-ASCII attribute values as they are.
    @Test func convertedPagesAreReadAsUTF8() throws {
        let bytes = Array("<meta http-equiv=Content-Type content='text/html; charset=iso-8859-1'><p title='M".utf8) + [0xFC]
            + Array("ller'>Stra".utf8) + [0xDF, 0x65, 0x20, 0x80] + Array("</p>".utf8)
        let document = try HTMLDocument(bytes: bytes)
        let p = try #require(document.xpath("//p").nodes.first)
        #expect(p.text == "Straße €")
        #expect(p.outerHTML == "<p title=\"Müller\">Straße €</p>")
    }

    @Test func utf8PagesStillSerialiseAsUTF8() throws {
        let document = try HTMLDocument(bytes: Array("<p title=\"café — ñ\">naïve €</p>".utf8))
        let p = try #require(document.xpath("//p").nodes.first)
        #expect(p.outerHTML == "<p title=\"café — ñ\">naïve €</p>")
        #expect(p.attribute("title") == "café — ñ")
        #expect(p.text == "naïve €")
    }

    /// Documents parsed on some threads are queried and dropped on others while more are parsed:
    /// each arena lives exactly as long as its document, wherever that goes.
    @Test func documentsMoveBetweenThreads() async throws {
        let pages = (0..<64).map { i in
            "<html><head><title>t\(i)</title></head><body>" + (0..<200).map { "<p class='c\($0 % 7)'>page \(i) item \($0)</p>" }.joined()
                + "</body></html>"
        }
        let parsed = try await withThrowingTaskGroup(of: (Int, Box).self) { group in
            for (i, page) in pages.enumerated() {
                group.addTask { (i, Box(try HTMLDocument(html: page))) }
            }
            var out: [Int: Box] = [:]
            for try await (i, box) in group { out[i] = box }
            return out
        }
        try await withThrowingTaskGroup(of: Void.self) { group in
            for (i, box) in parsed {
                group.addTask {
                    let document = box.document
                    #expect(try document.css("title::text") == ["t\(i)"])
                    #expect(try document.css("p.c3").count == 29)
                    // More parses on this thread while other threads' documents are alive.
                    let other = try HTMLDocument(html: "<b>\(i)</b>")
                    #expect(try other.css("b::text") == ["\(i)"])
                }
            }
            try await group.waitForAll()
        }
    }

    /// A document that outlives many later parses on its thread is untouched by them.
    @Test func anOldDocumentSurvivesLaterParses() throws {
        let old = try HTMLDocument(html: "<ul>" + (0..<500).map { "<li>old \($0)</li>" }.joined() + "</ul>")
        for i in 0..<200 {
            let page = try HTMLDocument(html: "<ul>" + (0..<500).map { "<li>new \(i) \($0)</li>" }.joined() + "</ul>")
            #expect(try page.css("li::text").last == "new \(i) 499")
        }
        let items = try old.css("li::text")
        #expect(items.count == 500 && items.first == "old 0" && items.last == "old 499")
    }
}

/// Carries a document to another task in a test (documents are not Sendable: one task at a time).
private final class Box: @unchecked Sendable {
    let document: HTMLDocument
    init(_ document: HTMLDocument) { self.document = document }
}
