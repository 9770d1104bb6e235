import Foundation
import Lake
import LLM
import Testing

@Suite struct ResponseCacheTests {
    func identity(provider: ProviderKind = .openai, baseURL: String = "https://api.openai.com/v1", model: String = "gpt-4o-mini",
                  system: String = "sys", prompt: String = "hello", temperature: Double = 0, schema: JSONValue = .null) -> RequestIdentity {
        RequestIdentity(provider: provider, baseURL: baseURL, model: model, system: system, prompt: prompt,
                        parameters: ["temperature": .double(temperature)], schema: schema)
    }

    @Test func everyPartChangesTheKey() {
        let base = identity().key
        #expect(base.count == 64)
        #expect(identity().key == base)
        let variants = [identity(provider: .groq), identity(baseURL: "http://127.0.0.1:8080/v1"), identity(model: "gpt-4o"),
                        identity(system: "other"), identity(prompt: "hello!"), identity(temperature: 0.7),
                        identity(schema: ["type": "object"])]
        #expect(Set(variants.map(\.key)).count == variants.count)
        #expect(!variants.map(\.key).contains(base))
    }

    @Test func storesLooksUpAndExpires() throws {
        let folder = NSTemporaryDirectory() + "/cache-\(UUID().uuidString)"
        defer { try? FileManager.default.removeItem(atPath: folder) }
        let cache = ResponseCache(folder: folder)
        let key = identity().key
        #expect(cache.lookup(key) == nil)
        let created = Date(timeIntervalSince1970: 1_800_000_000)
        let entry = CachedResponse(Completion(text: #"{"a":1}"#, model: "gpt-4o-mini-2024", usage: TokenUsage(input: 12, output: 3),
                                              finishReason: "stop", citations: ["https://x.example"], latencyMs: 5), at: created)
        try cache.store(key, entry)
        #expect(cache.lookup(key) == entry)
        #expect(cache.lookup(key, ttl: 3600, now: created.addingTimeInterval(3599)) == entry)
        #expect(cache.lookup(key, ttl: 3600, now: created.addingTimeInterval(3601)) == nil)
        // The entry is one JSON file under a two-character fan-out folder, written without leftovers.
        let text = try String(contentsOfFile: cache.path(forKey: key), encoding: .utf8)
        #expect(cache.path(forKey: key).hasSuffix("/\(key.prefix(2))/\(key).json"))
        for field in ["\"text\"", "\"usage\"", "\"model\"", "\"finish_reason\"", "\"citations\"", "\"created_at\""] {
            #expect(text.contains(field))
        }
        #expect(try FileManager.default.contentsOfDirectory(atPath: folder + "/" + key.prefix(2)) == [key + ".json"])
    }

    @Test func unreadableEntryIsAMiss() throws {
        let folder = NSTemporaryDirectory() + "/cache-\(UUID().uuidString)"
        defer { try? FileManager.default.removeItem(atPath: folder) }
        let cache = ResponseCache(folder: folder)
        let key = identity().key
        try FileManager.default.createDirectory(atPath: folder + "/" + key.prefix(2), withIntermediateDirectories: true)
        try "{not json".write(toFile: cache.path(forKey: key), atomically: true, encoding: .utf8)
        #expect(cache.lookup(key) == nil)
    }
}

@Suite struct BudgetTests {
    @Test func reservationsStopAtTheStageBudgetAndStayClosed() async {
        let budget = Budget(stageLimit: 1.0, dailyLimit: nil)
        #expect(await budget.reserve(0.4))
        #expect(await budget.reserve(0.4))
        #expect(await !budget.reserve(0.4))  // 1.2 would pass the budget, counting what is in flight
        #expect(await budget.stopReason?.hasPrefix("budget_usd 1.0000 reached") == true)
        await budget.settle(reserved: 0.4, actual: 0.1)
        #expect(await !budget.reserve(0.01))  // closed: the rest is left for the next run
        #expect(abs(await budget.spent - 0.1) < 1e-9)
    }

    @Test func dailyCapCountsEarlierSpend() async {
        let budget = Budget(stageLimit: nil, dailyLimit: 5, spentBefore: 4.95)
        #expect(await budget.reserve(0.04))
        #expect(await !budget.reserve(0.02))
        #expect(await budget.stopReason?.hasPrefix("daily cap 5.0000 reached") == true)
        #expect(await Budget(stageLimit: nil, dailyLimit: nil).reserve(1e9))
    }

    @Test func callRecordsRoundTripWithTheContractNames() {
        let call = LLMCallRecord(requestKey: "k", provider: .groq, model: "llama", task: "sentiment", promptSHA256: "p",
                                 status: .skippedBudget, tokensIn: 10, tokensOut: 2, costUSD: 0.000123456789, latencyMs: 7,
                                 cacheHit: false, finishReason: nil, error: "budget", at: "2026-11-25T10:00:00.000Z")
        let keys = call.json.objectValue!.keys
        #expect(keys == ["request_key", "provider", "model", "task", "prompt_sha256", "status", "tokens_in", "tokens_out",
                         "cost_usd", "latency_ms", "cache_hit", "finish_reason", "error", "at"])
        #expect(call.json.objectValue!["status"] == "skipped_budget")
        var rounded = call
        rounded.costUSD = 0.00012346
        #expect(LLMCallRecord(json: call.json) == rounded)
        let details = LLMCallRecord.details([call, call])
        let totals = details.objectValue!["llm"]!.objectValue!["totals"]!.objectValue!
        #expect(totals["calls"] == 2 && totals["sent"] == 0 && totals["tokens_in"] == 20)
    }
}
