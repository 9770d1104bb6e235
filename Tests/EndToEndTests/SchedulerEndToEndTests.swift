import Foundation
import TestSupport
import Testing

/// `agentshop scheduler` on the built binary, its clock shifted with `--at` so that nothing waits for 03:00.
@Suite struct SchedulerEndToEndTests {
    static func project(_ pipelines: [String: String]) throws -> Project {
        let project = try Project()
        try project.run(["init", "datalake"])
        for (name, text) in pipelines { try project.write("pipelines/\(name).yaml", text) }
        return project
    }

    static func pipeline(_ name: String, schedule: String, command: String = "echo ok > {out}") -> String {
        """
        pipeline: \(name)
        schedule: \(schedule)
        stages:
          work:
            command: { run: "\(command)" }
            out: processed_data/\(name).txt
        """
    }

    /// Manifests of a pipeline, as JSON objects, oldest first.
    static func manifests(_ project: Project, _ pipeline: String) -> [[String: Any]] {
        let folder = project.lake + "/raw_data/logs/" + pipeline
        let files = ((try? FileManager.default.contentsOfDirectory(atPath: folder)) ?? []).filter { $0.hasSuffix(".manifest.json") }.sorted()
        // Oldest first by start time: two run ids of one second sort by their random suffix.
        return files.compactMap { file in
            (try? Data(contentsOf: URL(fileURLWithPath: folder + "/" + file))).flatMap { try? JSONSerialization.jsonObject(with: $0) } as? [String: Any]
        }.sorted { ($0["started_at"] as? String ?? "") < ($1["started_at"] as? String ?? "") }
    }

    static func state(_ project: Project) -> [String: [String: Any]] {
        let data = (try? Data(contentsOf: URL(fileURLWithPath: project.lake + "/.agentshop/scheduler.json"))) ?? Data()
        return (try? JSONSerialization.jsonObject(with: data)) as? [String: [String: Any]] ?? [:]
    }

    @Test func duePipelinesRunAndOthersDoNot() throws {
        let project = try Self.project([
            "three": Self.pipeline("three", schedule: "\"0 3 * * *\""),
            "four": Self.pipeline("four", schedule: "\"0 4 * * *\""),
            "manual": "stages:\n  s:\n    command: { run: \"echo > {out}\" }\n    out: processed_data/m.txt\n",
        ])
        let result = try project.run(["scheduler", "--once", "--at", "2026-11-25T03:00:20Z"])
        #expect(result.status == 0, "\(result.stderr)")
        #expect(result.stderr.contains("run started") && result.stderr.contains("pipeline=three"))
        #expect(Self.manifests(project, "three").map { $0["status"] as? String } == ["succeeded"])
        #expect(Self.manifests(project, "four").isEmpty)
        #expect(Self.manifests(project, "manual").isEmpty)
        #expect(try project.read("datalake/processed_data/three.txt") == "ok\n")
        #expect(Self.state(project)["three"]?["last_outcome"] as? String == "succeeded")
        #expect(project.exists("datalake/raw_data/logs/scheduler.log"))
    }

    @Test(arguments: ["skip", "run_once"])
    func missedRunsFollowThePolicy(policy: String) throws {
        let project = try Self.project(["nightly": Self.pipeline("nightly", schedule: "{ cron: \"0 3 * * *\", missed: \(policy) }")])
        #expect(try project.run(["scheduler", "--once", "--at", "2026-11-25T03:00:10Z"]).status == 0)
        #expect(Self.manifests(project, "nightly").count == 1)
        // The scheduler was down for two nights.
        let later = try project.run(["scheduler", "--once", "--at", "2026-11-27T09:00:00Z"])
        #expect(later.status == 0, "\(later.stderr)")
        #expect(Self.manifests(project, "nightly").count == (policy == "run_once" ? 2 : 1))
        #expect(later.stderr.contains(policy == "run_once" ? "once for missed runs" : "missed run skipped"))
    }

    @Test func theMissedFlagIsTheDefaultForPipelinesWithout() throws {
        let project = try Self.project(["nightly": Self.pipeline("nightly", schedule: "\"0 3 * * *\"")])
        #expect(try project.run(["scheduler", "--once", "--at", "2026-11-25T03:00:10Z"]).status == 0)
        #expect(try project.run(["scheduler", "--once", "--missed", "run_once", "--at", "2026-11-26T09:00:00Z"]).status == 0)
        #expect(Self.manifests(project, "nightly").count == 2)
        #expect(try project.run(["scheduler", "--once", "--missed", "later"]).status == 2)
    }

    @Test func aRunPastItsTimeoutIsStopped() throws {
        let project = try Self.project([
            "slow": Self.pipeline("slow", schedule: "{ cron: \"0 3 * * *\", timeout: 1s }", command: "sleep 30; echo > {out}"),
        ])
        let started = Date()
        let result = try project.run(["scheduler", "--once", "--grace", "5", "--at", "2026-11-25T03:00:05Z"])
        #expect(Date().timeIntervalSince(started) < 20)
        #expect(result.status == 1, "\(result.stderr)")
        #expect(result.stderr.contains("outcome=\"timed out\""))
        let manifest = try #require(Self.manifests(project, "slow").first)
        #expect(manifest["status"] as? String == "interrupted")
        #expect(!project.exists("datalake/processed_data/slow.txt"))
        #expect(project.temporaryFiles().isEmpty)
    }

    @Test func aTimedOutRunIsAFailureToNotify() throws {
        let project = try Self.project([:])
        try project.write("pipelines/slow.yaml", """
            pipeline: slow
            schedule: { cron: "0 3 * * *", timeout: 1s }
            notify: { on: [failure], email: ops@example.com }
            stages:
              work:
                command: { run: "sleep 30; echo > {out}" }
                out: processed_data/slow.txt
            """)
        let server = try LoopbackSMTPServer()
        let result = try project.run(["scheduler", "--once", "--at", "2026-11-25T03:00:05Z"], environment: [
            "NOTIFICATION_EMAIL_SMTP_HOST": "127.0.0.1", "NOTIFICATION_EMAIL_SMTP_PORT": "\(server.port)",
            "NOTIFICATION_EMAIL_USE_TLS": "false", "NOTIFICATION_EMAIL_FROM": "robot@example.com",
        ])
        #expect(result.status == 1)
        #expect(result.stderr.contains("notification sent") && result.stderr.contains("channel=email"))
        let data = try #require(server.sessions.first?.data)
        #expect(data.contains("slow failed"))
        #expect(data.contains("timed out after 1.0s; stopped by the scheduler"))
    }

    @Test func aFailedRunIsRetried() throws {
        let project = try Self.project([:])
        // Fails the first time only: the marker lives in this test's own folder.
        let marker = project.folder + "/marker"
        try project.write("pipelines/flaky.yaml", Self.pipeline("flaky", schedule: "{ cron: \"0 3 * * *\", retries: 2, retry_delay: 0.2s }",
                                                                command: "test -f \(marker) || { touch \(marker); exit 3; }; echo ok > {out}"))
        let result = try project.run(["scheduler", "--once", "--at", "2026-11-25T03:00:05Z"])
        #expect(result.status == 0, "\(result.stderr)")
        #expect(result.stderr.contains("will retry"))
        #expect(Self.manifests(project, "flaky").map { $0["status"] as? String } == ["failed", "succeeded"])
        #expect(Self.state(project)["flaky"]?["attempt"] as? Int == 2)

        let hopeless = try Self.project([
            "bad": Self.pipeline("bad", schedule: "{ cron: \"0 3 * * *\", retries: 1, retry_delay: 0.1s }", command: "exit 3"),
        ])
        let failed = try hopeless.run(["scheduler", "--once", "--at", "2026-11-25T03:00:05Z"])
        #expect(failed.status == 1)
        #expect(Self.manifests(hopeless, "bad").count == 2)
    }

    @Test func sigtermStopsRunsCleanly() throws {
        let project = try Self.project([
            "slow": Self.pipeline("slow", schedule: "\"0 3 * * *\"", command: "sleep 30; echo > {out}"),
        ])
        let (process, _, err) = try project.start(["scheduler", "--grace", "10", "--at", "2026-11-25T03:00:05Z"])
        var running = false
        let deadline = Date().addingTimeInterval(20)
        while Date() < deadline && !running {
            running = Self.manifests(project, "slow").first?["status"] as? String == "running"
            usleep(50_000)
        }
        #expect(running)
        let childPID = Self.manifests(project, "slow").first?["pid"] as? Int32 ?? 0
        // A second scheduler on the same lake is refused.
        let second = try project.run(["scheduler", "--once"])
        #expect(second.status == 75)
        #expect(second.stderr.contains("another scheduler"))

        let stopAsked = Date()
        kill(process.processIdentifier, SIGTERM)
        process.waitUntilExit()
        let stderr = String(decoding: err.fileHandleForReading.readDataToEndOfFile(), as: UTF8.self)
        #expect(process.terminationStatus == 0, "\(stderr)")
        #expect(Date().timeIntervalSince(stopAsked) < 10)
        #expect(stderr.contains("scheduler stopped"))
        let manifest = try #require(Self.manifests(project, "slow").first)
        #expect(manifest["status"] as? String == "interrupted")
        #expect(childPID > 0 && kill(childPID, 0) != 0)
        #expect(Self.state(project)["slow"]?["last_outcome"] as? String == "stopped")
        #expect(project.temporaryFiles().isEmpty)
        #expect(!project.exists("datalake/processed_data/slow.txt"))
    }

    @Test func sighupReadsThePipelinesAgain() throws {
        let project = try Self.project(["three": Self.pipeline("three", schedule: "\"0 3 * * *\"")])
        let (process, _, err) = try project.start(["scheduler", "--at", "2026-11-25T12:00:20Z"])
        #expect(project.waitFor("datalake/.agentshop/scheduler.json"))
        try project.write("pipelines/noon.yaml", Self.pipeline("noon", schedule: "\"0 12 * * *\""))
        kill(process.processIdentifier, SIGHUP)
        let deadline = Date().addingTimeInterval(20)
        while Date() < deadline && Self.manifests(project, "noon").first?["status"] as? String != "succeeded" { usleep(50_000) }
        kill(process.processIdentifier, SIGTERM)
        process.waitUntilExit()
        let stderr = String(decoding: err.fileHandleForReading.readDataToEndOfFile(), as: UTF8.self)
        #expect(process.terminationStatus == 0)
        #expect(stderr.contains("pipelines reloaded pipelines=noon,three"), "\(stderr)")
        #expect(Self.manifests(project, "noon").map { $0["status"] as? String } == ["succeeded"])
        #expect(Self.manifests(project, "three").isEmpty)
    }

    @Test func nothingScheduledIsAnError() throws {
        let project = try Self.project(["manual": "stages:\n  s:\n    command: { run: \"echo > {out}\" }\n    out: processed_data/m.txt\n"])
        let result = try project.run(["scheduler", "--once"])
        #expect(result.status == 2)
        #expect(result.stderr.contains("no valid pipeline with a schedule"))
    }
}
