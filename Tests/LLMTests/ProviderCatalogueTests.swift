import Foundation
import Lake
@testable import LLM
import Testing
import TestSupport
import Transport

/// The one place providers are made from the environment, and the health check and comparison
/// that `llm health`, `llm compare` and `doctor` call.
@Suite struct ProviderCatalogueTests {
    static let key = "sk-catalogue-5d1c"

    static func environment(_ base: String) -> [String: String] {
        ["OPENAI_API_KEY": key, "LLM_OPENAI_BASE_URL": base + "/v1", "LLM_OPENAI_DEFAULT_MODEL": "gpt-4o-mini",
         "GROQ_API_KEY": key, "LLM_GROQ_BASE_URL": base + "/openai/v1"]
    }

    /// A folder per test (Swift Testing makes a value of the suite per test), removed after it.
    let folder: TemporaryDirectory

    init() throws { folder = try TemporaryDirectory() }

    func lake() throws -> Lake {
        let lake = Lake(root: folder.path)
        try LakeLayout.create(at: lake)
        return lake
    }

    @Test func configurationsComeFromTheEnvironment() throws {
        let catalogue = ProviderCatalogue(environment: Self.environment("http://127.0.0.1:9"), projectFolder: "/nonexistent")
        let openai = try catalogue.configuration(.openai)
        #expect(openai.baseURL == "http://127.0.0.1:9/v1" && openai.defaultModel == "gpt-4o-mini" && openai.isConfigured)
        #expect(try catalogue.configurations().map(\.kind) == ProviderKind.allCases)
        #expect(!(try catalogue.configuration(.anthropic)).isConfigured)
        let broken = ProviderCatalogue(environment: ["LLM_OPENAI_RATE_LIMIT_RPM": "lots"], projectFolder: "/nonexistent")
        #expect(throws: LLMError.self) { try broken.configurations() }
    }

    @Test func aDisabledOrKeylessProviderIsRefused() throws {
        let lake = try lake()
        let catalogue = ProviderCatalogue(environment: Self.environment("http://127.0.0.1:9"), projectFolder: lake.root)
        var switches = ProviderSwitches()
        switches.set(.openai, enabled: false)
        try switches.save(lake: lake)
        #expect(throws: ProviderDisabled.self) { try catalogue.enrichProvider(ProviderChoice(.openai), lake: lake) }
        #expect(throws: LLMError.self) { try catalogue.enrichProvider(ProviderChoice(.anthropic), lake: lake) }
        let groq = try catalogue.enrichProvider(ProviderChoice(.groq), lake: lake)
        #expect(groq.baseURL == "http://127.0.0.1:9/openai/v1" && groq.defaultModel == "llama-3.1-8b-instant")
    }

    @Test func healthChecksTheConfiguredAndSkipsTheRest() async throws {
        try await FakeLLM.with(key: Self.key) { base, _ in
            let lake = try lake()
            let catalogue = ProviderCatalogue(environment: Self.environment(base), projectFolder: lake.root)
            var switches = ProviderSwitches()
            switches.set(.groq, enabled: false)
            let results = await ProviderHealth.checkAndRecord(try catalogue.configurations(), switches: switches, timeout: 5, lake: lake)
            #expect(results.map(\.kind) == ProviderKind.allCases)
            let byKind = Dictionary(uniqueKeysWithValues: results.map { ($0.kind, $0) })
            #expect(byKind[.openai]?.status == "ok" && byKind[.offline]?.status == "ok")
            #expect(byKind[.groq]?.status == "skipped" && byKind[.groq]?.detail == "disabled")
            #expect(byKind[.anthropic]?.status == "skipped" && byKind[.anthropic]?.latencyMs == nil)
            let log = ProviderHealthLog.load(lake: lake)
            #expect(log.entries[.openai]?.status == "ok" && log.entries[.groq] == nil)
        }
    }

    @Test func aWrongKeyFailsTheCheckWithoutShowingIt() async throws {
        try await FakeLLM.with(key: "sk-the-fake-wants-this") { base, _ in
            let catalogue = ProviderCatalogue(environment: Self.environment(base), projectFolder: "/nonexistent")
            let results = await ProviderHealth.check([try catalogue.configuration(.openai)], timeout: 5)
            #expect(results.first?.status == "fail")
            #expect(results.first?.detail.contains(Self.key) == false)
        }
    }

    @Test func comparisonKeepsTheOrderGivenAndReportsFailures() async throws {
        try await FakeLLM.with(key: Self.key) { base, _ in
            let catalogue = ProviderCatalogue(environment: Self.environment(base), projectFolder: "/nonexistent")
            let openai = try catalogue.provider(try catalogue.configuration(.openai))
            let groq = try catalogue.provider(try catalogue.configuration(.groq))
            let request = { (prompt: String) in CompletionRequest(model: "m", messages: [ChatMessage(.user, prompt)], timeout: 5) }
            let outcomes = await ProviderComparison.run([(openai, request("hello")), (groq, request("hello"))],
                                                        prices: try catalogue.prices())
            #expect(outcomes.map(\.provider) == ["openai", "groq"])
            #expect(outcomes.allSatisfy { $0.status == "ok" && $0.error == nil })
            let failing = await ProviderComparison.ask(openai, request("always500"), prices: try catalogue.prices())
            #expect(failing.status == "fail" && failing.attempts == 3 && failing.error != nil)
        }
    }

    /// Limits are kept per endpoint: a stage on a local server does not take (or reset) the limits of
    /// the environment's endpoint of the same kind.
    @Test func limitsAreKeptPerEndpoint() {
        let remote = ProviderConfiguration(kind: .openai, baseURL: "http://127.0.0.1:9/v1", requestsPerMinute: 60)
        let local = ProviderConfiguration(kind: .openai, baseURL: "http://127.0.0.1:8/v1", requestsPerMinute: 60)
        let first = SharedLimits.shared.limits(for: remote)
        let other = SharedLimits.shared.limits(for: local)
        let again = SharedLimits.shared.limits(for: remote)
        #expect(first.concurrency === again.concurrency && first.rate === again.rate)
        #expect(first.concurrency !== other.concurrency)
    }

    @Test func aStageEndpointGetsNoEnvironmentKey() throws {
        let lake = try lake()
        let catalogue = ProviderCatalogue(environment: Self.environment("http://127.0.0.1:9").merging(["LOCAL": "sk-local"]) { $1 },
                                          projectFolder: lake.root)
        let local = try catalogue.enrichProvider(ProviderChoice(.openai, baseURL: "http://127.0.0.1:7/v1/"), lake: lake)
        #expect(local.baseURL == "http://127.0.0.1:7/v1")
        #expect(throws: LLMError.self) {
            try catalogue.enrichProvider(ProviderChoice(.openai, baseURL: "http://127.0.0.1:7/v1", apiKeyVariable: "MISSING"), lake: lake)
        }
        _ = try catalogue.enrichProvider(ProviderChoice(.openai, baseURL: "http://127.0.0.1:7/v1", apiKeyVariable: "LOCAL"), lake: lake)
    }
}
