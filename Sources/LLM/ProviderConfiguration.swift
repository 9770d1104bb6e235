import Foundation
import Transport

/// Where a provider is, its key, its default model and the limits AgentShop keeps for it.
///
/// Resolved from an environment dictionary (the process environment over `.env`, as pipelines
/// see it). For a provider P (`OPENAI`, `ANTHROPIC`, `GROQ`, `PERPLEXITY`, `OLLAMA`, `OFFLINE`):
///
/// | variable | meaning |
/// |---|---|
/// | `LLM_P_API_KEY`, else `OPENAI_API_KEY` / `ANTHROPIC_API_KEY` / `GROQ_API_KEY` / `PERPLEXITY_API_KEY` | the key |
/// | `LLM_P_BASE_URL` (`OLLAMA_HOST` for ollama, `OPENAI_BASE_URL` for openai) | the endpoint |
/// | `LLM_P_DEFAULT_MODEL` | the model when a stage names none |
/// | `LLM_P_RATE_LIMIT_RPM`, `LLM_P_RATE_LIMIT_TPM` | requests and tokens per minute |
/// | `LLM_P_COST_LIMIT_DAILY`, else `LLM_COST_LIMIT_DAILY` (every provider's) | USD per UTC day |
/// | `LLM_P_MAX_CONCURRENCY` | requests in flight at once |
///
/// `LLM_CLAUDE_*` is accepted for anthropic, as the original named it.
public struct ProviderConfiguration: Sendable, Equatable {
    public var kind: ProviderKind
    /// Without a trailing slash; for OpenAI-compatible providers it includes the version path
    /// (`https://api.openai.com/v1`), as the official clients' base URLs do.
    public var baseURL: String
    public var apiKey: Secret?
    public var defaultModel: String
    /// Nil: no client-side limit (the provider's 429s are still honoured).
    public var requestsPerMinute: Int?
    public var tokensPerMinute: Int?
    /// Nil: no daily cap.
    public var dailyCostLimitUSD: Double?
    public var maxConcurrency: Int
    /// Whether the provider can be called: it has a key, or needs none. Ollama counts as
    /// configured only when its host was given (`OLLAMA_HOST`, `LLM_OLLAMA_BASE_URL`), so that
    /// `llm health` does not report a failure for a local server nobody set up; it can still be
    /// called at the default address.
    public var isConfigured: Bool

    public init(kind: ProviderKind, baseURL: String? = nil, apiKey: Secret? = nil, defaultModel: String? = nil,
                requestsPerMinute: Int? = nil, tokensPerMinute: Int? = nil, dailyCostLimitUSD: Double? = nil,
                maxConcurrency: Int? = nil) {
        self.kind = kind
        var base = baseURL ?? Self.defaultBaseURL(kind)
        while base.hasSuffix("/") { base.removeLast() }
        self.baseURL = base
        self.apiKey = apiKey
        self.defaultModel = defaultModel ?? Self.defaultModel(kind)
        self.requestsPerMinute = requestsPerMinute
        self.tokensPerMinute = tokensPerMinute
        self.dailyCostLimitUSD = dailyCostLimitUSD
        self.maxConcurrency = max(1, maxConcurrency ?? Self.defaultConcurrency(kind))
        switch kind {
        case .offline: isConfigured = true
        case .ollama: isConfigured = baseURL != nil
        default: isConfigured = apiKey != nil
        }
    }

    public static func defaultBaseURL(_ kind: ProviderKind) -> String {
        switch kind {
        case .offline: return ""
        case .openai: return "https://api.openai.com/v1"
        case .anthropic: return "https://api.anthropic.com"
        case .groq: return "https://api.groq.com/openai/v1"
        case .perplexity: return "https://api.perplexity.ai"
        case .ollama: return "http://localhost:11434"
        }
    }

    public static func defaultModel(_ kind: ProviderKind) -> String {
        switch kind {
        case .offline: return OfflineProvider.modelName
        case .openai: return "gpt-4o-mini"
        case .anthropic: return "claude-haiku-4-5"
        case .groq: return "llama-3.1-8b-instant"
        case .perplexity: return "sonar"
        case .ollama: return "llama3.2"
        }
    }

    static func defaultConcurrency(_ kind: ProviderKind) -> Int {
        switch kind {
        case .offline: return max(1, ProcessInfo.processInfo.activeProcessorCount)
        case .ollama: return 2
        default: return 8
        }
    }

    /// Every provider's daily cap in USD, for those without their own `LLM_<P>_COST_LIMIT_DAILY` (the store's
    /// `llm.daily_cost_limit_usd` gives it when neither the environment nor `.env` does).
    public static let dailyCostLimitVariable = "LLM_COST_LIMIT_DAILY"

    /// The configuration of `kind` from `environment`; a malformed number is an error naming the variable.
    public static func resolve(_ kind: ProviderKind, environment: [String: String]) throws -> ProviderConfiguration {
        let prefixes = kind == .anthropic ? ["LLM_ANTHROPIC_", "LLM_CLAUDE_"] : ["LLM_\(kind.environmentName)_"]
        func value(_ suffix: String, fallbacks: [String] = []) -> (name: String, value: String)? {
            for name in prefixes.map({ $0 + suffix }) + fallbacks {
                if let v = environment[name]?.trimmingCharacters(in: .whitespaces), !v.isEmpty { return (name, v) }
            }
            return nil
        }
        func positiveInt(_ suffix: String) throws -> Int? {
            guard let (name, text) = value(suffix) else { return nil }
            guard let n = Int(text), n > 0 else { throw invalid(kind, name, "a positive integer", text) }
            return n
        }
        var keyNames: [String] = []
        var baseNames: [String] = []
        switch kind {
        case .openai: keyNames = ["OPENAI_API_KEY"]; baseNames = ["OPENAI_BASE_URL"]
        case .anthropic: keyNames = ["ANTHROPIC_API_KEY"]; baseNames = ["ANTHROPIC_BASE_URL"]
        case .groq: keyNames = ["GROQ_API_KEY"]
        case .perplexity: keyNames = ["PERPLEXITY_API_KEY"]
        case .ollama: baseNames = ["OLLAMA_HOST"]
        case .offline: break
        }
        let key = kind == .offline ? nil : value("API_KEY", fallbacks: keyNames).map { Secret($0.value) }
        var base = value("BASE_URL", fallbacks: baseNames)?.value
        if kind == .ollama, let host = base { base = Self.ollamaURL(host) }
        if let base, kind != .offline, !(base.hasPrefix("http://") || base.hasPrefix("https://")) {
            throw invalid(kind, "LLM_\(kind.environmentName)_BASE_URL", "an http:// or https:// URL", base)
        }
        var cost: Double?
        if let (name, text) = value("COST_LIMIT_DAILY", fallbacks: [dailyCostLimitVariable]) {
            guard let c = Double(text), c >= 0, c.isFinite else { throw invalid(kind, name, "a number of US dollars", text) }
            cost = c
        }
        return ProviderConfiguration(kind: kind, baseURL: base, apiKey: key, defaultModel: value("DEFAULT_MODEL")?.value,
                                     requestsPerMinute: try positiveInt("RATE_LIMIT_RPM"),
                                     tokensPerMinute: try positiveInt("RATE_LIMIT_TPM"),
                                     dailyCostLimitUSD: cost, maxConcurrency: try positiveInt("MAX_CONCURRENCY"))
    }

    /// Every provider's configuration, in `ProviderKind.allCases` order.
    public static func resolveAll(environment: [String: String]) throws -> [ProviderConfiguration] {
        try ProviderKind.allCases.map { try resolve($0, environment: environment) }
    }

    /// `OLLAMA_HOST` as Ollama reads it: `host`, `host:port` or a URL; scheme http and port 11434 by default.
    static func ollamaURL(_ host: String) -> String {
        var text = host
        if !text.contains("://") { text = "http://" + text }
        guard let url = URL(string: text), let h = url.host else { return text }
        let scheme = url.scheme ?? "http"
        let port = url.port ?? (scheme == "https" ? 443 : 11434)
        let hostText = h.contains(":") ? "[\(h)]" : h
        return "\(scheme)://\(hostText == "0.0.0.0" ? "127.0.0.1" : hostText):\(port)\(url.path)"
    }

    private static func invalid(_ kind: ProviderKind, _ name: String, _ expected: String, _ found: String) -> LLMError {
        LLMError(.notConfigured, provider: kind, message: "\(name): expected \(expected), found '\(found)'")
    }
}

extension ProviderKind {
    /// The provider's name for people (`llm providers`, the store's `llm_provider_status.display_name`).
    public var displayName: String {
        switch self {
        case .offline: return "Offline rules"
        case .openai: return "OpenAI"
        case .anthropic: return "Anthropic"
        case .ollama: return "Ollama"
        case .groq: return "Groq"
        case .perplexity: return "Perplexity"
        }
    }

    /// Whether calls need an API key.
    public var needsKey: Bool { self != .offline && self != .ollama }

    /// The variable a user sets for the key.
    public var keyVariable: String? {
        switch self {
        case .openai: return "OPENAI_API_KEY"
        case .anthropic: return "ANTHROPIC_API_KEY"
        case .groq: return "GROQ_API_KEY"
        case .perplexity: return "PERPLEXITY_API_KEY"
        case .offline, .ollama: return nil
        }
    }
}

/// The provider for `configuration`, talking through `client`. Throws `notConfigured` when the
/// provider needs a key and has none (unless `requireKey` is false: a local server that wants none).
public func makeProvider(_ configuration: ProviderConfiguration, client: HTTPClient,
                         requireKey: Bool = true) throws -> any LLMProvider {
    if requireKey && configuration.kind.needsKey && configuration.apiKey == nil {
        let name = configuration.kind.keyVariable ?? "LLM_\(configuration.kind.environmentName)_API_KEY"
        let alternative = "LLM_\(configuration.kind.environmentName)_API_KEY"
        throw LLMError(.notConfigured, provider: configuration.kind,
                       message: "no API key: set \(name) (or \(alternative)) in the environment or .env")
    }
    switch configuration.kind {
    case .offline: return OfflineProvider()
    case .openai, .groq, .perplexity: return OpenAICompatibleProvider(configuration: configuration, client: client)
    case .anthropic: return AnthropicProvider(configuration: configuration, client: client)
    case .ollama: return OllamaProvider(configuration: configuration, client: client)
    }
}
