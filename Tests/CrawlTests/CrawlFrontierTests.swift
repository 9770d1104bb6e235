import Crawl
import Testing

@Suite struct CrawlFrontierTests {
    static let scope = CrawlScope(hostPolicy: HostPolicy(scope: .hosts(["shop.example"]), exclude: [.glob("*/cart/*")]))

    @Test func normalisesAndDeduplicates() {
        var frontier = CrawlFrontier(scope: Self.scope)
        #expect(frontier.offer("HTTPS://Shop.Example:443/a#top", depth: 0) == .queued("https://shop.example/a"))
        #expect(frontier.offer("https://shop.example/a", depth: 1) == .duplicate)
        #expect(frontier.offer("https://shop.example/./b/../a", depth: 1) == .duplicate)
        #expect(frontier.offer("https://shop.example/b", depth: 1) == .queued("https://shop.example/b"))
        #expect(frontier.takeLevel() == [CrawlItem(url: "https://shop.example/a", depth: 0), CrawlItem(url: "https://shop.example/b", depth: 1)])
        #expect(frontier.isEmpty)
    }

    @Test func scopeDepthAndPageLimit() {
        var frontier = CrawlFrontier(scope: Self.scope, maxDepth: 2, maxPages: 3)
        #expect(frontier.offer("https://other.example/", depth: 0) == .refused("host other.example is outside the crawl"))
        #expect(frontier.offer("https://shop.example/cart/1", depth: 0) == .refused("excluded by */cart/*"))
        #expect(frontier.offer("mailto:a@b.c", depth: 0) == .refused("scheme mailto is not crawled"))
        #expect(frontier.offer("https://shop.example/deep", depth: 3) == .tooDeep)
        #expect(frontier.offer("https://shop.example/1", depth: 2) == .queued("https://shop.example/1"))
        #expect(frontier.offer("https://shop.example/2", depth: 2) == .queued("https://shop.example/2"))
        #expect(frontier.offer("https://shop.example/3", depth: 2) == .queued("https://shop.example/3"))
        #expect(frontier.offer("https://shop.example/4", depth: 2) == .limitReached)
        #expect(frontier.admitted == 3)
    }

    @Test func redirectTargetsCountAsSeen() {
        var frontier = CrawlFrontier(scope: Self.scope)
        frontier.markSeen("https://shop.example/landed")
        #expect(frontier.offer("https://shop.example/landed", depth: 1) == .duplicate)
    }

    @Test func fileURLsStayUnderTheSeedFolders() {
        let scope = CrawlScope(hostPolicy: HostPolicy(), fileRoots: [CrawlScope.fileRoot(of: "file:///lake/site/index.html")])
        var frontier = CrawlFrontier(scope: scope)
        #expect(frontier.offer("file:///lake/site/list/page-1.html", depth: 1) == .queued("file:///lake/site/list/page-1.html"))
        #expect(frontier.offer("file:///lake/site/../secret.txt", depth: 1) == .refused("file URL outside the seeds' folders"))
        #expect(frontier.offer("file:///etc/passwd", depth: 1) == .refused("file URL outside the seeds' folders"))
    }

    @Test func internalAddressesNeedPermission() {
        var frontier = CrawlFrontier(scope: CrawlScope(hostPolicy: HostPolicy()))
        if case .refused(let reason) = frontier.offer("http://169.254.169.254/latest/meta-data", depth: 0) {
            #expect(reason.contains("allow_private_addresses"))
        } else {
            Issue.record("a link-local address was admitted")
        }
    }
}
