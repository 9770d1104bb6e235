import Foundation
import Postgres

/// Providers' rate limits shared by every worker: a token bucket row per provider and limit
/// (`requests` per minute, `tokens` per minute) in `agentshop_queue_rate_buckets`, across runs (a
/// provider's limit is its account's, whatever run spends it).
///
/// A take is one `INSERT … ON CONFLICT DO UPDATE … RETURNING` under the row's lock: the bucket
/// refills for the time since its last take (at most to its capacity), the amount is taken at once
/// (into debt if need be) and the caller waits off the debt before sending: the rule of the
/// in-process `RateLimiter`, so N workers together send no faster than one.
extension WorkQueue {
    static let rateSchema = """
        CREATE TABLE IF NOT EXISTS agentshop_queue_rate_buckets (
            provider   text NOT NULL,
            kind       text NOT NULL CHECK (kind IN ('requests', 'tokens')),
            per_minute double precision NOT NULL,
            capacity   double precision NOT NULL,
            level      double precision NOT NULL,
            updated    timestamptz NOT NULL,
            taken      bigint NOT NULL DEFAULT 0,
            PRIMARY KEY (provider, kind)
        );
        """

    /// Creates the bucket table when it is missing.
    public func prepareRateTables() throws {
        try connection.transaction {
            try connection.run("SELECT pg_advisory_xact_lock(7264103)")
            try connection.execute(Self.rateSchema)
        }
    }

    /// Takes `amount` from the `kind` bucket (`requests` or `tokens`) of `provider`, whose limit is
    /// `perMinute` and which holds at most `capacity`; returns the seconds to wait before sending
    /// (0 when the bucket had enough). A negative amount gives back (a request used fewer tokens).
    public func takeRate(provider: String, kind: String, perMinute: Double, capacity: Double, amount: Double) throws -> Double {
        guard perMinute > 0 else { return 0 }
        let row = try connection.query("""
            INSERT INTO agentshop_queue_rate_buckets AS b (provider, kind, per_minute, capacity, level, updated, taken)
            VALUES ($1, $2, $3::double precision, $4::double precision, $4::double precision - $5::double precision, clock_timestamp(), 1)
            ON CONFLICT (provider, kind) DO UPDATE SET
                level = least(excluded.capacity,
                              b.level + extract(epoch FROM (clock_timestamp() - b.updated)) * excluded.per_minute / 60) - $5::double precision,
                updated = clock_timestamp(), per_minute = excluded.per_minute, capacity = excluded.capacity,
                taken = b.taken + 1
            RETURNING level
            """, [provider, kind, String(perMinute), String(capacity), String(amount)]).first
        let level = Double(row?[0] ?? "0") ?? 0
        return level >= 0 ? 0 : -level / (perMinute / 60)
    }
}
