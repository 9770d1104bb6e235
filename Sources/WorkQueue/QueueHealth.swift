import Foundation
import Postgres

/// What `agentshop doctor` tells about a work queue: its tables, its items by state, the workers it has
/// seen with their last heartbeat, and the leases that expired without being taken over yet. Read only:
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
    /// The queue's tables, as `WorkQueue` creates them.
    public static let tables = ["agentshop_queue_runs", "agentshop_queue_items", "agentshop_queue_results",
                                "agentshop_queue_workers", "agentshop_queue_budgets"]

    /// PostgreSQL's `server_version`.
    public var serverVersion = ""
    /// Tables of `tables` the database lacks (all of them: no worker or run has used it yet).
    public var missingTables: [String] = []
    /// Items per state (pending, claimed, done, failed), every state present.
    public var items: [String: Int] = [:]
    /// Runs per status (running, succeeded, failed, interrupted).
    public var runs: [String: Int] = [:]
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
            """, ["{" + tables.joined(separator: ",") + "}"]).compactMap { $0[0] })
        health.missingTables = tables.filter { !present.contains($0) }
        guard health.missingTables.isEmpty else { return health }

        health.items = ["pending": 0, "claimed": 0, "done": 0, "failed": 0]
        for row in try connection.query("SELECT state, count(*) FROM agentshop_queue_items GROUP BY state").rows {
            health.items[row[0] ?? "?"] = Int(row[1] ?? "0") ?? 0
        }
        for row in try connection.query("SELECT status, count(*) FROM agentshop_queue_runs GROUP BY status").rows {
            health.runs[row[0] ?? "?"] = Int(row[1] ?? "0") ?? 0
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
