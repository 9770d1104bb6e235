import Testing
@testable import Lake

struct URLReferenceTests {
    /// RFC 3986 section 5.4 with base http://a/b/c/d;p?q (authority-only results get a "/" path).
    @Test(arguments: [
        ("g:h", "g:h"), ("g", "http://a/b/c/g"), ("./g", "http://a/b/c/g"), ("g/", "http://a/b/c/g/"),
        ("/g", "http://a/g"), ("//g", "http://g/"), ("?y", "http://a/b/c/d;p?y"), ("g?y", "http://a/b/c/g?y"),
        ("#s", "http://a/b/c/d;p?q#s"), ("g#s", "http://a/b/c/g#s"), ("g?y#s", "http://a/b/c/g?y#s"),
        (";x", "http://a/b/c/;x"), ("g;x", "http://a/b/c/g;x"), ("", "http://a/b/c/d;p?q"), (".", "http://a/b/c/"),
        ("./", "http://a/b/c/"), ("..", "http://a/b/"), ("../", "http://a/b/"), ("../g", "http://a/b/g"),
        ("../..", "http://a/"), ("../../", "http://a/"), ("../../g", "http://a/g"),
        ("../../../g", "http://a/g"), ("../../../../g", "http://a/g"), ("/./g", "http://a/g"), ("/../g", "http://a/g"),
        ("g.", "http://a/b/c/g."), (".g", "http://a/b/c/.g"), ("g..", "http://a/b/c/g.."), ("..g", "http://a/b/c/..g"),
        ("./../g", "http://a/b/g"), ("./g/.", "http://a/b/c/g/"), ("g/./h", "http://a/b/c/g/h"), ("g/../h", "http://a/b/c/h"),
        ("g;x=1/./y", "http://a/b/c/g;x=1/y"), ("g;x=1/../y", "http://a/b/c/y"),
    ])
    func resolvesRFC3986Examples(reference: String, expected: String) {
        #expect(URLResolver.resolve(reference, against: "http://a/b/c/d;p?q") == expected)
    }

    @Test(arguments: [
        ("HTTPS://Shop.Example:443/a/../b", "https://x.org/", "https://shop.example/b"),
        ("http://shop.example:80/", "https://x.org/", "http://shop.example/"),
        ("image café.jpg", "https://x.org/p/", "https://x.org/p/image%20caf%C3%A9.jpg"),
        ("a\\b", "https://x.org/", "https://x.org/a/b"),
        ("?page=2", "https://x.org/list?page=1", "https://x.org/list?page=2"),
        ("", "https://x.org/list#frag", "https://x.org/list"),
        ("/p", "https://user@Host.org/x", "https://user@host.org/p"),
    ])
    func normalisesWhatPagesContain(reference: String, base: String, expected: String) {
        #expect(URLResolver.resolve(reference, against: base) == expected)
    }

    @Test func needsAnAbsoluteBaseForRelativeReferences() {
        #expect(URLResolver.resolve("g", against: nil) == nil)
        #expect(URLResolver.resolve("g", against: "/relative/only") == nil)
        #expect(URLResolver.resolve("https://x.org/a", against: nil) == "https://x.org/a")
    }
}
