import Foundation

/// The `notify:` block of a pipeline: which run outcomes to announce, and where.
///
/// ```yaml
/// notify: { on: [failure, budget], webhook: "${ALERT_URL}", webhook_secret: "${ALERT_SECRET}",
///           slack: "${SLACK_URL}", email: [ops@example.com] }
/// ```
/// Only the specification lives here: the engine knows no HTTP or SMTP. The CLI sends.
public struct NotifySpec: Sendable, Equatable {
    /// A run outcome worth a message.
    public enum Event: String, Sendable, CaseIterable, Codable {
        /// The run failed (a stage failed, or the run could not start its stages).
        case failure
        /// The run succeeded.
        case success
        /// A stage stopped at its budget (`counts.budget_reached > 0`, or `details.budget_reached`).
        case budget
    }

    public var events: Set<Event>
    /// A URL that receives a JSON POST per event.
    public var webhook: String?
    /// When set, webhook requests carry `X-AgentShop-Signature: sha256=<HMAC-SHA256 of the body>`.
    public var webhookSecret: String?
    /// A Slack incoming-webhook URL.
    public var slack: String?
    /// E-mail recipients; the SMTP server and sender come from `NOTIFICATION_EMAIL_*`.
    public var email: [String]

    public init(events: Set<Event> = [.failure], webhook: String? = nil, webhookSecret: String? = nil,
                slack: String? = nil, email: [String] = []) {
        self.events = events
        self.webhook = webhook
        self.webhookSecret = webhookSecret
        self.slack = slack
        self.email = email
    }

    /// Every secret in this spec (the webhook secret, and the URLs, whose paths are tokens), to redact from logs.
    public var secrets: [String] { [webhookSecret, webhook, slack].compactMap { $0 }.filter { !$0.isEmpty } }

    static let keys = ["on", "webhook", "webhook_secret", "slack", "email"]

    /// Reads and validates the block, reporting every problem at its position.
    static func read(_ value: ConfigValue) -> NotifySpec? {
        guard value.expectMapping() else { return nil }
        var spec = NotifySpec()
        var ok = true
        if let on = value.value("on") {
            let names = Event.allCases.map(\.rawValue)
            let items = on.isSequence ? (on.asList() ?? []) : [on]
            var events = Set<Event>()
            for item in items {
                if let word = item.asChoice(names), let event = Event(rawValue: word) { events.insert(event) } else { ok = false }
            }
            if items.isEmpty { on.error("expected at least one of \(names.joined(separator: ", "))"); ok = false }
            spec.events = events
        }
        if let webhook = value.value("webhook") {
            spec.webhook = readURL(webhook)
            if spec.webhook == nil { ok = false }
        }
        if let secret = value.value("webhook_secret") {
            spec.webhookSecret = secret.asString()
            if spec.webhookSecret?.isEmpty ?? true { secret.error("the webhook secret is empty"); ok = false }
            if spec.webhook == nil && value.value("webhook") == nil {
                secret.error("webhook_secret needs a webhook"); ok = false
            }
        }
        if let slack = value.value("slack") {
            spec.slack = readURL(slack)
            if spec.slack == nil { ok = false }
        }
        if let email = value.value("email") {
            let items = email.isSequence ? (email.asList() ?? []) : [email]
            for item in items {
                guard let address = item.asString()?.trimmingCharacters(in: .whitespaces) else { ok = false; continue }
                if isEmailAddress(address) { spec.email.append(address) } else {
                    item.error("expected an e-mail address like ops@example.com, found '\(address)'"); ok = false
                }
            }
        }
        value.rejectUnknownKeys()
        if ok && spec.webhook == nil && spec.slack == nil && spec.email.isEmpty {
            value.error("notify needs at least one of webhook, slack or email")
            return nil
        }
        return ok ? spec : nil
    }

    private static func readURL(_ value: ConfigValue) -> String? {
        guard let text = value.asString()?.trimmingCharacters(in: .whitespaces) else { return nil }
        guard let url = URL(string: text), let scheme = url.scheme?.lowercased(), scheme == "http" || scheme == "https",
              let host = url.host, !host.isEmpty else {
            // The value may hold a token: say what is wrong without echoing it.
            value.error("expected an http:// or https:// URL")
            return nil
        }
        return text
    }

    /// `local@domain` with no spaces or angle brackets, which would break SMTP's RCPT TO.
    static func isEmailAddress(_ text: String) -> Bool {
        let parts = text.split(separator: "@", omittingEmptySubsequences: false)
        guard parts.count == 2, !parts[0].isEmpty, parts[1].contains("."), !parts[1].hasPrefix("."), !parts[1].hasSuffix(".") else {
            return false
        }
        return !text.contains { $0.isWhitespace || "<>,;\"".contains($0) || !$0.isASCII }
    }
}

/// How `agentshop scheduler` treats a scheduled pipeline: `schedule: { cron: …, missed: run_once,
/// timeout: 2h, retries: 2, retry_delay: 5m }`.
public struct SchedulePolicy: Sendable, Equatable {
    /// What to do with runs whose time passed while the scheduler was down or the previous run was still going.
    public enum Missed: String, Sendable, CaseIterable, Codable {
        /// Forget them; run at the next scheduled time.
        case skip
        /// Run once now for all of them together.
        case runOnce = "run_once"
    }

    /// nil: the scheduler's `--missed` flag decides (default skip).
    public var missed: Missed?
    /// Seconds a run may take before it is stopped (SIGTERM, then SIGKILL); nil: no limit.
    public var timeout: Double?
    /// Further attempts after a failed run.
    public var retries: Int
    /// Delay before the first retry; doubled for each further one.
    public var retryDelay: Double

    public init(missed: Missed? = nil, timeout: Double? = nil, retries: Int = 0, retryDelay: Double = 60) {
        self.missed = missed
        self.timeout = timeout
        self.retries = retries
        self.retryDelay = retryDelay
    }

    /// Reads the policy keys of a `schedule:` mapping.
    static func read(_ value: ConfigValue) -> SchedulePolicy {
        var policy = SchedulePolicy()
        if let missed = value.choice("missed", Missed.allCases.map(\.rawValue)) { policy.missed = Missed(rawValue: missed) }
        if let timeout = value.value("timeout"), let seconds = timeout.asDuration() {
            if seconds <= 0 { timeout.error("the timeout must be longer than 0s") } else { policy.timeout = seconds }
        }
        if let retries = value.int("retries", min: 0, max: 100) { policy.retries = retries }
        if let delay = value.duration("retry_delay") { policy.retryDelay = delay }
        return policy
    }
}
