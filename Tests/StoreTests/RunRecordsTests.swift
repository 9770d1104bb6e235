import Foundation
import Lake
import Testing
@testable import Store

@Suite struct RunRecordsTests {
    @Test func stagesOfARunBecomeProcessingTasksOncePerStage() throws {
        let dir = try TemporaryFolder()
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
            [.text("20261125T100000Z-abcdef/backup"), .text("dump"), .text("failed"), .null, .null, .null,
             .text("disk full"), .null],
            [.text("20261125T100000Z-abcdef/store"), .text("materialize"), .text("succeeded"), .integer(10),
             .text("2026-11-18T11:06:41.500Z"), .integer(1500), .null, .integer(7)],
        ])
    }
}
