import Testing
@testable import HTML

/// libxml2 is opened on first use (CXML2's loader): loading it works, the built-against version needs no
/// loading, and a parse after it goes through the same functions (XMLArenaTests checks the arena hooks).
struct LibXMLLibraryTests {
    @Test func libxml2LoadsOnFirstUse() throws {
        #expect(HTMLLibrary.libxml2LoadError == nil)
        #expect(HTMLLibrary.libxml2Version.hasPrefix("2."), "\(HTMLLibrary.libxml2Version)")
        #expect(HTMLLibrary.libxml2BuiltVersion.hasPrefix("2."), "\(HTMLLibrary.libxml2BuiltVersion)")
        let document = try HTMLDocument(html: "<p class=a>one</p><p>two</p>")
        #expect(try document.css("p.a::text") == ["one"])
    }
}
