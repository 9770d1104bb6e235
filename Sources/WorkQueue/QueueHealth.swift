import Foundation
import Postgres

/// What `agentshop doctor` tells about a work queue: its tables, its items by state, its runs by status, the
/// workers it has seen with their last heartbeat, and the leases that expired without being taken over yet. Read only:
/// inspecting a database creates nothing in it.
public struct QueueHealth: Sendable {
    /// One row of `agentshop_queue_workers`.
    public struct Worker: Sendable, Equatable {
        public let id: String
        public let host: String
        public let pid: Int?
        /// When it last beat (ISO 8601, UTC) and how many seconds before the inspection that was.
        public let heartbeatAt: String
        public let heartbeatAge: Double
        public let itemsDone: Int
        /// Items it holds under a lease right now.
        public let holding: Int
        /// It left the queue cleanly (SIGTERM, `--idle-exit`).
        public let stopped: Bool

        /// Beating: not stopped, and a heartbeat within `within` seconds.
        public func isLive(within: Double = QueueHealth.liveWithin) -> Bool { !stopped && heartbeatAge <= within }
    }

    /// A worker whose heartbeat is older than this (and that did not stop cleanly) is presumed lost: the
    /// coordinator's "no worker" warning uses the same two minutes.
    public static let liveWithin: Double = 120
    /// The queue's tables, as `WorkQueue` creates them (every one, whenever a worker or coordinator opens the queue).
    public static let tables = ["agentshop_queue_runs", "agentshop_queue_items", "agentshop_queue_results",
                                "agentshop_queue_workers", "agentshop_queue_budgets", "agentshop_queue_daily_spend"]
    /// Tables created on first use only: the shared rate buckets (`prepareRateTables`, an enrich stage under a
    /// provider's rate limit) and the shared crawl's (`prepareCrawlTables`, a queued fetch). A queue that never
    /// needed them lacks them, and that is no fault.
    public static let optionalTables = ["agentshop_queue_rate_buckets", "agentshop_crawl_runs", "agentshop_crawl_frontier",
                                        "agentshop_crawl_robots", "agentshop_crawl_hosts", "agentshop_crawl_host_slots"]

    /// PostgreSQL's `server_version`.
    public var serverVersion = ""
    /// Tables of `tables` the database lacks (all of them: no worker or run has used it yet).
    public var missingTables: [String] = []
    /// Tables of `optionalTables` the database has (the others were never needed).
    public var optionalTablesPresent: [String] = []
    /// Items per state (pending, claimed, done, failed), every state present.
    public var items: [String: Int] = [:]
    /// Runs per status (running, succeeded, failed, interrupted), every status present.
    public var runs: [String: Int] = [:]
    /// The `running` runs, oldest first (at most 20): their coordinator waits for their items.
    public var runningRuns: [String] = []
    /// Items of `running` runs pending or claimed: what workers have to do.
    public var waiting = 0
    /// Items left pending or claimed in runs that ended (failed, interrupted): no worker claims them.
    public var leftInEndedRuns = 0
    /// Workers, latest heartbeat first (at most 50).
    public var workers: [Worker] = []
    /// Claimed items whose lease has expired: their worker stopped beating; the next claim takes them over.
    public var staleLeases = 0
    /// The owners of those expired leases.
    public var staleOwners: [String] = []

    /// Inspects the queue at `url` on a connection of its own.
    public static func inspect(url: PostgresURL) throws -> QueueHealth {
        let connection = try PGConnection(url: url, connectTimeout: 5, applicationName: "agentshop-doctor")
        var health = QueueHealth()
        health.serverVersion = try connection.scalar("SHOW server_version") ?? ""
        let present = Set(try connection.query("""
            SELECT c.relname FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
            WHERE n.nspname = current_schema() AND c.relkind IN ('r', 'p') AND c.relname = ANY($1::text[])
            """, ["{" + (tables + optionalTables).joined(separator: ",") + "}"]).compactMap { $0[0] })
        health.missingTables = tables.filter { !present.contains($0) }
        health.optionalTablesPresent = optionalTables.filter { present.contains($0) }
        guard health.missingTables.isEmpty else { return health }

        health.items = ["pending": 0, "claimed": 0, "done": 0, "failed": 0]
        for row in try connection.query("SELECT state, count(*) FROM agentshop_queue_items GROUP BY state").rows {
            health.items[row[0] ?? "?"] = Int(row[1] ?? "0") ?? 0
        }
        health.runs = ["running": 0, "succeeded": 0, "failed": 0, "interrupted": 0]
        for row in try connection.query("SELECT status, count(*) FROM agentshop_queue_runs GROUP BY status").rows {
            health.runs[row[0] ?? "?"] = Int(row[1] ?? "0") ?? 0
        }
        health.runningRuns = try connection.query("""
            SELECT run_id FROM agentshop_queue_runs WHERE status = 'running' ORDER BY created_at, run_id LIMIT 20
            """).rows.compactMap { $0[0] }
        for row in try connection.query("""
            SELECT r.status = 'running', count(*) FROM agentshop_queue_items i JOIN agentshop_queue_runs r USING (run_id)
            WHERE i.state IN ('pending', 'claimed') GROUP BY 1
            """).rows {
            if row[0] == "t" { health.waiting = Int(row[1] ?? "0") ?? 0 } else { health.leftInEndedRuns = Int(row[1] ?? "0") ?? 0 }
        }
        health.workers = try connection.query("""
            SELECT w.worker_id, w.host, w.pid,
                   to_char(w.heartbeat_at AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS"Z"'),
                   extract(epoch FROM clock_timestamp() - w.heartbeat_at), w.items_done, w.stopped_at IS NOT NULL,
                   (SELECT count(*) FROM agentshop_queue_items i WHERE i.state = 'claimed' AND i.lease_owner = w.worker_id)
            FROM agentshop_queue_workers w ORDER BY w.heartbeat_at DESC, w.worker_id LIMIT 50
            """).rows.map { row in
            Worker(id: row[0] ?? "", host: row[1] ?? "", pid: row[2].flatMap { Int($0) }, heartbeatAt: row[3] ?? "",
                   heartbeatAge: max(0, Double(row[4] ?? "0") ?? 0), itemsDone: Int(row[5] ?? "0") ?? 0,
                   holding: Int(row[7] ?? "0") ?? 0, stopped: row[6] == "t")
        }
        let stale = try connection.query("""
            SELECT lease_owner, count(*) FROM agentshop_queue_items
            WHERE state = 'claimed' AND lease_expires < clock_timestamp() GROUP BY lease_owner ORDER BY lease_owner
            """).rows
        health.staleLeases = stale.reduce(0) { $0 + (Int($1[1] ?? "0") ?? 0) }
        health.staleOwners = stale.compactMap { $0[0] }
        return health
    }
}
