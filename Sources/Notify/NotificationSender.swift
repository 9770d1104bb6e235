import Foundation
import Logging
import Transport

/// Hides secrets in text bound for logs and errors: each secret, and for URLs their path and query
/// (Slack and most webhook URLs carry their token there).
public struct Redactor: Sendable {
    private let needles: [String]

    public init(secrets: [String]) {
        var needles: [String] = []
        for secret in secrets where !secret.isEmpty {
            needles.append(secret)
            if let url = URL(string: secret), url.scheme != nil {
                // Parts of a URL: only those long enough not to match ordinary text ("/" or "/a").
                let parts = [url.path, url.query, url.password].compactMap { $0 }.filter { $0.count >= 4 }
                needles += parts
            }
        }
        // Longest first, so that a URL goes before the path inside it.
        self.needles = needles.sorted { $0.count > $1.count }
    }

    public func callAsFunction(_ text: String) -> String {
        var out = text
        for needle in needles { out = out.replacingOccurrences(of: needle, with: "<redacted>") }
        return out
    }
}

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
    public let redact: Redactor
    let logger: Logger

    public init(notifiers: [any Notifier], secrets: [String], logger: Logger,
                retry: RetryPolicy = RetryPolicy(maxAttempts: 3, initialDelay: 1, maxDelay: 5)) {
        self.notifiers = notifiers
        self.retry = retry
        redact = Redactor(secrets: secrets)
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
                let message = redact(error.message)
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
