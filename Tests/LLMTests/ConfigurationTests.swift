import Foundation
import Lake
import LLM
import Pipeline
import Testing

@Suite struct ConfigurationTests {
    @Test func standardKeyNamesAndDefaults() throws {
        let env = ["OPENAI_API_KEY": "sk-a", "GROQ_API_KEY": "gsk-b", "PERPLEXITY_API_KEY": "pplx-c", "ANTHROPIC_API_KEY": "sk-ant-d"]
        let all = try ProviderConfiguration.resolveAll(environment: env)
        let byKind = Dictionary(uniqueKeysWithValues: all.map { ($0.kind, $0) })
        #expect(byKind[.openai]?.apiKey?.value == "sk-a")
        #expect(byKind[.openai]?.baseURL == "https://api.openai.com/v1")
        #expect(byKind[.groq]?.baseURL == "https://api.groq.com/openai/v1")
        #expect(byKind[.groq]?.defaultModel == "llama-3.1-8b-instant")
        #expect(byKind[.perplexity]?.apiKey?.value == "pplx-c")
        #expect(byKind[.anthropic]?.apiKey?.value == "sk-ant-d")
        #expect(byKind[.ollama]?.baseURL == "http://localhost:11434")
        #expect(byKind[.offline]?.isConfigured == true)
        // Ollama needs no key but counts as set up only when its host is given.
        #expect(byKind[.ollama]?.isConfigured == false)
        #expect(try ProviderConfiguration.resolve(.ollama, environment: ["OLLAMA_HOST": "localhost"]).isConfigured)
        #expect(byKind[.openai]?.requestsPerMinute == nil)
        #expect(byKind[.openai]?.dailyCostLimitUSD == nil)
    }

    @Test func originalVariablesWinAndSetLimits() throws {
        let env = ["OPENAI_API_KEY": "sk-plain", "LLM_OPENAI_API_KEY": "sk-specific", "LLM_OPENAI_BASE_URL": "http://127.0.0.1:8000/v1/",
                   "LLM_OPENAI_DEFAULT_MODEL": "gpt-4.1-mini", "LLM_OPENAI_RATE_LIMIT_RPM": "120", "LLM_OPENAI_RATE_LIMIT_TPM": "90000",
                   "LLM_OPENAI_COST_LIMIT_DAILY": "2.50", "LLM_OPENAI_MAX_CONCURRENCY": "3", "LLM_CLAUDE_API_KEY": "sk-claude"]
        let openai = try ProviderConfiguration.resolve(.openai, environment: env)
        #expect(openai.apiKey?.value == "sk-specific")
        #expect(openai.baseURL == "http://127.0.0.1:8000/v1")
        #expect(openai.defaultModel == "gpt-4.1-mini")
        #expect(openai.requestsPerMinute == 120)
        #expect(openai.tokensPerMinute == 90000)
        #expect(openai.dailyCostLimitUSD == 2.5)
        #expect(openai.maxConcurrency == 3)
        #expect(try ProviderConfiguration.resolve(.anthropic, environment: env).apiKey?.value == "sk-claude")
    }

    /// LLM_COST_LIMIT_DAILY (the store's llm.daily_cost_limit_usd) caps every provider without a cap of its own.
    @Test func oneDailyCapForEveryProviderWithoutItsOwn() throws {
        let env = ["LLM_COST_LIMIT_DAILY": "1.5", "LLM_OPENAI_COST_LIMIT_DAILY": "4"]
        #expect(try ProviderConfiguration.resolve(.openai, environment: env).dailyCostLimitUSD == 4)
        #expect(try ProviderConfiguration.resolve(.anthropic, environment: env).dailyCostLimitUSD == 1.5)
        #expect(try ProviderConfiguration.resolve(.groq, environment: [:]).dailyCostLimitUSD == nil)
        #expect { _ = try ProviderConfiguration.resolve(.groq, environment: ["LLM_COST_LIMIT_DAILY": "lots"]) } throws: {
            "\($0)".contains("LLM_COST_LIMIT_DAILY: expected a number of US dollars, found 'lots'")
        }
    }

    @Test func dotEnvDictionaryWorksTheSame() throws {
        let text = """
        # keys
        export GROQ_API_KEY="gsk-from-dotenv"
        LLM_GROQ_RATE_LIMIT_RPM=30 # free tier
        OLLAMA_HOST=gpu-box:11500
        """
        let env = Dictionary(PipelineEnvironment.parseDotEnv(text), uniquingKeysWith: { $1 })
        let groq = try ProviderConfiguration.resolve(.groq, environment: env)
        #expect(groq.apiKey?.value == "gsk-from-dotenv")
        #expect(groq.requestsPerMinute == 30)
        #expect(try ProviderConfiguration.resolve(.ollama, environment: env).baseURL == "http://gpu-box:11500")
        #expect(try ProviderConfiguration.resolve(.ollama, environment: ["OLLAMA_HOST": "0.0.0.0"]).baseURL == "http://127.0.0.1:11434")
        #expect(try ProviderConfiguration.resolve(.ollama, environment: ["OLLAMA_HOST": "https://ollama.example"]).baseURL
            == "https://ollama.example:443")
    }

    @Test(arguments: [("LLM_GROQ_RATE_LIMIT_RPM", "fast"), ("LLM_GROQ_RATE_LIMIT_RPM", "0"), ("LLM_GROQ_COST_LIMIT_DAILY", "-1"),
                      ("LLM_GROQ_BASE_URL", "api.groq.com")])
    func badValuesNameTheVariable(name: String, value: String) {
        do {
            _ = try ProviderConfiguration.resolve(.groq, environment: [name: value, "GROQ_API_KEY": "gsk-secret"])
            Issue.record("expected an error for \(name)=\(value)")
        } catch let error as LLMError {
            #expect(error.kind == .notConfigured)
            #expect(error.message.contains(name))
            #expect(!error.description.contains("gsk-secret"))
        } catch {
            Issue.record("unexpected \(error)")
        }
    }

    @Test func keysDoNotPrintInConfigurations() throws {
        let configuration = try ProviderConfiguration.resolve(.openai, environment: ["OPENAI_API_KEY": "sk-hidden-42"])
        #expect(!"\(configuration)".contains("sk-hidden-42"))
        #expect(!String(reflecting: configuration).contains("sk-hidden-42"))
    }
}

@Suite struct ProviderSwitchesTests {
    static func lake() throws -> Lake {
        let root = NSTemporaryDirectory() + "llm-switches-" + UUID().uuidString
        try FileManager.default.createDirectory(atPath: root, withIntermediateDirectories: true)
        return Lake(root: root)
    }

    @Test func defaultEnabledThenPersisted() throws {
        let lake = try Self.lake()
        defer { try? FileManager.default.removeItem(atPath: lake.root) }
        var switches = try ProviderSwitches.load(lake: lake)
        #expect(ProviderKind.allCases.allSatisfy { switches.isEnabled($0) })
        switches.set(.groq, enabled: false)
        try switches.save(lake: lake)
        let path = lake.root + "/external_apis/llm_responses/providers.json"
        #expect(FileManager.default.fileExists(atPath: path))
        let reloaded = try ProviderSwitches.load(lake: lake)
        #expect(!reloaded.isEnabled(.groq))
        #expect(reloaded.isEnabled(.openai))
        let leftovers = try FileManager.default.contentsOfDirectory(atPath: lake.root + "/external_apis/llm_responses")
        #expect(leftovers == ["providers.json"])
    }

    @Test func damagedFileIsAnErrorNamingIt() throws {
        let lake = try Self.lake()
        defer { try? FileManager.default.removeItem(atPath: lake.root) }
        let path = ProviderSwitches.path(lake: lake)
        try FileManager.default.createDirectory(atPath: (path as NSString).deletingLastPathComponent, withIntermediateDirectories: true)
        try #"{"providers": {"openai": {"enabled": "nope"}}}"#.write(toFile: path, atomically: true, encoding: .utf8)
        #expect { try ProviderSwitches.load(lake: lake) } throws: { "\($0)".contains(path) && "\($0)".contains("enabled") }
    }
}

@Suite struct PriceTableTests {
    @Test func groqIsPricedPerMillionTokens() throws {
        let table = try PriceTable.load(overridePath: nil)
        let price = try #require(table.price(provider: .groq, model: "llama-3.1-8b-instant"))
        #expect(price == ModelPrice(inputPerMillion: 0.05, outputPerMillion: 0.08))
        // One million tokens each way: five cents in, eight out: not 1000x that.
        let cost = try #require(table.cost(provider: .groq, model: "llama-3.1-8b-instant", usage: TokenUsage(input: 1_000_000, output: 1_000_000)))
        #expect(abs(cost - 0.13) < 1e-9)
        let small = try #require(table.cost(provider: .groq, model: "llama-3.3-70b-versatile", usage: TokenUsage(input: 1000, output: 500)))
        #expect(abs(small - (1000 * 0.59 + 500 * 0.79) / 1e6) < 1e-12)
    }

    @Test func theEmbeddedTableIsTheDataFile() throws {
        let file = URL(fileURLWithPath: #filePath).deletingLastPathComponent()
            .appendingPathComponent("../../Sources/LLM/Resources/llm_prices.json").standardized.path
        let fromFile = try PriceTable.parse(try String(contentsOfFile: file, encoding: .utf8), path: file)
        #expect(fromFile == PriceTable.shipped,
                "ShippedPrices.swift is out of date: scripts/embed_data.py Sources/LLM/Resources/llm_prices.json Sources/LLM/ShippedPrices.swift")
        #expect(PriceTable.shipped.prices.keys.count == ProviderKind.allCases.count)
    }

    @Test func datedModelsFindTheirFamilyAndUnknownIsNil() throws {
        let table = PriceTable.shipped
        #expect(table.price(provider: .openai, model: "gpt-4o-mini-2024-07-18") == ModelPrice(inputPerMillion: 0.15, outputPerMillion: 0.60))
        #expect(table.price(provider: .openai, model: "gpt-4o-2024-08-06")?.inputPerMillion == 2.5)
        #expect(table.price(provider: .anthropic, model: "claude-sonnet-4-5-20250929")?.outputPerMillion == 15)
        #expect(table.price(provider: .anthropic, model: "claude-haiku-4-5-20251001")?.inputPerMillion == 1)
        #expect(table.price(provider: .openai, model: "gpt-4.5-preview") == nil)
        #expect(table.price(provider: .openai, model: "no-such-model") == nil)
        #expect(table.cost(provider: .groq, model: "unknown", usage: TokenUsage(input: 1, output: 1)) == nil)
        #expect(table.cost(provider: .ollama, model: "llama3.2:1b", usage: TokenUsage(input: 5000, output: 5000)) == 0)
        #expect(table.cost(provider: .offline, model: OfflineProvider.modelName, usage: TokenUsage(input: 9, output: 9)) == 0)
    }

    @Test func overrideFileReplacesAndAdds() throws {
        let path = NSTemporaryDirectory() + "prices-" + UUID().uuidString + ".json"
        defer { try? FileManager.default.removeItem(atPath: path) }
        try """
        {"as_of": "2026-11-01", "providers": {"groq": {"llama-3.1-8b-instant": {"input": 0.04, "output": 0.07}},
         "openai": {"my-finetune": {"input": 3, "output": 12}}}}
        """.write(toFile: path, atomically: true, encoding: .utf8)
        let table = try PriceTable.load(overridePath: path)
        #expect(table.price(provider: .groq, model: "llama-3.1-8b-instant")?.inputPerMillion == 0.04)
        #expect(table.price(provider: .openai, model: "my-finetune")?.outputPerMillion == 12)
        #expect(table.price(provider: .openai, model: "gpt-4o")?.inputPerMillion == 2.5)
        #expect(table.asOf == "2026-11-01")
        #expect(table.overridePath == path)
        // The JSON the table prints reads back the same.
        #expect(try PriceTable.parse(table.json(), path: "printed").prices == table.prices)
    }

    @Test(arguments: [#"{"providers": {"grok": {}}}"#, #"{"providers": {"groq": {"m": {"input": -1, "output": 1}}}}"#,
                      #"{"providers": {"groq": {"m": {"input": 1}}}}"#, "not json", #"{"models": {}}"#])
    func badOverridesAreErrorsNamingTheFile(text: String) throws {
        let path = NSTemporaryDirectory() + "prices-bad-" + UUID().uuidString + ".json"
        defer { try? FileManager.default.removeItem(atPath: path) }
        try text.write(toFile: path, atomically: true, encoding: .utf8)
        #expect { try PriceTable.load(overridePath: path) } throws: { ($0 as? PriceTableError)?.path == path }
        #expect(throws: PriceTableError.self) { try PriceTable.load(overridePath: path + ".missing") }
    }

    @Test func overridePathFromEnvironmentOrProject() throws {
        #expect(PriceTable.overridePath(environment: ["AGENTSHOP_LLM_PRICES": "/x.json"], projectFolder: "/nowhere") == "/x.json")
        let project = NSTemporaryDirectory() + "prices-project-" + UUID().uuidString
        defer { try? FileManager.default.removeItem(atPath: project) }
        #expect(PriceTable.overridePath(environment: [:], projectFolder: project) == nil)
        try FileManager.default.createDirectory(atPath: project + "/pipelines", withIntermediateDirectories: true)
        try "{}".write(toFile: project + "/pipelines/llm_prices.json", atomically: true, encoding: .utf8)
        #expect(PriceTable.overridePath(environment: [:], projectFolder: project) == project + "/pipelines/llm_prices.json")
    }
}
