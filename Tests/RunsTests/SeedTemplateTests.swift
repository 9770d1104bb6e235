import Foundation
import Lake
import Notify
import Store
import Testing
@testable import Runs

/// The seed's four notification templates: the store's rows (migration 3) and Notify's built-in text are the same.
@Suite struct SeedTemplateTests {
    @Test func theStoresSeedRowsAreNotifysBuiltIns() throws {
        let project = try RunsProject()
        let store = try Store.openMigrated(path: project.lake.storePath)
        let rows = try EmailTemplateRecords.active(in: store.database)
        #expect(EmailTemplate.seeded.map(\.name) == ["automation_success", "automation_error", "data_analysis_complete", "weekly_report"])
        for seed in EmailTemplate.seeded {
            let row = try #require(rows[seed.name], "\(seed.name)")
            #expect(row.subject == seed.template.subject, "\(seed.name)")
            #expect(row.body == seed.template.body, "\(seed.name)")
            #expect(row.variables == seed.variables, "\(seed.name)")
            // Every variable a template names is one the notification (or the digest) fills.
            let placeholders = Set((row.subject + row.body).matches(of: /\{\{\s*([a-z_]+)\s*\}\}/).map { String($0.1) })
            #expect(placeholders == Set(seed.variables), "\(seed.name)")
        }
    }
}

/// The weekly digest from run manifests.
@Suite struct RunDigestTests {
    static func manifest(_ pipeline: String, _ runID: String, _ status: RunManifest.Status, at: Date, records: Int,
                         cost: Double? = nil, error: String? = nil) -> RunManifest {
        var m = RunManifest(runID: runID, pipeline: pipeline, pipelineFile: "pipelines/\(pipeline).yaml", startedAt: at,
                            runDate: Timestamp.day(at), toolVersion: "test", options: [], logFile: "raw_data/logs/\(pipeline)/\(runID).log")
        m.status = status
        m.finishedAt = Timestamp.iso(at.addingTimeInterval(5))
        var stage = RunManifest.StageRun(name: "work", kind: cost == nil ? "command" : "enrich", status: status == .failed ? .failed : .ran,
                                         reason: "new", fingerprint: "f")
        stage.counts = ["records_out": records]
        if let cost { stage.details = ["llm": ["totals": ["cost_usd": .double(cost)]]] }
        stage.error = error
        m.error = error
        m.stages = [stage]
        return m
    }

    @Test func summarisesThePeriodPerPipeline() {
        let now = Date(timeIntervalSince1970: 1_795_000_000)
        let day = 86_400.0
        let digest = RunDigest(manifests: [
            Self.manifest("shop", "r1", .succeeded, at: now - 2 * day, records: 10, cost: 0.25),
            Self.manifest("shop", "r2", .failed, at: now - day, records: 0, error: "fetch: every source down"),
            Self.manifest("shop", "r0", .succeeded, at: now - 9 * day, records: 99),   // before the period
            Self.manifest("demo", "d1", .succeeded, at: now - 3 * day, records: 5),
            Self.manifest("demo", "d2", .running, at: now - 60, records: 0),          // still going
        ], since: now - 7 * day, until: now)
        #expect(digest.pipelines.map(\.pipeline) == ["demo", "shop"])
        let shop = digest.pipelines[1]
        #expect(shop.runs == 2 && shop.succeeded == 1 && shop.failed == 1 && shop.records == 10 && shop.costUSD == 0.25)
        #expect(shop.lastStatus == "failed")
        #expect(digest.runs == 3 && digest.records == 15)
        #expect(digest.failures == [RunDigest.Failure(pipeline: "shop", runID: "r2", error: "fetch: every source down")])
        let (subject, body) = EmailTemplate.builtIn(named: RunDigest.templateName)!.rendered(digest.variables)
        #expect(subject.hasSuffix(": 3 runs, 1 failed"))
        #expect(body.contains("3 (2 succeeded, 1 failed, 0 interrupted)"))
        #expect(body.contains("LLM cost: $0.2500"))
        #expect(body.contains("shop r2: fetch: every source down"))
        #expect(body.contains("shop                         2       1       10   $0.2500  failed"))
    }

    @Test func anEmptyPeriodSaysSo() {
        let digest = RunDigest(manifests: [], since: Date(timeIntervalSince1970: 0), until: Date(timeIntervalSince1970: 86_400))
        #expect(digest.variables["pipelines"] == "no runs" && digest.variables["failures"] == "none" && digest.variables["runs"] == "0")
    }
}
