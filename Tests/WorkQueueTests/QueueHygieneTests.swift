import Foundation
import Postgres
import TestSupport
import Testing
import WorkQueue
#if canImport(Glibc)
import Glibc
#endif

/// A stopping worker gives back what it had not started; `QueueHealth` (what `doctor` shows) reads items,
/// workers and expired leases; `agentshop doctor --queue` shows them as data.
@Suite struct QueueHygieneTests {
    func queue(_ database: PostgresServer.Database, items count: Int) throws -> WorkQueue {
        let queue = try WorkQueue(database.url)
        try queue.createRun("run1", pipeline: "demo")
        try queue.enqueue(runID: "run1", stage: "enrich", items: (0..<count).map { (key: "k\($0)", payload: "p\($0)") })
        return queue
    }

    @Test func aStoppingWorkerReleasesTheItemsItHadNotStartedSoAnotherTakesThemAtOnce() async throws {
        guard let database = try PostgresServer.database() else { return }
        defer { database.drop() }
        let queue = try queue(database, items: 6)
        // A long lease: only the release can make the items claimable again before it ends.
        let batch = try queue.claim(worker: "w1", limit: 4, lease: 3600)
        #expect(batch.map(\.key) == ["k0", "k1", "k2", "k3"])
        let started = Locked<[String]>([])
        let stop = Locked(false)
        let released = try await queue.work(batch) { finished in
            for item in batch where !stop.value {
                started.update { $0.append(item.key) }
                let completion = try queue.complete(item, result: "seg-\(item.key)")
                #expect(completion == .accepted)
                finished(item)
                stop.update { $0 = true }  // SIGTERM arrives while the first item is in hand
            }
        }
        #expect(started.value == ["k0"])
        #expect(released.map(\.key) == ["k1", "k2", "k3"])
        #expect(try queue.progress(runID: "run1", stage: "enrich") == StageProgress(pending: 5, done: 1))

        let other = try WorkQueue(database.url)
        let taken = try other.claim(worker: "w2", limit: 10, lease: 3600)
        #expect(taken.map(\.key) == ["k1", "k2", "k3", "k4", "k5"])
        // A claim after a release is a new lease: the released one can no longer complete the item.
        #expect(taken.first { $0.key == "k1" }?.lease.attempt == 2)
        #expect(try queue.complete(released[0], result: "late") == .refused)
        for item in taken { #expect(try other.complete(item, result: "seg-\(item.key)") == .accepted) }
        #expect(try queue.progress(runID: "run1", stage: "enrich") == StageProgress(done: 6))
    }

    /// Through the binary: a worker holding a large batch under an hour's lease gets SIGTERM after its first
    /// items; it gives the rest back, so a second worker finishes the run at once (without the release the
    /// run would wait an hour for the lease).
    @Test func aWorkerStoppedWithSIGTERMGivesItsBatchBackAndTheRunFinishesWithoutWaitingForTheLease() throws {
        guard let database = try PostgresServer.database() else { return }
        defer { database.drop() }
        let count = 200
        let folder = try QueueEndToEndTests.project(count: count)
        defer { try? FileManager.default.removeItem(atPath: folder) }
        let first = try QueueEndToEndTests.start(["worker", database.url, "--id", "w1", "--batch", "500", "--lease", "3600"],
                                                 in: folder, output: folder + "/w1")
        defer { if first.process.isRunning { kill(first.process.processIdentifier, SIGKILL) } }
        let coordinator = try QueueEndToEndTests.start(["run", "spread", "--lake", "datalake", "--queue", database.url], in: folder,
                                                       environment: ["AGENTSHOP_QUEUE_ITEM_RECORDS": "1"], output: folder + "/run")
        defer { if coordinator.process.isRunning { kill(coordinator.process.processIdentifier, SIGKILL) } }
        let db = try PGConnection(database.url)
        let deadline = Date().addingTimeInterval(120)
        var done = 0
        while Date() < deadline {
            done = Int((try? db.scalar("SELECT count(*) FROM agentshop_queue_results WHERE worker = 'w1'")) ?? "0") ?? 0
            if done >= 3 { break }
            Thread.sleep(forTimeInterval: 0.02)
        }
        try #require(done >= 3, "w1 never did any work: \(first.stderr())")
        kill(first.process.processIdentifier, SIGTERM)
        first.process.waitUntilExit()
        #expect(first.process.terminationStatus == 0, "\(first.stderr())")
        let released = first.stderr().split(separator: "\n").first { $0.contains("released") }
        #expect(released != nil, "\(first.stderr())")
        // Nothing stays claimed by the stopped worker: what it did not finish is pending again.
        #expect(try db.scalar("SELECT count(*) FROM agentshop_queue_items WHERE state = 'claimed' AND lease_owner = 'w1'") == "0")

        let second = try QueueEndToEndTests.start(["worker", database.url, "--id", "w2", "--batch", "4", "--lease", "3600"],
                                                  in: folder, output: folder + "/w2")
        defer { if second.process.isRunning { kill(second.process.processIdentifier, SIGKILL) } }
        // Bounded: items left under w1's lease would hold the run for an hour.
        let finish = Date().addingTimeInterval(180)
        while coordinator.process.isRunning && Date() < finish { Thread.sleep(forTimeInterval: 0.1) }
        try #require(!coordinator.process.isRunning, "the run is still waiting for items: \(second.stderr())")
        coordinator.process.waitUntilExit()
        #expect(coordinator.process.terminationStatus == 0, "\(coordinator.stderr())")
        kill(second.process.processIdentifier, SIGTERM)
        second.process.waitUntilExit()
        #expect(try db.scalar("SELECT count(*) FROM agentshop_queue_items WHERE state = 'done'") == "\(2 * count)")
        #expect(try db.scalar("SELECT count(*) FROM agentshop_queue_results") == "\(2 * count)")
        #expect(Int(try db.scalar("SELECT count(*) FROM agentshop_queue_results WHERE worker = 'w2'") ?? "0") ?? 0 > 0)
    }

    @Test func releasingALeaseAlreadyLostChangesNothing() throws {
        guard let database = try PostgresServer.database() else { return }
        defer { database.drop() }
        let queue = try queue(database, items: 1)
        let first = try #require(try queue.claim(worker: "w1", limit: 1, lease: 3600).first)
        try queue.connection.execute("UPDATE agentshop_queue_items SET lease_expires = now() - interval '1 minute'")
        let second = try #require(try queue.claim(worker: "w2", limit: 1, lease: 3600).first)
        #expect(try queue.release([first]) == 0)
        #expect(try queue.progress(runID: "run1", stage: "enrich") == StageProgress(claimed: 1))
        #expect(try queue.complete(second, result: "seg") == .accepted)
        #expect(try queue.release([second]) == 0)
        #expect(try queue.progress(runID: "run1", stage: "enrich") == StageProgress(done: 1))
    }

    @Test func healthShowsItemsWorkersAndExpiredLeasesWithoutCreatingAnything() throws {
        guard let database = try PostgresServer.database() else { return }
        defer { database.drop() }
        let url = try PostgresURL(database.url)
        // An unused database: every table missing, and inspecting it creates none.
        let empty = try QueueHealth.inspect(url: url)
        #expect(empty.missingTables == QueueHealth.tables)
        #expect(try QueueHealth.inspect(url: url).missingTables == QueueHealth.tables)

        let queue = try queue(database, items: 5)
        try queue.registerWorker("alive", host: "node-1", pid: 11)
        try queue.registerWorker("killed", host: "node-2", pid: 22)
        try queue.registerWorker("gone", host: "node-3", pid: 33)
        try queue.stopWorker("gone")
        let held = try queue.claim(worker: "killed", limit: 2, lease: 3600)
        #expect(try queue.complete(held[0], result: "seg") == .accepted)
        _ = try queue.claim(worker: "alive", limit: 1, lease: 3600)
        // "killed" stopped beating ten minutes ago and its lease ran out.
        try queue.connection.execute("""
            UPDATE agentshop_queue_workers SET heartbeat_at = now() - interval '10 minutes' WHERE worker_id = 'killed';
            UPDATE agentshop_queue_items SET lease_expires = now() - interval '5 minutes' WHERE lease_owner = 'killed' AND state = 'claimed'
            """)

        let health = try QueueHealth.inspect(url: url)
        #expect(health.missingTables.isEmpty)
        #expect(health.items == ["pending": 2, "claimed": 2, "done": 1, "failed": 0])
        #expect(health.runs == ["running": 1, "succeeded": 0, "failed": 0, "interrupted": 0])
        #expect(health.staleLeases == 1)
        #expect(health.staleOwners == ["killed"])
        let workers = Dictionary(uniqueKeysWithValues: health.workers.map { ($0.id, $0) })
        #expect(workers["alive"]?.isLive() == true)
        #expect(workers["alive"]?.holding == 1)
        #expect(workers["alive"]?.host == "node-1" && workers["alive"]?.pid == 11)
        #expect(workers["killed"]?.isLive() == false && workers["killed"]?.stopped == false)
        #expect((workers["killed"]?.heartbeatAge ?? 0) >= 590)
        #expect(workers["killed"]?.itemsDone == 1)
        #expect(workers["gone"]?.stopped == true)
    }

    @Test func doctorChecksTheQueueAsData() throws {
        guard let database = try PostgresServer.database() else { return }
        defer { database.drop() }
        let password = try #require(try PostgresURL(database.url).password)
        let folder = try QueueEndToEndTests.project(count: 1)
        defer { try? FileManager.default.removeItem(atPath: folder) }

        // No tables yet: a warning saying who creates them.
        let before = try QueueEndToEndTests.run(["doctor", "--json", "--lake", "datalake", "--queue", database.url], in: folder)
        let first = Self.checks(before.stdout)
        #expect(first["queue"]?["status"] as? String == "warn", "\(before.stdout)\(before.stderr)")
        #expect((first["queue"]?["detail"] as? String)?.contains("no queue tables yet") == true)

        let queue = try queue(database, items: 3)
        try queue.registerWorker("node-1", host: "h1", pid: 1)
        try queue.registerWorker("node-2", host: "h2", pid: 2)
        _ = try queue.claim(worker: "node-2", limit: 1, lease: 3600)
        try queue.connection.execute("""
            UPDATE agentshop_queue_workers SET heartbeat_at = now() - interval '1 hour' WHERE worker_id = 'node-2';
            UPDATE agentshop_queue_items SET lease_expires = now() - interval '30 minutes' WHERE state = 'claimed'
            """)
        // From the environment this time, as a worker's machine has it.
        let result = try QueueEndToEndTests.run(["doctor", "--json", "--lake", "datalake"], in: folder,
                                                environment: ["AGENTSHOP_QUEUE_URL": database.url])
        let checks = Self.checks(result.stdout)
        #expect(checks["queue"]?["status"] as? String == "ok", "\(result.stdout)\(result.stderr)")
        #expect((checks["queue"]?["detail"] as? String)?.contains(":***@") == true)
        let items = checks["queue items"]?["data"] as? [String: Any]
        #expect(items?["pending"] as? Double == 2 && items?["claimed"] as? Double == 1 && items?["done"] as? Double == 0)
        let runs = checks["queue runs"]?["data"] as? [String: Any]
        #expect(runs?["running"] as? Double == 1 && runs?["failed"] as? Double == 0, "\(result.stdout)")
        #expect(runs?["running_runs"] as? [String] == ["run1"])
        let workers = checks["queue workers"]?["data"] as? [[String: Any]] ?? []
        #expect(Set(workers.compactMap { $0["id"] as? String }) == ["node-1", "node-2"])
        let lost = workers.first { $0["id"] as? String == "node-2" }
        #expect(lost?["state"] as? String == "lost")
        #expect((lost?["heartbeat_age_seconds"] as? Double ?? 0) >= 3500)
        #expect(lost?["heartbeat_at"] as? String != nil && lost?["host"] as? String == "h2")
        #expect(checks["queue workers"]?["status"] as? String == "warn")
        #expect(checks["queue leases"]?["status"] as? String == "warn")
        #expect((checks["queue leases"]?["data"] as? [String: Any])?["expired"] as? Double == 1)
        #expect(!result.stdout.contains(password) && !result.stderr.contains(password))

        // An unreachable queue fails the doctor, its password not shown.
        let down = try QueueEndToEndTests.run(["doctor", "--json", "--lake", "datalake", "--queue",
                                               "postgres://agentshop:hunter2-never@127.0.0.1:1/queue"], in: folder)
        #expect(down.status == 1)
        #expect(Self.checks(down.stdout)["queue"]?["status"] as? String == "fail")
        #expect(!down.stdout.contains("hunter2-never") && !down.stderr.contains("hunter2-never"))
    }

    /// `doctor --json`: check name → its object.
    static func checks(_ json: String) -> [String: [String: Any]] {
        let array = (try? JSONSerialization.jsonObject(with: Data(json.utf8))) as? [[String: Any]] ?? []
        return Dictionary(array.map { ($0["check"] as? String ?? "", $0) }, uniquingKeysWith: { $1 })
    }
}
