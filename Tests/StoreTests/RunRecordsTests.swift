import Foundation
import Lake
import Testing
import TestSupport
@testable import Store

@Suite struct RunRecordsTests {
    @Test func stagesOfARunBecomeProcessingTasksOncePerStage() throws {
        let dir = try TemporaryDirectory()
        let db = try Store.openMigrated(path: dir.file("a.sqlite")).database
        var manifest = RunManifest(runID: "20261125T100000Z-abcdef", pipeline: "shop", pipelineFile: "pipelines/shop.yaml",
                                   startedAt: Date(timeIntervalSince1970: 1_795_000_000), runDate: "2026-11-18",
                                   toolVersion: "0.1.0", options: [], logFile: "raw_data/logs/shop/x.log")
        var store = RunManifest.StageRun(name: "store", kind: "materialize", status: .ran, reason: "never run", fingerprint: "f1")
        store.startedAt = "2026-11-18T11:06:40.000Z"
        store.durationMs = 1500
        store.counts = ["records_in": 10, "inserted": 7]
        var backup = RunManifest.StageRun(name: "backup", kind: "dump", status: .failed, reason: "never run", fingerprint: "f2")
        backup.error = "disk full"
        manifest.stages = [store, backup]
        manifest.status = .failed

        #expect(try RunRecords.record(manifest, in: db) == 2)
        #expect(try RunRecords.record(manifest, in: db) == 2)  // idempotent
        let rows = try db.rows("""
            SELECT task_key, kind, status, records_in, finished_at, duration_ms, error,
                   json_extract(details_json, '$.counts.inserted')
            FROM data_processing_tasks ORDER BY task_key
            """)
        #expect(rows == [
            [.text("shop/backup"), .text("dump"), .text("failed"), .null, .null, .null,
             .text("disk full"), .null],
            [.text("shop/store"), .text("materialize"), .text("succeeded"), .integer(10),
             .text("2026-11-18T11:06:41.500Z"), .integer(1500), .null, .integer(7)],
        ])
    }

    /// As the original AgentShop's tasks and crawler jobs: one row per stage, holding the last run
    /// that ran it; a later run that skips the stage leaves that row alone.
    @Test func aStageKeepsOneRowWithItsLastRunAndSchedule() throws {
        let dir = try TemporaryDirectory()
        let db = try Store.openMigrated(path: dir.file("a.sqlite")).database
        func run(_ id: String, _ status: RunManifest.StageRun.Status, records: Int) -> RunManifest {
            var manifest = RunManifest(runID: id, pipeline: "shop", pipelineFile: "pipelines/shop.yaml",
                                       startedAt: Date(timeIntervalSince1970: 1_795_000_000), runDate: "2026-11-18",
                                       toolVersion: "0.1.0", options: [], logFile: "raw_data/logs/shop/x.log")
            var stage = RunManifest.StageRun(name: "by_category", kind: "aggregate", status: status, reason: "", fingerprint: "f")
            stage.counts = ["records_in": records]
            stage.outputs = [.init(path: "processed_data/aggregations/by_category/dt=2026-11-18/part.csv", sha256: "00", bytes: 1)]
            manifest.stages = [stage]
            manifest.status = .succeeded
            return manifest
        }
        try RunRecords.record(run("r1", .ran, records: 10), schedule: "daily", in: db)
        try RunRecords.record(run("r2", .ran, records: 12), schedule: "daily", in: db)
        try RunRecords.record(run("r3", .skipped, records: 0), in: db)
        #expect(try db.rows("SELECT task_key, run_id, status, records_in, schedule, data_file FROM data_processing_tasks") == [
            [.text("shop/by_category"), .text("r2"), .text("succeeded"), .integer(12), .text("daily"),
             .text("processed_data/aggregations/by_category/dt=2026-11-18/part.csv")],
        ])
    }

    /// A store whose rows were keyed by run (schema 1) keeps each stage's newest row, and its pages follow it.
    @Test func migrationCollapsesRunRowsIntoStageRows() throws {
        let dir = try TemporaryDirectory()
        let store = try Store.open(path: dir.file("a.sqlite"))
        let db = store.database
        try db.transaction { try db.execute(MarketplaceSchema.migrations[0].sql); try db.setUserVersion(1) }
        try db.execute("""
            INSERT INTO webcrawler_jobs (job_key, pipeline, stage, run_id) VALUES ('r1/crawl', 'shop', 'crawl', 'r1'),
                ('r2/crawl', 'shop', 'crawl', 'r2'), ('r2/other', 'shop', 'other', 'r2');
            INSERT INTO scraped_data (url, crawler_job_id, content_sha256, fetched_at) VALUES ('https://a/', 1, 'aa', 'x');
            INSERT INTO data_processing_tasks (task_key, pipeline, stage, run_id, kind) VALUES ('r1/p', 'shop', 'p', 'r1', 'parse'),
                ('r2/p', 'shop', 'p', 'r2', 'parse');
            """)
        try store.migrate()
        #expect(try db.rows("SELECT id, job_key, run_id FROM webcrawler_jobs ORDER BY id")
                == [[.integer(2), .text("shop/crawl"), .text("r2")], [.integer(3), .text("shop/other"), .text("r2")]])
        #expect(try db.scalar("SELECT crawler_job_id FROM scraped_data") == .integer(2))
        #expect(try db.rows("SELECT task_key, run_id FROM data_processing_tasks") == [[.text("shop/p"), .text("r2")]])
    }
}
