import Foundation
import Postgres

/// A crawl whose URLs are work items: its frontier, its `max_pages` counter, its robots.txt answers
/// and each host's politeness, in PostgreSQL, shared by every worker fetching it.
///
/// - `agentshop_crawl_runs`: one row per (run, stage): `max_depth`, `max_pages`, `admitted` (URLs
///   queued so far: the global `max_pages` counter) and the crawl's setup for the workers (its seeds).
///   Every change to a crawl's frontier first locks this row, so workers offering links at once
///   never deadlock and never admit past `max_pages` together.
/// - `agentshop_crawl_frontier`: every URL the crawl knows, once (primary key: run, stage, normalised
///   URL), with its smallest depth so far and its state: `queued` (a work item, keyed by the URL),
///   `held` (past `max_depth` or `max_pages` when found) or `landing` (where a redirect landed: not
///   fetched under its own name).
/// - `agentshop_crawl_robots`: one robots.txt answer per origin, fetched by one worker (a claim with
///   a lease, taken over when its worker dies) and read by the others.
/// - `agentshop_crawl_hosts` and `agentshop_crawl_host_slots`: per host, the next permitted start
///   (moved by `UPDATE … RETURNING`, so starts are spaced by the delay whichever worker asks),
///   a pause (Retry-After), the delay (robots.txt's Crawl-delay) and the requests in flight (a slot
///   each, freed when its worker's item leases lapse or at its expiry, so a dead worker's slot frees itself).
extension WorkQueue {
    static let crawlSchema = """
        CREATE TABLE IF NOT EXISTS agentshop_crawl_runs (
            run_id    text NOT NULL REFERENCES agentshop_queue_runs (run_id) ON DELETE CASCADE,
            stage     text NOT NULL,
            max_depth integer NOT NULL,
            max_pages bigint NOT NULL,
            admitted  bigint NOT NULL DEFAULT 0,
            setup     text NOT NULL DEFAULT '',
            PRIMARY KEY (run_id, stage)
        );
        CREATE TABLE IF NOT EXISTS agentshop_crawl_frontier (
            run_id   text NOT NULL,
            stage    text NOT NULL,
            url      text NOT NULL,
            depth    integer NOT NULL,
            state    text NOT NULL CHECK (state IN ('held', 'queued', 'landing')),
            found_by text,
            found_at timestamptz NOT NULL DEFAULT now(),
            PRIMARY KEY (run_id, stage, url),
            FOREIGN KEY (run_id, stage) REFERENCES agentshop_crawl_runs (run_id, stage) ON DELETE CASCADE
        );
        CREATE TABLE IF NOT EXISTS agentshop_crawl_robots (
            run_id     text NOT NULL,
            stage      text NOT NULL,
            robots_url text NOT NULL,
            state      text NOT NULL CHECK (state IN ('fetching', 'ready')),
            owner      text,
            expires    timestamptz,
            answer     text,
            PRIMARY KEY (run_id, stage, robots_url),
            FOREIGN KEY (run_id, stage) REFERENCES agentshop_crawl_runs (run_id, stage) ON DELETE CASCADE
        );
        CREATE TABLE IF NOT EXISTS agentshop_crawl_hosts (
            run_id       text NOT NULL,
            stage        text NOT NULL,
            host         text NOT NULL,
            concurrency  integer NOT NULL,
            delay        double precision NOT NULL,
            next_start   timestamptz NOT NULL DEFAULT '-infinity',
            paused_until timestamptz NOT NULL DEFAULT '-infinity',
            requests     bigint NOT NULL DEFAULT 0,
            PRIMARY KEY (run_id, stage, host),
            FOREIGN KEY (run_id, stage) REFERENCES agentshop_crawl_runs (run_id, stage) ON DELETE CASCADE
        );
        CREATE TABLE IF NOT EXISTS agentshop_crawl_host_slots (
            id      bigserial PRIMARY KEY,
            run_id  text NOT NULL,
            stage   text NOT NULL,
            host    text NOT NULL,
            holder  text NOT NULL,
            taken   timestamptz NOT NULL DEFAULT clock_timestamp(),
            expires timestamptz NOT NULL,
            FOREIGN KEY (run_id, stage, host) REFERENCES agentshop_crawl_hosts (run_id, stage, host) ON DELETE CASCADE
        );
        CREATE INDEX IF NOT EXISTS agentshop_crawl_host_slots_host ON agentshop_crawl_host_slots (run_id, stage, host);
        """

    /// Creates the crawl tables when they are missing (idempotent; serialised like the queue's own).
    public func prepareCrawlTables() throws {
        try connection.transaction {
            try connection.run("SELECT pg_advisory_xact_lock(7264102)")
            try connection.execute(Self.crawlSchema)
        }
    }

    // MARK: The frontier

    /// Registers a crawl (again: a no-op, its counter and frontier kept).
    public func startCrawl(runID: String, stage: String, maxDepth: Int, maxPages: Int, setup: String) throws {
        try connection.run("""
            INSERT INTO agentshop_crawl_runs (run_id, stage, max_depth, max_pages, setup) VALUES ($1, $2, $3::int, $4::bigint, $5)
            ON CONFLICT (run_id, stage) DO NOTHING
            """, [runID, stage, String(maxDepth), String(maxPages), setup])
    }

    /// The setup the coordinator registered for a crawl; nil when there is no such crawl.
    public func crawlSetup(runID: String, stage: String) throws -> String? {
        try connection.scalar("SELECT setup FROM agentshop_crawl_runs WHERE run_id = $1 AND stage = $2", [runID, stage])
    }

    /// Offers the links of `page` (or the seeds, when `page` is nil), normalised, in scope and in
    /// document order, at the page's depth + 1 (the seeds at 0), in one transaction:
    /// a URL the crawl does not know is added; one it knows at a greater depth comes down. Each URL
    /// held (unknown until now, or held) and now within `max_depth` is queued as a work item while
    /// the crawl has admitted fewer than `max_pages`, in the order offered, with `payload(url, depth)`.
    /// `landing` (where the page's redirects ended) is recorded as not to be fetched under its own name.
    /// Returns the URLs queued.
    @discardableResult
    public func offerLinks(runID: String, stage: String, page: String?, links: [String], landing: String? = nil,
                           worker: String, payload: (String, Int) -> String) throws -> [String] {
        try connection.transaction {
            guard let crawl = try connection.query("""
                SELECT max_depth, max_pages, admitted FROM agentshop_crawl_runs WHERE run_id = $1 AND stage = $2 FOR UPDATE
                """, [runID, stage]).first else {
                throw SharedCrawlError("no crawl \(stage) in run \(runID) in the queue")
            }
            let maxDepth = Int(crawl[0] ?? "0") ?? 0
            let maxPages = Int(crawl[1] ?? "0") ?? 0
            let admitted = Int(crawl[2] ?? "0") ?? 0
            var depth = 0
            if let page {
                guard let known = try connection.scalar("""
                    SELECT depth FROM agentshop_crawl_frontier WHERE run_id = $1 AND stage = $2 AND url = $3
                    """, [runID, stage, page]).flatMap(Int.init) else { return [] }
                depth = known + 1
                if let landing, landing != page {
                    try connection.run("""
                        INSERT INTO agentshop_crawl_frontier (run_id, stage, url, depth, state, found_by)
                        VALUES ($1, $2, $3, $4::int, 'landing', $5) ON CONFLICT (run_id, stage, url) DO NOTHING
                        """, [runID, stage, landing, String(known), worker])
                }
            }
            var seen = Set<String>()
            let offered = links.filter { seen.insert($0).inserted }
            guard !offered.isEmpty else { return [] }
            // Known URLs come down to the smaller depth; a new one starts held.
            let rows = try connection.query("""
                INSERT INTO agentshop_crawl_frontier AS f (run_id, stage, url, depth, state, found_by)
                SELECT $1, $2, u, $3::int, 'held', $4 FROM unnest($5::text[]) AS t(u)
                ON CONFLICT (run_id, stage, url) DO UPDATE SET depth = least(f.depth, excluded.depth)
                RETURNING url, depth, state
                """, [runID, stage, String(depth), worker, Self.textArray(offered)])
            var candidates = Set<String>()
            for row in rows.rows where row[2] == "held" && (Int(row[1] ?? "") ?? .max) <= maxDepth {
                candidates.insert(row[0]!)
            }
            let granted = Array(offered.filter(candidates.contains).prefix(max(0, maxPages - admitted)))
            guard !granted.isEmpty else { return [] }
            try queueURLs(runID: runID, stage: stage, granted, depth: depth, payload: payload)
            try connection.run("UPDATE agentshop_crawl_runs SET admitted = admitted + $3::bigint WHERE run_id = $1 AND stage = $2",
                               [runID, stage, String(granted.count)])
            return granted
        }
    }

    /// Queues URLs whatever `max_pages` says (the ones a breadth-first replay of the crawl found
    /// missing), each at its depth; a URL already queued stays as it is. Returns how many were queued.
    @discardableResult
    public func requireURLs(runID: String, stage: String, _ items: [(url: String, depth: Int)],
                            payload: (String, Int) -> String) throws -> Int {
        try connection.transaction {
            try connection.run("SELECT 1 FROM agentshop_crawl_runs WHERE run_id = $1 AND stage = $2 FOR UPDATE", [runID, stage])
            var queued = 0
            for (depth, group) in Dictionary(grouping: items, by: \.depth).sorted(by: { $0.key < $1.key }) {
                let urls = group.map(\.url)
                let rows = try connection.query("""
                    INSERT INTO agentshop_crawl_frontier AS f (run_id, stage, url, depth, state, found_by)
                    SELECT $1, $2, u, $3::int, 'held', 'coordinator' FROM unnest($4::text[]) AS t(u)
                    ON CONFLICT (run_id, stage, url) DO UPDATE SET depth = least(f.depth, excluded.depth)
                    RETURNING url, state
                    """, [runID, stage, String(depth), Self.textArray(urls)])
                let fresh = Set(rows.rows.filter { $0[1] != "queued" }.compactMap { $0[0] })
                let toQueue = urls.filter(fresh.contains)
                try queueURLs(runID: runID, stage: stage, toQueue, depth: depth, payload: payload)
                queued += toQueue.count
            }
            try connection.run("UPDATE agentshop_crawl_runs SET admitted = admitted + $3::bigint WHERE run_id = $1 AND stage = $2",
                               [runID, stage, String(queued)])
            return queued
        }
    }

    private func queueURLs(runID: String, stage: String, _ urls: [String], depth: Int, payload: (String, Int) -> String) throws {
        guard !urls.isEmpty else { return }
        try connection.run("""
            UPDATE agentshop_crawl_frontier SET state = 'queued' WHERE run_id = $1 AND stage = $2 AND url = ANY($3::text[])
            """, [runID, stage, Self.textArray(urls)])
        try enqueue(runID: runID, stage: stage, items: urls.map { ($0, payload($0, depth)) })
    }

    /// A crawl's frontier: every URL it knows, with its depth and state, by URL.
    public func frontier(runID: String, stage: String) throws -> [FrontierURL] {
        try connection.query("""
            SELECT url, depth, state, found_by FROM agentshop_crawl_frontier WHERE run_id = $1 AND stage = $2 ORDER BY url
            """, [runID, stage]).rows.map { FrontierURL(url: $0[0]!, depth: Int($0[1]!)!, state: $0[2]!, foundBy: $0[3]) }
    }

    /// The items of a stage completed since `since` (a little before, to allow for transactions that
    /// committed late): id and result. The caller skips the ids it has seen.
    public func completed(runID: String, stage: String, since: String?) throws -> (items: [(id: Int64, result: String?)], now: String) {
        let now = try connection.scalar("SELECT now()::text") ?? ""
        let rows = try connection.query("""
            SELECT id, result FROM agentshop_queue_items
            WHERE run_id = $1 AND stage = $2 AND state = 'done' AND ($3::timestamptz IS NULL OR done_at >= $3::timestamptz - interval '5 seconds')
            ORDER BY seq
            """, [runID, stage, since])
        return (rows.rows.map { (Int64($0[0]!)!, $0[1]) }, now)
    }

    // MARK: robots.txt

    /// What became of asking for a robots.txt answer.
    public enum RobotsClaim: Sendable, Equatable {
        /// Another worker's answer.
        case ready(String)
        /// This worker fetches it (and then calls `storeRobots`).
        case fetch
        /// Another worker is fetching it: ask again shortly.
        case wait
    }

    /// The answer for `robotsURL`, or the claim to fetch it (a claim whose worker died expires after `lease` seconds).
    public func claimRobots(runID: String, stage: String, robotsURL: String, worker: String, lease: Double) throws -> RobotsClaim {
        let inserted = try connection.run("""
            INSERT INTO agentshop_crawl_robots (run_id, stage, robots_url, state, owner, expires)
            VALUES ($1, $2, $3, 'fetching', $4, clock_timestamp() + make_interval(secs => $5::double precision))
            ON CONFLICT (run_id, stage, robots_url) DO NOTHING
            """, [runID, stage, robotsURL, worker, String(lease)])
        if inserted == 1 { return .fetch }
        if let row = try connection.query("""
            SELECT state, answer FROM agentshop_crawl_robots WHERE run_id = $1 AND stage = $2 AND robots_url = $3
            """, [runID, stage, robotsURL]).first, row[0] == "ready", let answer = row[1] {
            return .ready(answer)
        }
        let taken = try connection.run("""
            UPDATE agentshop_crawl_robots SET owner = $4, expires = clock_timestamp() + make_interval(secs => $5::double precision)
            WHERE run_id = $1 AND stage = $2 AND robots_url = $3 AND state = 'fetching' AND expires < clock_timestamp()
            """, [runID, stage, robotsURL, worker, String(lease)])
        return taken == 1 ? .fetch : .wait
    }

    public func storeRobots(runID: String, stage: String, robotsURL: String, answer: String) throws {
        try connection.run("""
            UPDATE agentshop_crawl_robots SET state = 'ready', answer = $4, expires = NULL
            WHERE run_id = $1 AND stage = $2 AND robots_url = $3
            """, [runID, stage, robotsURL, answer])
    }

    // MARK: Hosts

    /// Creates a host's row (a second call keeps the first row).
    public func addHost(runID: String, stage: String, host: String, concurrency: Int, delay: Double) throws {
        try connection.run("""
            INSERT INTO agentshop_crawl_hosts (run_id, stage, host, concurrency, delay) VALUES ($1, $2, $3, $4::int, $5::double precision)
            ON CONFLICT (run_id, stage, host) DO NOTHING
            """, [runID, stage, host, String(concurrency), String(delay)])
    }

    /// What became of asking for a host's slot.
    public enum HostSlot: Sendable, Equatable {
        /// A slot (release it with `releaseHostSlot`); the request may start after `wait` seconds.
        case granted(id: Int64, wait: Double)
        /// The host has `concurrency` requests in flight: ask again shortly.
        case busy
    }

    /// Takes one of a host's slots and its next start: the start is the later of now, the host's next
    /// permitted start and its pause, and the next permitted start moves to it + the delay, in one
    /// `UPDATE … RETURNING` under the host row's lock. A slot expires after `lease` seconds, or sooner
    /// when its holder died: a slot older than 10 s counts only while its holder still holds a
    /// claimed item under a live lease (a killed worker's leases stop being extended).
    public func acquireHostSlot(runID: String, stage: String, host: String, holder: String, lease: Double) throws -> HostSlot {
        try connection.transaction {
            guard try connection.query("""
                SELECT 1 FROM agentshop_crawl_hosts WHERE run_id = $1 AND stage = $2 AND host = $3 FOR UPDATE
                """, [runID, stage, host]).first != nil else {
                throw SharedCrawlError("no host \(host) in crawl \(stage) of run \(runID)")
            }
            // A statement of its own, after the lock: it sees every slot committed before.
            let rows = try connection.query("""
                WITH active AS (
                    SELECT count(*) AS n FROM agentshop_crawl_host_slots AS s
                    WHERE s.run_id = $1 AND s.stage = $2 AND s.host = $3 AND s.expires > clock_timestamp()
                      AND (s.taken > clock_timestamp() - interval '10 seconds'
                           OR EXISTS (SELECT 1 FROM agentshop_queue_items AS i WHERE i.lease_owner = s.holder
                                      AND i.state = 'claimed' AND i.lease_expires > clock_timestamp()))
                ), moved AS (
                    UPDATE agentshop_crawl_hosts AS h
                    SET next_start = greatest(h.next_start, h.paused_until, clock_timestamp()) + make_interval(secs => h.delay),
                        requests = h.requests + 1
                    FROM active WHERE h.run_id = $1 AND h.stage = $2 AND h.host = $3 AND active.n < h.concurrency
                    RETURNING h.next_start - make_interval(secs => h.delay) AS start
                )
                INSERT INTO agentshop_crawl_host_slots (run_id, stage, host, holder, expires)
                SELECT $1, $2, $3, $4, moved.start + make_interval(secs => $5::double precision) FROM moved
                RETURNING id, greatest(0, extract(epoch FROM (expires - make_interval(secs => $5::double precision) - clock_timestamp())))
                """, [runID, stage, host, holder, String(lease)])
            guard let row = rows.first else { return .busy }
            return .granted(id: Int64(row[0]!)!, wait: Double(row[1] ?? "0") ?? 0)
        }
    }

    public func releaseHostSlot(_ id: Int64) throws {
        try connection.run("DELETE FROM agentshop_crawl_host_slots WHERE id = $1::bigint", [String(id)])
    }

    /// Stops new requests to a host for `seconds` (a longer pause already set stays).
    public func pauseHost(runID: String, stage: String, host: String, seconds: Double) throws {
        try connection.run("""
            UPDATE agentshop_crawl_hosts SET paused_until = greatest(paused_until, clock_timestamp() + make_interval(secs => $4::double precision))
            WHERE run_id = $1 AND stage = $2 AND host = $3
            """, [runID, stage, host, String(seconds)])
    }

    public func setHostDelay(runID: String, stage: String, host: String, seconds: Double) throws {
        try connection.run("UPDATE agentshop_crawl_hosts SET delay = $4::double precision WHERE run_id = $1 AND stage = $2 AND host = $3",
                           [runID, stage, host, String(seconds)])
    }

    /// Seconds until a host's pause ends (0 when it is not paused).
    public func hostPause(runID: String, stage: String, host: String) throws -> Double {
        Double(try connection.scalar("""
            SELECT greatest(0, extract(epoch FROM (paused_until - clock_timestamp()))) FROM agentshop_crawl_hosts
            WHERE run_id = $1 AND stage = $2 AND host = $3
            """, [runID, stage, host]) ?? "0") ?? 0
    }

    /// A PostgreSQL array literal of texts (`{"a","b"}`), every element quoted.
    static func textArray(_ values: [String]) -> String {
        "{" + values.map { "\"" + $0.replacingOccurrences(of: "\\", with: "\\\\").replacingOccurrences(of: "\"", with: "\\\"") + "\"" }
            .joined(separator: ",") + "}"
    }
}

/// A URL of a crawl's frontier.
public struct FrontierURL: Sendable, Equatable {
    public let url: String
    public let depth: Int
    /// `queued`, `held` or `landing`.
    public let state: String
    public let foundBy: String?
}

/// A shared crawl's rows are not where they should be.
public struct SharedCrawlError: Error, CustomStringConvertible, Sendable {
    public let message: String
    public init(_ message: String) { self.message = message }
    public var description: String { message }
}
