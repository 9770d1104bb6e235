import Foundation

/// Time for the rate limiter: the real clock in the product, a manual one in tests.
public protocol LimiterClock: Sendable {
    /// Seconds on a monotonic scale.
    func now() -> Double
    func sleep(seconds: Double) async throws
}

/// The monotonic system clock.
public struct SystemLimiterClock: LimiterClock {
    public init() {}

    public func now() -> Double {
        var ts = timespec()
        clock_gettime(CLOCK_MONOTONIC, &ts)
        return Double(ts.tv_sec) + Double(ts.tv_nsec) / 1e9
    }

    public func sleep(seconds: Double) async throws {
        guard seconds > 0 else { return }
        try await Task.sleep(nanoseconds: UInt64(seconds * 1e9))
    }
}

/// Requests-per-minute and tokens-per-minute token buckets for one provider. `acquire` waits
/// (never fails) until the request fits.
///
/// Each bucket refills continuously at its rate and holds at most `burst` units (by default one
/// second's worth, so that a run starts at the limit rather than a minute ahead of it). A caller
/// takes its units at once, even into debt, and then sleeps off the debt: callers are served in
/// arrival order, none spins, and a request larger than the bucket still goes through after a
/// proportional wait.
public actor RateLimiter {
    struct Bucket {
        let ratePerSecond: Double
        let capacity: Double
        var level: Double
        var updated: Double

        mutating func take(_ amount: Double, now: Double) -> Double {
            level = min(capacity, level + (now - updated) * ratePerSecond)
            updated = now
            level -= amount
            return level >= 0 ? 0 : -level / ratePerSecond
        }
    }

    private var requests: Bucket?
    private var tokens: Bucket?
    private let clock: any LimiterClock
    /// What the limits are for (the provider's kind and endpoint): the key of its shared buckets.
    public let key: String
    private let limits: SharedRateLimits

    /// Rate limits shared with other processes (a queue's bucket rows, one per provider), for the
    /// calls of the task that sets it (`RateLimiter.$shared.withValue(buckets) { … }`): in its place
    /// of this process's own buckets, so that N workers together stay within a provider's limits.
    @TaskLocal public static var shared: (any SharedRateLimit)?

    /// Nil or zero limits are not enforced. `requestBurst` / `tokenBurst` default to one second's worth (at least 1).
    public init(requestsPerMinute: Int?, tokensPerMinute: Int?, requestBurst: Double? = nil, tokenBurst: Double? = nil,
                clock: any LimiterClock = SystemLimiterClock(), key: String = "") {
        self.clock = clock
        self.key = key
        let now = clock.now()
        func bucket(_ perMinute: Int?, _ burst: Double?) -> Bucket? {
            guard let perMinute, perMinute > 0 else { return nil }
            let rate = Double(perMinute) / 60
            let capacity = max(1, burst ?? rate)
            return Bucket(ratePerSecond: rate, capacity: capacity, level: capacity, updated: now)
        }
        requests = bucket(requestsPerMinute, requestBurst)
        tokens = bucket(tokensPerMinute, tokenBurst)
        limits = SharedRateLimits(requestsPerMinute: requests == nil ? nil : requestsPerMinute, requestBurst: requests?.capacity ?? 0,
                                  tokensPerMinute: tokens == nil ? nil : tokensPerMinute, tokenBurst: tokens?.capacity ?? 0)
    }

    /// The limits of `configuration`.
    public init(_ configuration: ProviderConfiguration, clock: any LimiterClock = SystemLimiterClock()) {
        self.init(requestsPerMinute: configuration.requestsPerMinute, tokensPerMinute: configuration.tokensPerMinute,
                  clock: clock, key: configuration.kind.rawValue + " " + configuration.baseURL)
    }

    /// Waits until one request of about `tokens` tokens may be sent. Returns the seconds waited.
    @discardableResult
    public func acquire(tokens estimate: Int = 0) async throws -> Double {
        if let shared = Self.shared, requests != nil || tokens != nil {
            let wait = try await shared.take(key: key, limits: limits, tokens: estimate)
            if wait > 0 { try await clock.sleep(seconds: wait) }
            return wait
        }
        let now = clock.now()
        var wait = 0.0
        if var bucket = requests {
            wait = bucket.take(1, now: now)
            requests = bucket
        }
        if var bucket = tokens, estimate > 0 {
            wait = max(wait, bucket.take(Double(estimate), now: now))
            tokens = bucket
        }
        if wait > 0 { try await clock.sleep(seconds: wait) }
        return wait
    }

    /// Corrects the token bucket once the provider reported what a request really used: the
    /// difference is taken (or given back), so the next callers wait for what was really spent.
    public func settle(estimated: Int, actual: Int) {
        guard tokens != nil, actual != estimated else { return }
        if let shared = Self.shared {
            shared.settle(key: key, limits: limits, tokens: actual - estimated)
            return
        }
        guard var bucket = tokens else { return }
        _ = bucket.take(Double(actual - estimated), now: clock.now())
        tokens = bucket
    }
}

/// A provider's limits as shared buckets take them: per minute, and the most a bucket holds.
public struct SharedRateLimits: Sendable, Equatable {
    public var requestsPerMinute: Int?
    public var requestBurst: Double
    public var tokensPerMinute: Int?
    public var tokenBurst: Double
}

/// Token buckets shared by every process of a distributed run, one pair per provider (`key`):
/// `take` takes one request of `tokens` at once, into debt if need be, and answers how long to
/// wait before sending it; the same rule as `RateLimiter`'s own buckets, kept where every process
/// sees it. A provider without limits takes nothing.
public protocol SharedRateLimit: Sendable {
    func take(key: String, limits: SharedRateLimits, tokens: Int) async throws -> Double
    /// Corrects the token bucket by what a request really used beyond (or below) its estimate.
    func settle(key: String, limits: SharedRateLimits, tokens difference: Int)
}

/// Rough token counts before a request is sent, for the tokens-per-minute bucket and cost
/// estimates: about four characters per token for English text, plus the output cap.
public enum TokenEstimate {
    public static func tokens(in text: String) -> Int { (text.utf8.count + 3) / 4 }

    /// Prompt tokens (system and messages, with a few per message for the framing) plus `maxTokens`.
    public static func tokens(for request: CompletionRequest, defaultOutput: Int = 256) -> Int {
        let prompt = tokens(in: request.system ?? "") + request.messages.reduce(0) { $0 + tokens(in: $1.content) + 4 }
        return prompt + (request.maxTokens ?? defaultOutput)
    }
}
