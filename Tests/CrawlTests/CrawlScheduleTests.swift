import Crawl
import Testing

/// The schedule hands out URLs while responses arrive in any order, and must still end with exactly
/// what a breadth-first crawl fetches, in its order. A reference breadth-first crawl (written here,
/// not the `CrawlFrontier` the schedule replays with) over random link graphs is the judge.
@Suite struct CrawlScheduleTests {
    static let hosts = ["s.example", "t.example", "u.example"]
    static let scope = CrawlScope(hostPolicy: HostPolicy(scope: .hosts(Set(hosts))))

    static func url(_ n: Int, host: String = "s.example") -> String { "https://\(host)/\(n)" }

    /// A deterministic generator, so that a failing graph can be found again.
    struct SplitMix: RandomNumberGenerator {
        var state: UInt64
        mutating func next() -> UInt64 {
            state &+= 0x9E37_79B9_7F4A_7C15
            var z = state
            z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
            z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
            return z ^ (z >> 31)
        }
    }

    /// A random site over three hosts: every page links to a few others, and a pagination chain
    /// runs through it, so that long paths and short cuts to the same page both exist.
    static func randomSite(_ rng: inout SplitMix, pages: Int) -> [String: [String]] {
        func page(_ n: Int) -> String { url(n, host: hosts[n % hosts.count]) }
        var links: [String: [String]] = [:]
        for n in 0..<pages {
            var out = (0..<Int.random(in: 0...4, using: &rng)).map { _ in page(Int.random(in: 0..<pages, using: &rng)) }
            if n + 1 < pages { out.insert(page(n + 1), at: Int.random(in: 0...out.count, using: &rng)) }
            if Int.random(in: 0..<10, using: &rng) == 0 { out.append("https://elsewhere.example/") }  // out of scope
            links[page(n)] = out
        }
        return links
    }

    /// The breadth-first crawl: order of first discovery, depth of the shortest path, limits applied.
    static func breadthFirst(_ links: [String: [String]], seed: String, maxDepth: Int, maxPages: Int) -> [CrawlItem] {
        var order = [CrawlItem(url: seed, depth: 0)]
        var seen: Set<String> = [seed]
        var index = 0
        while index < order.count {
            let item = order[index]
            index += 1
            guard item.depth < maxDepth else { continue }
            for link in links[item.url] ?? [] where !link.hasPrefix("https://elsewhere.") && !seen.contains(link) {
                guard order.count < maxPages else { break }
                seen.insert(link)
                order.append(CrawlItem(url: link, depth: item.depth + 1))
            }
        }
        return order
    }

    /// Runs a crawl with `slots` transfers in flight, completing them in a random order.
    static func simulate(_ links: [String: [String]], seed: String, maxDepth: Int, maxPages: Int, slots: Int, perHost: Int,
                         rng: inout SplitMix) -> (order: [CrawlItem], fetched: [String], repairs: Int) {
        var schedule = CrawlSchedule(scope: scope, maxDepth: maxDepth, maxPages: maxPages, perHostLimit: perHost)
        schedule.seed(seed)
        var inFlight: [CrawlItem] = []
        var fetched: [String] = []
        var repairs = 0
        while true {
            while inFlight.count < slots, let item = schedule.next() { inFlight.append(item) }
            for host in hosts {
                #expect(inFlight.filter { $0.url.contains("//\(host)/") }.count <= perHost, "more than \(perHost) in flight on \(host)")
            }
            if inFlight.isEmpty {
                let (order, missing) = schedule.canonicalOrder()
                if missing.isEmpty { return (order, fetched, repairs) }
                schedule.require(missing)
                repairs += 1
                continue
            }
            let item = inFlight.remove(at: Int.random(in: 0..<inFlight.count, using: &rng))
            fetched.append(item.url)
            schedule.completed(item.url, finalURL: nil, links: links[item.url] ?? [])
        }
    }

    @Test(arguments: [(Int.max, Int.max), (3, Int.max), (1, Int.max), (Int.max, 15), (4, 25)])
    func outOfOrderResponsesEndInTheBreadthFirstCrawl(maxDepth: Int, maxPages: Int) {
        var extra = 0
        for graph in 0..<60 {
            var rng = SplitMix(state: UInt64(graph))
            let links = Self.randomSite(&rng, pages: 40)
            let expected = Self.breadthFirst(links, seed: Self.url(0), maxDepth: maxDepth, maxPages: maxPages)
            for (slots, perHost) in [(1, 1), (3, 1), (3, 2), (16, 16)] {
                let (order, fetched, repairs) = Self.simulate(links, seed: Self.url(0), maxDepth: maxDepth, maxPages: maxPages,
                                                              slots: slots, perHost: perHost, rng: &rng)
                #expect(order == expected, "graph \(graph), \(slots) slots")
                #expect(Set(fetched).count == fetched.count, "graph \(graph): a URL was fetched twice")
                #expect(Set(fetched).isSuperset(of: expected.map(\.url)))
                if maxPages == Int.max {
                    // Without a page limit the crawl is right the first time: nothing beyond the breadth-first
                    // crawl is fetched, and nothing is missing from it.
                    #expect(Set(fetched) == Set(expected.map(\.url)), "graph \(graph), \(slots) slots")
                    #expect(repairs == 0, "graph \(graph), \(slots) slots")
                }
                if slots == 1 {
                    // One transfer at a time: the schedule is the breadth-first crawl, step by step (the
                    // oldest URL of any host first).
                    #expect(fetched == expected.map(\.url), "graph \(graph)")
                }
                extra += fetched.count - expected.count
            }
        }
        // A page limit costs a few requests past it when responses overtake each other; not many.
        #expect(extra <= (maxPages == Int.max ? 0 : 60 * 4 * 10))
    }

    @Test func paginationKeepsMoreThanOneLevelInFlight() {
        // Listing n links to 10 products and to listing n + 1: a level-by-level crawl has at most 11
        // transfers in flight; the schedule hands out the next listing's products while this one's finish.
        var links: [String: [String]] = [:]
        for listing in 0..<20 {
            links[Self.url(1000 + listing)] = (0..<10).map { Self.url(listing * 10 + $0) } + [Self.url(1000 + listing + 1)]
        }
        var schedule = CrawlSchedule(scope: Self.scope)
        schedule.seed(Self.url(1000))
        var inFlight: [CrawlItem] = []
        var most = 0
        while true {
            while inFlight.count < 16, let item = schedule.next() { inFlight.append(item) }
            most = max(most, inFlight.count)
            guard !inFlight.isEmpty else { break }
            // The listing page answers first, its products after.
            let index = inFlight.firstIndex { links[$0.url] != nil } ?? 0
            let item = inFlight.remove(at: index)
            schedule.completed(item.url, finalURL: nil, links: links[item.url] ?? [])
        }
        #expect(most == 16)
        let (order, missing) = schedule.canonicalOrder()
        #expect(missing.isEmpty)
        #expect(order.count == 20 * 11 + 1)
        #expect(order.prefix(12).map(\.url) == [Self.url(1000)] + (0..<10).map { Self.url($0) } + [Self.url(1001)])
        #expect(order.last == CrawlItem(url: Self.url(1020), depth: 20))
    }

    @Test func perHostLimitAndOldestFirstAcrossHosts() {
        var schedule = CrawlSchedule(scope: Self.scope, perHostLimit: 2)
        schedule.seed(Self.url(0))
        let seed = schedule.next()!
        schedule.completed(seed.url, finalURL: nil,
                           links: [Self.url(1), Self.url(2), Self.url(3), Self.url(1, host: "t.example"), Self.url(4)])
        // Two of s.example at most; t.example's page, queued after s.example/3, goes before it.
        #expect(schedule.next()?.url == Self.url(1))
        #expect(schedule.next()?.url == Self.url(2))
        #expect(schedule.next()?.url == Self.url(1, host: "t.example"))
        #expect(schedule.next() == nil)
        schedule.completed(Self.url(2), finalURL: nil, links: [])
        #expect(schedule.next()?.url == Self.url(3))
        #expect(!schedule.isIdle)
    }

    @Test func aRedirectTargetIsNotFetchedAgainUnderItsOwnName() {
        var schedule = CrawlSchedule(scope: Self.scope)
        schedule.seed(Self.url(0))
        let seed = schedule.next()!
        schedule.completed(seed.url, finalURL: nil, links: [Self.url(1), Self.url(2)])
        let first = schedule.next()!
        schedule.completed(first.url, finalURL: Self.url(9), links: [Self.url(9)])  // /1 redirected to /9
        let second = schedule.next()!
        schedule.completed(second.url, finalURL: nil, links: [Self.url(9)])
        #expect(schedule.next() == nil)
        #expect(schedule.canonicalOrder().order.map(\.url) == [Self.url(0), Self.url(1), Self.url(2)])
    }

    @Test func aShortcutFoundLateLowersTheDepthOfWhatWasFetched() {
        // 0 → 1 → 2 → 3 → 4 and 0 → 5 → 3, with max depth 3. The long way answers first: page 3 is
        // fetched at depth 3, too deep to follow. Then page 5 answers: 3 is at depth 2 after all, so
        // its link to 4 (depth 3) is followed, as the breadth-first crawl does.
        let links = [Self.url(0): [Self.url(1), Self.url(5)], Self.url(1): [Self.url(2)], Self.url(2): [Self.url(3)],
                     Self.url(3): [Self.url(4)], Self.url(5): [Self.url(3)]]
        var schedule = CrawlSchedule(scope: Self.scope, maxDepth: 3)
        schedule.seed(Self.url(0))
        func complete(_ n: Int) { schedule.completed(Self.url(n), finalURL: nil, links: links[Self.url(n)] ?? []) }
        #expect(schedule.next()?.url == Self.url(0))
        complete(0)
        #expect(schedule.next()?.url == Self.url(1))
        #expect(schedule.next()?.url == Self.url(5))
        complete(1)
        #expect(schedule.next()?.url == Self.url(2))
        complete(2)
        #expect(schedule.next() == CrawlItem(url: Self.url(3), depth: 3))
        complete(3)
        #expect(schedule.next() == nil)
        complete(5)
        #expect(schedule.depth(of: Self.url(3)) == 2)
        #expect(schedule.next() == CrawlItem(url: Self.url(4), depth: 3))
        complete(4)
        #expect(schedule.isIdle)
        let (order, missing) = schedule.canonicalOrder()
        #expect(missing.isEmpty)
        #expect(order.map(\.url) == [0, 1, 5, 2, 3, 4].map { Self.url($0) })
        #expect(order.map(\.depth) == [0, 1, 1, 2, 2, 3])
    }
}
