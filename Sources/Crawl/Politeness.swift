import Foundation
import Transport

/// How gently a crawl treats each site. The defaults are polite: one request at a time per host,
/// a second between requests, robots.txt obeyed (its `Crawl-delay` too, when longer).
public struct Politeness: Sendable, Equatable {
    /// Requests in flight at once to one host.
    public var perHostConcurrency: Int
    /// Seconds between the starts of two requests to one host.
    public var delay: Double
    /// Fetch and obey robots.txt.
    public var obeyRobots: Bool
    /// Honour robots.txt `Crawl-delay` when it is longer than `delay` (capped by `maxCrawlDelay`).
    public var honourCrawlDelay: Bool
    public var maxCrawlDelay: Double

    public init(perHostConcurrency: Int = 1, delay: Double = 1, obeyRobots: Bool = true, honourCrawlDelay: Bool = true,
                maxCrawlDelay: Double = 60) {
        self.perHostConcurrency = max(1, perHostConcurrency)
        self.delay = max(0, delay)
        self.obeyRobots = obeyRobots
        self.honourCrawlDelay = honourCrawlDelay
        self.maxCrawlDelay = maxCrawlDelay
    }

    /// For benchmarks against one's own server: no per-host limit beyond `concurrency`, no delay,
    /// no Crawl-delay; robots.txt still obeyed unless `obeyRobots` is turned off too.
    public static func off(concurrency: Int) -> Politeness {
        Politeness(perHostConcurrency: concurrency, delay: 0, obeyRobots: true, honourCrawlDelay: false)
    }

    /// The spacing for a host whose robots.txt asked for `crawlDelay` seconds.
    public func delay(crawlDelay: Double?) -> Double {
        guard honourCrawlDelay, let crawlDelay else { return delay }
        return max(delay, min(crawlDelay, maxCrawlDelay))
    }
}

/// A host's turnstile as the crawler uses it: a `HostGate` in one process; across the workers of a
/// queued crawl, one row per host in the queue (so N workers are as polite to a host as one).
public protocol HostTurnstile: Sendable {
    /// Waits for a slot and for the host's next permitted start; the caller must `release()`.
    func acquire() async
    func release() async
    /// Stops new requests to the host for `seconds` (a longer pause already set stays).
    func pause(for seconds: Double) async
    /// Sets the spacing of the host's requests (robots.txt's Crawl-delay).
    func setDelay(_ seconds: Double) async
}

/// What a crawl shares with the other processes fetching it: each host's turnstile, and each
/// robots.txt, fetched by one of them only.
public protocol SharedCrawlHosts: Sendable {
    func gate(host: String, concurrency: Int, delay: Double) -> any HostTurnstile
    /// The answer for `robotsURL`: another process's when one fetched it, else `fetch()`'s, kept for the others.
    func robots(_ robotsURL: String, fetch: @escaping @Sendable () async -> RobotsAnswer) async -> RobotsAnswer
}

extension HostGate: HostTurnstile {}

/// One host's turnstile: at most `concurrency` requests in flight, starts spaced by `delay`, and a
/// pause that stops every request to the host (after a 429, a 503, a run of failures).
///
/// Waiters are served in arrival order, so a crawl that queues a host's URLs in a fixed order
/// fetches them in that order when the concurrency is 1.
public actor HostGate {
    private var concurrency: Int
    private var delay: Double
    private var active = 0
    private var waiters: [CheckedContinuation<Void, Never>] = []
    private var nextStart: ContinuousClock.Instant?
    private var pausedUntil: ContinuousClock.Instant?

    public init(concurrency: Int, delay: Double) {
        self.concurrency = max(1, concurrency)
        self.delay = max(0, delay)
    }

    public func setDelay(_ seconds: Double) { delay = max(0, seconds) }
    public var currentDelay: Double { delay }

    /// Waits for a slot and for the host's next permitted start; the caller must `release()`.
    public func acquire() async {
        if active < concurrency {
            active += 1
        } else {
            await withCheckedContinuation { waiters.append($0) }  // the slot is handed over by `release`
        }
        while true {
            let now = ContinuousClock.now
            var start = now
            if let next = nextStart, next > start { start = next }
            if let paused = pausedUntil, paused > start { start = paused }
            // A cancelled crawl stops waiting; its request fails on the cancellation right after.
            if start <= now || Task.isCancelled {
                nextStart = now + .milliseconds(Int64(delay * 1000))
                return
            }
            // Re-checked after the sleep: another holder may have started meanwhile, or a pause begun.
            try? await Task.sleep(for: start - now)
        }
    }

    public func release() {
        if waiters.isEmpty {
            active -= 1
        } else {
            waiters.removeFirst().resume()
        }
    }

    /// Stops new requests to the host for `seconds` (a longer pause already set stays).
    public func pause(for seconds: Double) {
        let until = ContinuousClock.now + .milliseconds(Int64(max(0, seconds) * 1000))
        if pausedUntil.map({ $0 < until }) ?? true { pausedUntil = until }
    }
}

/// robots.txt per origin, fetched once per crawl through the host's gate and retried with backoff
/// when the server fails (RFC 9309 §2.3.1.4: 5xx means "assume complete disallow" meanwhile).
public actor RobotsCache {
    private var policies: [String: Task<RobotsPolicy, Never>] = [:]
    private let client: HTTPClient
    private let userAgent: String
    private let timeout: Double
    private let retry: RetryPolicy
    private let sleep: @Sendable (Double) async -> Void
    private let shared: (any SharedCrawlHosts)?

    public init(client: HTTPClient, userAgent: String, timeout: Double = 30, retry: RetryPolicy = RetryPolicy(),
                shared: (any SharedCrawlHosts)? = nil,
                sleep: @escaping @Sendable (Double) async -> Void = { try? await Task.sleep(for: .milliseconds(Int64($0 * 1000))) }) {
        self.shared = shared
        self.client = client
        self.userAgent = userAgent
        self.timeout = timeout
        self.retry = retry
        self.sleep = sleep
    }

    /// The policy for `url`'s origin; nil for URLs robots.txt does not cover (file://).
    public func policy(for url: String, gate: (any HostTurnstile)?) async -> RobotsPolicy? {
        guard let robotsURL = RobotsPolicy.robotsURL(for: url) else { return nil }
        if let task = policies[robotsURL] { return await task.value }
        let (client, userAgent, timeout, retry, sleep, shared) = (self.client, self.userAgent, self.timeout, self.retry, self.sleep, self.shared)
        let fetch: @Sendable () async -> RobotsAnswer = {
            var attempt = 1
            while true {
                await gate?.acquire()
                let answer = await RobotsPolicy.answer(for: url, userAgent: userAgent, client: client, timeout: timeout)
                await gate?.release()
                guard answer.policy.shouldBackOff, attempt < retry.maxAttempts else { return answer }
                let wait = retry.backoff(afterAttempt: attempt)
                await gate?.pause(for: wait)
                await sleep(wait)
                attempt += 1
            }
        }
        let task = Task { () -> RobotsPolicy in
            if let shared { return await shared.robots(robotsURL, fetch: fetch).policy }
            return await fetch().policy
        }
        policies[robotsURL] = task
        return await task.value
    }
}
