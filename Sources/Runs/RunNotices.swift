import Foundation
import Lake
import Logging
import Notify
import Pipeline
import Store
import Transport

/// Sends a run's notifications as its pipeline's `notify:` asks. Never fails the run: problems are logged
/// in the run's log, secrets redacted. Used by the run session and by the scheduler (for a run it stopped).
public enum RunNotices {
    /// - Parameter attempt: which attempt of a scheduled run this is; a failure the scheduler will retry
    ///   is not told. Read from `AGENTSHOP_SCHEDULED_ATTEMPT` by default.
    /// - Returns: the deliveries made, per event (for tests and logs).
    @discardableResult
    public static func send(spec: PipelineSpec, manifest: RunManifest, lake: Lake, environment: PipelineEnvironment,
                            logger: Logger, attempt: ScheduledAttempt? = ScheduledAttempt.fromEnvironment()) async
        -> [NotificationSender.Delivery] {
        guard let notify = spec.notify else { return [] }
        var events = RunNotification.events(for: manifest).filter { event in
            notify.events.contains { $0.rawValue == event.rawValue }
        }
        // A scheduled attempt that the scheduler retries on failure: only the final outcome is told.
        if let attempt, attempt.retryFollowsFailure, events.contains(.failure) {
            events.removeAll { $0 == .failure }
            logger.notice("failure not notified: attempt \(attempt.number) of \(attempt.total); the scheduler retries it")
        }
        guard !events.isEmpty else { return [] }
        // A webhook may go to an internal address only when its URL names it (docs, "Notifications").
        let client = HTTPClient(maxConnections: 4, addressPolicy: .publicOrNamedInternal)
        var secrets = notify.secrets
        var notifiers: [any Notifier] = []
        if let webhook = notify.webhook { notifiers.append(WebhookNotifier(url: webhook, secret: notify.webhookSecret, client: client)) }
        if let slack = notify.slack { notifiers.append(SlackNotifier(url: slack, client: client)) }
        if !notify.email.isEmpty {
            do {
                if let settings = try EmailSettings.fromEnvironment(environment.variables) {
                    if let password = settings.smtp.password?.value { secrets.append(password) }
                    notifiers.append(EmailNotifier(settings: settings, recipients: notify.email,
                                                   templates: StoredEmailTemplates(lake: lake, environment: environment.variables,
                                                                                   logger: logger)))
                } else {
                    logger.error("notify.email: \(EmailSettings.prefix)SMTP_HOST is not set; no e-mail sent")
                }
            } catch {
                logger.error("notify.email: \(error); no e-mail sent")
            }
        }
        let sender = NotificationSender(notifiers: notifiers, secrets: secrets, logger: logger)
        var deliveries: [NotificationSender.Delivery] = []
        for event in events {
            deliveries += await sender.send(RunNotification(event: event, manifest: manifest))
        }
        return deliveries
    }
}

/// The store's active `email_templates` rows as Notify's `NotificationTemplates`: read once, when made,
/// from the run's store (PostgreSQL when one is configured: `--store`, `AGENTSHOP_STORE_URL`, `store:`; else
/// the lake's SQLite store). Without a store (or with an unreadable one) there are none, and Notify's
/// built-in text is used.
public struct StoredEmailTemplates: NotificationTemplates {
    public let table: TemplateTable

    public init(lake: Lake, environment: [String: String] = ProcessInfo.processInfo.environment, logger: Logger) {
        var table = TemplateTable()
        do {
            let location = try StoreLocation.resolve(nil, environment: environment, defaultPath: lake.storePath)
            for (name, row) in try EmailTemplateRecords.active(at: location) ?? [:] {
                table.templates[name] = EmailTemplate(subject: row.subject, body: row.body)
            }
        } catch {
            logger.warning("e-mail templates unreadable; using the built-in ones", metadata: ["error": "\(error)"])
        }
        self.table = table
    }

    public func template(named name: String) -> EmailTemplate? { table.template(named: name) }
}

/// Which attempt of a scheduled run a `run` process is (`AGENTSHOP_SCHEDULED_ATTEMPT=1/3`, set by the
/// scheduler's launcher), so that a failure the scheduler will retry sends no notification: one failing
/// scheduled run tells its failure once, for its final outcome.
public struct ScheduledAttempt: Sendable, Equatable {
    public static let variable = "AGENTSHOP_SCHEDULED_ATTEMPT"
    public let number: Int
    public let total: Int

    public var text: String { "\(number)/\(total)" }
    /// A failed attempt before the last is retried by the scheduler.
    public var retryFollowsFailure: Bool { number < total }

    public init(number: Int, total: Int) {
        self.number = number
        self.total = total
    }

    public static func fromEnvironment(_ environment: [String: String] = ProcessInfo.processInfo.environment) -> ScheduledAttempt? {
        guard let text = environment[variable] else { return nil }
        let parts = text.split(separator: "/").compactMap { Int($0) }
        guard parts.count == 2, parts[0] >= 1, parts[1] >= parts[0] else { return nil }
        return ScheduledAttempt(number: parts[0], total: parts[1])
    }
}
