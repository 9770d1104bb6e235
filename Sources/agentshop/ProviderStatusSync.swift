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

    /// Updates the store's provider rows when the store exists; the problem in words when it could not.
    @discardableResult
    static func update(lake: Lake, environment: [String: String], warn: Bool = true) -> String? {
        guard FileManager.default.fileExists(atPath: lake.storePath) else { return nil }
        do {
            let catalogue = ProviderCatalogue(environment: environment, projectFolder: FileManager.default.currentDirectoryPath)
            let rows = try providers(lake: lake, catalogue: catalogue)
            let store = try Store.openMigrated(path: lake.storePath, busyTimeout: .seconds(10))
            try LLMProviderStatusRecords.sync(rows, in: store.database)
            return nil
        } catch {
            if warn { Console.error("warning: llm_provider_status not updated in the store (\(error))") }
            return "\(error)"
        }
    }
}
