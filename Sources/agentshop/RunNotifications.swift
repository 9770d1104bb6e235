import Foundation
import Lake
import Logging
import Notify
import Pipeline
import Store
import Transport

/// Sends a run's notifications as its pipeline's `notify:` asks. Never fails the run: problems are logged
/// in the run's log, secrets redacted.
enum RunNotifications {
    static func send(spec: PipelineSpec, manifest: RunManifest, lake: Lake, environment: PipelineEnvironment,
                     logger: Logger) async {
        guard let notify = spec.notify else { return }
        var events = RunNotification.events(for: manifest).filter { event in
            notify.events.contains { $0.rawValue == event.rawValue }
        }
        // A scheduled attempt that the scheduler retries on failure: only the final outcome is told.
        if let attempt = ScheduledAttempt.fromEnvironment(), attempt.retryFollowsFailure, events.contains(.failure) {
            events.removeAll { $0 == .failure }
            logger.notice("failure not notified: attempt \(attempt.number) of \(attempt.total); the scheduler retries it")
        }
        guard !events.isEmpty else { return }
        // A webhook may go to an internal address only when its URL names it (README, "Notifications").
        let client = HTTPClient(maxConnections: 4, addressPolicy: .publicOrNamedInternal)
        var secrets = notify.secrets
        var notifiers: [any Notifier] = []
        if let webhook = notify.webhook { notifiers.append(WebhookNotifier(url: webhook, secret: notify.webhookSecret, client: client)) }
        if let slack = notify.slack { notifiers.append(SlackNotifier(url: slack, client: client)) }
        if !notify.email.isEmpty {
            do {
                if let settings = try EmailSettings.fromEnvironment(environment.variables) {
                    if let password = settings.smtp.password?.value { secrets.append(password) }
                    notifiers.append(EmailNotifier(settings: settings, recipients: notify.email, templates: templates(in: lake, logger: logger)))
                } else {
                    logger.error("notify.email: \(EmailSettings.prefix)SMTP_HOST is not set; no e-mail sent")
                }
            } catch {
                logger.error("notify.email: \(error); no e-mail sent")
            }
        }
        let sender = NotificationSender(notifiers: notifiers, secrets: secrets, logger: logger)
        for event in events {
            _ = await sender.send(RunNotification(event: event, manifest: manifest))
        }
    }

    /// The store's active `pipeline_<event>` templates, when there is a store.
    static func templates(in lake: Lake, logger: Logger) -> [NotificationEvent: EmailTemplate] {
        guard FileManager.default.fileExists(atPath: lake.storePath) else { return [:] }
        var out: [NotificationEvent: EmailTemplate] = [:]
        do {
            let store = try Store.open(path: lake.storePath, create: false)
            for event in NotificationEvent.allCases {
                let rows = try store.database.rows("SELECT subject, body_text FROM email_templates WHERE name = ? AND is_active = 1",
                                                   [.text(EmailTemplate.storeName(for: event))])
                if let row = rows.first, let subject = row[0].string, let body = row[1].string {
                    out[event] = EmailTemplate(subject: subject, body: body)
                }
            }
        } catch {
            logger.warning("e-mail templates unreadable; using the built-in ones", metadata: ["error": "\(error)"])
        }
        return out
    }
}
