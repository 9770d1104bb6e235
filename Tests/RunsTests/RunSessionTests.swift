import Foundation
import Lake
import Notify
import Pipeline
import Store
import TestSupport
import Testing
@testable import Runs

/// The run session in-process: the lock, the store's record of a run, and its notifications.
@Suite(.serialized) struct RunSessionTests {
    static let pipeline = """
        pipeline: p
        stages:
          work:
            work: { fail: false }
            out: processed_data/work.txt
        """

    static func failing(notify: String) -> String {
        """
        pipeline: p
        notify: \(notify)
        stages:
          work:
            work: { fail: true }
            out: processed_data/work.txt
        """
    }

    @Test func aHeldLockRefusesTheSessionAsBusy() throws {
        let project = try RunsProject()
        try project.writePipeline(Self.pipeline)
        let spec = try project.load()
        let held = try RunLock(lake: project.lake, pipeline: "p", wait: 0, owner: "pid 1, run other")
        // `agentshop run` turns .busy into exit 75.
        #expect {
            _ = try RunSession(lake: project.lake, spec: spec, environment: project.environment, options: RunOptions())
        } throws: { error in
            guard case RunSession.StartError.busy(let holder) = error else { return false }
            return holder.contains("run other")
        }
        withExtendedLifetime(held) {}
    }

    @Test func theLockIsReleasedWhenTheRunEnds() async throws {
        let project = try RunsProject()
        try project.writePipeline(Self.pipeline)
        let spec = try project.load()
        let session = try RunSession(lake: project.lake, spec: spec, environment: project.environment, options: RunOptions())
        let lockedDuringRun = Flag()
        let manifest = await session.run { _ in
            lockedDuringRun.value = (try? RunLock(lake: project.lake, pipeline: "p", wait: 0, owner: "probe")) == nil
        }
        #expect(manifest.status == .succeeded)
        #expect(lockedDuringRun.value)
        #expect((try? RunLock(lake: project.lake, pipeline: "p", wait: 0, owner: "next")) != nil)
        #expect(try project.read("processed_data/work.txt") == "done\n")
        #expect(try project.read("raw_data/logs/p/\(session.runID).log").contains("run started"))
    }

    @Test func theRunIsRecordedInTheStore() async throws {
        let project = try RunsProject()
        try project.writePipeline(Self.pipeline)
        _ = try Store.openMigrated(path: project.lake.storePath)
        let session = try RunSession(lake: project.lake, spec: try project.load(), environment: project.environment,
                                     options: RunOptions())
        let manifest = await session.run()
        let store = try Store.open(path: project.lake.storePath, create: false)
        let rows = try store.database.rows("SELECT run_id, status, records_out FROM data_processing_tasks WHERE task_key = 'p/work'")
        #expect(rows.count == 1)
        #expect(rows.first?[0].string == manifest.runID)
        #expect(rows.first?[2].int64 == 3)
    }

    @Test func anAbandonedRunIsSettledAndRecorded() async throws {
        let project = try RunsProject()
        try project.writePipeline(Self.pipeline)
        _ = try Store.openMigrated(path: project.lake.storePath)
        var dead = RunManifest(runID: "20260101T000000Z-dead", pipeline: "p", pipelineFile: project.pipelineFile, startedAt: Date(),
                               runDate: "2026-01-01", toolVersion: "test", options: [], logFile: "raw_data/logs/p/dead.log")
        dead.stages = [RunManifest.StageRun(name: "work", kind: "work", status: .ran, reason: "first run", fingerprint: "f")]
        try ManifestStore(lake: project.lake).write(dead)
        _ = try RunSession(lake: project.lake, spec: try project.load(), environment: project.environment, options: RunOptions())
        let settled = try ManifestStore(lake: project.lake).read(path: ManifestStore(lake: project.lake).path(pipeline: "p", runID: dead.runID))
        #expect(settled.status == .interrupted)
        let store = try Store.open(path: project.lake.storePath, create: false)
        #expect(try store.database.scalar("SELECT run_id FROM data_processing_tasks WHERE task_key = 'p/work'")?.string == dead.runID)
    }

    @Test func aFailedRunSendsItsFailureByEmail() async throws {
        let server = try LoopbackSMTPServer()
        let project = try RunsProject()
        project.variables = ["NOTIFICATION_EMAIL_SMTP_HOST": "127.0.0.1", "NOTIFICATION_EMAIL_SMTP_PORT": "\(server.port)",
                             "NOTIFICATION_EMAIL_USE_TLS": "false", "NOTIFICATION_EMAIL_FROM": "robot@example.com"]
        try project.writePipeline(Self.failing(notify: "{ on: [failure], email: [ops@example.com] }"))
        let session = try RunSession(lake: project.lake, spec: try project.load(), environment: project.environment,
                                     options: RunOptions(), attempt: nil)
        let manifest = await session.run()
        #expect(manifest.status == .failed)
        #expect(session.deliveries.map(\.channel) == ["email"])
        #expect(session.deliveries.first?.error == nil)
        let data = try #require(server.sessions.first?.data)
        #expect(data.contains("p"))
        #expect(data.contains("the work broke"))
    }

    @Test func aFailureTheSchedulerRetriesIsNotTold() async throws {
        let server = try LoopbackSMTPServer()
        let project = try RunsProject()
        project.variables = ["NOTIFICATION_EMAIL_SMTP_HOST": "127.0.0.1", "NOTIFICATION_EMAIL_SMTP_PORT": "\(server.port)",
                             "NOTIFICATION_EMAIL_USE_TLS": "false", "NOTIFICATION_EMAIL_FROM": "robot@example.com"]
        try project.writePipeline(Self.failing(notify: "{ on: [failure], email: [ops@example.com] }"))
        let session = try RunSession(lake: project.lake, spec: try project.load(), environment: project.environment,
                                     options: RunOptions(), attempt: ScheduledAttempt(number: 1, total: 3))
        #expect(await session.run().status == .failed)
        #expect(session.deliveries.isEmpty)
        #expect(server.sessions.isEmpty)
    }

    /// A user who edits the seed's row changes the mail.
    @Test func anEditedTemplateRowChangesTheMail() async throws {
        let server = try LoopbackSMTPServer()
        let project = try RunsProject()
        let store = try Store.openMigrated(path: project.lake.storePath)
        try store.database.execute("""
            UPDATE email_templates SET subject = 'ALERT {{pipeline}} ({{failures}} failed)',
                body_text = 'Errors: {{errors}} / records {{records}} / cost {{llm_cost}}' WHERE name = 'automation_error'
            """)
        project.variables = ["NOTIFICATION_EMAIL_SMTP_HOST": "127.0.0.1", "NOTIFICATION_EMAIL_SMTP_PORT": "\(server.port)",
                             "NOTIFICATION_EMAIL_USE_TLS": "false", "NOTIFICATION_EMAIL_FROM": "robot@example.com"]
        try project.writePipeline(Self.failing(notify: "{ on: [failure], email: [ops@example.com] }"))
        let session = try RunSession(lake: project.lake, spec: try project.load(), environment: project.environment,
                                     options: RunOptions(), attempt: nil)
        #expect(await session.run().status == .failed)
        let data = try #require(server.sessions.first?.data)
        #expect(data.contains("\r\nSubject: ALERT p (1 failed)\r\n"))
        #expect(data.contains("Errors: work: the work broke / records 0 / cost $0.0000"))
    }

    @Test func theStoresTemplatesReachNotifyThroughTheProtocol() throws {
        let project = try RunsProject()
        let store = try Store.openMigrated(path: project.lake.storePath)
        try store.database.execute("UPDATE email_templates SET subject = 'Edited {{pipeline}}' WHERE name = 'automation_error'")
        let templates = StoredEmailTemplates(lake: project.lake, logger: .init(label: "test"))
        #expect(templates.template(named: "automation_error")?.subject == "Edited {{pipeline}}")
        try store.database.execute("UPDATE email_templates SET is_active = 0 WHERE name = 'automation_error'")
        #expect(StoredEmailTemplates(lake: project.lake, logger: .init(label: "test")).template(named: "automation_error") == nil)
    }
}

private final class Flag: @unchecked Sendable {
    var value = false
}
