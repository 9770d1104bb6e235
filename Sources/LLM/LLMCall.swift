import Foundation
import Transport

/// A completion with what it took to get it.
public struct LLMCallResult: Sendable {
    public var completion: Completion
    /// Attempts made, the successful one included.
    public var attempts: Int
    /// Wall time from the first attempt to the answer, waits and backoff included.
    public var latencyMs: Int
}

/// One provider call as the enrich stage makes it: wait for the rate limits, hold a concurrency
/// slot while on the wire, and retry transient failures (429, 5xx, timeouts, unreachable) with
/// exponential backoff and jitter, waiting what `Retry-After` asks when the provider says.
///
/// A `Retry-After` longer than `retry.maxRetryAfter` is not waited for: the call fails at once
/// with the provider's error, so a stage can stop cleanly instead of hanging for an hour.
public struct LLMCall: Sendable {
    public let provider: any LLMProvider
    public var retry: RetryPolicy
    public var limiter: RateLimiter?
    public var concurrency: ConcurrencyLimit?
    private let sleep: @Sendable (Double) async throws -> Void

    /// `sleep` waits between attempts; tests pass one that records the delays.
    public init(provider: any LLMProvider, retry: RetryPolicy = RetryPolicy(), limiter: RateLimiter? = nil,
                concurrency: ConcurrencyLimit? = nil,
                sleep: @escaping @Sendable (Double) async throws -> Void = { seconds in
                    if seconds > 0 { try await Task.sleep(nanoseconds: UInt64(seconds * 1e9)) }
                }) {
        self.provider = provider
        self.retry = retry
        self.limiter = limiter
        self.concurrency = concurrency
        self.sleep = sleep
    }

    /// Sends `request` until it succeeds, fails for good, or the attempts run out. Failures are
    /// `LLMError`s with `attempts` set.
    public func send(_ request: CompletionRequest) async throws -> LLMCallResult {
        let start = ContinuousClock.now
        let estimate = TokenEstimate.tokens(for: request)
        var attempt = 0
        while true {
            attempt += 1
            if let limiter { try await limiter.acquire(tokens: estimate) }
            do {
                let completion = try await once(request)
                if let limiter, let usage = completion.usage {
                    await limiter.settle(estimated: estimate, actual: usage.input + usage.output)
                }
                return LLMCallResult(completion: completion, attempts: attempt, latencyMs: elapsedMs(since: start))
            } catch var error as LLMError {
                error.attempts = attempt
                guard error.isTransient, attempt < retry.maxAttempts else { throw error }
                var delay = retry.backoff(afterAttempt: attempt)
                if let asked = error.retryAfter {
                    guard asked <= retry.maxRetryAfter else {
                        throw LLMError(error.kind, provider: error.provider, status: error.status, retryAfter: asked,
                                       message: error.message + "; Retry-After \(Int(asked))s is longer than the "
                                           + "\(Int(retry.maxRetryAfter))s allowed", attempts: attempt)
                    }
                    delay = asked
                }
                try Task.checkCancellation()
                try await sleep(delay)
            }
        }
    }

    /// One attempt, holding a concurrency slot only while on the wire (not while backing off).
    private func once(_ request: CompletionRequest) async throws -> Completion {
        guard let concurrency else { return try await provider.complete(request) }
        await concurrency.acquire()
        do {
            let completion = try await provider.complete(request)
            await concurrency.release()
            return completion
        } catch {
            await concurrency.release()
            throw error
        }
    }
}
