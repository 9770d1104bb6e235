import Crawl
import Foundation
import TestSupport
import Testing
import Transport

@Suite struct PolitenessTests {
    static func seconds(_ d: Duration) -> Double { Double(d.components.seconds) + Double(d.components.attoseconds) / 1e18 }

    @Test func startsAreSpacedByTheDelay() async {
        let gate = HostGate(concurrency: 1, delay: 0.2)
        let clock = ContinuousClock()
        let start = clock.now
        var starts: [Double] = []
        for _ in 0..<3 {
            await gate.acquire()
            starts.append(Self.seconds(clock.now - start))
            await gate.release()
        }
        #expect(starts[0] < 0.1)
        #expect(starts[1] - starts[0] >= 0.19)
        #expect(starts[2] - starts[1] >= 0.19)
    }

    @Test func perHostConcurrencyIsALimitAndWaitersKeepTheirOrder() async {
        let gate = HostGate(concurrency: 2, delay: 0)
        let log = Log()
        await withTaskGroup(of: Void.self) { group in
            for i in 0..<6 {
                group.addTask {
                    await gate.acquire()
                    await log.enter(i)
                    try? await Task.sleep(for: .milliseconds(30))
                    await log.leave()
                    await gate.release()
                }
                try? await Task.sleep(for: .milliseconds(2))  // arrive in order
            }
        }
        #expect(await log.maxActive == 2)
        #expect(await log.order == Array(0..<6))
    }

    @Test func pauseHoldsEveryRequestToTheHost() async {
        let gate = HostGate(concurrency: 4, delay: 0)
        let clock = ContinuousClock()
        let start = clock.now
        await gate.pause(for: 0.3)
        await gate.acquire()
        #expect(Self.seconds(clock.now - start) >= 0.29)
        await gate.release()
    }

    @Test func crawlDelayOnlyLengthensAndIsCapped() {
        let polite = Politeness(delay: 1, maxCrawlDelay: 10)
        #expect(polite.delay(crawlDelay: nil) == 1)
        #expect(polite.delay(crawlDelay: 0.5) == 1)
        #expect(polite.delay(crawlDelay: 3) == 3)
        #expect(polite.delay(crawlDelay: 3600) == 10)
        #expect(Politeness.off(concurrency: 16).delay(crawlDelay: 5) == 0)
        #expect(Politeness.off(concurrency: 16).perHostConcurrency == 16)
    }

    actor Log {
        var active = 0
        var maxActive = 0
        var order: [Int] = []
        func enter(_ i: Int) {
            order.append(i)
            active += 1
            maxActive = max(maxActive, active)
        }
        func leave() { active -= 1 }
    }
}

/// robots.txt through the cache: once per origin, 5xx retried with backoff, then "disallow all".
@Suite struct RobotsCacheTests {
    @Test func serverErrorsAreRetriedThenTheFileIsUsed() async throws {
        try await ScriptedSite.with({ site in
            await site.route("/robots.txt") { _, hit in hit < 3 ? .text("busy", status: 503) : .text("User-agent: *\nDisallow: /x\n") }
        }) { base, site in
            let cache = RobotsCache(client: HTTPClient(), userAgent: "TestBot", retry: RetryPolicy(maxAttempts: 4, initialDelay: 0.05))
            let policy = await cache.policy(for: base + "/a", gate: HostGate(concurrency: 1, delay: 0))
            #expect(policy?.source == .parsed)
            #expect(policy?.isAllowed(base + "/x", userAgent: "TestBot") == false)
            // Asked once more for another page of the origin: cached, no request.
            _ = await cache.policy(for: base + "/b", gate: nil)
            #expect(await site.paths == ["/robots.txt", "/robots.txt", "/robots.txt"])
            let times = await site.requests.map(\.at)
            #expect(times[1] - times[0] >= 0.025 && times[2] - times[1] >= 0.05)
        }
    }

    @Test func persistentServerErrorDisallowsTheHost() async throws {
        try await ScriptedSite.with({ site in
            await site.route("/robots.txt") { _, _ in .text("down", status: 500) }
        }) { base, site in
            let cache = RobotsCache(client: HTTPClient(), userAgent: "TestBot", retry: RetryPolicy(maxAttempts: 2, initialDelay: 0.01))
            let policy = await cache.policy(for: base + "/a", gate: nil)
            #expect(policy?.shouldBackOff == true)
            #expect(policy?.isAllowed(base + "/a", userAgent: "TestBot") == false)
            #expect(await site.paths.count == 2)
        }
    }

    @Test func fileURLsHaveNoRobotsTxt() async {
        let cache = RobotsCache(client: HTTPClient(), userAgent: "TestBot")
        #expect(await cache.policy(for: "file:///tmp/site/index.html", gate: nil) == nil)
    }
}
