import Foundation
import Store
import TestSupport
import Testing

/// `agentshop digest`: the runs of a period per pipeline, printed or mailed with the store's weekly_report template.
@Suite(.serialized) struct DigestEndToEndTests {
    static func project() throws -> Project {
        let project = try Project()
        try project.run(["init", "datalake"])
        try project.write("pipelines/good.yaml", """
            pipeline: good
            stages:
              work:
                command: { run: "echo ok > {out}" }
                out: processed_data/good.txt
            """)
        try project.write("pipelines/bad.yaml", """
            pipeline: bad
            stages:
              work:
                command: { run: "echo broken >&2; exit 4" }
                out: processed_data/bad.txt
            """)
        #expect(try project.run(["db", "init"]).status == 0)
        #expect(try project.run(["run", "good"]).status == 0)
        #expect(try project.run(["run", "good", "--force"]).status == 0)
        #expect(try project.run(["run", "bad"]).status == 1)
        return project
    }

    @Test func printsThePeriodPerPipeline() throws {
        let project = try Self.project()
        let result = try project.run(["digest", "--since", "7d"])
        #expect(result.status == 0, "\(result.stderr)")
        #expect(result.stdout.hasPrefix("Subject: [AgentShop] Runs "))
        #expect(result.stdout.contains(": 3 runs, 1 failed\n"))
        #expect(result.stdout.contains("3 (2 succeeded, 1 failed, 0 interrupted)"))
        #expect(result.stdout.contains("\nbad ") && result.stdout.contains("\ngood "))
        #expect(result.stdout.contains("exit 4") || result.stdout.contains("bad "), "\(result.stdout)")

        let json = try project.run(["digest", "--since", "7d", "--json"])
        let object = try #require(try JSONSerialization.jsonObject(with: Data(json.stdout.utf8)) as? [String: Any])
        #expect(object["runs"] as? Int == 3)
        let pipelines = try #require(object["pipelines"] as? [[String: Any]])
        #expect(pipelines.map { $0["pipeline"] as? String } == ["bad", "good"])
        #expect(pipelines[1]["succeeded"] as? Int == 2)

        // A period with no runs.
        let tomorrow = Date().addingTimeInterval(86_400 * 2)
        let day = String(ISO8601DateFormatter().string(from: tomorrow).prefix(10))
        let empty = try project.run(["digest", "--since", day])
        #expect(empty.stdout.contains(": 0 runs, 0 failed") && empty.stdout.contains("no runs"))
    }

    @Test func sendsTheStoresWeeklyReportTemplate() throws {
        let project = try Self.project()
        do {
            let store = try Store.open(path: project.lake + "/store/agentshop.sqlite", create: false)
            try store.database.execute("UPDATE email_templates SET subject = 'Week: {{runs}} runs, {{failed}} failed' WHERE name = 'weekly_report'")
        }
        let server = try LoopbackSMTPServer()
        let environment = ["NOTIFICATION_EMAIL_SMTP_HOST": "127.0.0.1", "NOTIFICATION_EMAIL_SMTP_PORT": "\(server.port)",
                           "NOTIFICATION_EMAIL_USE_TLS": "false", "NOTIFICATION_EMAIL_FROM": "robot@example.com",
                           "NOTIFICATION_EMAIL_TO": "lead@example.com"]
        let result = try project.run(["digest", "--send", "--to", "ops@example.com"], environment: environment)
        #expect(result.status == 0, "\(result.stderr)")
        #expect(result.stdout.isEmpty)
        let session = try #require(server.sessions.first)
        #expect(session.recipients == ["<ops@example.com>", "<lead@example.com>"])
        let data = try #require(session.data)
        #expect(data.contains("\r\nSubject: Week: 3 runs, 1 failed\r\n"))
        #expect(data.contains("X-AgentShop-Template: weekly_report"))
        #expect(data.contains("Records written: "))
    }

    @Test func sendingWithoutAServerOrRecipientIsAnInputError() throws {
        let project = try Self.project()
        let noServer = try project.run(["digest", "--send"], clearing: "NOTIFICATION_EMAIL_")
        #expect(noServer.status == 2)
        #expect(noServer.stderr.contains("NOTIFICATION_EMAIL_SMTP_HOST is not set"))
        let noRecipient = try project.run(["digest", "--send"], environment: [
            "NOTIFICATION_EMAIL_SMTP_HOST": "127.0.0.1", "NOTIFICATION_EMAIL_SMTP_PORT": "1", "NOTIFICATION_EMAIL_USE_TLS": "false",
            "NOTIFICATION_EMAIL_FROM": "robot@example.com"], clearing: "NOTIFICATION_EMAIL_")
        #expect(noRecipient.status == 2)
        #expect(noRecipient.stderr.contains("no recipient"))
        // A server that is not there: exit 1.
        let unreachable = try project.run(["digest", "--send", "--to", "ops@example.com"], environment: [
            "NOTIFICATION_EMAIL_SMTP_HOST": "127.0.0.1", "NOTIFICATION_EMAIL_SMTP_PORT": "1", "NOTIFICATION_EMAIL_USE_TLS": "false",
            "NOTIFICATION_EMAIL_FROM": "robot@example.com"], clearing: "NOTIFICATION_EMAIL_")
        #expect(unreachable.status == 1)
        #expect(unreachable.stderr.contains("digest not sent"))
    }
}
