import Foundation
import Lake
import Testing
import TestSupport

/// End-to-end: `agentshop llm …` against the loopback fake of every provider, base URLs passed
/// through the environment as a user would.
@Suite struct LLMCommandTests {
    static let key = "sk-e2e-5c1d7e3f9a"

    /// The variables that point every provider at the fake, with `key`.
    static func environment(_ base: String, key: String = LLMCommandTests.key) -> [String: String] {
        ["OPENAI_API_KEY": key, "GROQ_API_KEY": key, "PERPLEXITY_API_KEY": key, "ANTHROPIC_API_KEY": key,
         "LLM_OPENAI_BASE_URL": base + "/v1", "LLM_GROQ_BASE_URL": base + "/openai/v1", "LLM_PERPLEXITY_BASE_URL": base,
         "LLM_ANTHROPIC_BASE_URL": base, "OLLAMA_HOST": base, "AGENTSHOP_LLM_PRICES": ""]
    }

    static func makeProject() throws -> Project {
        let project = try Project()
        #expect(try project.run(["init"]).status == 0)
        return project
    }

    /// Every file under the project folder whose bytes contain `needle`.
    static func filesContaining(_ needle: String, in folder: String) -> [String] {
        let enumerator = FileManager.default.enumerator(atPath: folder)
        var found: [String] = []
        while let path = enumerator?.nextObject() as? String {
            if let data = FileManager.default.contents(atPath: folder + "/" + path), data.range(of: Data(needle.utf8)) != nil {
                found.append(path)
            }
        }
        return found
    }

    @Test func providersListsConfigurationWithoutKeys() async throws {
        let project = try Self.makeProject()
        let bare = try await project.runDetached(["llm", "providers"], environment: ["OPENAI_API_KEY": "", "GROQ_API_KEY": "", "ANTHROPIC_API_KEY": "",
                                                                     "PERPLEXITY_API_KEY": ""])
        #expect(bare.status == 0)
        for name in ["offline", "openai", "anthropic", "ollama", "groq", "perplexity"] { #expect(bare.stdout.contains(name)) }
        #expect(bare.stdout.contains("no key (GROQ_API_KEY)"))
        #expect(bare.stdout.contains("llama-3.1-8b-instant"))
        let configured = try await project.runDetached(["llm", "providers", "--json"], environment: Self.environment("http://127.0.0.1:9") .merging(["LLM_GROQ_RATE_LIMIT_RPM": "30"]) { $1 })
        let rows = try #require(try JSONSerialization.jsonObject(with: Data(configured.stdout.utf8)) as? [[String: Any]])
        let groq = try #require(rows.first { $0["provider"] as? String == "groq" })
        #expect(groq["configured"] as? Bool == true)
        #expect(groq["requests_per_minute"] as? Int == 30)
        #expect(groq["base_url"] as? String == "http://127.0.0.1:9/openai/v1")
        #expect(!configured.stdout.contains(Self.key))
    }

    @Test func disabledProviderIsRefusedUntilEnabled() async throws {
        try await FakeLLM.with(key: Self.key) { base, fake in
            let project = try Self.makeProject()
            let env = Self.environment(base)
            #expect(try await project.runDetached(["llm", "disable", "groq"], environment: env).stdout.contains("groq disabled"))
            #expect(project.exists("datalake/external_apis/llm_responses/providers.json"))
            let refused = try await project.runDetached(["llm", "test", "hello", "--provider", "groq"], environment: env)
            #expect(refused.status == 2)
            #expect(refused.stderr.contains("provider groq is disabled"))
            #expect(await fake.callCount == 0)
            let listed = try await project.runDetached(["llm", "providers"], environment: env)
            #expect(listed.stdout.split(separator: "\n").contains { $0.hasPrefix("groq") && $0.contains(" no ") })
            #expect(try await project.runDetached(["llm", "enable", "groq"], environment: env).status == 0)
            let sent = try await project.runDetached(["llm", "test", "hello", "--provider", "groq"], environment: env)
            #expect(sent.status == 0, "\(sent.stderr)")
            #expect(sent.stdout.contains("Hello from the fake: hello"))
            let unknown = try await project.runDetached(["llm", "disable", "grok"], environment: env)
            #expect(unknown.status == 2 && unknown.stderr.contains("unknown provider 'grok'"))
        }
    }

    @Test func testShowsAnswerTokensAndCost() async throws {
        try await FakeLLM.with(key: Self.key) { base, fake in
            let project = try Self.makeProject()
            let env = Self.environment(base)
            let openai = try await project.runDetached(["llm", "test", "Say hi", "--provider", "openai", "--model", "gpt-4o-mini",
                                                      "--system", "Be brief.", "--json-output"], environment: env)
            #expect(openai.status == 0, "\(openai.stderr)")
            #expect(openai.stdout.contains(#"{"echo":"Say hi"}"#))
            #expect(openai.stdout.contains("12 in, 5 out"))
            // 12 × 0.15 + 5 × 0.60 per 1M tokens.
            #expect(openai.stdout.contains("$0.000005"))
            let call = try #require(await fake.calls.last)
            #expect(call.body["model"] as? String == "gpt-4o-mini")
            let json = try await project.runDetached(["llm", "test", "Hi", "--provider", "anthropic", "--json"], environment: env)
            let object = try #require(try JSONSerialization.jsonObject(with: Data(json.stdout.utf8)) as? [String: Any])
            #expect(object["tokens_in"] as? Int == 21 && object["tokens_out"] as? Int == 9)
            #expect(object["model"] as? String == "claude-haiku-4-5-20251001")
            let cost = try #require(object["cost_usd"] as? Double)
            #expect(abs(cost - (21 * 1.0 + 9 * 5.0) / 1e6) < 1e-12)
            let offline = try await project.runDetached(["llm", "test", "I love it, it is excellent.", "--task", "sentiment"], environment: env)
            #expect(offline.stdout.contains(#""label":"positive""#))
            let prompt = try await project.runDetached(["llm", "test", "Write a poem"], environment: env)
            #expect(prompt.status == 1 && prompt.stderr.contains("not a language model"))
        }
    }

    @Test func compareIsATableSideBySide() async throws {
        try await FakeLLM.with(key: Self.key) { base, _ in
            let project = try Self.makeProject()
            let result = try await project.runDetached(["llm", "compare", "Great phone, awful battery.", "--providers",
                                                      "openai,groq:llama-3.3-70b-versatile,perplexity,anthropic,ollama:llama3.2:1b"], environment: Self.environment(base))
            #expect(result.status == 0, "\(result.stderr)")
            let lines = result.stdout.split(separator: "\n").map(String.init)
            #expect(lines.first?.hasPrefix("PROVIDER") == true)
            #expect(lines.first?.contains("LATENCY") == true && lines.first?.contains("COST") == true)
            #expect(lines.count == 6)
            for (line, name) in zip(lines.dropFirst(), ["openai", "groq", "perplexity", "anthropic", "ollama"]) {
                #expect(line.hasPrefix(name) && line.contains(" ok "), "\(line)")
                #expect(line.contains("Hello from the fake"))
            }
            #expect(lines[2].contains("llama-3.3-70b-versatile"))
            #expect(lines[5].contains("llama3.2:1b") && lines[5].contains("$0"))
            let failing = try await project.runDetached(["llm", "compare", "always500", "--providers", "openai,groq"], environment: Self.environment(base))
            #expect(failing.status == 1)
            #expect(failing.stdout.contains("fail"))
        }
    }

    @Test func healthChecksEachConfiguredProvider() async throws {
        try await FakeLLM.with(key: Self.key) { base, _ in
            let project = try Self.makeProject()
            let result = try await project.runDetached(["llm", "health"], environment: Self.environment(base))
            #expect(result.status == 0, "\(result.stdout)\(result.stderr)")
            for name in ["offline", "openai", "anthropic", "ollama", "groq", "perplexity"] {
                #expect(result.stdout.split(separator: "\n").contains { $0.hasPrefix(name) && $0.contains(" ok ") }, "\(name)")
            }
            #expect(project.exists("datalake/external_apis/llm_responses/provider_health.json"))
            let listed = try await project.runDetached(["llm", "providers"], environment: Self.environment(base))
            #expect(listed.stdout.contains("ok 20"))
            let wrong = try await project.runDetached(["llm", "health"], environment: Self.environment(base, key: "sk-wrong-0000"))
            #expect(wrong.status == 1)
            #expect(wrong.stdout.contains("fail"))
            #expect(!wrong.stdout.contains("sk-wrong-0000") && !wrong.stderr.contains("sk-wrong-0000"))
        }
    }

    @Test func theKeyAppearsInNoOutputAndNoFile() async throws {
        // The fake expects another key and echoes what it received in its 401 bodies.
        try await FakeLLM.with(key: "sk-the-fake-wants-this") { base, _ in
            let project = try Self.makeProject()
            let env = Self.environment(base)
            var outputs: [String] = []
            for arguments in [["llm", "providers"], ["llm", "providers", "--json"], ["llm", "health"], ["llm", "health", "--json"],
                              ["llm", "test", "hi", "--provider", "openai"], ["llm", "test", "hi", "--provider", "anthropic", "--json"],
                              ["llm", "compare", "hi", "--providers", "openai,groq,perplexity,anthropic"],
                              ["llm", "usage"], ["llm", "prices"]] {
                let result = try await project.runDetached(arguments, environment: env)
                outputs.append(result.stdout + result.stderr)
            }
            #expect(outputs.joined().contains("401"))
            #expect(outputs.joined().contains("<redacted>"))
            for output in outputs { #expect(!output.contains(Self.key), "\(output)") }
            #expect(Self.filesContaining(Self.key, in: project.folder) == [])
        }
    }

    @Test func usageSumsCallRecordsFromManifests() async throws {
        let project = try Self.makeProject()
        let now = Date()
        let today = Timestamp.iso(now)
        let old = Timestamp.iso(now.addingTimeInterval(-40 * 86_400))
        func record(_ provider: String, _ model: String, _ status: String, _ tin: Int, _ tout: Int, _ cost: Double, _ at: String) -> JSONValue {
            ["request_key": "k", "provider": .string(provider), "model": .string(model), "task": "sentiment",
             "prompt_sha256": "ab", "status": .string(status), "tokens_in": .int(Int64(tin)), "tokens_out": .int(Int64(tout)),
             "cost_usd": .double(cost), "latency_ms": 200, "cache_hit": .bool(status == "cached"), "finish_reason": "stop",
             "error": nil, "at": .string(at)]
        }
        var manifest = RunManifest(runID: Timestamp.runID(now), pipeline: "shop", pipelineFile: "pipelines/shop.yaml",
                                   startedAt: now, runDate: Timestamp.day(now), toolVersion: "0.1.0", options: [], logFile: "x.log")
        var stage = RunManifest.StageRun(name: "enriched", kind: "enrich", status: .ran, reason: "new", fingerprint: "f")
        stage.details = ["llm": ["calls": [
            record("openai", "gpt-4o-mini", "success", 100, 20, 0.000027, today),
            record("openai", "gpt-4o-mini", "cached", 0, 0, 0, today),
            record("openai", "gpt-4o-mini", "error", 0, 0, 0, today),
            record("openai", "gpt-4o-mini", "skipped_budget", 0, 0, 0, today),
            record("groq", "llama-3.1-8b-instant", "success", 1000, 100, 0.000058, today),
            record("groq", "llama-3.1-8b-instant", "success", 1000, 100, 0.000058, old),
        ]]]
        manifest.stages = [stage]
        manifest.status = .succeeded
        try ManifestStore(lake: Lake(root: project.lake)).write(manifest)

        let all = try await project.runDetached(["llm", "usage", "--json"], environment: [:])
        #expect(all.status == 0, "\(all.stderr)")
        let rows = try #require(try JSONSerialization.jsonObject(with: Data(all.stdout.utf8)) as? [[String: Any]])
        #expect(rows.count == 2)
        let openai = try #require(rows.first { $0["provider"] as? String == "openai" })
        // Sent: the success and the error; the cache hit is counted apart, the budget skip not at all.
        #expect(openai["calls"] as? Int == 2 && openai["cached"] as? Int == 1 && openai["failed"] as? Int == 1)
        #expect(openai["tokens_in"] as? Int == 100 && openai["day"] as? String == Timestamp.day(now))
        let groq = try #require(rows.first { $0["provider"] as? String == "groq" })
        #expect(groq["calls"] as? Int == 1)
        let wide = try await project.runDetached(["llm", "usage", "--days", "60", "--provider", "groq", "--json"], environment: [:])
        let groqRows = try #require(try JSONSerialization.jsonObject(with: Data(wide.stdout.utf8)) as? [[String: Any]])
        #expect(groqRows.count == 2 && groqRows.allSatisfy { $0["provider"] as? String == "groq" })
        let table = try await project.runDetached(["llm", "usage"], environment: [:])
        #expect(table.stdout.contains("TOKENS IN") && table.stdout.contains("total"))
        #expect(table.stdout.contains("$0.000085"))
        let bad = try await project.runDetached(["llm", "usage", "--days", "0"], environment: [:])
        #expect(bad.status == 2)
    }

    @Test func pricesCanBeOverridden() async throws {
        let project = try Self.makeProject()
        let shipped = try await project.runDetached(["llm", "prices"], environment: [:])
        #expect(shipped.stdout.split(separator: "\n").contains { $0.hasPrefix("groq") && $0.contains("llama-3.1-8b-instant")
            && $0.contains("$0.050") && $0.contains("$0.080") })
        try project.write("pipelines/llm_prices.json", #"{"providers": {"groq": {"llama-3.1-8b-instant": {"input": 0.01, "output": 0.02}}}}"#)
        let overridden = try await project.runDetached(["llm", "prices"], environment: [:])
        #expect(overridden.stdout.contains("$0.010") && overridden.stdout.contains("with overrides from"))
        try project.write("pipelines/llm_prices.json", "{broken")
        let broken = try await project.runDetached(["llm", "prices"], environment: [:])
        #expect(broken.status == 2 && broken.stderr.contains("llm_prices.json"))
    }
}
