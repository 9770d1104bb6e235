import Foundation
import Logging
import Transport

/// Sends a notification through every notifier, each with a few retries, and never throws: a failed
/// notification is logged (secrets redacted) and the run goes on.
public struct NotificationSender: Sendable {
    public struct Delivery: Sendable {
        public let channel: String
        public let attempts: Int
        /// nil when delivered; the redacted reason otherwise.
        public let error: String?
    }

    public let notifiers: [any Notifier]
    public let retry: RetryPolicy
    let logger: Logger

    /// `secrets`: the channels' URLs (whose paths and queries are tokens) and secrets, registered
    /// with `Secret` so that no message, log line or file shows them.
    public init(notifiers: [any Notifier], secrets: [String], logger: Logger,
                retry: RetryPolicy = RetryPolicy(maxAttempts: 3, initialDelay: 1, maxDelay: 5)) {
        self.notifiers = notifiers
        self.retry = retry
        for secret in secrets { Secret.register(url: secret) }
        self.logger = logger
    }

    public func send(_ notification: RunNotification) async -> [Delivery] {
        await withTaskGroup(of: Delivery.self) { group in
            for notifier in notifiers {
                group.addTask { await deliver(notification, through: notifier) }
            }
            var out: [Delivery] = []
            for await delivery in group { out.append(delivery) }
            return out.sorted { $0.channel < $1.channel }
        }
    }

    private func deliver(_ notification: RunNotification, through notifier: any Notifier) async -> Delivery {
        var attempt = 0
        while true {
            attempt += 1
            do {
                try await notifier.send(notification)
                logger.info("notification sent", metadata: ["channel": "\(notifier.channel)", "event": "\(notification.event.rawValue)",
                                                            "attempts": "\(attempt)"])
                return Delivery(channel: notifier.channel, attempts: attempt, error: nil)
            } catch {
                let message = Secret.redact(error.message)
                if error.isTransient && attempt < retry.maxAttempts && !Task.isCancelled {
                    let delay = retry.backoff(afterAttempt: attempt)
                    logger.warning("notification failed; retrying", metadata: ["channel": "\(notifier.channel)", "error": "\(message)",
                                                                             "retry_in": "\(String(format: "%.1f", delay))s"])
                    try? await Task.sleep(nanoseconds: UInt64(delay * 1_000_000_000))
                    continue
                }
                logger.error("notification failed", metadata: ["channel": "\(notifier.channel)", "event": "\(notification.event.rawValue)",
                                                               "attempts": "\(attempt)", "error": "\(message)"])
                return Delivery(channel: notifier.channel, attempts: attempt, error: message)
            }
        }
    }
}
