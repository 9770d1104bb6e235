import FlyingFox
import Foundation
import Logging
import TestSupport
import Testing
@testable import Lake
@testable import Notify
import Transport

/// A manifest of a run that failed in `enrich` after `fetch` wrote 120 records, with LLM cost.
func sampleManifest(status: RunManifest.Status = .failed, budget: Bool = false) -> RunManifest {
    var manifest = RunManifest(runID: "20261125T030000Z-abc123", pipeline: "nightly", pipelineFile: "pipelines/nightly.yaml",
                               startedAt: Date(timeIntervalSince1970: 1_795_000_000), runDate: "2026-11-25",
                               toolVersion: "0.1.0", options: [], logFile: "raw_data/logs/nightly/20261125T030000Z-abc123.log")
    manifest.status = status
    manifest.finishedAt = Timestamp.iso(Date(timeIntervalSince1970: 1_795_000_012.5))
    var fetch = RunManifest.StageRun(name: "fetch", kind: "fetch", status: .ran, reason: "new", fingerprint: "f")
    fetch.counts = ["records_out": 120]
    var enrich = RunManifest.StageRun(name: "enrich", kind: "enrich", status: status == .failed ? .failed : .ran, reason: "new", fingerprint: "e")
    enrich.counts = ["records_in": 120, "budget_reached": budget ? 1 : 0]
    enrich.details = ["llm": ["totals": ["cost_usd": 0.0425, "calls": 80]]]
    if status == .failed {
        enrich.error = "provider answered 500"
        manifest.error = "stage enrich failed"
    }
    manifest.stages = [fetch, enrich]
    return manifest
}

/// Log lines kept in memory, to check what a failed notification leaves in the run's log.
final class LogCapture: @unchecked Sendable {
    private let lock = NSLock()
    private var stored: [String] = []
    var lines: [String] { lock.withLock { stored } }
    func append(_ line: String) { lock.withLock { stored.append(line) } }

    var logger: Logger {
        Logger(label: "notify-tests") { _ in CaptureHandler(capture: self) }
    }

    struct CaptureHandler: LogHandler {
        let capture: LogCapture
        var metadata: Logger.Metadata = [:]
        var logLevel: Logger.Level = .trace
        subscript(metadataKey key: String) -> Logger.Metadata.Value? {
            get { metadata[key] }
            set { metadata[key] = newValue }
        }
        func log(event: LogEvent) {
            let fields = (event.metadata ?? [:]).sorted { $0.key < $1.key }.map { "\($0.key)=\($0.value)" }.joined(separator: " ")
            capture.append("\(event.level) \(event.message) \(fields)")
        }
    }
}

@Suite struct RunNotificationTests {
    @Test func fromAManifest() throws {
        let n = RunNotification(event: .failure, manifest: sampleManifest())
        #expect(n.durationSeconds == 12.5)
        #expect(n.costUSD == 0.0425)
        #expect(n.failedStage == "enrich")
        #expect(n.error == "stage enrich failed")
        #expect(n.headline == "nightly 20261125T030000Z-abc123 failed at stage enrich in 12.5s")
        let json = try #require(n.json.objectValue)
        #expect(json["event"] == "failure" && json["run_id"] == "20261125T030000Z-abc123" && json["status"] == "failed")
        #expect(json["cost_usd"] == .double(0.0425))
        let stages = try #require(json["stages"]?.arrayValue)
        #expect(stages.first?.objectValue?["counts"]?.objectValue?["records_out"] == .int(120))
    }

    @Test func eventsOfARun() {
        #expect(RunNotification.events(for: sampleManifest()) == [.failure])
        #expect(RunNotification.events(for: sampleManifest(status: .succeeded)) == [.success])
        #expect(RunNotification.events(for: sampleManifest(status: .succeeded, budget: true)) == [.success, .budget])
        #expect(RunNotification.events(for: sampleManifest(status: .interrupted)) == [])
        var detailed = sampleManifest(status: .succeeded)
        detailed.stages[1].details = ["llm": ["budget_reached": true]]
        #expect(RunNotification.events(for: detailed) == [.success, .budget])
        #expect(RunNotification(event: .budget, manifest: detailed).budgetStages == ["enrich"])
        // The enrich stage's own marks: records left pending by the budget, and the stop reason in the LLM totals.
        var pending = sampleManifest(status: .succeeded)
        pending.stages[1].counts["pending_budget"] = 7
        #expect(RunNotification.events(for: pending) == [.success, .budget])
        var stopped = sampleManifest(status: .succeeded)
        stopped.stages[1].details = ["llm": ["totals": ["cost_usd": 1.0, "budget_stopped": "budget_usd 1.00 reached"]]]
        #expect(RunNotification.events(for: stopped) == [.success, .budget])
        stopped.stages[1].details = ["llm": ["totals": ["cost_usd": 1.0, "budget_stopped": ""]]]
        #expect(RunNotification.events(for: stopped) == [.success])
    }

    /// The seed's templates by outcome: automation_error, automation_success, and data_analysis_complete for a
    /// success whose enrich stage ran (not when it was skipped as up to date).
    @Test func theSeedsTemplateFollowsTheOutcome() {
        #expect(EmailTemplate.name(for: RunNotification(event: .failure, manifest: sampleManifest())) == "automation_error")
        #expect(EmailTemplate.name(for: RunNotification(event: .success, manifest: sampleManifest(status: .succeeded)))
                == "data_analysis_complete")
        var skipped = sampleManifest(status: .succeeded)
        skipped.stages[1].status = .skipped
        #expect(EmailTemplate.name(for: RunNotification(event: .success, manifest: skipped)) == "automation_success")
        #expect(EmailTemplate.name(for: RunNotification(event: .budget, manifest: sampleManifest(budget: true))) == "pipeline_budget")
        for name in ["automation_success", "automation_error", "data_analysis_complete", "weekly_report", "pipeline_budget"] {
            #expect(EmailTemplate.builtIn(named: name) != nil, "\(name)")
        }
    }

    @Test func variablesFromTheManifest() {
        let failed = RunNotification(event: .failure, manifest: sampleManifest()).variables
        #expect(failed["records"] == "120")
        #expect(failed["failures"] == "1")
        #expect(failed["errors"] == "enrich: provider answered 500")
        #expect(failed["llm_cost"] == "$0.0425")
        #expect(failed["duration"] == "12.5s")
        #expect(failed["status"] == "failed")
        let (subject, body) = EmailTemplate.builtIn(named: "automation_error")!.rendered(failed)
        #expect(subject == "[AgentShop] nightly failed")
        #expect(body.contains("Errors:\nenrich: provider answered 500\n") && body.contains("Records written: 120\n"))
        var plain = sampleManifest(status: .succeeded)
        plain.stages[1].details = nil
        plain.stages[1].status = .skipped
        let succeeded = RunNotification(event: .success, manifest: plain).variables
        #expect(succeeded["llm_cost"] == "$0.0000" && succeeded["failures"] == "0" && succeeded["errors"] == "none")
        #expect(EmailTemplate.builtIn(named: "automation_success")!.rendered(succeeded).body
                .hasPrefix("Run 20261125T030000Z-abc123 of pipeline nightly succeeded in 12.5s.\n\nRecords written: 120\n"))
    }

    @Test func emailTemplates() {
        #expect(EmailTemplate.render("Run {{ run_id }} of {{pipeline}}{{missing}} {{open", ["run_id": "r1", "pipeline": "p"])
                == "Run r1 of p {{open")
        let template = EmailTemplate(subject: "{{pipeline}}\nfailed", body: "{{error}}")
        #expect(template.rendered(["pipeline": "p", "error": "boom"]) == ("p failed", "boom"))
        let builtIn = EmailTemplate.builtIn(for: .failure).rendered(RunNotification(event: .failure, manifest: sampleManifest()).variables)
        #expect(builtIn.subject == "[AgentShop] nightly failed")
        #expect(builtIn.body.contains("failed at stage enrich after 12.5s") && builtIn.body.contains("fetch: ran (records_out=120)"))
    }
}

@Suite struct WebhookTests {
    @Test func signedWebhookReachesALoopbackReceiver() async throws {
        let secret = "topsecret-\(UUID().uuidString)"
        let received = ReceivedRequests()
        let server = FlyingFox.HTTPServer(address: try .inet(ip4: "127.0.0.1", port: 0), timeout: 10, logger: .disabled)
        await server.appendRoute("POST /hook") { request in
            let body = try await request.bodyData
            let signature = request.headers[HTTPHeader("X-AgentShop-Signature")] ?? ""
            let expected = "sha256=" + HMACSHA256.hex(for: [UInt8](body), key: Array(secret.utf8))
            let valid = HMACSHA256.constantTimeEquals(Array(signature.utf8), Array(expected.utf8))
            received.add(body: body, validSignature: valid, event: request.headers[HTTPHeader("X-AgentShop-Event")])
            return FlyingFox.HTTPResponse(statusCode: valid ? .ok : .unauthorized)
        }
        let task = Task { try await server.run() }
        try await server.waitUntilListening()
        guard case .ip4(_, let port) = await server.listeningAddress else { throw CancellationError() }
        defer { task.cancel() }

        let client = Transport.HTTPClient()
        let good = WebhookNotifier(url: "http://127.0.0.1:\(port)/hook", secret: secret, client: client)
        try await good.send(RunNotification(event: .failure, manifest: sampleManifest()))
        let first = try #require(received.all.first)
        #expect(first.validSignature)
        #expect(first.event == "failure")
        let payload = try #require(try JSONSerialization.jsonObject(with: first.body) as? [String: Any])
        #expect(payload["pipeline"] as? String == "nightly")
        #expect(payload["status"] as? String == "failed")
        #expect(payload["duration_seconds"] as? Double == 12.5)
        #expect(payload["cost_usd"] as? Double == 0.0425)
        #expect(payload["error"] as? String == "stage enrich failed")
        #expect(payload["started_at"] as? String != nil && payload["finished_at"] as? String != nil)
        #expect((payload["stages"] as? [[String: Any]])?.count == 2)

        // A wrong secret: the receiver refuses (401), which is not worth a retry.
        let wrong = WebhookNotifier(url: "http://127.0.0.1:\(port)/hook", secret: "wrong", client: client)
        await #expect(throws: NotifyError.self) { try await wrong.send(RunNotification(event: .failure, manifest: sampleManifest())) }
        #expect(received.all.last?.validSignature == false)
        let refused = await #expect(throws: NotifyError.self) {
            try await wrong.send(RunNotification(event: .failure, manifest: sampleManifest()))
        }
        #expect(refused?.isTransient == false)
        #expect(refused?.message.contains("HTTP 401") == true)

        // Slack: the same receiver path answers 401 without a signature, so post to a second route.
        await server.appendRoute("POST /slack") { request in
            received.add(body: try await request.bodyData, validSignature: false, event: nil)
            return FlyingFox.HTTPResponse(statusCode: .ok)
        }
        try await SlackNotifier(url: "http://127.0.0.1:\(port)/slack", client: client)
            .send(RunNotification(event: .failure, manifest: sampleManifest()))
        let last = try #require(received.all.last)
        let slack = try #require(try JSONSerialization.jsonObject(with: last.body) as? [String: Any])
        #expect((slack["text"] as? String)?.contains("nightly 20261125T030000Z-abc123 failed at stage enrich") == true)
        #expect((slack["blocks"] as? [[String: Any]])?.first?["type"] as? String == "header")
        await server.stop(timeout: 0)
    }

    @Test func slackPayloadShape() throws {
        let payload = SlackNotifier.payload(for: RunNotification(event: .success, manifest: sampleManifest(status: .succeeded)))
        let object = try #require(payload.objectValue)
        #expect(object["text"]?.stringValue?.hasPrefix(":white_check_mark: nightly") == true)
        let blocks = try #require(object["blocks"]?.arrayValue)
        #expect(blocks.map { $0.objectValue?["type"]?.stringValue } == ["header", "section", "section", "context"])
        let fields = try #require(blocks[1].objectValue?["fields"]?.arrayValue)
        #expect(fields.contains { $0.objectValue?["text"]?.stringValue == "*Cost*\n$0.0425" })
        #expect(blocks[2].objectValue?["text"]?.objectValue?["text"]?.stringValue?.contains("`fetch` ran · 120 records") == true)
    }
}

final class ReceivedRequests: @unchecked Sendable {
    struct Entry { let body: Data; let validSignature: Bool; let event: String? }
    private let lock = NSLock()
    private var entries: [Entry] = []
    var all: [Entry] { lock.withLock { entries } }
    func add(body: Data, validSignature: Bool, event: String?) {
        lock.withLock { entries.append(Entry(body: body, validSignature: validSignature, event: event)) }
    }
}

@Suite struct EmailTests {
    func settings(port: UInt16, security: SMTPConfiguration.Security = .none, password: String = "right") -> EmailSettings {
        EmailSettings(smtp: SMTPConfiguration(host: "127.0.0.1", port: Int(port), security: security, username: "robot@example.com",
                                              password: Secret(password), timeout: 10),
                      from: "robot@example.com", defaultRecipients: ["oncall@example.com"])
    }

    @Test func mailReachesALoopbackSMTPServer() async throws {
        let server = try LoopbackSMTPServer()
        let notifier = EmailNotifier(settings: settings(port: server.port), recipients: ["ops@example.com", "OnCall@example.com"],
                                     templates: [.failure: EmailTemplate(subject: "Échec de {{pipeline}}", body: "Étape {{stage}} : {{error}}\n")])
        try await notifier.send(RunNotification(event: .failure, manifest: sampleManifest()))
        let session = try #require(server.sessions.first)
        #expect(session.authentication?.user == "robot@example.com" && session.authentication?.password == "right")
        #expect(session.mailFrom == "<robot@example.com>")
        #expect(session.recipients == ["<ops@example.com>", "<OnCall@example.com>"])  // the default one was listed (case aside)
        let data = try #require(session.data)
        let (head, body) = try #require(Self.split(data))
        #expect(head["From"] == "AgentShop <robot@example.com>")
        #expect(head["To"] == "ops@example.com, OnCall@example.com")
        #expect(head["MIME-Version"] == "1.0")
        #expect(head["Content-Type"] == "text/plain; charset=UTF-8")
        #expect(head["Content-Transfer-Encoding"] == "base64")
        #expect(head["X-AgentShop-Event"] == "failure")
        let messageID = try #require(head["Message-ID"])
        #expect(messageID.hasPrefix("<") && messageID.hasSuffix("@example.com>"))
        let date = try #require(head["Date"])
        #expect(date.range(of: #"^[A-Z][a-z]{2}, \d{2} [A-Z][a-z]{2} \d{4} \d{2}:\d{2}:\d{2} \+0000$"#, options: .regularExpression) != nil)
        // RFC 2047: the subject is an encoded word that decodes to the template's text.
        let subject = try #require(head["Subject"])
        #expect(subject.hasPrefix("=?UTF-8?B?"))
        let encoded = subject.dropFirst(10).dropLast(2)
        #expect(String(decoding: Data(base64Encoded: String(encoded)) ?? Data(), as: UTF8.self) == "Échec de nightly")
        let decoded = String(decoding: Data(base64Encoded: body.replacingOccurrences(of: "\r\n", with: "")) ?? Data(), as: UTF8.self)
        #expect(decoded == "Étape enrich : stage enrich failed\n")
    }

    @Test func asciiMailIsSentAs7bitWithTheBuiltInTemplate() async throws {
        let server = try LoopbackSMTPServer()
        try await EmailNotifier(settings: settings(port: server.port), recipients: ["ops@example.com"])
            .send(RunNotification(event: .success, manifest: sampleManifest(status: .succeeded)))
        let session = try #require(server.sessions.first)
        #expect(session.recipients == ["<ops@example.com>", "<oncall@example.com>"])
        let data = try #require(session.data)
        let (head, body) = try #require(Self.split(data))
        // Its enrich stage ran: the seed's data_analysis_complete.
        #expect(head["Subject"] == "[AgentShop] nightly: analysis of 120 records complete")
        #expect(head["X-AgentShop-Template"] == "data_analysis_complete")
        #expect(head["Content-Transfer-Encoding"] == "7bit")
        #expect(body.contains("Run 20261125T030000Z-abc123 of pipeline nightly analysed 120 records in enrich and succeeded in 12.5s.\r\n"))
        #expect(body.contains("LLM cost: $0.0425"))
    }

    @Test func wrongPasswordIsAnErrorWithoutThePassword() async throws {
        let server = try LoopbackSMTPServer()
        let notifier = EmailNotifier(settings: settings(port: server.port, password: "hunter2-wrong"), recipients: ["ops@example.com"])
        do {
            try await notifier.send(RunNotification(event: .failure, manifest: sampleManifest()))
            Issue.record("expected a login failure")
        } catch {
            #expect(error.channel == "email")
            #expect(error.message.contains("smtp://127.0.0.1:\(server.port)"))
            #expect(!error.message.contains("hunter2"))
        }
        #expect(server.sessions.first?.data == nil)
    }

    @Test func startTLSIsRequiredNotOptional() async throws {
        // The server offers no STARTTLS: a STARTTLS configuration must refuse to go on in plain text.
        let server = try LoopbackSMTPServer()
        let notifier = EmailNotifier(settings: settings(port: server.port, security: .startTLS), recipients: ["ops@example.com"])
        await #expect(throws: NotifyError.self) { try await notifier.send(RunNotification(event: .failure, manifest: sampleManifest())) }
        #expect(server.sessions.allSatisfy { $0.authentication == nil && $0.data == nil })
    }

    @Test func settingsFromTheEnvironment() throws {
        #expect(try EmailSettings.fromEnvironment([:]) == nil)
        let full = try #require(try EmailSettings.fromEnvironment([
            "NOTIFICATION_EMAIL_SMTP_HOST": "smtp.example.com", "NOTIFICATION_EMAIL_USERNAME": "bot@example.com",
            "NOTIFICATION_EMAIL_PASSWORD": "pw", "NOTIFICATION_EMAIL_TO": "a@example.com, b@example.com",
        ]))
        #expect(full.smtp.url == "smtp://smtp.example.com:587" && full.smtp.security == .startTLS)
        #expect(full.from == "bot@example.com" && full.defaultRecipients == ["a@example.com", "b@example.com"])
        #expect("\(full.smtp.password!)" == "<redacted>")
        let smtps = try #require(try EmailSettings.fromEnvironment([
            "NOTIFICATION_EMAIL_SMTP_HOST": "mail", "NOTIFICATION_EMAIL_USE_TLS": "ssl", "NOTIFICATION_EMAIL_FROM": "x@example.com",
        ]))
        #expect(smtps.smtp.url == "smtps://mail:465")
        #expect(throws: EmailSettings.Problem.self) {
            try EmailSettings.fromEnvironment(["NOTIFICATION_EMAIL_SMTP_HOST": "mail", "NOTIFICATION_EMAIL_USE_TLS": "maybe"])
        }
        #expect(throws: EmailSettings.Problem.self) { try EmailSettings.fromEnvironment(["NOTIFICATION_EMAIL_SMTP_HOST": "mail"]) }
        #expect(throws: EmailSettings.Problem.self) {
            try EmailSettings.fromEnvironment(["NOTIFICATION_EMAIL_SMTP_HOST": "mail", "NOTIFICATION_EMAIL_FROM": "x@example.com",
                                               "NOTIFICATION_EMAIL_SMTP_PORT": "99999"])
        }
    }

    /// Headers (unfolded) and body of a message as the server saw it.
    static func split(_ data: String) -> ([String: String], String)? {
        guard let blank = data.range(of: "\r\n\r\n") else { return nil }
        var headers: [String: String] = [:]
        var last: String?
        for line in data[..<blank.lowerBound].components(separatedBy: "\r\n") {
            if line.hasPrefix(" "), let key = last { headers[key, default: ""] += line; continue }
            guard let colon = line.firstIndex(of: ":") else { continue }
            let key = String(line[..<colon])
            headers[key] = line[line.index(after: colon)...].trimmingCharacters(in: .whitespaces)
            last = key
        }
        return (headers, String(data[blank.upperBound...]))
    }
}

@Suite struct NotificationSenderTests {
    let fast = RetryPolicy(maxAttempts: 3, initialDelay: 0.01, maxDelay: 0.02)

    @Test func transientFailuresAreRetried() async {
        let flaky = MemoryNotifier(channel: "flaky", failFirst: 2)
        let log = LogCapture()
        let deliveries = await NotificationSender(notifiers: [flaky], secrets: [], logger: log.logger, retry: fast)
            .send(RunNotification(event: .failure, manifest: sampleManifest()))
        #expect(deliveries.map(\.attempts) == [3] && deliveries.allSatisfy { $0.error == nil })
        #expect(flaky.received.count == 1)
        #expect(log.lines.filter { $0.contains("retrying") }.count == 2)
    }

    @Test func aPermanentFailureIsNotRetriedAndNeverThrows() async {
        let refused = MemoryNotifier(channel: "refused", failFirst: 5, transient: false)
        let fine = MemoryNotifier(channel: "fine")
        let deliveries = await NotificationSender(notifiers: [refused, fine], secrets: [], logger: LogCapture().logger, retry: fast)
            .send(RunNotification(event: .failure, manifest: sampleManifest()))
        #expect(deliveries.map(\.channel) == ["fine", "refused"])
        #expect(deliveries[1].attempts == 1 && deliveries[1].error != nil)
        #expect(fine.received.count == 1)
    }

    @Test func secretsAreRedactedInLogsAndErrors() async {
        let url = "http://127.0.0.1:1/services/T000/B000/tok3n-in-the-path?key=abc123def"
        let log = LogCapture()
        let notifier = WebhookNotifier(url: url, secret: "s3cret-value", client: Transport.HTTPClient(), timeout: 2)
        let deliveries = await NotificationSender(notifiers: [notifier], secrets: [url, "s3cret-value"], logger: log.logger, retry: fast)
            .send(RunNotification(event: .failure, manifest: sampleManifest()))
        let error = deliveries.first?.error ?? ""
        #expect(!error.isEmpty)
        #expect(deliveries.first?.attempts == 3)  // connection refused is transient
        for text in log.lines + [error] {
            #expect(!text.contains("tok3n") && !text.contains("abc123def") && !text.contains("s3cret"))
        }
        #expect(error.contains("<redacted>"))
        #expect(Secret.redact("posting to \(url) failed") == "posting to <redacted> failed")
        #expect(Secret.redact("http://127.0.0.1:1/services/T000/B000/tok3n-in-the-path: refused")
                == "http://127.0.0.1:1<redacted>: refused")
    }
}
