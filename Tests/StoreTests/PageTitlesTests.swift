import Testing
@testable import Store

/// `scraped_data.title`: the first `<title>` of a page, as a person reads it.
@Suite struct PageTitlesTests {
    @Test(arguments: [
        ("<html><head><TITLE lang=\"en\">\n  Kettle &amp; Toaster  </TITLE></head>", "Kettle & Toaster"),
        ("<title>Jalape&#241;o &quot;Limited&quot; &lt;Edition&gt; &#x2014; A&amp</title>", "Jalapeño \"Limited\" <Edition> — A&amp"),
        ("<title>Caf\u{E9}</title>", "Café"),
        ("<head><title></title>", nil),
        ("<p>no title here</p>", nil),
        ("<title>never closed", nil),
    ] as [(String, String?)])
    func titleIsDecodedAndTrimmed(_ page: String, _ expected: String?) {
        #expect(PageTitles.title(in: Array(page.utf8)) == expected)
    }

    @Test func aWindows1252PageReadsAsLatin1() {
        // "Crème" in Windows-1252: è is one byte, 0xE8, not valid UTF-8.
        let page: [UInt8] = Array("<title>Cr".utf8) + [0xE8] + Array("me</title>".utf8)
        #expect(PageTitles.title(in: page) == "Crème")
    }
}
