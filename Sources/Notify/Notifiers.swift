import Foundation
import Lake
import Transport

/// One way of telling people about a run. Errors say whether trying again may help.
public protocol Notifier: Sendable {
    /// `webhook`, `slack`, `email`: for logs.
    var channel: String { get }
    func send(_ notification: RunNotification) async throws(NotifyError)
}

public struct NotifyError: Error, CustomStringConvertible, Sendable {
    public let channel: String
    public let message: String
    /// A timeout, a refused connection, a 5xx or 429: worth another attempt.
    public let isTransient: Bool

    public init(channel: String, message: String, isTransient: Bool) {
        self.channel = channel
        self.message = message
        self.isTransient = isTransient
    }

    public var description: String { "\(channel): \(message)" }
}

/// POSTs the notification as JSON; signs it with HMAC-SHA256 when a secret is given.
public struct WebhookNotifier: Notifier {
    public let channel = "webhook"
    public let url: String
    let secret: String?
    let client: HTTPClient
    let timeout: Double

    public static let signatureHeader = "X-AgentShop-Signature"

    public init(url: String, secret: String?, client: HTTPClient, timeout: Double = 15) {
        self.url = url
        self.secret = secret
        self.client = client
        self.timeout = timeout
    }

    /// The exact bytes sent and the headers that go with them.
    public func request(for notification: RunNotification) -> HTTPRequest {
        let body = Array(notification.json.serialized().utf8)
        var headers: [(name: String, value: String)] = [("Content-Type", "application/json"),
                                                        ("X-AgentShop-Event", notification.event.rawValue)]
        if let secret {
            headers.append((Self.signatureHeader, "sha256=" + HMACSHA256.hex(for: body, key: Array(secret.utf8))))
        }
        return HTTPRequest(url: url, method: "POST", headers: headers, body: body, timeout: timeout, maxRedirects: 0)
    }

    public func send(_ notification: RunNotification) async throws(NotifyError) {
        try await post(request(for: notification), channel: channel, client: client)
    }
}

/// Posts to a Slack incoming webhook: a text fallback and Block Kit blocks.
public struct SlackNotifier: Notifier {
    public let channel = "slack"
    public let url: String
    let client: HTTPClient
    let timeout: Double

    public init(url: String, client: HTTPClient, timeout: Double = 15) {
        self.url = url
        self.client = client
        self.timeout = timeout
    }

    public static func payload(for n: RunNotification) -> JSONValue {
        let icon = n.event == .failure ? ":x:" : n.event == .success ? ":white_check_mark:" : ":moneybag:"
        var fields: [JSONValue] = [
            field("Pipeline", n.pipeline), field("Status", n.status), field("Run", n.runID),
            field("Took", n.durationSeconds.map { String(format: "%.1fs", $0) } ?? "-"),
        ]
        if let cost = n.costUSD { fields.append(field("Cost", String(format: "$%.4f", cost))) }
        if let stage = n.failedStage { fields.append(field("Failed stage", stage)) }
        var blocks: [JSONValue] = [
            ["type": "header", "text": ["type": "plain_text", "text": .string(String("\(icon) \(n.headline)".prefix(150)))]],
            ["type": "section", "fields": .array(fields)],
        ]
        let counts = n.stages.map { stage in
            "`\(stage.name)` \(stage.status)" + (stage.counts["records_out"].map { " · \($0) records" } ?? "")
        }.joined(separator: "\n")
        if !counts.isEmpty { blocks.append(["type": "section", "text": ["type": "mrkdwn", "text": .string(counts)]]) }
        if let error = n.error {
            blocks.append(["type": "section", "text": ["type": "mrkdwn", "text": .string("```" + String(error.prefix(2900)) + "```")]])
        }
        blocks.append(["type": "context", "elements": [["type": "mrkdwn", "text": .string("log: `\(n.logFile)`")]]])
        return ["text": .string("\(icon) \(n.headline)" + (n.error.map { ": \($0)" } ?? "")), "blocks": .array(blocks)]
    }

    private static func field(_ name: String, _ value: String) -> JSONValue {
        ["type": "mrkdwn", "text": .string("*\(name)*\n\(value)")]
    }

    public func send(_ notification: RunNotification) async throws(NotifyError) {
        let body = Array(Self.payload(for: notification).serialized().utf8)
        let request = HTTPRequest(url: url, method: "POST", headers: [("Content-Type", "application/json")], body: body,
                                  timeout: timeout, maxRedirects: 0)
        try await post(request, channel: channel, client: client)
    }
}

/// Sends e-mail over SMTP, from a template.
public struct EmailNotifier: Notifier {
    public let channel = "email"
    public let settings: EmailSettings
    public let recipients: [String]
    /// Where the templates come from, by name; the built-in one when a name has none.
    public let templates: any NotificationTemplates

    public init(settings: EmailSettings, recipients: [String], templates: any NotificationTemplates = TemplateTable()) {
        self.settings = settings
        var seen = Set<String>()
        self.recipients = (recipients + settings.defaultRecipients).filter { seen.insert($0.lowercased()).inserted }
        self.templates = templates
    }

    /// Sugar for one template per event.
    public init(settings: EmailSettings, recipients: [String], templates: [NotificationEvent: EmailTemplate]) {
        self.init(settings: settings, recipients: recipients, templates: TemplateTable(events: templates))
    }

    /// The template stored under `name`, or its built-in text.
    public func template(named name: String) -> EmailTemplate? {
        templates.template(named: name) ?? EmailTemplate.builtIn(named: name)
    }

    public func message(for notification: RunNotification) -> MailMessage {
        let name = EmailTemplate.name(for: notification)
        let template = template(named: name) ?? EmailTemplate.builtIn(for: notification.event)
        let (subject, body) = template.rendered(notification.variables)
        return MailMessage(from: settings.from, fromName: "AgentShop", to: recipients, subject: subject, text: body,
                           extraHeaders: [("X-AgentShop-Event", notification.event.rawValue),
                                          ("X-AgentShop-Template", name),
                                          ("X-AgentShop-Run", notification.runID)])
    }

    /// A mail from the template named `name` (the store's row, or the built-in text), for mail that is not
    /// about one run: the weekly digest.
    public func message(templateNamed name: String, variables: [String: String], event: String) -> MailMessage? {
        guard let template = template(named: name) else { return nil }
        let (subject, body) = template.rendered(variables)
        return MailMessage(from: settings.from, fromName: "AgentShop", to: recipients, subject: subject, text: body,
                           extraHeaders: [("X-AgentShop-Event", event), ("X-AgentShop-Template", name)])
    }

    public func send(_ notification: RunNotification) async throws(NotifyError) {
        try await send(message(for: notification))
    }

    /// Sends one message over SMTP.
    public func send(_ message: MailMessage) async throws(NotifyError) {
        do {
            try await SMTPClient.send(message, using: settings.smtp)
        } catch let error as TransportError {
            throw NotifyError(channel: channel, message: error.description, isTransient: error.isTransient)
        } catch {
            throw NotifyError(channel: channel, message: "\(error)", isTransient: false)
        }
    }
}

/// Keeps notifications in memory, and can fail the first attempts: the test double.
public final class MemoryNotifier: Notifier, @unchecked Sendable {
    public let channel: String
    private let lock = NSLock()
    private var failuresLeft: Int
    private let transient: Bool
    public private(set) var received: [RunNotification] = []
    public private(set) var attempts = 0

    public init(channel: String = "memory", failFirst: Int = 0, transient: Bool = true) {
        self.channel = channel
        failuresLeft = failFirst
        self.transient = transient
    }

    public func send(_ notification: RunNotification) async throws(NotifyError) {
        let fail: Bool = lock.withLock {
            attempts += 1
            if failuresLeft > 0 { failuresLeft -= 1; return true }
            received.append(notification)
            return false
        }
        if fail { throw NotifyError(channel: channel, message: "refused (test)", isTransient: transient) }
    }
}

/// POSTs and maps the outcome: 2xx is done; 408, 429 and most 5xx may be tried again.
private func post(_ request: HTTPRequest, channel: String, client: HTTPClient) async throws(NotifyError) {
    let response: HTTPResponse
    do {
        response = try await client.send(request)
    } catch let error as TransportError {
        throw NotifyError(channel: channel, message: error.description, isTransient: error.isTransient)
    } catch {
        throw NotifyError(channel: channel, message: "\(error)", isTransient: false)
    }
    guard (200...299).contains(response.status) else {
        throw NotifyError(channel: channel, message: "\(request.url): HTTP \(response.status) \(String(response.text.prefix(200)))",
                          isTransient: RetryPolicy.isRetryable(status: response.status))
    }
}
