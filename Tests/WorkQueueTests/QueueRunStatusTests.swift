import Foundation
import Postgres
import TestSupport
import Testing
import WorkQueue
#if canImport(Glibc)
import Glibc
#endif

/// A queue run's status says whether a coordinator still waits for it: its end (succeeded, failed,
/// interrupted) is recorded on every way out, and workers claim no item of a run that ended.
@Suite struct QueueRunStatusTests {
    struct Failure: Error {}

    /// Coordinates `runID` as a queued stage does: the scope opened, `items` enqueued, `body` run, the end
    /// recorded by `defer`.
    func coordinate(_ queue: WorkQueue, runID: String, items: Int, lake: String = "/lake",
                    body: (WorkQueue) async throws -> Void) async throws {
        let run = try QueueRunScope(queue: queue, runID: runID, pipeline: "demo", lake: lake)
        defer { run.end() }
        try queue.enqueue(runID: runID, stage: "enrich", items: (0..<items).map { (key: "k\($0)", payload: "p\($0)") })
        try await body(queue)
        run.succeeded()
    }

    @Test func aFailedCoordinatorsRunEndsFailedAndItsItemsAreNotClaimedAfterwards() async throws {
        guard let database = try PostgresServer.database() else { return }
        defer { database.drop() }
        let queue = try WorkQueue(database.url)
        let worker = try WorkQueue(database.url)
        var held: [WorkItem] = []
        do {
            try await coordinate(queue, runID: "r1", items: 5) { _ in
                held = try worker.claim(worker: "w1", limit: 2, lease: 3600)
                #expect(try queue.runStatus("r1") == "running")
                throw Failure()
            }
            Issue.record("the coordinator did not fail")
        } catch is Failure {}
        try #require(held.count == 2)
        #expect(try queue.runStatus("r1") == "failed")
        // Nothing more is claimed; what the worker held was taken back, so its completion is refused and its
        // heartbeat extends nothing.
        #expect(try worker.claim(worker: "w2", limit: 10, lease: 3600).isEmpty)
        #expect(try worker.complete(held[0], result: "seg") == .refused)
        #expect(try worker.heartbeat(worker: "w1", lease: 3600) == 0)
        #expect(try queue.progress(runID: "r1", stage: "enrich") == StageProgress(pending: 5))

        // A run ended by hand (finishRun) is left alone by claims too; another run's items are claimed.
        try queue.createRun("r2", pipeline: "other")
        try queue.enqueue(runID: "r2", stage: "enrich", items: [(key: "a", payload: "p")])
        #expect(try worker.claim(worker: "w2", limit: 10, lease: 3600).map(\.runID) == ["r2"])
        // The same run started again (a resumed coordinator) is running again: its items are claimable.
        try queue.createRun("r1", pipeline: "demo", lake: "/lake")
        #expect(try worker.claim(worker: "w2", limit: 10, lease: 3600).count == 5)
    }

    @Test func aSuccessfulRunEndsSucceededAndAnInterruptedOneInterrupted() async throws {
        guard let database = try PostgresServer.database() else { return }
        defer { database.drop() }
        let queue = try WorkQueue(database.url)
        try await coordinate(queue, runID: "ok", items: 2) { queue in
            for item in try queue.claim(worker: "w", limit: 2, lease: 60) { try queue.complete(item, result: "seg") }
        }
        #expect(try queue.runStatus("ok") == "succeeded")

        // Cancelled (SIGTERM cancels the run's task) while waiting for workers: interrupted.
        let url = database.url
        let task = Task {
            let queue = try WorkQueue(url)
            try await coordinate(queue, runID: "stopped", items: 3, lake: "/other") { _ in
                while true { try await Task.sleep(nanoseconds: 20_000_000) }
            }
        }
        while try queue.runStatus("stopped") == nil { try await Task.sleep(nanoseconds: 20_000_000) }
        task.cancel()
        _ = await task.result
        #expect(try queue.runStatus("stopped") == "interrupted")
        #expect(try queue.claim(worker: "w", limit: 10, lease: 60).isEmpty)
    }

    @Test func twoQueuedStagesOfOneRunEndItOnceTheLastEndsWithTheWorseOutcome() async throws {
        guard let database = try PostgresServer.database() else { return }
        defer { database.drop() }
        let queue = try WorkQueue(database.url)
        let first = try QueueRunScope(queue: queue, runID: "r", pipeline: "demo", lake: "/lake")
        let second = try QueueRunScope(queue: queue, runID: "r", pipeline: "demo", lake: "/lake")
        try queue.enqueue(runID: "r", stage: "b", items: [(key: "x", payload: "p")])
        // The first stage fails: the second still waits for its items, which workers still claim.
        #expect(first.end() == nil)
        #expect(try queue.runStatus("r") == "running")
        #expect(try queue.claim(worker: "w", limit: 1, lease: 60).count == 1)
        second.succeeded()
        #expect(second.end() == .failed)
        #expect(try queue.runStatus("r") == "failed")
    }

    @Test func aRunWhoseCoordinatorWasKilledIsSettledInterruptedByThePipelinesNextRun() throws {
        guard let database = try PostgresServer.database() else { return }
        defer { database.drop() }
        let queue = try WorkQueue(database.url)
        // A coordinator killed with SIGKILL: its run stays running, a worker holds one of its items.
        _ = try QueueRunScope(queue: queue, runID: "killed", pipeline: "demo", lake: "/lake")
        try queue.enqueue(runID: "killed", stage: "enrich", items: [(key: "a", payload: "p"), (key: "b", payload: "p")])
        let held = try queue.claim(worker: "w", limit: 1, lease: 3600)
        // Another pipeline, or the same on another lake, is not touched.
        try queue.createRun("elsewhere", pipeline: "demo", lake: "/other-lake")
        let next = try QueueRunScope(queue: queue, runID: "next", pipeline: "demo", lake: "/lake")
        #expect(next.settled == ["killed"])
        #expect(try queue.runStatus("killed") == "interrupted")
        #expect(try queue.runStatus("elsewhere") == "running")
        #expect(try queue.complete(held[0], result: "seg") == .refused)
        #expect(try queue.claim(worker: "w", limit: 10, lease: 60).isEmpty)
        next.succeeded()
        #expect(next.end() == .succeeded)
    }

    @Test func healthCountsRunsByStatusAndTheItemsNoWorkerWillClaim() throws {
        guard let database = try PostgresServer.database() else { return }
        defer { database.drop() }
        let url = try PostgresURL(database.url)
        let queue = try WorkQueue(database.url)
        for (run, status) in [("a", "succeeded"), ("b", "failed"), ("c", nil), ("d", "interrupted"), ("e", "failed")] {
            try queue.createRun(run, pipeline: "demo")
            try queue.enqueue(runID: run, stage: "s", items: [(key: "k", payload: "p")])
            if let status { try queue.finishRun(run, status: status) }
        }
        let health = try QueueHealth.inspect(url: url)
        #expect(health.runs == ["running": 1, "succeeded": 1, "failed": 2, "interrupted": 1])
        #expect(health.runningRuns == ["c"])
        #expect(health.waiting == 1)
        #expect(health.leftInEndedRuns == 4)
        // Every table WorkQueue creates is there; the ones made on first use are not missing when never used.
        #expect(health.missingTables.isEmpty)
        #expect(health.optionalTablesPresent.isEmpty)
        try queue.prepareRateTables()
        try queue.prepareCrawlTables()
        let used = try QueueHealth.inspect(url: url)
        #expect(used.missingTables.isEmpty)
        #expect(used.optionalTablesPresent == QueueHealth.optionalTables)
        // A queue made before the daily spend table existed lacks one of WorkQueue's tables.
        try queue.connection.execute("DROP TABLE agentshop_queue_daily_spend")
        #expect(try QueueHealth.inspect(url: url).missingTables == ["agentshop_queue_daily_spend"])
    }

    /// The built binary: a coordinator stopped with SIGTERM while its items wait records its run as
    /// interrupted, and a worker started afterwards claims none of them.
    @Test func aCoordinatorStoppedWithSIGTERMLeavesItsRunInterruptedAndWorkersClaimNothingOfIt() throws {
        guard let database = try PostgresServer.database() else { return }
        defer { database.drop() }
        let folder = try QueueEndToEndTests.project(count: 20)
        defer { try? FileManager.default.removeItem(atPath: folder) }
        let coordinator = try QueueEndToEndTests.start(["run", "spread", "--lake", "datalake", "--queue", database.url], in: folder,
                                                       environment: ["AGENTSHOP_QUEUE_ITEM_RECORDS": "2"], output: folder + "/run")
        defer { if coordinator.process.isRunning { kill(coordinator.process.processIdentifier, SIGKILL) } }
        let db = try PGConnection(database.url)
        let deadline = Date().addingTimeInterval(120)
        var queued = 0
        while Date() < deadline && coordinator.process.isRunning {
            queued = Int((try? db.scalar("SELECT count(*) FROM agentshop_queue_items")) ?? "0") ?? 0
            if queued > 0 { break }
            Thread.sleep(forTimeInterval: 0.05)
        }
        try #require(queued == 10, "\(coordinator.stderr())")
        #expect(try db.scalar("SELECT status FROM agentshop_queue_runs") == "running")
        kill(coordinator.process.processIdentifier, SIGTERM)
        coordinator.process.waitUntilExit()
        #expect(coordinator.process.terminationStatus != 0)
        #expect(try db.scalar("SELECT status FROM agentshop_queue_runs") == "interrupted", "\(coordinator.stderr())")
        #expect(try db.scalar("SELECT count(*) FROM agentshop_queue_runs WHERE finished_at IS NOT NULL") == "1")

        let worker = try QueueEndToEndTests.run(["worker", database.url, "--id", "late", "--idle-exit", "1"], in: folder)
        #expect(worker.status == 0, "\(worker.stderr)")
        #expect(try db.scalar("SELECT count(*) FROM agentshop_queue_items WHERE state = 'pending' AND attempts = 0") == "10")
        #expect(try db.scalar("SELECT count(*) FROM agentshop_queue_results") == "0")
    }
}
