import Crawl
import Testing

/// The example file of RFC 9309 §5.2, with the outcomes the RFC states.
private let rfcExample = """
    User-Agent: *
    Disallow: *.gif$
    Disallow: /example/
    Allow: /publications/

    User-Agent: foobot
    Disallow:/
    Allow:/example/page.html
    Allow:/example/allowed.gif

    User-Agent: barbot
    User-Agent: bazbot
    Disallow: /example/page.html

    User-Agent: quxbot

    EOF
    """

@Suite struct RobotsPolicyTests {
    @Test(arguments: [
        // foobot: only the two allowed files.
        ("foobot", "/example/page.html", true),
        ("foobot", "/example/allowed.gif", true),
        ("foobot", "/example/other.html", false),
        ("foobot", "/", false),
        // Product token, case-insensitive, from a full User-Agent header.
        ("FooBot/2.1 (+https://example.com/bot)", "/example/other.html", false),
        ("FOOBOT", "/example/page.html", true),
        // barbot and bazbot share one group; it replaces `*` entirely.
        ("barbot", "/example/page.html", false),
        ("bazbot", "/example/page.html", false),
        ("barbot", "/example/other.html", true),
        ("bazbot", "/image.gif", true),
        // quxbot has an empty group: everything allowed.
        ("quxbot", "/example/page.html", true),
        ("quxbot", "/image.gif", true),
        // Everyone else gets `*`.
        ("otherbot", "/image.gif", false),
        ("otherbot", "/a/b/image.gif", false),
        ("otherbot", "/image.gif?size=2", true),
        ("otherbot", "/example/", false),
        ("otherbot", "/example/deep/page", false),
        ("otherbot", "/publications/2024", true),
        ("otherbot", "/", true),
        // /robots.txt is implicitly allowed, even under `Disallow: /`.
        ("foobot", "/robots.txt", true),
    ])
    func rfcExampleFile(agent: String, path: String, allowed: Bool) {
        let policy = RobotsPolicy(parsing: rfcExample)
        #expect(policy.isAllowed(path, userAgent: agent) == allowed)
    }

    @Test(arguments: [
        // Longest match wins (RFC 9309 §2.2.2 example).
        ("Allow: /example/page/\nDisallow: /example/page/disallowed.gif", "/example/page/", true),
        ("Allow: /example/page/\nDisallow: /example/page/disallowed.gif", "/example/page/disallowed.gif", false),
        ("Disallow: /\nAllow: /shop", "/shop/item", true),
        ("Disallow: /\nAllow: /shop", "/cart", false),
        // Allow wins a tie, in either order.
        ("Disallow: /page\nAllow: /page", "/page", true),
        ("Allow: /page\nDisallow: /page", "/page", true),
        // The longer pattern wins, wildcards counted as written.
        ("Disallow: /*.html\nAllow: /page", "/page.html", false),
        ("Disallow: /*.html\nAllow: /page.h*", "/page.html", true),
        // Wildcards and anchors.
        ("Disallow: /*/private/", "/a/private/x", false),
        ("Disallow: /*/private/", "/private/x", true),
        ("Disallow: /*.php$", "/index.php", false),
        ("Disallow: /*.php$", "/a/b/index.php", false),
        ("Disallow: /*.php$", "/index.php?x=1", true),
        ("Disallow: /*.php$", "/index.phpx", true),
        ("Disallow: /fish*", "/fishheads", false),
        ("Disallow: /fish", "/fishheads", false),
        ("Disallow: /fish", "/Fish", true),
        ("Disallow: /fish/$", "/fish/", false),
        ("Disallow: /fish/$", "/fish/salmon", true),
        ("Disallow: /$", "/", false),
        ("Disallow: /$", "/page", true),
        ("Disallow: /**/x", "/a/b/x", false),
        // `$` inside a pattern is a literal.
        ("Disallow: /a$b", "/a$b", false),
        ("Disallow: /a$b", "/a", true),
        // Query strings take part in matching.
        ("Disallow: /search?q=", "/search?q=shoes", false),
        ("Disallow: /*?", "/list?page=2", false),
        ("Disallow: /*?", "/list", true),
        // An empty Disallow allows everything.
        ("Disallow:", "/anything", true),
        // Percent-encoding (RFC 9309 §2.2.2 table).
        ("Disallow: /foo/bar?baz=quz", "/foo/bar?baz=quz", false),
        ("Disallow: /foo/bar?baz=https://foo.bar", "/foo/bar?baz=https%3A%2F%2Ffoo.bar", false),
        ("Disallow: /foo/bar/\u{30C4}", "/foo/bar/%E3%83%84", false),
        ("Disallow: /foo/bar/%E3%83%84", "/foo/bar/%e3%83%84", false),
        ("Disallow: /foo/bar/%E3%83%84", "/foo/bar/\u{30C4}", false),
        ("Disallow: /foo/bar/%62%61%7A", "/foo/bar/baz", false),
        ("Disallow: /foo/bar/baz", "/foo/bar/%62%61%7A", false),
        // An escaped `*` is a literal star, not a wildcard.
        ("Disallow: /a%2Ab", "/a*b", false),
        ("Disallow: /a%2Ab", "/axb", true),
        // Absolute URLs are matched by path and query; the fragment is ignored.
        ("Disallow: /private", "https://shop.example/private/1#top", false),
        ("Disallow: /private", "https://shop.example/public", true),
    ])
    func matching(rules: String, path: String, allowed: Bool) {
        let policy = RobotsPolicy(parsing: "User-agent: *\n" + rules + "\n")
        #expect(policy.isAllowed(path, userAgent: "AgentShop/0.1") == allowed)
    }

    @Test func sameAgentTwiceMergesGroups() {
        let policy = RobotsPolicy(parsing: """
            User-agent: agentshop
            Disallow: /a

            User-agent: other
            Disallow: /b

            User-agent: AgentShop
            Disallow: /c
            Crawl-delay: 2.5
            """)
        #expect(!policy.isAllowed("/a", userAgent: "AgentShop/0.1"))
        #expect(policy.isAllowed("/b", userAgent: "AgentShop/0.1"))
        #expect(!policy.isAllowed("/c", userAgent: "AgentShop/0.1"))
        #expect(policy.crawlDelay(for: "AgentShop/0.1") == 2.5)
        #expect(policy.crawlDelay(for: "other") == nil)
    }

    @Test func noMatchingGroupAndNoStarAllowsAll() {
        let policy = RobotsPolicy(parsing: "User-agent: googlebot\nDisallow: /\n")
        #expect(policy.isAllowed("/x", userAgent: "AgentShop"))
        #expect(!policy.isAllowed("/x", userAgent: "Googlebot/2.1"))
    }

    @Test func rulesBeforeAnyUserAgentAreIgnored() {
        let policy = RobotsPolicy(parsing: "Disallow: /\nUser-agent: *\nDisallow: /private\n")
        #expect(policy.isAllowed("/public", userAgent: "AgentShop"))
        #expect(!policy.isAllowed("/private", userAgent: "AgentShop"))
    }

    @Test func commentsCaseOfKeysCRLFAndUnknownLines() {
        let text = "\u{FEFF}# site rules\r\nUSER-AGENT: *  # everyone\r\nNoindex: /x\r\nDISALLOW: /tmp # scratch\r\nnonsense line\r\n"
        let policy = RobotsPolicy(parsing: text)
        #expect(!policy.isAllowed("/tmp/1", userAgent: "AgentShop"))
        #expect(policy.isAllowed("/x", userAgent: "AgentShop"))
    }

    @Test func crawlDelayAndSitemaps() {
        let policy = RobotsPolicy(parsing: """
            Sitemap: https://shop.example/sitemap.xml
            User-agent: *
            Crawl-delay: 4
            Sitemap: https://shop.example/products.xml.gz
            Disallow: /cart
            Crawl-delay: nonsense
            """)
        #expect(policy.sitemaps == ["https://shop.example/sitemap.xml", "https://shop.example/products.xml.gz"])
        #expect(policy.crawlDelay(for: "AgentShop") == 4)
        // The Sitemap line between the group's lines did not end the group.
        #expect(!policy.isAllowed("/cart", userAgent: "AgentShop"))
    }

    /// RFC 9309 §2.2.1: groups are matched on the crawler's product token, not its whole user agent.
    @Test(arguments: [
        ("Foo", true),                                   // `User-agent: Foo Bar` reads as `foo` (Google's parser does too)
        ("foo", true),
        ("Foo Bar", false),                              // not a product token: only `*` applies
        ("Foo Bar/1.0 (+https://foo.example/bot)", true), // a header: its first product is `Foo`
        ("Foo/2.1 (+https://foo.example/bot)", true),
        ("Foo-Bar", false),                              // another token
        ("Foobot*", false),
        ("ツ", false),
        ("", false),
    ])
    func groupsMatchTheProductToken(agent: String, allowed: Bool) {
        let policy = RobotsPolicy(parsing: "User-Agent: *\nDisallow: /\nUser-Agent: Foo Bar\nAllow: /x/\nDisallow: /\n")
        #expect(policy.isAllowed("http://foo.bar/x/y", userAgent: agent) == allowed, "\(agent)")
    }

    @Test(arguments: [
        ("AgentShop/0.1 (+https://github.com/agentshop/agentshop)", "agentshop"),
        ("Foo Bar/1.0 (+url)", "foo"),
        ("FooBot (+https://foo.example)", "foobot"),
        ("Mozilla/5.0 (compatible; Googlebot/2.1)", "mozilla"),
        ("My_Bot", "my_bot"),
        ("Foo Bar", nil),
        ("Bot9/1.0", nil),
    ] as [(String, String?)])
    func crawlerTokenOfAUserAgent(agent: String, token: String?) {
        #expect(RobotsPolicy.crawlerToken(agent) == token)
    }

    @Test func onlyTheFirst500KiBAreParsed() {
        let padding = String(repeating: "# padding\n", count: RobotsPolicy.maxParseBytes / 10)
        let policy = RobotsPolicy(parsing: "User-agent: *\nDisallow: /early\n" + padding + "Disallow: /late\n")
        #expect(!policy.isAllowed("/early", userAgent: "AgentShop"))
        #expect(policy.isAllowed("/late", userAgent: "AgentShop"))
    }

    @Test(arguments: [
        (200, false, false),  // parsed: the file disallows /private only
        (404, true, false),   // unavailable: allow all
        (403, true, false),
        (401, true, false),
        (429, false, true),   // rate limited: back off like 5xx
        (500, false, true),   // unreachable: disallow all
        (503, false, true),
    ])
    func statusRules(status: Int, allowsPrivate: Bool, backsOff: Bool) {
        let policy = RobotsPolicy.policy(status: status, body: Array("User-agent: *\nDisallow: /private\n".utf8))
        #expect(policy.isAllowed("/private", userAgent: "AgentShop") == allowsPrivate)
        #expect(policy.shouldBackOff == backsOff)
        #expect(policy.isAllowed("/public", userAgent: "AgentShop") == (status < 500 && status != 429))
        #expect(policy.isAllowed("/robots.txt", userAgent: "AgentShop"))
    }

    @Test(arguments: [
        ("https://Shop.Example:8443/a/b?c#d", "https://shop.example:8443/robots.txt"),
        ("http://user:pw@shop.example/x", "http://shop.example/robots.txt"),
        ("ftp://shop.example/x", nil),
        ("/relative", nil),
    ] as [(String, String?)])
    func robotsURL(url: String, expected: String?) {
        #expect(RobotsPolicy.robotsURL(for: url) == expected)
    }
}
