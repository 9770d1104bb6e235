import Foundation
import Postgres

/// The shared work queue in PostgreSQL: runs, their work items, the workers that claim them, and
/// per-stage LLM budgets, and the providers' daily LLM spend.
///
/// A worker claims a batch of items with `SELECT … FOR UPDATE SKIP LOCKED` and holds them under a
/// lease (`lease_owner`, `lease_expires`); `heartbeat` extends the leases it holds; an item whose
/// lease expired is claimable again. A claim increments `attempts`, so (owner, attempts) names one
/// lease: `complete` counts only for the item's current lease, by a conditional UPDATE, and writes
/// the item's one row in `agentshop_queue_results` in the same transaction. A completion from a
/// lost lease, or a second completion, never adds a result.
///
/// Not `Sendable` (it holds one connection): open one per worker thread.
public final class WorkQueue {
    public let connection: PGConnection

    /// Opens the queue at `url` and creates its tables when they are missing (idempotent, safe when
    /// many workers start at once: the creation runs under an advisory lock).
    public init(url: PostgresURL, applicationName: String = "agentshop-queue") throws {
        connection = try PGConnection(url: url, applicationName: applicationName)
        try Self.createTables(connection)
    }

    public convenience init(_ text: String) throws {
        try self.init(url: PostgresURL(text))
    }

    /// The schema. Every statement is idempotent.
    static let schema = """
        CREATE TABLE IF NOT EXISTS agentshop_queue_runs (
            run_id      text PRIMARY KEY,
            pipeline    text NOT NULL,
            lake        text NOT NULL DEFAULT '',
            status      text NOT NULL DEFAULT 'running',
            created_at  timestamptz NOT NULL DEFAULT now(),
            finished_at timestamptz
        );
        CREATE TABLE IF NOT EXISTS agentshop_queue_items (
            id            bigserial PRIMARY KEY,
            run_id        text NOT NULL REFERENCES agentshop_queue_runs (run_id) ON DELETE CASCADE,
            stage         text NOT NULL,
            item_key      text NOT NULL,
            seq           bigint NOT NULL,
            payload       text NOT NULL,
            state         text NOT NULL DEFAULT 'pending' CHECK (state IN ('pending', 'claimed', 'done', 'failed')),
            lease_owner   text,
            lease_expires timestamptz,
            attempts      integer NOT NULL DEFAULT 0,
            result        text,
            error         text,
            done_at       timestamptz,
            UNIQUE (run_id, stage, item_key)
        );
        CREATE INDEX IF NOT EXISTS agentshop_queue_items_claimable ON agentshop_queue_items (state, lease_expires);
        CREATE INDEX IF NOT EXISTS agentshop_queue_items_stage ON agentshop_queue_items (run_id, stage, seq);
        CREATE TABLE IF NOT EXISTS agentshop_queue_results (
            item_id    bigint NOT NULL REFERENCES agentshop_queue_items (id) ON DELETE CASCADE,
            run_id     text NOT NULL,
            stage      text NOT NULL,
            item_key   text NOT NULL,
            worker     text NOT NULL,
            attempt    integer NOT NULL,
            result     text,
            created_at timestamptz NOT NULL DEFAULT now()
        );
        CREATE INDEX IF NOT EXISTS agentshop_queue_results_item ON agentshop_queue_results (item_id);
        CREATE TABLE IF NOT EXISTS agentshop_queue_workers (
            worker_id    text PRIMARY KEY,
            host         text NOT NULL DEFAULT '',
            pid          integer,
            started_at   timestamptz NOT NULL DEFAULT now(),
            heartbeat_at timestamptz NOT NULL DEFAULT now(),
            items_done   bigint NOT NULL DEFAULT 0,
            stopped_at   timestamptz
        );
        CREATE TABLE IF NOT EXISTS agentshop_queue_budgets (
            run_id     text NOT NULL REFERENCES agentshop_queue_runs (run_id) ON DELETE CASCADE,
            stage      text NOT NULL,
            budget_usd numeric NOT NULL,
            spent_usd  numeric NOT NULL DEFAULT 0,
            PRIMARY KEY (run_id, stage)
        );
        CREATE TABLE IF NOT EXISTS agentshop_queue_daily_spend (
            provider   text NOT NULL,
            day        text NOT NULL,
            spent_usd  numeric NOT NULL DEFAULT 0,
            PRIMARY KEY (provider, day)
        );
        """

    static func createTables(_ connection: PGConnection) throws {
        // Concurrent CREATE TABLE IF NOT EXISTS can still collide in the catalogue: serialise them.
        try connection.transaction {
            try connection.run("SELECT pg_advisory_xact_lock(7264101)")
            try connection.execute(schema)
        }
    }

    // MARK: Runs and items

    /// Registers a run, `running` (again: `running` again, as a coordinator that resumes it needs; its items
    /// are left as they are). Workers claim only items of a `running` run.
    public func createRun(_ runID: String, pipeline: String, lake: String = "") throws {
        try connection.run("""
            INSERT INTO agentshop_queue_runs (run_id, pipeline, lake) VALUES ($1, $2, $3)
            ON CONFLICT (run_id) DO UPDATE SET status = 'running', finished_at = NULL
            """, [runID, pipeline, lake])
    }

    /// Marks a run finished (`succeeded`, `failed`, `interrupted`): its pending items are no longer claimed,
    /// and the items workers hold are taken back (pending again, no lease), so a worker holding one finds its
    /// completion refused and its heartbeat no longer extends it.
    public func finishRun(_ runID: String, status: String) throws {
        try connection.transaction {
            try connection.run("UPDATE agentshop_queue_runs SET status = $2, finished_at = now() WHERE run_id = $1",
                               [runID, status])
            try connection.run("""
                UPDATE agentshop_queue_items SET state = 'pending', lease_owner = NULL, lease_expires = NULL
                WHERE run_id = $1 AND state = 'claimed'
                """, [runID])
        }
    }

    /// Settles as `interrupted` the runs of `pipeline` on `lake` still `running` other than `except`: their
    /// coordinator died without recording their end (SIGKILL, a lost machine). Only a coordinator holding the
    /// pipeline's lock on that lake may call it (then no other coordinator of that pipeline and lake is alive).
    /// Returns the runs it settled.
    @discardableResult
    public func settleAbandonedRuns(pipeline: String, lake: String, except runID: String) throws -> [String] {
        let abandoned = try connection.query("""
            SELECT run_id FROM agentshop_queue_runs
            WHERE pipeline = $1 AND lake = $2 AND status = 'running' AND run_id <> $3 ORDER BY run_id
            """, [pipeline, lake, runID]).rows.compactMap { $0[0] }
        for run in abandoned { try finishRun(run, status: "interrupted") }
        return abandoned
    }

    /// A run's status (`running`, `succeeded`, `failed`, `interrupted`), nil for an unknown run.
    public func runStatus(_ runID: String) throws -> String? {
        try connection.scalar("SELECT status FROM agentshop_queue_runs WHERE run_id = $1", [runID])
    }

    /// Adds items to a stage of a run, in order (`seq` is their position). An item whose key the
    /// stage already has is left as it is, so enqueueing twice (a restarted coordinator) adds nothing.
    /// Returns how many were new.
    @discardableResult
    public func enqueue(runID: String, stage: String, items: [(key: String, payload: String)]) throws -> Int {
        guard !items.isEmpty else { return 0 }
        return try connection.transaction {
            let base = Int(try connection.scalar(
                "SELECT coalesce(max(seq) + 1, 0) FROM agentshop_queue_items WHERE run_id = $1 AND stage = $2",
                [runID, stage]) ?? "0") ?? 0
            var added = 0
            let chunk = 500
            var start = 0
            while start < items.count {
                let slice = items[start..<min(start + chunk, items.count)]
                var values: [String] = []
                var parameters: [String?] = [runID, stage]
                for (offset, item) in slice.enumerated() {
                    let p = parameters.count
                    values.append("($1, $2, $\(p + 1), $\(p + 2)::bigint, $\(p + 3))")
                    parameters += [item.key, String(base + start + offset), item.payload]
                }
                added += try connection.run("""
                    INSERT INTO agentshop_queue_items (run_id, stage, item_key, seq, payload)
                    VALUES \(values.joined(separator: ", "))
                    ON CONFLICT (run_id, stage, item_key) DO NOTHING
                    """, parameters)
                start += chunk
            }
            return added
        }
    }

    /// Claims up to `limit` items (pending, or claimed under an expired lease) for `worker`, under a
    /// lease of `lease` seconds; in (run, stage, seq) order. `runID` limits the claim to one run. Only items
    /// of a `running` run are claimed: a run whose coordinator ended (or failed) leaves its items alone.
    /// Items another transaction is claiming right now are skipped, never waited for or shared.
    public func claim(worker: String, limit: Int, lease: Double, runID: String? = nil, stage: String? = nil) throws -> [WorkItem] {
        let rows = try connection.query("""
            WITH picked AS (
                SELECT id FROM agentshop_queue_items
                WHERE (state = 'pending' OR (state = 'claimed' AND lease_expires < clock_timestamp()))
                  AND ($3::text IS NULL OR run_id = $3) AND ($4::text IS NULL OR stage = $4)
                  AND EXISTS (SELECT 1 FROM agentshop_queue_runs r
                              WHERE r.run_id = agentshop_queue_items.run_id AND r.status = 'running')
                ORDER BY run_id, stage, seq
                LIMIT $2::int
                FOR UPDATE SKIP LOCKED
            )
            UPDATE agentshop_queue_items AS i
            SET state = 'claimed', lease_owner = $1, attempts = i.attempts + 1,
                lease_expires = clock_timestamp() + make_interval(secs => $5::double precision)
            FROM picked WHERE i.id = picked.id
            RETURNING i.id, i.run_id, i.stage, i.item_key, i.seq, i.payload, i.attempts
            """, [worker, String(limit), runID, stage, String(lease)])
        return rows.rows.map { row in
            WorkItem(id: Int64(row[0]!)!, runID: row[1]!, stage: row[2]!, key: row[3]!, seq: Int(row[4]!)!,
                     payload: row[5]!, lease: Lease(owner: worker, attempt: Int(row[6]!)!))
        }.sorted { ($0.runID, $0.stage, $0.seq) < ($1.runID, $1.stage, $1.seq) }
    }

    /// Extends by `lease` seconds the leases `worker` still holds, and records its heartbeat.
    /// Returns how many items it holds. An item another worker took over is not touched.
    @discardableResult
    public func heartbeat(worker: String, lease: Double) throws -> Int {
        try connection.run("""
            INSERT INTO agentshop_queue_workers (worker_id, heartbeat_at) VALUES ($1, now())
            ON CONFLICT (worker_id) DO UPDATE SET heartbeat_at = now()
            """, [worker])
        return try connection.run("""
            UPDATE agentshop_queue_items SET lease_expires = clock_timestamp() + make_interval(secs => $2::double precision)
            WHERE state = 'claimed' AND lease_owner = $1
            """, [worker, String(lease)])
    }

    /// Records a worker starting (host and pid, for the run manifest and `doctor`).
    public func registerWorker(_ worker: String, host: String, pid: Int) throws {
        try connection.run("""
            INSERT INTO agentshop_queue_workers (worker_id, host, pid) VALUES ($1, $2, $3::int)
            ON CONFLICT (worker_id) DO UPDATE SET host = $2, pid = $3::int, started_at = now(), heartbeat_at = now(),
                stopped_at = NULL
            """, [worker, host, String(pid)])
    }

    public func stopWorker(_ worker: String) throws {
        try connection.run("UPDATE agentshop_queue_workers SET stopped_at = now() WHERE worker_id = $1", [worker])
    }

    /// What became of a completion.
    public enum Completion: Sendable, Equatable {
        /// This lease's completion counted: the item's result is `result`.
        case accepted
        /// This lease had already completed the item: nothing changed (completing twice is harmless).
        case alreadyCompleted
        /// The lease was lost (expired and claimed by another worker, or the item is done by another
        /// lease): this result is discarded.
        case refused
    }

    /// Completes `item` with `result` (e.g. the lake path of its segment file), if `item.lease` is
    /// still the item's lease. Exactly one completion per item is ever accepted.
    @discardableResult
    public func complete(_ item: WorkItem, result: String?) throws -> Completion {
        try connection.transaction {
            let updated = try connection.run("""
                UPDATE agentshop_queue_items SET state = 'done', result = $4, done_at = now(), error = NULL
                WHERE id = $1::bigint AND state = 'claimed' AND lease_owner = $2 AND attempts = $3::int
                """, [String(item.id), item.lease.owner, String(item.lease.attempt), result])
            if updated == 1 {
                try connection.run("""
                    INSERT INTO agentshop_queue_results (item_id, run_id, stage, item_key, worker, attempt, result)
                    VALUES ($1::bigint, $2, $3, $4, $5, $6::int, $7)
                    """, [String(item.id), item.runID, item.stage, item.key, item.lease.owner, String(item.lease.attempt), result])
                try connection.run("""
                    UPDATE agentshop_queue_workers SET items_done = items_done + 1 WHERE worker_id = $1
                    """, [item.lease.owner])
                return .accepted
            }
            let row = try connection.query("SELECT state, lease_owner, attempts FROM agentshop_queue_items WHERE id = $1::bigint",
                                           [String(item.id)]).first
            if let row, row[0] == "done", row[1] == item.lease.owner, row[2] == String(item.lease.attempt) {
                return .alreadyCompleted
            }
            return .refused
        }
    }

    /// Gives an item back after a failure under `item.lease`: pending again while it has had fewer
    /// than `maxAttempts` claims, else `failed` with `error`. A lost lease changes nothing.
    @discardableResult
    public func fail(_ item: WorkItem, error: String, maxAttempts: Int = 3) throws -> Bool {
        try connection.run("""
            UPDATE agentshop_queue_items
            SET state = CASE WHEN attempts >= $4::int THEN 'failed' ELSE 'pending' END,
                lease_owner = CASE WHEN attempts >= $4::int THEN lease_owner ELSE NULL END,
                lease_expires = NULL, error = $5
            WHERE id = $1::bigint AND state = 'claimed' AND lease_owner = $2 AND attempts = $3::int
            """, [String(item.id), item.lease.owner, String(item.lease.attempt), String(maxAttempts), error]) == 1
    }

    /// Gives back items claimed under their `lease` but not started (a worker that is stopping): they
    /// are pending again at once, so another worker takes them without waiting for the lease to expire.
    /// A lease already lost (expired and claimed by another worker, or completed) is left alone. The
    /// claim still counts in `attempts`, so a later claim is another lease. Returns how many were released.
    @discardableResult
    public func release(_ items: [WorkItem]) throws -> Int {
        guard !items.isEmpty else { return 0 }
        return try connection.transaction {
            var released = 0
            for item in items {
                released += try connection.run("""
                    UPDATE agentshop_queue_items SET state = 'pending', lease_owner = NULL, lease_expires = NULL
                    WHERE id = $1::bigint AND state = 'claimed' AND lease_owner = $2 AND attempts = $3::int
                    """, [String(item.id), item.lease.owner, String(item.lease.attempt)])
            }
            return released
        }
    }

    /// Works through a claimed batch with `perform`, which runs its items (one by one, or some at once),
    /// completes or fails each, and says so through `finished`. The items it did not finish (a worker that
    /// is stopping starts no more) are released (`release`) rather than left to their lease, also when
    /// `perform` throws. Returns the items released.
    @discardableResult
    public func work(_ items: [WorkItem], perform: (_ finished: (WorkItem) -> Void) async throws -> Void) async throws -> [WorkItem] {
        var done = Set<Int64>()
        do {
            try await perform { done.insert($0.id) }
        } catch {
            try? release(items.filter { !done.contains($0.id) })
            throw error
        }
        let rest = items.filter { !done.contains($0.id) }
        try release(rest)
        return rest
    }

    /// Counts of a stage's items per state.
    public func progress(runID: String, stage: String) throws -> StageProgress {
        var progress = StageProgress()
        for row in try connection.query("""
            SELECT state, count(*) FROM agentshop_queue_items WHERE run_id = $1 AND stage = $2 GROUP BY state
            """, [runID, stage]).rows {
            let n = Int(row[1] ?? "0") ?? 0
            switch row[0] {
            case "pending": progress.pending = n
            case "claimed": progress.claimed = n
            case "done": progress.done = n
            case "failed": progress.failed = n
            default: break
            }
        }
        return progress
    }

    /// A stage's finished items in `seq` order: key, result, the worker whose lease completed it, attempts.
    public func results(runID: String, stage: String) throws -> [ItemResult] {
        try connection.query("""
            SELECT item_key, seq, state, result, lease_owner, attempts, error FROM agentshop_queue_items
            WHERE run_id = $1 AND stage = $2 ORDER BY seq
            """, [runID, stage]).rows.map { row in
            ItemResult(key: row[0]!, seq: Int(row[1]!)!, state: row[2]!, result: row[3], worker: row[4],
                       attempts: Int(row[5]!)!, error: row[6])
        }
    }

    /// Workers whose heartbeat is newer than `within` seconds.
    public func liveWorkers(within: Double) throws -> [String] {
        try connection.query("""
            SELECT worker_id FROM agentshop_queue_workers
            WHERE stopped_at IS NULL AND heartbeat_at > now() - make_interval(secs => $1::double precision)
            ORDER BY worker_id
            """, [String(within)]).rows.compactMap { $0[0] }
    }

    // MARK: Budgets

    /// Sets a stage's budget for a run (a second call keeps the first budget and what was spent).
    public func setBudget(runID: String, stage: String, usd: Double) throws {
        try connection.run("""
            INSERT INTO agentshop_queue_budgets (run_id, stage, budget_usd) VALUES ($1, $2, $3::numeric)
            ON CONFLICT (run_id, stage) DO NOTHING
            """, [runID, stage, String(usd)])
    }

    /// Reserves `estimate` dollars of the stage's budget: true when spent + estimate ≤ budget (and
    /// the reservation is then counted as spent), false when it would go past. One conditional
    /// UPDATE, so workers reserving at once never spend past the budget together. No budget row: true.
    public func reserve(runID: String, stage: String, usd estimate: Double) throws -> Bool {
        let updated = try connection.run("""
            UPDATE agentshop_queue_budgets SET spent_usd = spent_usd + $3::numeric
            WHERE run_id = $1 AND stage = $2 AND spent_usd + $3::numeric <= budget_usd
            """, [runID, stage, String(estimate)])
        if updated == 1 { return true }
        let exists = try connection.scalar("SELECT 1 FROM agentshop_queue_budgets WHERE run_id = $1 AND stage = $2",
                                           [runID, stage])
        return exists == nil
    }

    /// Replaces a reservation by what the call actually cost.
    public func settle(runID: String, stage: String, reserved: Double, actual: Double) throws {
        try connection.run("""
            UPDATE agentshop_queue_budgets SET spent_usd = greatest(spent_usd - $3::numeric + $4::numeric, 0)
            WHERE run_id = $1 AND stage = $2
            """, [runID, stage, String(reserved), String(actual)])
    }

    /// Dollars spent (and reserved) so far on a stage, nil without a budget row.
    public func spent(runID: String, stage: String) throws -> Double? {
        try connection.scalar("SELECT spent_usd FROM agentshop_queue_budgets WHERE run_id = $1 AND stage = $2",
                              [runID, stage]).flatMap(Double.init)
    }

    // MARK: Daily spend per provider

    /// Makes sure the provider's row of `day` (YYYY-MM-DD, UTC) counts at least `spent` dollars (what
    /// the lake's call records say was spent that day): created with it, or raised to it; never lowered,
    /// since the row also holds what workers reserved and spent that the lake does not show yet.
    public func seedDailySpend(provider: String, day: String, spent: Double) throws {
        try connection.run("""
            INSERT INTO agentshop_queue_daily_spend AS d (provider, day, spent_usd) VALUES ($1, $2, $3::numeric)
            ON CONFLICT (provider, day) DO UPDATE SET spent_usd = greatest(d.spent_usd, excluded.spent_usd)
            """, [provider, day, String(max(0, spent))])
    }

    /// Reserves `estimate` dollars of the provider's day under its daily cap: true when spent + estimate
    /// ≤ cap (the reservation then counts as spent). One conditional UPDATE, as for a stage's budget, so
    /// workers reserving at once never pass the cap together. No row for the day (never seeded): false.
    public func reserveDaily(provider: String, day: String, cap: Double, usd estimate: Double) throws -> Bool {
        try connection.run("""
            UPDATE agentshop_queue_daily_spend SET spent_usd = spent_usd + $3::numeric
            WHERE provider = $1 AND day = $2 AND spent_usd + $3::numeric <= $4::numeric
            """, [provider, day, String(estimate), String(cap)]) == 1
    }

    /// Replaces a daily reservation by what the call actually cost.
    public func settleDaily(provider: String, day: String, reserved: Double, actual: Double) throws {
        try connection.run("""
            UPDATE agentshop_queue_daily_spend SET spent_usd = greatest(spent_usd - $3::numeric + $4::numeric, 0)
            WHERE provider = $1 AND day = $2
            """, [provider, day, String(reserved), String(actual)])
    }

    /// Dollars spent (and reserved) on the provider's day, nil without a row.
    public func dailySpent(provider: String, day: String) throws -> Double? {
        try connection.scalar("SELECT spent_usd FROM agentshop_queue_daily_spend WHERE provider = $1 AND day = $2",
                              [provider, day]).flatMap(Double.init)
    }
}

/// One lease on an item: the worker and the claim's number. A later claim of the item is another lease.
public struct Lease: Sendable, Hashable {
    public let owner: String
    public let attempt: Int

    public init(owner: String, attempt: Int) {
        self.owner = owner
        self.attempt = attempt
    }
}

/// An item a worker claimed.
public struct WorkItem: Sendable, Hashable {
    public let id: Int64
    public let runID: String
    public let stage: String
    public let key: String
    /// Its position in the stage: outputs are merged in this order.
    public let seq: Int
    public let payload: String
    public let lease: Lease
}

/// How many of a stage's items are in each state.
public struct StageProgress: Sendable, Equatable {
    public var pending = 0
    public var claimed = 0
    public var done = 0
    public var failed = 0
    public init() {}
    public var total: Int { pending + claimed + done + failed }
    /// Every item done or failed.
    public var finished: Bool { pending == 0 && claimed == 0 }
}

/// A stage item as the coordinator sees it at the end.
public struct ItemResult: Sendable, Equatable {
    public let key: String
    public let seq: Int
    public let state: String
    public let result: String?
    public let worker: String?
    public let attempts: Int
    public let error: String?

    public init(key: String, seq: Int, state: String, result: String?, worker: String?, attempts: Int, error: String?) {
        self.key = key
        self.seq = seq
        self.state = state
        self.result = result
        self.worker = worker
        self.attempts = attempts
        self.error = error
    }
}
