import Crawl
import Foundation
import TestSupport
import Testing

@Suite struct SitemapTests {
    static let urlset = """
        <?xml version="1.0" encoding="UTF-8"?>
        <!-- a comment <loc>not this</loc> -->
        <urlset xmlns="http://www.sitemaps.org/schemas/sitemap/0.9" xmlns:image="http://www.google.com/schemas/sitemap-image/1.1">
          <url><loc> https://shop.example/p/1?a=1&amp;b=2 </loc><lastmod>2026-11-01</lastmod></url>
          <url><loc><![CDATA[https://shop.example/p/2]]></loc>
            <image:image><image:loc>https://shop.example/i.png</image:loc></image:image></url>
          <url><loc>https://shop.example/caf&#xE9;</loc></url>
        </urlset>
        """

    @Test func urlsetListsPageLocationsInOrder() throws {
        let sitemap = try Sitemap.parse(Array(Self.urlset.utf8))
        #expect(sitemap.kind == .urlset)
        // The image's <loc> is not a page: only <loc> directly under <url> counts.
        #expect(sitemap.locations == ["https://shop.example/p/1?a=1&b=2", "https://shop.example/p/2", "https://shop.example/café"])
    }

    @Test func sitemapIndex() throws {
        let text = """
            <sitemapindex xmlns="http://www.sitemaps.org/schemas/sitemap/0.9">
              <sitemap><loc>https://shop.example/s1.xml</loc></sitemap>
              <sitemap><loc>https://shop.example/s2.xml.gz</loc><lastmod>2026-01-01</lastmod></sitemap>
            </sitemapindex>
            """
        let sitemap = try Sitemap.parse(Array(text.utf8))
        #expect(sitemap.kind == .index)
        #expect(sitemap.locations == ["https://shop.example/s1.xml", "https://shop.example/s2.xml.gz"])
    }

    @Test func gzipCompressedSitemap() throws {
        let sitemap = try Sitemap.parse(try gzipped(Array(Self.urlset.utf8)), url: "https://shop.example/s.xml.gz")
        #expect(sitemap.locations.count == 3)
    }

    /// XXE: an external entity that would read a local file must never be loaded.
    @Test func externalEntitiesAreRefused() throws {
        let secret = NSTemporaryDirectory() + "agentshop-xxe-" + UUID().uuidString
        try "TOP-SECRET".write(toFile: secret, atomically: true, encoding: .utf8)
        defer { try? FileManager.default.removeItem(atPath: secret) }
        let text = """
            <?xml version="1.0"?>
            <!DOCTYPE urlset [ <!ENTITY xxe SYSTEM "file://\(secret)"> ]>
            <urlset xmlns="http://www.sitemaps.org/schemas/sitemap/0.9"><url><loc>https://x.example/&xxe;</loc></url></urlset>
            """
        #expect {
            try Sitemap.parse(Array(text.utf8))
        } throws: { error in
            let message = "\(error)"
            return message.contains("DTD") && !message.contains("TOP-SECRET")
        }
    }

    /// Billion laughs: nested entities that would expand to gigabytes are never expanded.
    @Test func entityExpansionBombsAreRefusedAtOnce() throws {
        var declarations = #"<!ENTITY lol "lol">"#
        for level in 1...9 {
            let previous = level == 1 ? "lol" : "lol\(level - 1)"
            declarations += "<!ENTITY lol\(level) \"" + String(repeating: "&\(previous);", count: 10) + "\">"
        }
        let text = #"<?xml version="1.0"?><!DOCTYPE urlset ["# + declarations + "]>"
            + #"<urlset xmlns="http://www.sitemaps.org/schemas/sitemap/0.9"><url><loc>https://x.example/&lol9;</loc></url></urlset>"#
        let started = ContinuousClock.now
        #expect {
            try Sitemap.parse(Array(text.utf8))
        } throws: { error in
            // libxml2 refuses it while reading the DTD, or the reader stops at the DTD: either way, nothing expanded.
            error is SitemapError && !"\(error)".contains("lollol") && "\(error)".count < 500
        }
        #expect(ContinuousClock.now - started < .seconds(2))
    }

    @Test func aByteOrderMarkAndAnXMLDeclarationAreFine() throws {
        let text = "\u{FEFF}<?xml version=\"1.0\" encoding=\"UTF-8\"?><urlset><url><loc>https://x.example/a</loc></url></urlset>"
        #expect(try Sitemap.parse(Array(text.utf8)).locations == ["https://x.example/a"])
    }

    @Test func undefinedEntitiesAreErrorsNotExpansions() {
        let text = #"<urlset><url><loc>https://x.example/&lol9;</loc></url></urlset>"#
        #expect(throws: SitemapError.self) { try Sitemap.parse(Array(text.utf8)) }
    }

    @Test(arguments: ["<html><body>not a sitemap</body></html>", "<urlset><url><loc>x</url></urlset>", "", "<urlset><url>",
                      "<urlset></urlset><urlset></urlset>", "plain text", "<urlset><url><loc>a & b</loc></url></urlset>"])
    func malformedSitemaps(text: String) {
        #expect(throws: SitemapError.self) { try Sitemap.parse(Array(text.utf8)) }
    }
}
