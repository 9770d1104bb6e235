import Foundation
import TestSupport
import Testing

/// Schedules on the built binary where cron's rules bite: a daylight-saving change in a named zone
/// (which used to hang `schedule list` and the scheduler), `--at` read the same way by `schedule list`,
/// `schedule due` and `scheduler --once`, retries that notify once, and crontab lines for a cron that
/// ignores CRON_TZ.
@Suite struct ScheduleConformanceTests {
    static let newYork = "{ cron: \"0 3 * * *\", timezone: America/New_York }"

    /// Runs the binary, killing it after `seconds`: a hang is a failure, not a stuck test run.
    static func run(_ project: Project, _ arguments: [String], within seconds: Double = 60,
                    environment: [String: String] = [:]) throws -> (status: Int32, stdout: String, stderr: String, timedOut: Bool) {
        let (process, out, err) = try project.start(arguments, environment: environment)
        let deadline = Date().addingTimeInterval(seconds)
        while process.isRunning && Date() < deadline { usleep(20_000) }
        let timedOut = process.isRunning
        if timedOut { kill(process.processIdentifier, SIGKILL) }
        process.waitUntilExit()
        return (process.terminationStatus, String(decoding: out.fileHandleForReading.readDataToEndOfFile(), as: UTF8.self),
                String(decoding: err.fileHandleForReading.readDataToEndOfFile(), as: UTF8.self), timedOut)
    }

    @Test func listAtAndSchedulerOnceAtAgreeAcrossTheAutumnChange() throws {
        let project = try SchedulerEndToEndTests.project(["ny": SchedulerEndToEndTests.pipeline("ny", schedule: Self.newYork)])
        let list = try Self.run(project, ["schedule", "list", "--at", "2026-10-31T12:00:00Z", "--count", "3"], within: 30)
        #expect(!list.timedOut && list.status == 0, "\(list.stderr)")
        // 03:00 EST each day: 08:00 UTC, the first one just after New York falls back.
        #expect(list.stdout.contains("2026-11-01T03:00:00-05:00, 2026-11-02T03:00:00-05:00, 2026-11-03T03:00:00-05:00"), "\(list.stdout)")

        // 07:00 UTC is 02:00 EST, not yet 03:00: nothing runs. 08:00 UTC, the instant `list` showed, runs it.
        let early = try Self.run(project, ["scheduler", "--once", "--at", "2026-11-01T07:00:10Z"])
        #expect(!early.timedOut && early.status == 0, "\(early.stderr)")
        #expect(SchedulerEndToEndTests.manifests(project, "ny").isEmpty)
        let due = try Self.run(project, ["scheduler", "--once", "--at", "2026-11-01T08:00:10Z"])
        #expect(!due.timedOut && due.status == 0, "\(due.stderr)")
        #expect(SchedulerEndToEndTests.manifests(project, "ny").map { $0["status"] as? String } == ["succeeded"])

        // `schedule due` (the crontab gate) agrees, minute by minute.
        #expect(try Self.run(project, ["schedule", "due", "ny", "--at", "2026-11-01T08:00:30Z"]).status == 0)
        let notDue = try Self.run(project, ["schedule", "due", "ny", "--at", "2026-11-01T07:00:30Z"])
        #expect(notDue.status == 1 && notDue.stderr.isEmpty && notDue.stdout.isEmpty)
        #expect(try Self.run(project, ["schedule", "list", "--at", "yesterday"]).status == 2)
    }

    @Test func sigtermStopsTheSchedulerOverTheAutumnChange() throws {
        let project = try SchedulerEndToEndTests.project([
            "ny": SchedulerEndToEndTests.pipeline("ny", schedule: Self.newYork),
            "paris": SchedulerEndToEndTests.pipeline("paris", schedule: "{ cron: \"30 2 * * *\", timezone: Europe/Paris }"),
        ])
        let (process, _, err) = try project.start(["scheduler", "--at", "2026-10-31T23:59:30Z"])
        #expect(project.waitFor("datalake/.agentshop/scheduler.json", timeout: 20))
        usleep(500_000)
        let asked = Date()
        kill(process.processIdentifier, SIGTERM)
        let deadline = Date().addingTimeInterval(10)
        while process.isRunning && Date() < deadline { usleep(20_000) }
        let stopped = !process.isRunning
        if !stopped { kill(process.processIdentifier, SIGKILL) }
        process.waitUntilExit()
        let stderr = String(decoding: err.fileHandleForReading.readDataToEndOfFile(), as: UTF8.self)
        #expect(stopped && process.terminationStatus == 0, "\(stderr)")
        #expect(Date().timeIntervalSince(asked) < 5)
        #expect(stderr.contains("scheduler stopped"))
    }

    @Test func aRetriedFailureNotifiesOnceForTheFinalOutcome() throws {
        let project = try SchedulerEndToEndTests.project([:])
        try project.write("pipelines/bad.yaml", """
            pipeline: bad
            schedule: { cron: "0 3 * * *", retries: 2, retry_delay: 0.1s }
            notify: { on: [failure], email: ops@example.com }
            stages:
              work:
                command: { run: "exit 3" }
                out: processed_data/bad.txt
            """)
        let server = try LoopbackSMTPServer()
        let result = try Self.run(project, ["scheduler", "--once", "--at", "2026-11-25T03:00:05Z"], environment: [
            "NOTIFICATION_EMAIL_SMTP_HOST": "127.0.0.1", "NOTIFICATION_EMAIL_SMTP_PORT": "\(server.port)",
            "NOTIFICATION_EMAIL_USE_TLS": "false", "NOTIFICATION_EMAIL_FROM": "robot@example.com",
        ])
        #expect(result.status == 1, "\(result.stderr)")
        #expect(SchedulerEndToEndTests.manifests(project, "bad").map { $0["status"] as? String } == ["failed", "failed", "failed"])
        // Three attempts, one message: the last attempt's.
        #expect(server.sessions.filter { $0.data != nil }.count == 1)
        #expect(server.sessions.first?.data?.contains("bad failed") == true)
    }

    @Test func aZonedScheduleIsInstalledInTheSystemZone() throws {
        let project = try SchedulerEndToEndTests.project([
            "paris": SchedulerEndToEndTests.pipeline("paris", schedule: "{ cron: \"0 3 * * *\", timezone: Europe/Paris }"),
        ])
        // A UTC machine: Paris is one or two hours ahead, so no fixed line fits; the gated line fires
        // hourly and `schedule due` decides.
        let utc = try Self.run(project, ["schedule", "print"], environment: ["TZ": "UTC"])
        #expect(utc.status == 0, "\(utc.stderr)")
        #expect(!utc.stdout.contains("CRON_TZ"))
        let line = try #require(utc.stdout.split(separator: "\n").first { $0.hasPrefix("0 * * * * ") })
        #expect(line.contains(" schedule due ") && line.contains(" && PATH=") && line.contains(" run "))
        #expect(utc.stdout.contains("# paris: 0 3 * * * in Europe/Paris has no exact form in "), "\(utc.stdout)")
        // A machine on Paris time: the line as written, no gate.
        let paris = try Self.run(project, ["schedule", "print"], environment: ["TZ": "Europe/Paris"])
        let exact = try #require(paris.stdout.split(separator: "\n").first { !$0.hasPrefix("#") })
        #expect(exact.hasPrefix("0 3 * * * ") && !exact.contains("schedule due"))
        // India (UTC+5:30 all year): translated to 21:30 UTC... of the day before, fine for a daily job.
        try project.write("pipelines/paris.yaml", SchedulerEndToEndTests.pipeline("paris", schedule: "{ cron: \"0 3 * * *\", timezone: Asia/Kolkata }"))
        let kolkata = try Self.run(project, ["schedule", "print"], environment: ["TZ": "UTC"])
        #expect(kolkata.stdout.split(separator: "\n").contains { $0.hasPrefix("30 21 * * * ") && !$0.contains("schedule due") }, "\(kolkata.stdout)")
        // `once`: gated on the instant's fields (cron has no year); once it has passed, no line at all.
        try project.write("pipelines/paris.yaml", SchedulerEndToEndTests.pipeline("paris", schedule: "\"once 2099-12-24T18:00:00Z\""))
        let once = try Self.run(project, ["schedule", "print"], environment: ["TZ": "UTC"])
        #expect(once.stdout.split(separator: "\n").contains { $0.hasPrefix("0 18 24 12 * ") && $0.contains(" schedule due ") }, "\(once.stdout)")
        try project.write("pipelines/paris.yaml", SchedulerEndToEndTests.pipeline("paris", schedule: "\"once 2020-12-24T18:00:00Z\""))
        let past = try Self.run(project, ["schedule", "print"], environment: ["TZ": "UTC"])
        #expect(past.stdout.contains("has passed; no line") && !past.stdout.contains(" run "), "\(past.stdout)")
    }

    /// `doctor` looks for a cron daemon among the processes instead of trusting an installed block.
    @Test func doctorChecksThatACronDaemonRuns() throws {
        let project = try ScheduleInstallTests.project()
        let crontab = try ScheduleInstallTests.fakeCrontab(in: project)
        #expect(try project.run(["schedule", "install", "--crontab-command", crontab]).status == 0)
        let realDaemon = ((try? FileManager.default.contentsOfDirectory(atPath: "/proc")) ?? []).contains { pid in
            guard Int(pid) != nil, let comm = FileManager.default.contents(atPath: "/proc/\(pid)/comm") else { return false }
            return ["cron", "crond"].contains(String(decoding: comm, as: UTF8.self).trimmingCharacters(in: .whitespacesAndNewlines))
        }
        if !realDaemon {
            let without = try project.run(["doctor", "--crontab-command", crontab])
            #expect(without.stdout.contains("no cron daemon is running"), "\(without.stdout)")
            #expect(without.status == 1)
        }
        // A process named cron (a copy of sleep) is what the check looks for.
        try FileManager.default.copyItem(atPath: "/bin/sleep", toPath: project.folder + "/cron")
        let daemon = Process()
        daemon.executableURL = URL(fileURLWithPath: project.folder + "/cron")
        daemon.arguments = ["30"]
        try daemon.run()
        defer { kill(daemon.processIdentifier, SIGKILL); daemon.waitUntilExit() }
        let with = try project.run(["doctor", "--crontab-command", crontab])
        #expect(with.stdout.contains("cron daemon") && with.stdout.contains("cron (pid \(daemon.processIdentifier))"), "\(with.stdout)")
        #expect(!with.stdout.contains("no cron daemon is running"))
    }
}
