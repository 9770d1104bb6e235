import Crawl
import Testing

@Suite struct HostPolicyTests {
    @Test(arguments: [
        ("127.0.0.1", AddressClass.loopback),
        ("127.255.0.9", .loopback),
        ("10.1.2.3", .private),
        ("172.16.0.1", .private),
        ("172.31.255.255", .private),
        ("172.32.0.1", .public),
        ("172.15.255.255", .public),
        ("192.168.1.1", .private),
        ("192.169.0.1", .public),
        ("169.254.169.254", .linkLocal),
        ("169.254.0.1", .linkLocal),
        ("0.0.0.0", .unspecified),
        ("8.8.8.8", .public),
        ("::1", .loopback),
        ("0:0:0:0:0:0:0:1", .loopback),
        ("::", .unspecified),
        ("fc00::1", .private),
        ("fd12:3456::1", .private),
        ("fe80::1%eth0", .linkLocal),
        ("febf::1", .linkLocal),
        ("fec0::1", .public),
        ("2001:db8::1", .public),
        ("::ffff:127.0.0.1", .loopback),
        ("::ffff:7f00:1", .loopback),
        ("::ffff:a9fe:a9fe", .linkLocal),
        ("::ffff:8.8.8.8", .public),
        ("localhost", .loopback),
        ("api.LOCALHOST", .loopback),
        // Shorthand IPv4 that resolvers and libcurl accept.
        ("2130706433", .loopback),
        ("0x7f.0.0.1", .loopback),
        ("127.1", .loopback),
        ("0177.0.0.1", .loopback),
        ("0xA9FEA9FE", .linkLocal),
        ("10.0.0.1.", .private),
    ] as [(String, AddressClass)])
    func addressClasses(host: String, expected: AddressClass) {
        #expect(AddressClass.of(host: host) == expected)
    }

    @Test(arguments: ["example.com", "10.example.com", "1.2.3.4.5", "256.1.1.1", "fe80", "1::2::3"])
    func namesAreNotAddresses(host: String) {
        #expect(AddressClass.of(host: host) == nil)
    }

    @Test(arguments: [
        ("http://127.0.0.1:8080/", HostPolicy.Decision.internalAddress(host: "127.0.0.1", .loopback)),
        ("http://[::1]/admin", .internalAddress(host: "::1", .loopback)),
        ("http://169.254.169.254/latest/meta-data/", .internalAddress(host: "169.254.169.254", .linkLocal)),
        ("http://LOCALHOST./", .internalAddress(host: "localhost", .loopback)),
        ("http://192.168.0.10/router", .internalAddress(host: "192.168.0.10", .private)),
        ("http://[fd00::5]/", .internalAddress(host: "fd00::5", .private)),
        ("http://user@10.0.0.1:81/", .internalAddress(host: "10.0.0.1", .private)),
        ("https://shop.example/", .allowed),
        ("http://93.184.216.34/", .allowed),
        ("ftp://shop.example/file", .scheme("ftp")),
        ("file:///etc/passwd", .scheme("file")),
        ("mailto:someone@shop.example", .scheme("mailto")),
        ("/relative", .invalidURL),
    ])
    func defaultPolicyRefusesInternalAddresses(url: String, expected: HostPolicy.Decision) {
        #expect(HostPolicy().decide(url) == expected)
    }

    @Test func internalAddressesWhenExplicitlyAllowed() {
        let policy = HostPolicy(allowInternalAddresses: true)
        #expect(policy.allows("http://127.0.0.1:8080/"))
        #expect(policy.allows("http://[::1]/"))
    }

    @Test(arguments: [
        ("https://shop.example/p/1", HostPolicy.Decision.allowed),
        ("https://SHOP.example:443/x", .allowed),
        ("http://shop.example/x", .allowed),
        ("https://www.shop.example/", .offSite(host: "www.shop.example")),
        ("https://other.example/", .offSite(host: "other.example")),
    ])
    func sameHost(url: String, expected: HostPolicy.Decision) {
        let policy = HostPolicy(scope: HostPolicy.sameHost(as: ["https://shop.example/start"]))
        #expect(policy.decide(url) == expected)
    }

    @Test(arguments: [
        ("https://shop.example/", true),
        ("https://www.shop.example/", true),
        ("https://img.cdn.example/a.png", true),
        ("https://evilshop.example/", false),
        ("https://shop.example.evil.com/", false),
        ("https://cdn.example.org/", false),
    ])
    func allowedDomains(url: String, allowed: Bool) {
        let policy = HostPolicy(scope: .domains(["shop.example", "CDN.example"]))
        #expect(policy.allows(url) == allowed)
    }

    @Test func includeAndExcludePatterns() throws {
        let policy = HostPolicy(include: [.glob("*/products/*"), .glob("https://shop.example/p?id=*")],
                                exclude: [try .regex(#"[?&]sort="#)])
        #expect(policy.decide("https://shop.example/products/1") == .allowed)
        #expect(policy.decide("https://shop.example/p?id=7") == .allowed)
        // `?` in a glob is a literal character.
        #expect(policy.decide("https://shop.example/pXid=7") == .notIncluded)
        #expect(policy.decide("https://shop.example/about") == .notIncluded)
        // Exclude wins over include.
        #expect(policy.decide("https://shop.example/products/1?sort=price") == .excluded(pattern: #"[?&]sort="#))
    }

    @Test func globsAreAnchoredAndRegexesAreNot() throws {
        #expect(!URLPattern.glob("/products/*").matches("https://shop.example/products/1"))
        #expect(URLPattern.glob("*.pdf").matches("https://shop.example/a.pdf"))
        #expect(!URLPattern.glob("*.pdf").matches("https://shop.example/a.pdf?x"))
        #expect(try URLPattern.regex(#"/products/\d+$"#).matches("https://shop.example/products/42"))
        #expect(try !URLPattern.regex(#"/products/\d+$"#).matches("https://shop.example/products/new"))
    }

    @Test func invalidRegexIsAnError() {
        #expect(throws: URLPatternError.self) { try URLPattern.regex("(unclosed") }
    }
}

@Suite struct HostOfURLTests {
    @Test(arguments: [
        ("https://User:pw@Shop.Example.:8443/a", "shop.example"),
        ("http://[FE80::1]:80/", "fe80::1"),
        ("http://10.0.0.1/", "10.0.0.1"),
        ("/relative", nil),
        ("mailto:someone@shop.example", nil),
    ] as [(String, String?)])
    func hostOf(url: String, expected: String?) {
        #expect(HostPolicy.host(of: url) == expected)
    }
}
