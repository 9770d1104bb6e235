import Foundation
import Lake
import Transport

/// The last health check of each provider (`agentshop llm health`), kept in
/// `<lake>/external_apis/llm_responses/provider_health.json` so that `llm providers` can show it
/// and the store's llm_provider_status table can be materialised from the lake.
public struct ProviderHealthLog: Sendable, Equatable {
    public struct Entry: Sendable, Equatable {
        /// `ok` or `fail`.
        public var status: String
        public var detail: String
        public var latencyMs: Int
        /// ISO 8601, UTC.
        public var checkedAt: String

        public init(status: String, detail: String, latencyMs: Int, checkedAt: String) {
            self.status = status
            self.detail = detail
            self.latencyMs = latencyMs
            self.checkedAt = checkedAt
        }
    }

    public var entries: [ProviderKind: Entry]

    public init(entries: [ProviderKind: Entry] = [:]) { self.entries = entries }

    public static let relativePath = "external_apis/llm_responses/provider_health.json"

    /// The saved log; empty when there is none or it cannot be read (it is only a display aid).
    public static func load(lake: Lake) -> ProviderHealthLog {
        let path = lake.root + "/" + relativePath
        guard let bytes = try? FileInput.readAll(path: path),
              let json = try? bytes.withUnsafeBytes({ try JSONValue.parse(bytes: $0) }),
              let providers = json.member("providers")?.objectValue else { return ProviderHealthLog() }
        var log = ProviderHealthLog()
        for entry in providers {
            guard let kind = ProviderKind(rawValue: entry.key), let status = entry.value.member("status")?.stringValue else { continue }
            log.entries[kind] = Entry(status: status, detail: entry.value.member("detail")?.stringValue ?? "",
                                      latencyMs: entry.value.member("latency_ms")?.integerValue ?? 0,
                                      checkedAt: entry.value.member("checked_at")?.stringValue ?? "")
        }
        return log
    }

    public func save(lake: Lake) throws {
        var providers = JSONObject()
        for kind in entries.keys.sorted() {
            let e = entries[kind]!
            providers[kind.rawValue] = ["status": .string(e.status), "detail": .string(e.detail),
                                        "latency_ms": .int(Int64(e.latencyMs)), "checked_at": .string(e.checkedAt)]
        }
        try AtomicFile.write(JSONValue.object(JSONObject([("providers", .object(providers))])).serialized() + "\n",
                             to: lake.root + "/" + Self.relativePath)
    }
}

/// `agentshop llm health`: a cheap request to each enabled, configured provider, all at once.
public enum ProviderHealth {
    /// One provider's check.
    public struct Result: Sendable, Equatable {
        public var kind: ProviderKind
        /// `ok`, `fail`, or `skipped` (disabled or not configured: not contacted).
        public var status: String
        /// Nil when not contacted.
        public var latencyMs: Int?
        /// The provider's short answer, the error (secrets blanked) or why it was skipped.
        public var detail: String
    }

    /// Checks every provider of `configurations` that is switched on and configured; the others
    /// are skipped with the reason. Results in `configurations` order.
    public static func check(_ configurations: [ProviderConfiguration], switches: ProviderSwitches = ProviderSwitches(),
                             timeout: Double, client: HTTPClient = ProviderCatalogue.client) async -> [Result] {
        var results: [Int: Result] = [:]
        var checks: [(Int, ProviderKind, any LLMProvider)] = []
        for (i, configuration) in configurations.enumerated() {
            let kind = configuration.kind
            if !switches.isEnabled(kind) {
                results[i] = Result(kind: kind, status: "skipped", latencyMs: nil, detail: "disabled")
            } else if !configuration.isConfigured {
                let why = kind == .ollama ? "OLLAMA_HOST not set" : "no API key (\(kind.keyVariable ?? ""))"
                results[i] = Result(kind: kind, status: "skipped", latencyMs: nil, detail: why)
            } else {
                do {
                    checks.append((i, kind, try makeProvider(configuration, client: client)))
                } catch {
                    results[i] = Result(kind: kind, status: "fail", latencyMs: nil, detail: Secret.redact("\(error)"))
                }
            }
        }
        let checked = await withTaskGroup(of: (Int, Result).self) { group in
            for (i, kind, provider) in checks {
                group.addTask {
                    let start = ContinuousClock.now
                    let outcome: (String, String)
                    do {
                        outcome = ("ok", try await provider.healthCheck(timeout: timeout))
                    } catch {
                        outcome = ("fail", Secret.redact("\(error)"))
                    }
                    return (i, Result(kind: kind, status: outcome.0, latencyMs: milliseconds(since: start), detail: outcome.1))
                }
            }
            var out: [(Int, Result)] = []
            for await r in group { out.append(r) }
            return out
        }
        for (i, result) in checked { results[i] = result }
        return results.keys.sorted().map { results[$0]! }
    }

    /// Checks as `check` does and keeps the contacted providers' results in the lake's health log
    /// (when the lake exists), for `llm providers` and the store's provider status.
    public static func checkAndRecord(_ configurations: [ProviderConfiguration], switches: ProviderSwitches, timeout: Double,
                                      lake: Lake, client: HTTPClient = ProviderCatalogue.client) async -> [Result] {
        let results = await check(configurations, switches: switches, timeout: timeout, client: client)
        var log = ProviderHealthLog.load(lake: lake)
        let now = Timestamp.iso(Date())
        for result in results where result.status != "skipped" {
            log.entries[result.kind] = .init(status: result.status, detail: result.detail, latencyMs: result.latencyMs ?? 0,
                                             checkedAt: now)
        }
        if lake.exists { try? log.save(lake: lake) }
        return results
    }

    static func milliseconds(since start: ContinuousClock.Instant) -> Int {
        let d = ContinuousClock.now - start
        return Int(d.components.seconds * 1000) + Int(d.components.attoseconds / 1_000_000_000_000_000)
    }
}
