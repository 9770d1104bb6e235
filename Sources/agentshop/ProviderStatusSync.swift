import Foundation
import Lake
import LLM
import Store

/// Puts the LLM catalogue as this process resolves it (names, endpoints, default models, limits), the lake's
/// provider switches and last health checks into the store's `llm_provider_status`, with the call figures
/// recomputed. `llm enable | disable | health`, `db init | migrate` and `run` call it, so the table follows
/// what `llm providers` shows. The lake is the truth: without a store, or with a busy one, nothing is lost.
enum ProviderStatusSync {
    /// The catalogue's rows for the store.
    static func providers(lake: Lake, catalogue: ProviderCatalogue) throws -> [LLMProviderStatusRecords.Provider] {
        let switches = try ProviderSwitches.load(lake: lake)
        let health = ProviderHealthLog.load(lake: lake)
        return try catalogue.configurations().map { c in
            LLMProviderStatusRecords.Provider(
                name: c.kind.rawValue, displayName: c.kind.displayName, baseURL: c.kind == .offline ? nil : c.baseURL,
                defaultModel: c.defaultModel, enabled: switches.isEnabled(c.kind), requestsPerMinute: c.requestsPerMinute,
                dailyCostLimitMicroUSD: c.dailyCostLimitUSD.map { Int64(($0 * 1_000_000).rounded()) },
                health: health.entries[c.kind].map { .init(ok: $0.status == "ok", checkedAt: $0.checkedAt, detail: $0.detail) })
        }
    }

    /// Updates the store's provider rows: in `postgres` when given, else in the store this process uses (the
    /// lake's SQLite file when it exists, or `AGENTSHOP_STORE_URL`'s database). The problem in words when it
    /// could not.
    @discardableResult
    static func update(lake: Lake, environment: [String: String], postgres: PostgresStore? = nil, warn: Bool = true) -> String? {
        do {
            let location = try postgres.map { .postgres($0.url) }
                ?? StoreLocation.resolve(nil, environment: environment, defaultPath: lake.storePath)
            if case .sqlite(let path) = location, !FileManager.default.fileExists(atPath: path) { return nil }
            let catalogue = ProviderCatalogue(environment: environment, projectFolder: FileManager.default.currentDirectoryPath)
            let rows = try providers(lake: lake, catalogue: catalogue)
            switch location {
            case .sqlite(let path):
                let store = try Store.openMigrated(path: path, busyTimeout: .seconds(10))
                try LLMProviderStatusRecords.sync(rows, in: store.database)
            case .postgres(let url):
                try LLMProviderStatusRecords.sync(rows, in: try postgres ?? PostgresStore.openMigrated(url: url))
            }
            return nil
        } catch {
            if warn { Console.error("warning: llm_provider_status not updated in the store (\(error))") }
            return "\(error)"
        }
    }
}
