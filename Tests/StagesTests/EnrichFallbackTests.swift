import FlyingFox
import Foundation
import Lake
import LLM
import Pipeline
import Stages
import Testing

// A provider fallback chain (`provider: [openai, anthropic]`) and a per-stage `base_url`, through the
// real providers (libcurl) against loopback servers speaking each wire format.

private let out = "processed_data/ml_datasets/reviews/dt={run_date}/sentiment.jsonl"
private let outFile = "processed_data/ml_datasets/reviews/dt=2026-01-02/sentiment.jsonl"
private let answer = #"{"label":"neutral","score":0,"confidence":0.5}"#

private func pipeline(_ settings: String) -> String {
    """
    pipeline: p
    stages:
      scored:
        enrich: { from: raw_data/imports/reviews.jsonl, task: sentiment, into: s, \(settings) }
        out: \(out)
    """
}

private func run(_ project: Project, _ environment: [String: String], force: Bool = false) async throws -> RunManifest {
    try await project.run(registry: BuiltinStages.registry, environment: environment) { $0.force = force }
}

@Suite(.serialized) struct EnrichFallbackTests {
    /// The first provider answers 503 to everything: after its retries it is down, the second answers
    /// every record, each record names it, and a rerun finds the answers in the cache under the second.
    @Test func aProviderThatIsDownHandsOverToTheNext() async throws {
        let project = try Project()
        let down = try FakeLLMServer(.openai)
        let downPort = try await down.start { _ in WireReply(status: 503, content: #"{"error":{"message":"overloaded"}}"#) }
        let up = try FakeLLMServer(.anthropic)
        let upPort = try await up.start { _ in .answer(answer) }
        defer { Task { await down.stop(); await up.stop() } }
        try project.putReviews(["one", "two", "three"])
        try project.writePipeline(pipeline("provider: [openai, anthropic], concurrency: 1"))
        let env = WireFormat.openai.environment(port: downPort).merging(WireFormat.anthropic.environment(port: upPort)) { $1 }

        let first = try await run(project, env)
        #expect(first.status == .succeeded, "\(first.error ?? "")")
        let records = try project.records(outFile)
        #expect(records.count == 3)
        #expect(records.allSatisfy { $0["enrich_provider"]?.stringValue == "anthropic" && $0["s"]?.objectValue?["label"] == "neutral" })
        // Found down on the first record (four attempts), then not asked again in this run.
        #expect(await down.calls == 4)
        #expect(await up.calls == 3)
        let calls = first.stage("scored")!.llmCalls
        #expect(calls.filter { $0.provider == .openai && $0.status == .error }.count == 1)
        #expect(calls.filter { $0.provider == .anthropic && $0.status == .success }.count == 3)

        // Nothing changed: the answers come from the cache, under the provider that gave them.
        let second = try await run(project, env, force: true)
        #expect(second.status == .succeeded, "\(second.error ?? "")")
        #expect(await down.calls == 4)
        #expect(await up.calls == 3)
        #expect(try project.records(outFile).allSatisfy { $0["enrich_provider"]?.stringValue == "anthropic" })
    }

    /// The first provider's daily cap admits two calls; the records after them go to the next provider.
    @Test func aProviderOutOfBudgetHandsOverToTheNext() async throws {
        let project = try Project()
        let server = try FakeLLMServer(.openai)
        // 10 output tokens at 0.01 USD: 0.10 a call, the same as the estimate reserved (max_tokens 10).
        let port = try await server.start { _ in .answer(answer, outputTokens: 10) }
        defer { Task { await server.stop() } }
        let prices = project.root + "/prices.json"
        try #"{"providers": {"openai": {"gpt-4o-mini": {"input": 0, "output": 10000}}}}"#
            .write(toFile: prices, atomically: true, encoding: .utf8)
        try project.putReviews((1...5).map { "review \($0)" })
        try project.writePipeline(pipeline("provider: [openai, offline], max_tokens: 10"))
        var env = WireFormat.openai.environment(port: port, extra: ["COST_LIMIT_DAILY": "0.25"])
        env["AGENTSHOP_LLM_PRICES"] = prices

        let manifest = try await run(project, env)
        #expect(manifest.status == .succeeded, "\(manifest.error ?? "")")
        #expect(await server.calls == 2)
        let records = try project.records(outFile)
        #expect(records.map { $0["enrich_provider"]?.stringValue } == ["openai", "openai", "offline", "offline", "offline"])
        #expect(records.allSatisfy { $0["s"]?.objectValue?["label"] != nil && $0["enrich_pending"] == nil })
        let stage = manifest.stage("scored")!
        #expect(stage.counts["enriched"] == 5 && stage.counts["pending_budget"] == 0)
    }

    /// A 429 whose Retry-After is past the deadline (two minutes) is not waited for: the next provider answers at once.
    @Test func aProviderRateLimitedPastTheDeadlineHandsOverToTheNext() async throws {
        let project = try Project()
        let limited = try FakeLLMServer(.openai)
        let limitedPort = try await limited.start { _ in
            WireReply(status: 429, content: #"{"error":{"message":"slow down"}}"#, headers: ["Retry-After": "3600"])
        }
        let up = try FakeLLMServer(.ollama)
        let upPort = try await up.start { _ in .answer(answer) }
        defer { Task { await limited.stop(); await up.stop() } }
        try project.putReviews(["one", "two"])
        try project.writePipeline(pipeline("provider: [openai, ollama]"))
        let env = WireFormat.openai.environment(port: limitedPort).merging(WireFormat.ollama.environment(port: upPort)) { $1 }
        let started = Date()
        let manifest = try await run(project, env)
        #expect(manifest.status == .succeeded, "\(manifest.error ?? "")")
        #expect(Date().timeIntervalSince(started) < 30)
        #expect(try project.records(outFile).map { $0["enrich_provider"]?.stringValue } == ["ollama", "ollama"])
        #expect(await up.calls == 2)
    }

    /// When every provider of the chain is down the stage fails, naming each failure.
    @Test func aChainThatIsAllDownFails() async throws {
        let project = try Project()
        let server = try FakeLLMServer(.openai)
        let port = try await server.start { _ in WireReply(status: 503, content: #"{"error":{"message":"overloaded"}}"#) }
        defer { Task { await server.stop() } }
        try project.putReviews(["one"])
        try project.writePipeline(pipeline("provider: [openai, ollama], concurrency: 1"))
        var env = WireFormat.openai.environment(port: port)
        env["OLLAMA_HOST"] = "127.0.0.1:\(port)"  // no /api/chat there: 404
        let manifest = try await run(project, env)
        #expect(manifest.status == .failed)
        #expect(manifest.error?.contains("openai") == true && manifest.error?.contains("ollama") == true, "\(manifest.error ?? "")")
    }

    /// `base_url` points one stage at another OpenAI-compatible server (vLLM, llama.cpp, LM Studio):
    /// the key comes from `api_key_env`, never from the environment's OpenAI key, and the cache keeps
    /// each server's answers apart.
    @Test func aStageBaseURLReachesItsOwnServer() async throws {
        let project = try Project()
        let first = try FakeLLMServer(.openai)
        let firstPort = try await first.start { _ in .answer(answer) }
        let second = try FakeLLMServer(.openai)
        let secondPort = try await second.start { _ in .answer(answer) }
        defer { Task { await first.stop(); await second.stop() } }
        try project.putReviews(["one", "two"])
        // The environment's OpenAI key and endpoint are for api.openai.com; they must not be used.
        let env = ["OPENAI_API_KEY": "sk-env-never-sent", "LLM_OPENAI_BASE_URL": "http://127.0.0.1:9/v1", "LOCAL_KEY": "sk-wire"]

        try project.writePipeline(pipeline("provider: openai, base_url: \"http://127.0.0.1:\(firstPort)/v1\", api_key_env: LOCAL_KEY"))
        let one = try await run(project, env)
        #expect(one.status == .succeeded, "\(one.error ?? "")")
        #expect(await first.calls == 2)
        #expect(await first.shapeErrors.isEmpty)
        #expect(try project.records(outFile).count == 2)

        // Another server: not answered from the first one's cache entries.
        try project.writePipeline(pipeline("provider: openai, base_url: \"http://127.0.0.1:\(secondPort)/v1/\", api_key_env: LOCAL_KEY"))
        let two = try await run(project, env)
        #expect(two.status == .succeeded, "\(two.error ?? "")")
        #expect(await second.calls == 2)
        #expect(await first.calls == 2)

        // Without api_key_env the server gets no key at all (the fake refuses a request without one).
        try project.writePipeline(pipeline("provider: openai, base_url: \"http://127.0.0.1:\(secondPort)/v1\", model: gpt-4o-mini, temperature: 0.1"))
        let keyless = try await run(project, env)
        #expect(keyless.status == .failed)
        #expect(await second.shapeErrors.contains("no bearer key"))
        #expect(!(keyless.error ?? "").contains("sk-env-never-sent"))
    }
}
