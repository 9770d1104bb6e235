import Foundation
import LLM
import Testing
import TestSupport
import Transport

/// A clock that only moves when slept on: every sleep is recorded and advances time at once.
final class ManualClock: LimiterClock, @unchecked Sendable {
    private let lock = NSLock()
    private var time: Double = 1000
    private var slept: [Double] = []
    /// Off for concurrent callers, whose sleeps overlap in real time.
    let advancesOnSleep: Bool

    init(advancesOnSleep: Bool = true) { self.advancesOnSleep = advancesOnSleep }

    func now() -> Double { lock.withLock { time } }
    func sleep(seconds: Double) async throws { lock.withLock { slept.append(seconds); if advancesOnSleep { time += seconds } } }
    func advance(_ seconds: Double) { lock.withLock { time += seconds } }
    var sleeps: [Double] { lock.withLock { slept } }
}

@Suite struct RateLimiterTests {
    @Test func requestsPerMinuteArePaced() async throws {
        let clock = ManualClock()
        // 120 rpm = 2 per second, burst 2.
        let limiter = RateLimiter(requestsPerMinute: 120, tokensPerMinute: nil, clock: clock)
        var waits: [Double] = []
        for _ in 0..<6 { waits.append(try await limiter.acquire()) }
        #expect(waits[0] == 0 && waits[1] == 0)
        // Each later request waits half a second for its token (the clock moves only by those waits).
        for wait in waits[2...] { #expect(abs(wait - 0.5) < 1e-9) }
        #expect(clock.sleeps.count == 4)
    }

    @Test func idleTimeRefillsUpToTheBurstOnly() async throws {
        let clock = ManualClock()
        let limiter = RateLimiter(requestsPerMinute: 60, tokensPerMinute: nil, requestBurst: 3, clock: clock)
        for _ in 0..<3 { #expect(try await limiter.acquire() == 0) }
        clock.advance(3600)
        for _ in 0..<3 { #expect(try await limiter.acquire() == 0) }
        #expect(abs(try await limiter.acquire() - 1) < 1e-9)
    }

    @Test func tokensPerMinuteWaitForLargeRequestsAndSettle() async throws {
        let clock = ManualClock()
        // 6,000 tpm = 100 tokens per second, bucket of 100.
        let limiter = RateLimiter(requestsPerMinute: nil, tokensPerMinute: 6000, clock: clock)
        #expect(try await limiter.acquire(tokens: 100) == 0)
        // 300 tokens more than there are: three seconds of debt.
        #expect(abs(try await limiter.acquire(tokens: 300) - 3) < 1e-9)
        // The request really used 500: 200 more debt means the next small request waits 2 s more.
        await limiter.settle(estimated: 300, actual: 500)
        #expect(abs(try await limiter.acquire(tokens: 1) - 2.01) < 1e-9)
    }

    @Test func noLimitsNeverWait() async throws {
        let clock = ManualClock()
        let limiter = RateLimiter(requestsPerMinute: nil, tokensPerMinute: nil, clock: clock)
        for _ in 0..<1000 { _ = try await limiter.acquire(tokens: 10_000) }
        #expect(clock.sleeps.isEmpty)
    }

    @Test func concurrentCallersAreServedAtTheRate() async throws {
        let clock = ManualClock(advancesOnSleep: false)
        let limiter = RateLimiter(requestsPerMinute: 600, tokensPerMinute: nil, clock: clock)  // 10/s, burst 10
        let waits = try await withThrowingTaskGroup(of: Double.self) { group in
            for _ in 0..<40 { group.addTask { try await limiter.acquire() } }
            var all: [Double] = []
            for try await w in group { all.append(w) }
            return all.sorted()
        }
        #expect(waits.filter { $0 == 0 }.count == 10)
        // The 30 after the burst are reserved 0.1 s apart, in arrival order.
        #expect(abs(waits.last! - 3.0) < 1e-6)
    }
}

/// A provider that fails with the given errors first, then answers.
final class ScriptedProvider: LLMProvider, @unchecked Sendable {
    let kind = ProviderKind.openai
    private let lock = NSLock()
    private var failures: [LLMError]
    private(set) var calls = 0

    init(failures: [LLMError]) { self.failures = failures }

    func complete(_ request: CompletionRequest) async throws -> Completion {
        let failure: LLMError? = lock.withLock {
            calls += 1
            return failures.isEmpty ? nil : failures.removeFirst()
        }
        if let failure { throw failure }
        return Completion(text: "ok", model: request.model, usage: TokenUsage(input: 3, output: 1), latencyMs: 1)
    }
}

actor Delays {
    private(set) var values: [Double] = []
    func record(_ seconds: Double) { values.append(seconds) }
    nonisolated var sleep: @Sendable (Double) async throws -> Void { { [self] s in await self.record(s) } }
}

@Suite struct LLMCallTests {
    static let request = CompletionRequest(model: "m", messages: [ChatMessage(.user, "hi")])

    @Test func retriesHonourRetryAfterThenSucceed() async throws {
        let provider = ScriptedProvider(failures: [
            LLMError(.rateLimited, provider: .openai, status: 429, retryAfter: 7, message: "slow down"),
            LLMError(.server, provider: .openai, status: 500, message: "oops"),
        ])
        let delays = Delays()
        let call = LLMCall(provider: provider, retry: RetryPolicy(maxAttempts: 4, initialDelay: 0.5, maxDelay: 30), sleep: delays.sleep)
        let result = try await call.send(Self.request)
        #expect(result.completion.text == "ok")
        #expect(result.attempts == 3)
        let waited = await delays.values
        #expect(waited.count == 2)
        #expect(waited[0] == 7)
        // Backoff after attempt 2: 1 s capped, equal jitter: between 0.5 and 1.
        #expect(waited[1] >= 0.5 && waited[1] <= 1.0)
    }

    @Test func permanentErrorsAreNotRetried() async throws {
        let provider = ScriptedProvider(failures: [LLMError(.unauthorized, provider: .openai, status: 401, message: "bad key")])
        let delays = Delays()
        let call = LLMCall(provider: provider, sleep: delays.sleep)
        await #expect { _ = try await call.send(Self.request) } throws: { ($0 as? LLMError)?.kind == .unauthorized && ($0 as? LLMError)?.attempts == 1 }
        #expect(provider.calls == 1)
        #expect(await delays.values.isEmpty)
    }

    @Test func attemptsRunOutWithTheLastError() async throws {
        let busy = LLMError(.server, provider: .openai, status: 503, message: "busy")
        let provider = ScriptedProvider(failures: Array(repeating: busy, count: 10))
        let call = LLMCall(provider: provider, retry: RetryPolicy(maxAttempts: 3), sleep: Delays().sleep)
        await #expect { _ = try await call.send(Self.request) } throws: { error in
            guard let e = error as? LLMError else { return false }
            return e.kind == .server && e.attempts == 3 && "\(e)".hasSuffix("after 3 attempts")
        }
        #expect(provider.calls == 3)
    }

    @Test func tooLongRetryAfterFailsAtOnce() async throws {
        let provider = ScriptedProvider(failures: [LLMError(.rateLimited, provider: .openai, status: 429, retryAfter: 3600, message: "quota")])
        let delays = Delays()
        let call = LLMCall(provider: provider, retry: RetryPolicy(maxRetryAfter: 60), sleep: delays.sleep)
        await #expect { _ = try await call.send(Self.request) } throws: { "\($0)".contains("Retry-After 3600s") }
        #expect(provider.calls == 1)
        #expect(await delays.values.isEmpty)
    }

    @Test func everyAttemptPassesTheRateLimiter() async throws {
        let provider = ScriptedProvider(failures: [LLMError(.server, provider: .openai, status: 502, message: "bad gateway")])
        let clock = ManualClock()
        // 60 rpm with a burst of 1: the retry waits a full second for its request token.
        let limiter = RateLimiter(requestsPerMinute: 60, tokensPerMinute: nil, clock: clock)
        let call = LLMCall(provider: provider, retry: RetryPolicy(initialDelay: 0), limiter: limiter, sleep: Delays().sleep)
        let result = try await call.send(Self.request)
        #expect(result.attempts == 2)
        #expect(clock.sleeps.count == 1 && abs(clock.sleeps[0] - 1) < 1e-9)
    }

    @Test func fiveHundredThenTwoHundredOverTheWire() async throws {
        try await FakeLLM.with(key: "sk-retry") { base, fake in
            let provider = try makeProvider(ProviderConfiguration(kind: .openai, baseURL: base + "/v1", apiKey: Secret("sk-retry")),
                                            client: HTTPClient())
            let delays = Delays()
            let result = try await LLMCall(provider: provider, sleep: delays.sleep)
                .send(CompletionRequest(model: "gpt-4o-mini", messages: [ChatMessage(.user, "flaky")]))
            #expect(result.attempts == 2)
            #expect(result.completion.usage == TokenUsage(input: 12, output: 5))
            #expect(await fake.callCount == 2)
            let limited = try await LLMCall(provider: provider, sleep: delays.sleep)
                .send(CompletionRequest(model: "gpt-4o-mini", messages: [ChatMessage(.user, "ratelimited")]))
            #expect(limited.attempts == 2)
            #expect(await delays.values.last == 7)
        }
    }

    @Test func concurrencyLimitHoldsOverTheWire() async throws {
        try await FakeLLM.with(key: "sk-c", delay: 0.1) { base, fake in
            let provider = try makeProvider(ProviderConfiguration(kind: .groq, baseURL: base + "/openai/v1", apiKey: Secret("sk-c")),
                                            client: HTTPClient())
            let call = LLMCall(provider: provider, concurrency: ConcurrencyLimit(2))
            let start = ContinuousClock.now
            try await withThrowingTaskGroup(of: Void.self) { group in
                for i in 0..<6 {
                    group.addTask { _ = try await call.send(CompletionRequest(model: "m", messages: [ChatMessage(.user, "n\(i)")])) }
                }
                try await group.waitForAll()
            }
            // Six 100 ms answers, two at a time: at least three rounds.
            #expect(ContinuousClock.now - start >= .milliseconds(290))
            #expect(await fake.callCount == 6)
        }
    }
}
