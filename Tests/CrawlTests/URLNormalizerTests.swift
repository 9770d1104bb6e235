import Crawl
import Testing

@Suite struct URLNormalizerTests {
    /// RFC 3986 §5.4, normal and abnormal examples, resolved then normalised (so the fragment is gone
    /// and an empty http path becomes `/`).
    @Test(arguments: [
        ("g:h", "g:h"),
        ("g", "http://a/b/c/g"),
        ("./g", "http://a/b/c/g"),
        ("g/", "http://a/b/c/g/"),
        ("/g", "http://a/g"),
        ("//g", "http://g/"),
        ("?y", "http://a/b/c/d;p?y"),
        ("g?y", "http://a/b/c/g?y"),
        ("#s", "http://a/b/c/d;p?q"),
        ("g#s", "http://a/b/c/g"),
        ("g?y#s", "http://a/b/c/g?y"),
        (";x", "http://a/b/c/;x"),
        ("g;x", "http://a/b/c/g;x"),
        ("g;x?y#s", "http://a/b/c/g;x?y"),
        ("", "http://a/b/c/d;p?q"),
        (".", "http://a/b/c/"),
        ("./", "http://a/b/c/"),
        ("..", "http://a/b/"),
        ("../", "http://a/b/"),
        ("../g", "http://a/b/g"),
        ("../..", "http://a/"),
        ("../../", "http://a/"),
        ("../../g", "http://a/g"),
        ("../../../g", "http://a/g"),
        ("../../../../g", "http://a/g"),
        ("/./g", "http://a/g"),
        ("/../g", "http://a/g"),
        ("g.", "http://a/b/c/g."),
        (".g", "http://a/b/c/.g"),
        ("g..", "http://a/b/c/g.."),
        ("..g", "http://a/b/c/..g"),
        ("./../g", "http://a/b/g"),
        ("./g/.", "http://a/b/c/g/"),
        ("g/./h", "http://a/b/c/g/h"),
        ("g/../h", "http://a/b/c/h"),
        ("g;x=1/./y", "http://a/b/c/g;x=1/y"),
        ("g;x=1/../y", "http://a/b/c/y"),
        ("g?y/./x", "http://a/b/c/g?y/./x"),
        ("g?y/../x", "http://a/b/c/g?y/../x"),
        ("g#s/./x", "http://a/b/c/g"),
        ("g#s/../x", "http://a/b/c/g"),
        ("http:g", "http:g"),
    ])
    func rfc3986Resolution(reference: String, expected: String) {
        #expect(URLNormalizer().resolve(reference, against: "http://a/b/c/d;p?q") == expected)
    }

    @Test(arguments: [
        ("HTTP://Example.COM:80/a/./b/../c/%7euser/%e2%82%ac?x=1#frag", "http://example.com/a/c/~user/%E2%82%AC?x=1"),
        ("https://example.com:443", "https://example.com/"),
        ("https://example.com:8443/", "https://example.com:8443/"),
        ("http://example.com:/", "http://example.com/"),
        ("http://example.com:0080/x", "http://example.com/x"),
        ("http://example.com./x", "http://example.com/x"),
        ("http://example.com/a b", "http://example.com/a%20b"),
        ("http://example.com/caf\u{E9}", "http://example.com/caf%C3%A9"),
        ("http://example.com/?", "http://example.com/"),
        ("http://example.com/%41%2f%2F", "http://example.com/A%2F%2F"),
        ("http://example.com/%2E%2E/x", "http://example.com/x"),
        ("http://example.com/100%", "http://example.com/100%25"),
        ("http://[2001:DB8::1]:80/", "http://[2001:db8::1]/"),
        ("  http://example.com/x\n ", "http://example.com/x"),
        ("http://example.com/a\tb", "http://example.com/ab"),
        ("http://User@Example.com/", "http://User@example.com/"),
        ("http://example.com/p?b=2&a=1", "http://example.com/p?b=2&a=1"),
        ("http://example.com/search?q=a%2bb&x=%7e", "http://example.com/search?q=a%2Bb&x=~"),
    ])
    func normalization(url: String, expected: String) {
        #expect(URLNormalizer().normalize(url) == expected)
    }

    @Test(arguments: ["/relative", "relative/path", "", "//host/only"])
    func relativeURLsAreNotNormalised(url: String) {
        #expect(URLNormalizer().normalize(url) == nil)
    }

    @Test(arguments: [
        ("http://e.com/p?utm_source=x&b=2&a=1&UTM_Medium=y&gclid=z", "http://e.com/p?a=1&b=2"),
        ("http://e.com/p?b=1&a=2&a=1", "http://e.com/p?a=2&a=1&b=1"),
        ("http://e.com/p?utm_source=x", "http://e.com/p"),
        ("http://e.com/p?utm_campaign=spring&&page=2", "http://e.com/p?page=2"),
        ("http://e.com/p?utmost=1", "http://e.com/p?utmost=1"),
        ("http://e.com/p?flag&b=1", "http://e.com/p?b=1&flag"),
    ])
    func queryParametersRemovedAndSorted(url: String, expected: String) {
        let normalizer = URLNormalizer(removeQueryParameters: URLNormalizer.trackingParameters, sortQueryParameters: true)
        #expect(normalizer.normalize(url) == expected)
    }

    @Test func sameLinkWrittenDifferentlyGivesOneURL() {
        let normalizer = URLNormalizer(removeQueryParameters: ["utm_*"], sortQueryParameters: true)
        let base = "https://Shop.example/catalog/index.html"
        let forms = ["../catalog/item%2d1?b=2&a=1#reviews", "/catalog/./item-1?a=1&b=2&utm_source=mail",
                     "HTTPS://SHOP.EXAMPLE:443/catalog/item-1?a=1&b=2"]
        let resolved = Set(forms.compactMap { normalizer.resolve($0, against: base) })
        #expect(resolved == ["https://shop.example/catalog/item-1?a=1&b=2"])
    }

    @Test func relativeBaseIsRefused() {
        #expect(URLNormalizer().resolve("g", against: "/not/absolute") == nil)
    }
}
