import Foundation
import Lake
import LLM
import Pipeline
import Transport

/// The real providers for the enrich stage: the lake's switches, the environment's configuration,
/// the price table, and one set of limits (concurrency, RPM/TPM) per provider for the whole process,
/// so that two enrich stages running at once share a provider's limits instead of doubling them.
enum ProviderBindings {
    static let live: EnrichProviderSource = { kind, lake, environment, projectFolder in
        let switches: ProviderSwitches
        do { switches = try ProviderSwitches.load(lake: lake) } catch { throw StageError("\(error)") }
        guard switches.isEnabled(kind) else {
            throw StageError("provider \(kind.rawValue) is disabled (agentshop llm disable); "
                             + "turn it back on with `agentshop llm enable \(kind.rawValue)` or choose another provider")
        }
        let configuration: ProviderConfiguration
        let provider: any LLMProvider
        let prices: PriceTable
        do {
            configuration = try ProviderConfiguration.resolve(kind, environment: environment.variables)
            provider = try makeProvider(configuration, client: client)
            prices = try PriceTable.load(overridePath: PriceTable.overridePath(environment: environment.variables,
                                                                               projectFolder: projectFolder))
        } catch {
            throw StageError("\(error)")
        }
        let limits = SharedLimits.shared.limits(for: configuration)
        let call = LLMCall(provider: provider, limiter: limits.rate, concurrency: limits.concurrency)
        return EnrichProvider(
            kind: kind, baseURL: configuration.baseURL, defaultModel: configuration.defaultModel,
            dailyCostLimit: configuration.dailyCostLimitUSD,
            send: { request in
                let result = try await call.send(request)
                var completion = result.completion
                completion.latencyMs = result.latencyMs  // waits and retries included
                return completion
            },
            cost: { model, usage in prices.cost(provider: kind, model: model, usage: usage) })
    }

    /// One HTTP client (one libcurl multi handle, reused connections) for every provider call.
    static let client = HTTPClient()
}

/// A provider's limits for this process, made on first use from its configuration.
final class SharedLimits: @unchecked Sendable {
    static let shared = SharedLimits()

    struct Limits {
        let configuration: ProviderConfiguration
        let rate: RateLimiter?
        let concurrency: ConcurrencyLimit
    }

    private let lock = NSLock()
    private var byProvider: [ProviderKind: Limits] = [:]

    func limits(for configuration: ProviderConfiguration) -> Limits {
        lock.lock()
        defer { lock.unlock() }
        // A changed configuration (another project's .env in a long-lived process) gets fresh limits.
        if let known = byProvider[configuration.kind], known.configuration == configuration { return known }
        let rate = configuration.requestsPerMinute == nil && configuration.tokensPerMinute == nil ? nil : RateLimiter(configuration)
        let made = Limits(configuration: configuration, rate: rate, concurrency: ConcurrencyLimit(configuration.maxConcurrency))
        byProvider[configuration.kind] = made
        return made
    }
}
