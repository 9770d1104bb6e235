import Foundation
import Lake
import LLM
import Testing
import Transport

@Suite struct UsageReportTests {
    static func manifest(_ calls: [JSONValue], started: Date = Date(), kind: String = "enrich") -> RunManifest {
        var manifest = RunManifest(runID: Timestamp.runID(started), pipeline: "p", pipelineFile: "p.yaml", startedAt: started,
                                   runDate: Timestamp.day(started), toolVersion: "t", options: [], logFile: "l")
        var stage = RunManifest.StageRun(name: "e", kind: kind, status: .ran, reason: "", fingerprint: "")
        stage.startedAt = Timestamp.iso(started)
        stage.details = ["llm": ["calls": .array(calls)]]
        manifest.stages = [stage]
        return manifest
    }

    static func call(_ provider: String, _ status: String, cost: Double, tin: Int = 10, tout: Int = 5, latency: Int = 100,
                     at: String? = nil) -> JSONValue {
        var object = JSONObject([("provider", .string(provider)), ("model", "m"), ("status", .string(status)),
                                 ("tokens_in", .int(Int64(tin))), ("tokens_out", .int(Int64(tout))), ("cost_usd", .double(cost)),
                                 ("latency_ms", .int(Int64(latency))), ("cache_hit", .bool(status == "cached"))])
        if let at { object["at"] = .string(at) }
        return .object(object)
    }

    @Test func sumsByDayProviderAndModel() {
        let day1 = "2026-11-20T10:00:00.000Z", day2 = "2026-11-21T23:59:59.000Z"
        let report = UsageReport.from([
            Self.manifest([Self.call("openai", "success", cost: 0.01, latency: 100, at: day1),
                           Self.call("openai", "success", cost: 0.02, latency: 300, at: day1),
                           Self.call("openai", "cached", cost: 0, tin: 0, tout: 0, latency: 0, at: day1),
                           Self.call("openai", "skipped_budget", cost: 0, tin: 0, tout: 0, at: day2)]),
            Self.manifest([Self.call("groq", "success", cost: 0.5, at: day2), Self.call("groq", "invalid", cost: 0.25, at: day2)]),
        ])
        // The openai record skipped for the budget on day 2 was never sent: no call, no failure, no row.
        #expect(report.rows.map(\.day) == ["2026-11-20", "2026-11-21"])
        let first = report.rows[0]
        #expect(first.provider == "openai" && first.calls == 2 && first.cached == 1 && first.failed == 0 && first.tokensIn == 20)
        #expect(abs(first.costUSD - 0.03) < 1e-12)
        #expect(first.averageLatencyMs == 200)
        #expect(report.rows[1].provider == "groq" && report.rows[1].calls == 2 && report.rows[1].failed == 1)
        #expect(report.totalCalls == 4)
        #expect(abs(report.cost(provider: "groq", day: "2026-11-21") - 0.75) < 1e-12)
        #expect(abs(report.totalCostUSD - 0.78) < 1e-12)
    }

    @Test func filtersBySinceAndProviderAndFallsBackToStageTime() {
        let now = Date()
        let old = now.addingTimeInterval(-10 * 86_400)
        let manifests = [Self.manifest([Self.call("groq", "success", cost: 1)], started: old),
                         Self.manifest([Self.call("groq", "success", cost: 2), Self.call("openai", "success", cost: 4)], started: now)]
        let recent = UsageReport.from(manifests, since: now.addingTimeInterval(-86_400))
        #expect(recent.totalCostUSD == 6)
        #expect(UsageReport.from(manifests, provider: "groq").totalCostUSD == 3)
        #expect(UsageReport.from(manifests).rows.first?.day == Timestamp.day(old))
        #expect(UsageReport.from([Self.manifest([])]).rows.isEmpty)
    }
}

@Suite struct RequestBodyTests {
    @Test func officialOpenAIGetsMaxCompletionTokens() {
        let request = CompletionRequest(model: "gpt-5-mini", messages: [ChatMessage(.user, "x")], maxTokens: 7)
        let official = OpenAICompatibleProvider(configuration: ProviderConfiguration(kind: .openai), client: HTTPClient())
        #expect(official.body(request).objectValue?["max_completion_tokens"] == .int(7))
        #expect(official.body(request).objectValue?["max_tokens"] == nil)
        let groq = OpenAICompatibleProvider(configuration: ProviderConfiguration(kind: .groq), client: HTTPClient())
        #expect(groq.body(request).objectValue?["max_tokens"] == .int(7))
        #expect(official.endpoint == "https://api.openai.com/v1/chat/completions")
        #expect(groq.endpoint == "https://api.groq.com/openai/v1/chat/completions")
    }

    @Test func anthropicMovesSystemMessagesAndAsksForJSON() {
        let request = CompletionRequest(model: "claude-haiku-4-5", system: "Be exact.",
                                        messages: [ChatMessage(.system, "Use British spelling."), ChatMessage(.user, "x")],
                                        jsonOutput: true)
        let body = AnthropicProvider(configuration: ProviderConfiguration(kind: .anthropic), client: HTTPClient()).body(request)
        let system = body.objectValue?["system"]?.stringValue ?? ""
        #expect(system.hasPrefix("Be exact.\n\nUse British spelling."))
        #expect(system.contains("JSON"))
        #expect(body.objectValue?["messages"]?.arrayValue?.count == 1)
    }
}
