import Foundation

/// Bounded retries with exponential backoff and jitter, shared by every client over this module
/// (the Scoup client, the fetch stage, LLM providers, notifications).
public struct RetryPolicy: Sendable, Equatable {
    /// Attempts in all, the first included.
    public var maxAttempts: Int
    /// Delay before the second attempt; doubled for each further one.
    public var initialDelay: Double
    /// No computed backoff is longer than this.
    public var maxDelay: Double
    /// A `Retry-After` longer than this is not waited for: the request fails instead.
    public var maxRetryAfter: Double

    public init(maxAttempts: Int = 4, initialDelay: Double = 0.5, maxDelay: Double = 30, maxRetryAfter: Double = 120) {
        self.maxAttempts = max(1, maxAttempts)
        self.initialDelay = initialDelay
        self.maxDelay = maxDelay
        self.maxRetryAfter = maxRetryAfter
    }

    /// Seconds to wait after failed attempt number `attempt` (1-based): `initialDelay * 2^(attempt-1)`,
    /// capped, then "equal jitter" (half fixed, half random) so that many clients do not retry in step.
    /// `jitter` in 0...1 picks the random half; it is a parameter so that the bounds can be tested.
    public func backoff(afterAttempt attempt: Int, jitter: Double = Double.random(in: 0...1)) -> Double {
        let exponent = Double(max(0, attempt - 1))
        let capped = min(maxDelay, initialDelay * pow(2, exponent))
        return capped / 2 + capped / 2 * min(1, max(0, jitter))
    }

    /// HTTP statuses worth another attempt: 408, 425, 429 and 5xx except 501 and 505, which will not change.
    public static func isRetryable(status: Int) -> Bool {
        switch status {
        case 408, 425, 429: return true
        case 501, 505: return false
        case 500...599: return true
        default: return false
        }
    }
}

/// The `Retry-After` header (RFC 9110 §10.2.3): delay-seconds or an HTTP-date.
public enum RetryAfter {
    /// Seconds to wait from `now`; nil when the value is neither form. A date in the past gives 0.
    public static func seconds(_ value: String, now: Date = Date()) -> Double? {
        let trimmed = value.trimmingCharacters(in: .whitespaces)
        if !trimmed.isEmpty, trimmed.allSatisfy({ $0.isASCII && $0.isNumber }) { return Double(trimmed) }
        for format in formats {
            let formatter = DateFormatter()
            formatter.locale = Locale(identifier: "en_US_POSIX")
            formatter.timeZone = TimeZone(identifier: "GMT")
            formatter.dateFormat = format
            if let date = formatter.date(from: trimmed) { return max(0, date.timeIntervalSince(now)) }
        }
        return nil
    }

    /// IMF-fixdate, then the obsolete RFC 850 and asctime forms that recipients must still accept.
    private static let formats = ["EEE, dd MMM yyyy HH:mm:ss zzz", "EEEE, dd-MMM-yy HH:mm:ss zzz", "EEE MMM d HH:mm:ss yyyy"]
}

/// At most `limit` holders at once; the others wait in arrival order.
public actor ConcurrencyLimit {
    private let limit: Int
    private var active = 0
    private var waiters: [CheckedContinuation<Void, Never>] = []

    public init(_ limit: Int) { self.limit = max(1, limit) }

    public func acquire() async {
        if active < limit {
            active += 1
            return
        }
        // The slot is handed over by `release`, so `active` does not change here.
        await withCheckedContinuation { waiters.append($0) }
    }

    public func release() {
        if waiters.isEmpty {
            active -= 1
        } else {
            waiters.removeFirst().resume()
        }
    }
}
