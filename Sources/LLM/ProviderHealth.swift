import Foundation
import Lake

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
