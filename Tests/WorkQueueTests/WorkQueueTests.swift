import Dispatch
import Foundation
import Postgres
import TestSupport
import Testing
import WorkQueue

/// Against a real server (TestSupport's PostgresServer): each test gets its own database.
@Suite struct WorkQueueTests {
    /// A queue on a fresh database with one run and `count` items in stage `enrich`.
    func queue(_ database: PostgresServer.Database, items count: Int) throws -> WorkQueue {
        let queue = try WorkQueue(database.url)
        try queue.createRun("run1", pipeline: "demo")
        try queue.enqueue(runID: "run1", stage: "enrich", items: (0..<count).map { (key: "k\($0)", payload: "p\($0)") })
        return queue
    }

    @Test func tablesAreCreatedIdempotentlyAndEnqueueingTwiceAddsNothing() throws {
        guard let database = try PostgresServer.database() else { return }
        defer { database.drop() }
        // Several openers at once: the advisory lock keeps CREATE … IF NOT EXISTS from colliding.
        let failures = Counter()
        DispatchQueue.concurrentPerform(iterations: 4) { _ in
            do { _ = try WorkQueue(database.url) } catch { failures.add(1) }
        }
        #expect(failures.value == 0)
        let queue = try queue(database, items: 10)
        #expect(try queue.enqueue(runID: "run1", stage: "enrich", items: [(key: "k3", payload: "x"), (key: "k10", payload: "p10")]) == 1)
        let results = try queue.results(runID: "run1", stage: "enrich")
        #expect(results.map(\.key) == (0...10).map { "k\($0)" })
        // Positions keep the order items were given in (a skipped duplicate leaves a gap).
        #expect(results.map(\.seq) == results.map(\.seq).sorted() && Set(results.map(\.seq)).count == 11)
        #expect(try queue.progress(runID: "run1", stage: "enrich") == StageProgress(pending: 11))
    }

    @Test func twoClaimersNeverGetTheSameItemAndNothingIsLost() throws {
        guard let database = try PostgresServer.database() else { return }
        defer { database.drop() }
        let total = 300
        let setup = try queue(database, items: total)
        let claimed = Locked<[String: [String]]>([:])
        let failures = Locked<[String]>([])
        DispatchQueue.concurrentPerform(iterations: 3) { n in
            let worker = "w\(n)"
            do {
                let queue = try WorkQueue(database.url)
                while true {
                    let batch = try queue.claim(worker: worker, limit: 7, lease: 30)
                    if batch.isEmpty { break }
                    for item in batch {
                        claimed.update { $0[item.key, default: []].append(worker) }
                        #expect(try queue.complete(item, result: "seg-\(item.key)") == .accepted)
                    }
                }
            } catch {
                failures.update { $0.append("\(error)") }
            }
        }
        #expect(failures.value.isEmpty)
        let all = claimed.value
        #expect(all.count == total)
        #expect(all.values.allSatisfy { $0.count == 1 }, "an item was claimed twice")
        #expect(Set(all.values.flatMap { $0 }).count > 1, "only one claimer got work")
        #expect(try setup.progress(runID: "run1", stage: "enrich") == StageProgress(done: total))
        // One result row per item key.
        let counts = try setup.connection.query("""
            SELECT count(*), count(DISTINCT item_key) FROM agentshop_queue_results WHERE run_id = 'run1'
            """).first
        #expect(counts == ["\(total)", "\(total)"])
    }

    @Test func anExpiredLeaseIsReclaimedAndHeartbeatsKeepALeaseAlive() throws {
        guard let database = try PostgresServer.database() else { return }
        defer { database.drop() }
        let a = try queue(database, items: 4)
        let b = try WorkQueue(database.url)
        let first = try a.claim(worker: "a", limit: 2, lease: 0.3)
        #expect(first.map(\.key) == ["k0", "k1"])
        let second = try b.claim(worker: "b", limit: 2, lease: 0.3)
        #expect(second.map(\.key) == ["k2", "k3"])
        // b keeps its leases alive; a's expire.
        Thread.sleep(forTimeInterval: 0.15)
        #expect(try b.heartbeat(worker: "b", lease: 30) == 2)
        Thread.sleep(forTimeInterval: 0.35)
        let taken = try b.claim(worker: "b", limit: 10, lease: 30)
        #expect(taken.map(\.key) == ["k0", "k1"])
        #expect(taken.allSatisfy { $0.lease == Lease(owner: "b", attempt: 2) })
        // a's heartbeat no longer extends anything: the items are b's now.
        #expect(try a.heartbeat(worker: "a", lease: 30) == 0)
        #expect(try a.claim(worker: "a", limit: 10, lease: 30).isEmpty)
        #expect(try a.liveWorkers(within: 60) == ["a", "b"])
    }

    @Test func aLateCompletionByALostLeaseIsRefused() throws {
        guard let database = try PostgresServer.database() else { return }
        defer { database.drop() }
        let a = try queue(database, items: 1)
        let b = try WorkQueue(database.url)
        let lost = try #require(a.claim(worker: "a", limit: 1, lease: 0.1).first)
        Thread.sleep(forTimeInterval: 0.25)
        let current = try #require(b.claim(worker: "b", limit: 1, lease: 30).first)
        #expect(current.key == lost.key)
        // a comes back before b finishes: its lease is gone, so its result is refused.
        #expect(try a.complete(lost, result: "from-a") == .refused)
        #expect(try b.complete(current, result: "from-b") == .accepted)
        // Completing twice changes nothing; a's late completion after b's is refused too.
        #expect(try b.complete(current, result: "from-b-again") == .alreadyCompleted)
        #expect(try a.complete(lost, result: "from-a") == .refused)
        // The same worker reclaiming its own expired item holds a new lease: the old one is refused.
        let results = try a.results(runID: "run1", stage: "enrich")
        #expect(results == [ItemResult(key: "k0", seq: 0, state: "done", result: "from-b", worker: "b", attempts: 2, error: nil)])
        #expect(try a.connection.scalar("SELECT count(*) FROM agentshop_queue_results") == "1")
        #expect(try a.fail(lost, error: "late") == false)
    }

    @Test func theSameWorkerReclaimingItsExpiredItemHoldsANewLease() throws {
        guard let database = try PostgresServer.database() else { return }
        defer { database.drop() }
        let a = try queue(database, items: 1)
        let old = try #require(a.claim(worker: "a", limit: 1, lease: 0.1).first)
        Thread.sleep(forTimeInterval: 0.25)
        let new = try #require(a.claim(worker: "a", limit: 1, lease: 30).first)
        #expect(new.lease.attempt == old.lease.attempt + 1)
        #expect(try a.complete(old, result: "old") == .refused)
        #expect(try a.complete(new, result: "new") == .accepted)
    }

    @Test func aFailedItemIsRetriedThenMarkedFailed() throws {
        guard let database = try PostgresServer.database() else { return }
        defer { database.drop() }
        let q = try queue(database, items: 1)
        for attempt in 1...2 {
            let item = try #require(q.claim(worker: "a", limit: 1, lease: 30).first)
            #expect(item.lease.attempt == attempt)
            #expect(try q.fail(item, error: "boom \(attempt)", maxAttempts: 2))
        }
        #expect(try q.claim(worker: "a", limit: 1, lease: 30).isEmpty)
        let progress = try q.progress(runID: "run1", stage: "enrich")
        #expect(progress.failed == 1 && progress.finished)
        #expect(try q.results(runID: "run1", stage: "enrich").first?.error == "boom 2")
    }

    @Test func workersReservingAtOnceNeverSpendPastTheBudget() throws {
        guard let database = try PostgresServer.database() else { return }
        defer { database.drop() }
        let setup = try queue(database, items: 0)
        try setup.setBudget(runID: "run1", stage: "enrich", usd: 1.0)
        try setup.setBudget(runID: "run1", stage: "enrich", usd: 99)  // the first budget stays
        let granted = Counter()
        DispatchQueue.concurrentPerform(iterations: 4) { _ in
            guard let queue = try? WorkQueue(database.url) else { return }
            for _ in 0..<20 where (try? queue.reserve(runID: "run1", stage: "enrich", usd: 0.03)) == true {
                granted.add(1)
            }
        }
        #expect(granted.value == 33)  // 33 × 0.03 = 0.99 ≤ 1.0 < 34 × 0.03
        #expect(try setup.spent(runID: "run1", stage: "enrich") == 0.99)
        try setup.settle(runID: "run1", stage: "enrich", reserved: 0.03, actual: 0.01)
        #expect(try setup.reserve(runID: "run1", stage: "enrich", usd: 0.02))
        #expect(try !setup.reserve(runID: "run1", stage: "enrich", usd: 0.02))
        // A stage without a budget row is not limited.
        #expect(try setup.reserve(runID: "run1", stage: "other", usd: 1000))
    }

    @Test func workersReservingADailyCapAtOnceNeverPassItTogether() throws {
        guard let database = try PostgresServer.database() else { return }
        defer { database.drop() }
        let setup = try queue(database, items: 0)
        let day = "2026-12-06"
        // A day never seeded is refused: the lake's spend of the day must be counted first.
        #expect(try !setup.reserveDaily(provider: "openai", day: day, cap: 1.0, usd: 0.01))
        try setup.seedDailySpend(provider: "openai", day: day, spent: 0.4)  // what the lake recorded today
        try setup.seedDailySpend(provider: "openai", day: day, spent: 0.1)  // a later, lower seed never lowers it
        #expect(try setup.dailySpent(provider: "openai", day: day) == 0.4)
        let granted = Counter()
        DispatchQueue.concurrentPerform(iterations: 2) { _ in
            guard let queue = try? WorkQueue(database.url) else { return }
            for _ in 0..<20 where (try? queue.reserveDaily(provider: "openai", day: day, cap: 1.0, usd: 0.03)) == true {
                granted.add(1)
            }
        }
        #expect(granted.value == 20)  // 0.4 + 20 × 0.03 = 1.0 ≤ 1.0 < 0.4 + 21 × 0.03
        #expect(try setup.dailySpent(provider: "openai", day: day) == 1.0)
        try setup.settleDaily(provider: "openai", day: day, reserved: 0.03, actual: 0.01)
        #expect(try setup.reserveDaily(provider: "openai", day: day, cap: 1.0, usd: 0.02))
        #expect(try !setup.reserveDaily(provider: "openai", day: day, cap: 1.0, usd: 0.01))
        // Another provider, or the next day, has a row of its own.
        try setup.seedDailySpend(provider: "anthropic", day: day, spent: 0)
        try setup.seedDailySpend(provider: "openai", day: "2026-12-07", spent: 0)
        #expect(try setup.reserveDaily(provider: "anthropic", day: day, cap: 1.0, usd: 0.9))
        #expect(try setup.reserveDaily(provider: "openai", day: "2026-12-07", cap: 1.0, usd: 0.9))
    }
}

extension StageProgress {
    init(pending: Int = 0, claimed: Int = 0, done: Int = 0, failed: Int = 0) {
        self.init()
        self.pending = pending
        self.claimed = claimed
        self.done = done
        self.failed = failed
    }
}

final class Locked<T>: @unchecked Sendable {
    private let lock = NSLock()
    private var stored: T
    init(_ value: T) { stored = value }
    var value: T { lock.withLock { stored } }
    func update(_ body: (inout T) -> Void) { lock.withLock { body(&stored) } }
}

final class Counter: @unchecked Sendable {
    private let lock = NSLock()
    private var count = 0
    var value: Int { lock.withLock { count } }
    func add(_ n: Int) { lock.withLock { count += n } }
}
