import Dispatch
import Foundation
import Postgres
import TestSupport
import Testing
import WorkQueue

/// The crawl frontier, robots.txt answers, host politeness and rate buckets in PostgreSQL, against a
/// real server: what workers offering, claiming and fetching at once must never break.
@Suite struct SharedCrawlTests {
    func crawl(_ database: PostgresServer.Database, maxDepth: Int = 10, maxPages: Int = 1000) throws -> WorkQueue {
        let queue = try WorkQueue(database.url)
        try queue.prepareCrawlTables()
        try queue.createRun("run1", pipeline: "shop")
        try queue.startCrawl(runID: "run1", stage: "crawl", maxDepth: maxDepth, maxPages: maxPages, setup: "{}")
        return queue
    }

    func payload(_ url: String, _ depth: Int) -> String { "{\"kind\":\"fetch\",\"depth\":\(depth)}" }

    @Test func workersOfferingAtOnceAddEachURLOnceAndNeverPassMaxPages() throws {
        guard let database = try PostgresServer.database() else { return }
        defer { database.drop() }
        let queue = try crawl(database, maxPages: 40)
        #expect(try queue.offerLinks(runID: "run1", stage: "crawl", page: nil, links: ["http://a/", "http://a/"], worker: "c",
                                     payload: payload) == ["http://a/"])
        // Four workers offer overlapping links of the seed page at once, each in its own order.
        let links = (0..<60).map { "http://a/p\($0)" }
        let queuedBy = Locked<[String]>([])
        let failures = Locked<[String]>([])
        DispatchQueue.concurrentPerform(iterations: 4) { n in
            do {
                let mine = try WorkQueue(database.url)
                let offered = n % 2 == 0 ? links : links.reversed()
                let queued = try mine.offerLinks(runID: "run1", stage: "crawl", page: "http://a/", links: offered, worker: "w\(n)",
                                                 payload: payload)
                queuedBy.update { $0 += queued }
            } catch {
                failures.update { $0.append("\(error)") }
            }
        }
        #expect(failures.value.isEmpty)
        // max_pages is the crawl's: the seed and 39 links, each queued by one worker only.
        #expect(queuedBy.value.count == 39)
        #expect(Set(queuedBy.value).count == 39)
        let frontier = try queue.frontier(runID: "run1", stage: "crawl")
        #expect(frontier.count == 61)
        #expect(Set(frontier.map(\.url)).count == 61)
        #expect(frontier.filter { $0.state == "queued" }.count == 40)
        #expect(frontier.filter { $0.url != "http://a/" }.allSatisfy { $0.depth == 1 })
        #expect(try queue.progress(runID: "run1", stage: "crawl").pending == 40)
        // Required URLs go in whatever max_pages says; a URL already queued is not queued twice.
        let held = frontier.first { $0.state == "held" }!.url
        #expect(try queue.requireURLs(runID: "run1", stage: "crawl", [(held, 1), ("http://a/", 0)], payload: payload) == 1)
        #expect(try queue.progress(runID: "run1", stage: "crawl").pending == 41)
    }

    @Test func aDepthThatComesDownAdmitsAURLHeldTooDeep() throws {
        guard let database = try PostgresServer.database() else { return }
        defer { database.drop() }
        let queue = try crawl(database, maxDepth: 1)
        try queue.offerLinks(runID: "run1", stage: "crawl", page: nil, links: ["http://a/"], worker: "c", payload: payload)
        #expect(try queue.offerLinks(runID: "run1", stage: "crawl", page: "http://a/", links: ["http://a/b"], worker: "w",
                                     payload: payload) == ["http://a/b"])
        // b (depth 1) links to c: depth 2, held.
        #expect(try queue.offerLinks(runID: "run1", stage: "crawl", page: "http://a/b", links: ["http://a/c"], worker: "w",
                                     payload: payload).isEmpty)
        #expect(try queue.frontier(runID: "run1", stage: "crawl").first { $0.url == "http://a/c" }?.state == "held")
        // The seed links to c as well (a page offered again, say by a worker that took it over): c is at depth 1 now.
        #expect(try queue.offerLinks(runID: "run1", stage: "crawl", page: "http://a/", links: ["http://a/b", "http://a/c"],
                                     landing: "http://a/home", worker: "w2", payload: payload) == ["http://a/c"])
        let frontier = try queue.frontier(runID: "run1", stage: "crawl")
        #expect(frontier.map(\.url) == ["http://a/", "http://a/b", "http://a/c", "http://a/home"])
        #expect(frontier.map(\.state) == ["queued", "queued", "queued", "landing"])
        #expect(frontier.map(\.depth) == [0, 1, 1, 0])
        // Where a redirect landed is not fetched under its own name, even when linked later.
        #expect(try queue.offerLinks(runID: "run1", stage: "crawl", page: "http://a/c", links: ["http://a/home"], worker: "w",
                                     payload: payload).isEmpty)
    }

    @Test func robotsTxtIsFetchedByOneWorkerAndReadByTheOthers() throws {
        guard let database = try PostgresServer.database() else { return }
        defer { database.drop() }
        let one = try crawl(database)
        let two = try WorkQueue(database.url)
        let robots = "http://a/robots.txt"
        #expect(try one.claimRobots(runID: "run1", stage: "crawl", robotsURL: robots, worker: "w1", lease: 60) == .fetch)
        #expect(try two.claimRobots(runID: "run1", stage: "crawl", robotsURL: robots, worker: "w2", lease: 60) == .wait)
        try one.storeRobots(runID: "run1", stage: "crawl", robotsURL: robots, answer: "{\"status\":200}")
        #expect(try two.claimRobots(runID: "run1", stage: "crawl", robotsURL: robots, worker: "w2", lease: 60) == .ready("{\"status\":200}"))
        // A claim whose worker died (its lease passed) is taken over.
        let other = "http://b/robots.txt"
        #expect(try one.claimRobots(runID: "run1", stage: "crawl", robotsURL: other, worker: "w1", lease: 0.01) == .fetch)
        Thread.sleep(forTimeInterval: 0.05)
        #expect(try two.claimRobots(runID: "run1", stage: "crawl", robotsURL: other, worker: "w2", lease: 60) == .fetch)
    }

    @Test func aHostsSlotsAndStartsAreSharedByEveryWorker() throws {
        guard let database = try PostgresServer.database() else { return }
        defer { database.drop() }
        let one = try crawl(database)
        let two = try WorkQueue(database.url)
        try one.addHost(runID: "run1", stage: "crawl", host: "a", concurrency: 1, delay: 30)
        try two.addHost(runID: "run1", stage: "crawl", host: "a", concurrency: 5, delay: 0)  // the first row stays
        guard case .granted(let first, let wait) = try one.acquireHostSlot(runID: "run1", stage: "crawl", host: "a", holder: "w1", lease: 60)
        else { Issue.record("no slot"); return }
        #expect(wait == 0)
        // Per-host concurrency 1: the other worker waits for the slot.
        #expect(try two.acquireHostSlot(runID: "run1", stage: "crawl", host: "a", holder: "w2", lease: 60) == .busy)
        try one.releaseHostSlot(first)
        // Its start is the host's next permitted one: 30 s after the first (the delay), whichever worker asks.
        guard case .granted(_, let next) = try two.acquireHostSlot(runID: "run1", stage: "crawl", host: "a", holder: "w2", lease: 60)
        else { Issue.record("no slot after the release"); return }
        #expect(next > 25 && next <= 30)
        // A dead worker's slot frees itself when its lease passes.
        try one.addHost(runID: "run1", stage: "crawl", host: "b", concurrency: 1, delay: 0)
        _ = try one.acquireHostSlot(runID: "run1", stage: "crawl", host: "b", holder: "dead", lease: 0.01)
        Thread.sleep(forTimeInterval: 0.05)
        guard case .granted(let held, _) = try two.acquireHostSlot(runID: "run1", stage: "crawl", host: "b", holder: "w2", lease: 60)
        else { Issue.record("the dead worker's slot was not freed"); return }
        // Retry-After pauses the host for every worker: the next start is after the pause.
        try one.pauseHost(runID: "run1", stage: "crawl", host: "b", seconds: 40)
        #expect(try two.hostPause(runID: "run1", stage: "crawl", host: "b") > 35)
        try two.releaseHostSlot(held)
        guard case .granted(let after, let paused) = try two.acquireHostSlot(runID: "run1", stage: "crawl", host: "b", holder: "w2", lease: 60)
        else { Issue.record("no slot after the pause"); return }
        #expect(paused > 35 && paused <= 40)
        // Crawl-delay changes the spacing of the starts after it.
        try one.setHostDelay(runID: "run1", stage: "crawl", host: "b", seconds: 7)
        try two.releaseHostSlot(after)
        guard case .granted(let third, let start) = try one.acquireHostSlot(runID: "run1", stage: "crawl", host: "b", holder: "w1", lease: 60)
        else { Issue.record("no slot after the delay changed"); return }
        try one.releaseHostSlot(third)
        guard case .granted(_, let spaced) = try two.acquireHostSlot(runID: "run1", stage: "crawl", host: "b", holder: "w2", lease: 60)
        else { Issue.record("no slot after the delay changed"); return }
        #expect(start >= paused - 1 && spaced > start + 6)
        try two.releaseHostSlot(1_000_000)  // releasing an unknown slot is harmless
    }

    @Test func aSlotOfAWorkerWhoseLeasesLapsedIsFreedBeforeItExpires() throws {
        guard let database = try PostgresServer.database() else { return }
        defer { database.drop() }
        let queue = try crawl(database)
        try queue.offerLinks(runID: "run1", stage: "crawl", page: nil, links: ["http://a/"], worker: "c", payload: payload)
        try queue.addHost(runID: "run1", stage: "crawl", host: "a", concurrency: 1, delay: 0)
        // w1 holds the URL under a live lease and the host's one slot, taken a minute ago.
        let claimed = try queue.claim(worker: "w1", limit: 1, lease: 60)
        #expect(claimed.count == 1)
        _ = try queue.acquireHostSlot(runID: "run1", stage: "crawl", host: "a", holder: "w1", lease: 600)
        try queue.connection.run("UPDATE agentshop_crawl_host_slots SET taken = taken - interval '1 minute'")
        #expect(try queue.acquireHostSlot(runID: "run1", stage: "crawl", host: "a", holder: "w2", lease: 600) == .busy)
        // w1 is killed: its item lease lapses (here: ends now), and its slot no longer counts.
        try queue.connection.run("UPDATE agentshop_queue_items SET lease_expires = clock_timestamp() - interval '1 second'")
        guard case .granted = try queue.acquireHostSlot(runID: "run1", stage: "crawl", host: "a", holder: "w2", lease: 600)
        else { Issue.record("the dead worker's slot still counts"); return }
    }

    @Test func rateBucketsAreOneForEveryWorker() throws {
        guard let database = try PostgresServer.database() else { return }
        defer { database.drop() }
        let one = try WorkQueue(database.url)
        let two = try WorkQueue(database.url)
        try one.prepareRateTables()
        try two.prepareRateTables()
        // 60 requests a minute, a burst of 1: the first request goes at once, the next from any worker
        // waits about a second, the one after about two.
        #expect(try one.takeRate(provider: "openai x", kind: "requests", perMinute: 60, capacity: 1, amount: 1) == 0)
        let second = try two.takeRate(provider: "openai x", kind: "requests", perMinute: 60, capacity: 1, amount: 1)
        let third = try one.takeRate(provider: "openai x", kind: "requests", perMinute: 60, capacity: 1, amount: 1)
        #expect(second > 0.5 && second <= 1)
        #expect(third > 1.5 && third <= 2)
        // Another provider has its own bucket; a negative amount gives tokens back.
        #expect(try two.takeRate(provider: "groq y", kind: "tokens", perMinute: 6000, capacity: 100, amount: 300) > 1.5)
        #expect(try two.takeRate(provider: "groq y", kind: "tokens", perMinute: 6000, capacity: 100, amount: -300) == 0)
    }
}
