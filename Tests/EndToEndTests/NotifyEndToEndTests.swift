import Foundation
import Store
import TestSupport
import Testing

/// Notifications from `agentshop run`: a channel that cannot be reached is logged (secrets redacted) and never
/// changes the run's outcome. Delivery itself is tested in NotifyTests against loopback servers.
@Suite struct NotifyEndToEndTests {
    static let environment = [
        "HOOK_SECRET": "hmac-secret-4711",
        "NOTIFICATION_EMAIL_SMTP_HOST": "127.0.0.1", "NOTIFICATION_EMAIL_SMTP_PORT": "1", "NOTIFICATION_EMAIL_USE_TLS": "false",
        "NOTIFICATION_EMAIL_USERNAME": "robot", "NOTIFICATION_EMAIL_PASSWORD": "smtp-password-0815",
        "NOTIFICATION_EMAIL_FROM": "robot@example.com",
    ]

    static func project(command: String) throws -> Project {
        let project = try Project()
        try project.run(["init", "datalake"])
        try project.write("pipelines/alerting.yaml", """
            pipeline: alerting
            notify:
              on: [failure, success]
              webhook: "http://127.0.0.1:1/hooks/T0/secret-token-path"
              webhook_secret: "${HOOK_SECRET}"
              slack: "http://127.0.0.1:1/services/T1/B1/slack-token-xyz"
              email: [ops@example.com]
            stages:
              work:
                command: { run: "\(command)" }
                out: processed_data/work.txt
            """)
        return project
    }

    static func log(_ project: Project, _ manifest: [String: Any]) throws -> String {
        try project.read("datalake/" + (manifest["log_file"] as? String ?? ""))
    }

    @Test func unreachableChannelsDoNotFailASucceedingRun() throws {
        let project = try Self.project(command: "echo ok > {out}")
        let result = try project.run(["run", "alerting", "--json"], environment: Self.environment)
        #expect(result.status == 0, "\(result.stderr)")
        let manifest = try #require(try JSONSerialization.jsonObject(with: Data(result.stdout.utf8)) as? [String: Any])
        #expect(manifest["status"] as? String == "succeeded")
        let log = try Self.log(project, manifest)
        for channel in ["webhook", "slack", "email"] {
            #expect(log.contains("notification failed") && log.contains("channel=\(channel)"), "\(channel): \(log)")
        }
        #expect(log.contains("retrying"))
        for secret in ["secret-token-path", "slack-token-xyz", "hmac-secret-4711", "smtp-password-0815"] {
            #expect(!log.contains(secret), "\(secret) leaked into the log")
            #expect(!result.stderr.contains(secret) && !result.stdout.contains(secret))
        }
    }

    @Test func aFailingRunKeepsItsExitCode() throws {
        let project = try Self.project(command: "exit 4")
        let result = try project.run(["run", "alerting", "--json"], environment: Self.environment)
        #expect(result.status == 1)
        let manifest = try #require(try JSONSerialization.jsonObject(with: Data(result.stdout.utf8)) as? [String: Any])
        #expect(try Self.log(project, manifest).contains("event=failure"))
    }

    @Test func emailWithoutAServerIsLoggedNotFatal() throws {
        let project = try Self.project(command: "exit 4")
        let result = try project.run(["run", "alerting", "--json"], environment: ["HOOK_SECRET": "x-secret-value"])
        #expect(result.status == 1)
        let manifest = try #require(try JSONSerialization.jsonObject(with: Data(result.stdout.utf8)) as? [String: Any])
        #expect(try Self.log(project, manifest).contains("NOTIFICATION_EMAIL_SMTP_HOST is not set"))
    }
}

/// E-mail from a real run to a loopback SMTP server, with the store's template when there is a store.
@Suite struct EmailEndToEndTests {
    static func environment(_ server: LoopbackSMTPServer) -> [String: String] {
        ["NOTIFICATION_EMAIL_SMTP_HOST": "127.0.0.1", "NOTIFICATION_EMAIL_SMTP_PORT": "\(server.port)",
         "NOTIFICATION_EMAIL_USE_TLS": "false", "NOTIFICATION_EMAIL_FROM": "robot@example.com",
         "NOTIFICATION_EMAIL_TO": "lead@example.com"]
    }

    static func project() throws -> Project {
        let project = try Project()
        try project.run(["init", "datalake"])
        try project.write("pipelines/mailer.yaml", """
            pipeline: mailer
            notify: { on: [failure, success], email: [ops@example.com] }
            stages:
              work:
                command: { run: "echo broken >&2; exit 4" }
                out: processed_data/work.txt
            """)
        return project
    }

    @Test func theStoresTemplateIsUsed() throws {
        let project = try Self.project()
        #expect(try project.run(["db", "init"]).status == 0)
        let server = try LoopbackSMTPServer()
        let result = try project.run(["run", "mailer", "--json"], environment: Self.environment(server))
        #expect(result.status == 1)
        let runID = try #require((try JSONSerialization.jsonObject(with: Data(result.stdout.utf8)) as? [String: Any])?["run_id"] as? String)
        let session = try #require(server.sessions.first)
        #expect(session.recipients == ["<ops@example.com>", "<lead@example.com>"])
        let data = try #require(session.data)
        // The seed's automation_error template.
        #expect(data.contains("\r\nSubject: [AgentShop] mailer failed\r\n"))
        #expect(data.contains("X-AgentShop-Template: automation_error"))
        #expect(data.contains("Run \(runID) of pipeline mailer failed at stage work after"))
        #expect(data.contains("Failed stages: 1\r\n"))
        #expect(data.contains("Log: raw_data/logs/mailer/\(runID).log"))
    }

    /// A user who edits the template's row in the store changes the mail.
    @Test func anEditedStoreTemplateChangesTheMail() throws {
        let project = try Self.project()
        #expect(try project.run(["db", "init"]).status == 0)
        do {
            let store = try Store.open(path: project.lake + "/store/agentshop.sqlite", create: false)
            try store.database.execute("""
                UPDATE email_templates SET subject = 'Broken: {{pipeline}} at {{stage}}', body_text = 'See {{log_file}} ({{status}})'
                WHERE name = 'automation_error'
                """)
        }
        let server = try LoopbackSMTPServer()
        #expect(try project.run(["run", "mailer"], environment: Self.environment(server)).status == 1)
        let data = try #require(server.sessions.first?.data)
        #expect(data.contains("\r\nSubject: Broken: mailer at work\r\n"))
        #expect(data.contains("See raw_data/logs/mailer/") && data.contains("(failed)"))
    }

    @Test func withoutAStoreTheBuiltInTextIsUsed() throws {
        let project = try Self.project()
        try? FileManager.default.removeItem(atPath: project.lake + "/store/agentshop.sqlite")
        let server = try LoopbackSMTPServer()
        #expect(try project.run(["run", "mailer"], environment: Self.environment(server)).status == 1)
        let data = try #require(server.sessions.first?.data)
        #expect(data.contains("\r\nSubject: [AgentShop] mailer failed\r\n"))
        #expect(data.contains("failed at stage work after"))
    }
}
