import Foundation
import Lake
import Transport

/// Every provider as one process sees it: the configurations from the environment (keys, base URLs,
/// default models, limits), the price table, and the providers made from them. The enrich stage and
/// the `llm` and `doctor` commands all make their providers here.
///
/// Enrichment providers share one set of limits (concurrency, RPM/TPM) per endpoint for the whole
/// process, so that two enrich stages running at once share a provider's limits instead of doubling them.
public struct ProviderCatalogue: Sendable {
    /// The process environment over `.env`, as pipelines see it.
    public let environment: [String: String]
    /// Where `pipelines/llm_prices.json` is looked for.
    public let projectFolder: String

    public init(environment: [String: String], projectFolder: String) {
        self.environment = environment
        self.projectFolder = projectFolder
    }

    /// One HTTP client (one libcurl multi handle, reused connections) for every provider call.
    public static let client = HTTPClient()

    /// The configuration of `kind`; a malformed variable is an `LLMError` naming it.
    public func configuration(_ kind: ProviderKind) throws -> ProviderConfiguration {
        try ProviderConfiguration.resolve(kind, environment: environment)
    }

    /// Every provider's configuration, in `ProviderKind.allCases` order.
    public func configurations() throws -> [ProviderConfiguration] {
        try ProviderConfiguration.resolveAll(environment: environment)
    }

    /// The shipped prices with the override file's (`AGENTSHOP_LLM_PRICES`, `pipelines/llm_prices.json`) over them.
    public func prices() throws -> PriceTable {
        try PriceTable.load(overridePath: PriceTable.overridePath(environment: environment, projectFolder: projectFolder))
    }

    /// The provider for `configuration`, for single calls (`llm test`, `compare`, `health`, `doctor`):
    /// refused when switched off in `switches`, or when it needs a key and has none.
    public func provider(_ configuration: ProviderConfiguration, switches: ProviderSwitches = ProviderSwitches(),
                         client: HTTPClient = ProviderCatalogue.client) throws -> any LLMProvider {
        guard switches.isEnabled(configuration.kind) else { throw ProviderDisabled(kind: configuration.kind) }
        return try makeProvider(configuration, client: client)
    }

    /// The provider an enrichment of `lake` uses: the lake's switches, the environment's configuration
    /// (with the stage's endpoint and key variable over it when it names them), the price table, and
    /// the process's limits for that endpoint, with retries.
    public func enrichProvider(_ choice: ProviderChoice, lake: Lake) throws -> EnrichProvider {
        let switches = try ProviderSwitches.load(lake: lake)
        guard switches.isEnabled(choice.kind) else { throw ProviderDisabled(kind: choice.kind) }
        var configuration = try configuration(choice.kind)
        let provider: any LLMProvider
        if let baseURL = choice.baseURL {
            // Another server than the environment's: the environment's key stays with its own endpoint.
            var base = baseURL
            while base.hasSuffix("/") { base.removeLast() }
            configuration.baseURL = base
            configuration.apiKey = nil
            if let name = choice.apiKeyVariable {
                guard let key = environment[name]?.trimmingCharacters(in: .whitespaces), !key.isEmpty else {
                    throw LLMError(.notConfigured, provider: choice.kind, message: "\(name) (api_key_env) is not set")
                }
                configuration.apiKey = Secret(key)
            }
            provider = try makeProvider(configuration, client: Self.client, requireKey: false)
        } else {
            provider = try makeProvider(configuration, client: Self.client)
        }
        let prices = try prices()
        let limits = SharedLimits.shared.limits(for: configuration)
        let call = LLMCall(provider: provider, limiter: limits.rate, concurrency: limits.concurrency)
        let kind = choice.kind
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
}

/// A provider switched off with `agentshop llm disable`.
public struct ProviderDisabled: Error, CustomStringConvertible, Sendable {
    public let kind: ProviderKind
    public var description: String {
        "provider \(kind.rawValue) is disabled (agentshop llm disable); "
            + "turn it back on with `agentshop llm enable \(kind.rawValue)` or choose another provider"
    }
}

/// A provider's limits for this process, one set per endpoint (kind and base URL), made on first use
/// from its configuration: two servers behind one kind do not share a rate limit.
final class SharedLimits: @unchecked Sendable {
    static let shared = SharedLimits()

    struct Limits {
        let configuration: ProviderConfiguration
        let rate: RateLimiter?
        let concurrency: ConcurrencyLimit
    }

    private let lock = NSLock()
    private var byEndpoint: [String: Limits] = [:]

    func limits(for configuration: ProviderConfiguration) -> Limits {
        lock.lock()
        defer { lock.unlock() }
        // A changed configuration (another project's .env in a long-lived process) gets fresh limits.
        let endpoint = configuration.kind.rawValue + " " + configuration.baseURL
        if let known = byEndpoint[endpoint], known.configuration == configuration { return known }
        let rate = configuration.requestsPerMinute == nil && configuration.tokensPerMinute == nil ? nil : RateLimiter(configuration)
        let made = Limits(configuration: configuration, rate: rate, concurrency: ConcurrencyLimit(configuration.maxConcurrency))
        byEndpoint[endpoint] = made
        return made
    }
}
