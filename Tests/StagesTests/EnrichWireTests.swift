import FlyingFox
import Foundation
import Lake
import LLM
import Pipeline
import Stages
import Testing

// The enrich stage's main paths (cache, budget, repair, quarantine, rate limit, Retry-After) through the
// real providers (BuiltinStages, libcurl) against a loopback server speaking each wire format the product
// uses: OpenAI chat completions, Anthropic messages and Ollama /api/chat. README promises guarded: "a record
// already enriched with the same prompt and model is not sent again", "budget_usd stops sending", "invalid
// answers are repaired once, then quarantined with the reason", "rate limits and Retry-After are honoured".

private let out = "processed_data/ml_datasets/reviews/dt={run_date}/sentiment.jsonl"
private let outFile = "processed_data/ml_datasets/reviews/dt=2026-01-02/sentiment.jsonl"

/// A provider wire format, with what the enrich stage needs to reach a loopback server speaking it.
enum WireFormat: String, CaseIterable, Sendable, CustomTestStringConvertible {
    case openai, anthropic, ollama

    var testDescription: String { rawValue }

    var model: String {
        switch self {
        case .openai: return "gpt-4o-mini"
        case .anthropic: return "claude-haiku-4-5"
        case .ollama: return "llama3.2"
        }
    }

    /// The environment pointing the provider at `port`, plus `extra` variables named without their
    /// provider prefix (`RATE_LIMIT_RPM` becomes `LLM_OPENAI_RATE_LIMIT_RPM`).
    func environment(port: UInt16, extra: [String: String] = [:]) -> [String: String] {
        var env: [String: String]
        switch self {
        case .openai: env = ["OPENAI_API_KEY": "sk-wire", "LLM_OPENAI_BASE_URL": "http://127.0.0.1:\(port)/v1"]
        case .anthropic: env = ["ANTHROPIC_API_KEY": "sk-ant-wire", "LLM_ANTHROPIC_BASE_URL": "http://127.0.0.1:\(port)"]
        case .ollama: env = ["OLLAMA_HOST": "127.0.0.1:\(port)"]
        }
        for (k, v) in extra { env["LLM_\(rawValue.uppercased())_\(k)"] = v }
        return env
    }

    func pipeline(_ settings: String) -> String {
        """
        pipeline: p
        stages:
          scored:
            enrich: { from: raw_data/imports/reviews.jsonl, provider: \(rawValue), model: \(model), task: sentiment, \(settings) }
            out: \(out)
        """
    }
}

/// What the fake model answers to one request.
struct WireReply: Sendable {
    var status = 200
    /// The model's text (wrapped in the format's response shape) for a 200; the raw body otherwise.
    var content: String
    var headers: [String: String] = [:]
    /// Output tokens reported in the usage.
    var outputTokens = 10

    static func answer(_ content: String, outputTokens: Int = 10) -> WireReply {
        WireReply(content: content, outputTokens: outputTokens)
    }
}

/// One request as the fake model saw it.
struct WireRequest: Sendable {
    /// The first user message (the record's prompt).
    let prompt: String
    /// A repair request: the conversation holds an earlier assistant answer.
    let repairing: Bool
    /// How many times this prompt (with this `repairing`) was seen, this request included.
    let seen: Int
    let arrivedAt: Double
}

/// A loopback server speaking OpenAI, Anthropic and Ollama chat formats. It checks each request's wire
/// shape as the provider's documentation defines it and answers 400 when it is wrong, so that a
/// provider that stopped sending the documented request fails the tests.
actor FakeLLMServer {
    let format: WireFormat
    private let server: FlyingFox.HTTPServer
    private var task: Task<Void, Error>?
    private(set) var requests: [WireRequest] = []
    private(set) var shapeErrors: [String] = []
    private var counts: [String: Int] = [:]

    init(_ format: WireFormat) throws {
        self.format = format
        server = FlyingFox.HTTPServer(address: try .inet(ip4: "127.0.0.1", port: 0), timeout: 30, logger: .disabled)
    }

    var calls: Int { requests.count }

    private func record(prompt: String, repairing: Bool) -> WireRequest {
        let key = prompt + (repairing ? "#repair" : "")
        counts[key, default: 0] += 1
        let now = Date().timeIntervalSince1970
        let request = WireRequest(prompt: prompt, repairing: repairing, seen: counts[key]!, arrivedAt: now)
        requests.append(request)
        return request
    }

    private func refuse(_ problem: String) { shapeErrors.append(problem) }

    /// Starts serving; returns the port.
    func start(_ reply: @escaping @Sendable (WireRequest) -> WireReply) async throws -> UInt16 {
        let format = self.format
        let route: String
        switch format {
        case .openai: route = "POST /v1/chat/completions"
        case .anthropic: route = "POST /v1/messages"
        case .ollama: route = "POST /api/chat"
        }
        await server.appendRoute(HTTPRoute(route)) { [weak self] (request: FlyingFox.HTTPRequest) async throws -> FlyingFox.HTTPResponse in
            guard let self else { throw CancellationError() }
            let data = try await request.bodyData
            let body = (try? LakeJSON.parse(String(decoding: data, as: UTF8.self))) ?? .null
            if let problem = Self.shapeProblem(format, body, headers: request.headers) {
                await self.refuse(problem)
                return FlyingFox.HTTPResponse(statusCode: .badRequest, body: Data(#"{"error":"\#(problem)"}"#.utf8))
            }
            let messages = body.objectValue?["messages"]?.arrayValue ?? []
            let prompt = messages.first { $0.objectValue?["role"] == "user" }?.objectValue?["content"]?.stringValue ?? ""
            let repairing = messages.contains { $0.objectValue?["role"] == "assistant" }
            let seen = await self.record(prompt: prompt, repairing: repairing)
            let answer = reply(seen)
            var headers = [HTTPHeader("Content-Type"): "application/json"]
            for (k, v) in answer.headers { headers[HTTPHeader(k)] = v }
            let text = answer.status == 200 ? Self.wrap(format, answer) : answer.content
            return FlyingFox.HTTPResponse(statusCode: HTTPStatusCode(answer.status, phrase: "X"), headers: headers,
                                          body: Data(text.utf8))
        }
        let server = self.server
        task = Task { try await server.run() }
        try await server.waitUntilListening()
        guard case .ip4(_, let port) = await server.listeningAddress else { throw CancellationError() }
        return port
    }

    func stop() async {
        await server.stop(timeout: 0)
        task?.cancel()
    }

    /// What is wrong with a request's shape for `format`, or nil.
    static func shapeProblem(_ format: WireFormat, _ body: LakeJSON, headers: HTTPHeaders) -> String? {
        guard let object = body.objectValue else { return "body is not a JSON object" }
        guard object["model"]?.stringValue == format.model else { return "model is not \(format.model)" }
        guard let messages = object["messages"]?.arrayValue, !messages.isEmpty else { return "no messages" }
        let roles = messages.compactMap { $0.objectValue?["role"]?.stringValue }
        guard messages.allSatisfy({ $0.objectValue?["content"]?.stringValue != nil }) else { return "content not a string" }
        switch format {
        case .openai:
            guard headers[HTTPHeader("Authorization")] == "Bearer sk-wire" else { return "no bearer key" }
            guard object["response_format"]?.objectValue?["type"] == "json_object" else { return "no JSON mode" }
            guard roles.first == "system" else { return "no system message" }
        case .anthropic:
            guard headers[HTTPHeader("x-api-key")] == "sk-ant-wire" else { return "no x-api-key" }
            guard headers[HTTPHeader("anthropic-version")] == "2023-06-01" else { return "no anthropic-version" }
            guard object["max_tokens"]?.doubleValue != nil else { return "no max_tokens" }
            guard object["system"]?.stringValue?.isEmpty == false else { return "no top-level system" }
            guard !roles.contains("system"), roles.first == "user" else { return "system role inside messages" }
        case .ollama:
            guard object["stream"] == false else { return "stream is not false" }
            guard object["format"] == "json" else { return "format is not json" }
            guard roles.first == "system" else { return "no system message" }
        }
        return nil
    }

    /// `reply` in the format's response shape, reporting 40 input tokens and `reply.outputTokens`.
    static func wrap(_ format: WireFormat, _ reply: WireReply) -> String {
        let content = LakeJSON.string(reply.content)
        let output = LakeJSON.int(Int64(reply.outputTokens))
        switch format {
        case .openai:
            return LakeJSON.object(JSONObject([
                ("id", "chatcmpl-1"), ("object", "chat.completion"), ("model", "gpt-4o-mini-2024-07-18"),
                ("choices", [["index": 0, "message": ["role": "assistant", "content": content], "finish_reason": "stop"]]),
                ("usage", ["prompt_tokens": 40, "completion_tokens": output, "total_tokens": .int(40 + Int64(reply.outputTokens))]),
            ])).serialized()
        case .anthropic:
            return LakeJSON.object(JSONObject([
                ("id", "msg_1"), ("type", "message"), ("role", "assistant"), ("model", "claude-haiku-4-5-20251001"),
                ("content", [["type": "text", "text": content]]), ("stop_reason", "end_turn"),
                ("usage", ["input_tokens": 40, "output_tokens": output]),
            ])).serialized()
        case .ollama:
            return LakeJSON.object(JSONObject([
                ("model", "llama3.2"), ("created_at", "2026-01-02T00:00:00Z"),
                ("message", ["role": "assistant", "content": content]), ("done", true), ("done_reason", "stop"),
                ("prompt_eval_count", 40), ("eval_count", output),
            ])).serialized()
        }
    }
}

private let valid = #"{"label":"neutral","score":0,"confidence":0.5}"#

private func sentiment(_ prompt: String) -> String {
    prompt.contains("bad") ? #"{"label":"negative","score":-0.8,"confidence":0.9}"# : valid
}

/// Runs the project's pipeline with the real providers.
private func run(_ project: Project, _ environment: [String: String], force: Bool = false) async throws -> RunManifest {
    try await project.run(registry: BuiltinStages.registry, environment: environment) { $0.force = force }
}

@Suite(.serialized) struct EnrichProviderWireTests {
    /// Duplicates are sent once; a second run sends nothing and writes the same records.
    @Test(arguments: WireFormat.allCases)
    func aSecondRunSendsNothing(format: WireFormat) async throws {
        let project = try Project()
        let server = try FakeLLMServer(format)
        let port = try await server.start { .answer(sentiment($0.prompt)) }
        defer { Task { await server.stop() } }
        try project.putReviews(["good shoes", "bad tent", "good shoes", "fine"])
        try project.writePipeline(format.pipeline("into: s, concurrency: 2"))
        let env = format.environment(port: port)

        let first = try await run(project, env)
        #expect(first.status == .succeeded, "\(first.error ?? "")")
        let shapeErrors = await server.shapeErrors
        #expect(shapeErrors.isEmpty, "\(shapeErrors)")
        #expect(await server.calls == 3)
        let records = try project.records(outFile)
        #expect(records.map { $0["s"]?.objectValue?["label"] } == ["neutral", "negative", "neutral", "neutral"])
        let sent = first.stage("scored")!.llmCalls.filter { $0.status == .success }
        #expect(sent.count == 3 && sent.allSatisfy { $0.provider.rawValue == format.rawValue && $0.tokensIn == 40 })

        let again = try await run(project, env, force: true)
        #expect(again.status == .succeeded)
        #expect(await server.calls == 3)  // nothing on the wire
        let calls = again.stage("scored")!.llmCalls
        #expect(calls.count == 4 && calls.allSatisfy { $0.status == .cached && $0.cacheHit && $0.costUSD == 0 })
        #expect(try project.records(outFile) == records)
    }

    /// Prose is repaired with the violation named; an answer that stays invalid is quarantined with its
    /// raw text and reason; the next run asks again only for the quarantined record.
    @Test(arguments: WireFormat.allCases)
    func repairsThenQuarantinesWithTheReason(format: WireFormat) async throws {
        let project = try Project()
        let server = try FakeLLMServer(format)
        let port = try await server.start { request in
            if request.prompt.contains("garbled") { return .answer(request.repairing ? valid : "I think it is neutral.") }
            if request.prompt.contains("stubborn") { return .answer(#"{"label":"meh","score":0,"confidence":0.5}"#) }
            return .answer(sentiment(request.prompt))
        }
        defer { Task { await server.stop() } }
        try project.putReviews(["good", "garbled", "stubborn", "bad"])
        try project.writePipeline(format.pipeline("into: s"))
        let env = format.environment(port: port)

        let manifest = try await run(project, env)
        #expect(manifest.status == .succeeded, "\(manifest.error ?? "")")
        let shapeErrors = await server.shapeErrors
        #expect(shapeErrors.isEmpty, "\(shapeErrors)")
        // Two plain questions, then garbled and stubborn each asked and repaired once.
        #expect(await server.calls == 6)
        #expect(await server.requests.filter(\.repairing).map { $0.prompt.contains("garbled") || $0.prompt.contains("stubborn") }
            == [true, true])
        let stage = manifest.stage("scored")!
        #expect(stage.counts["invalid"] == 1 && stage.counts["records_out"] == 3)
        let records = try project.records(outFile)
        #expect(records.map { $0["id"] } == [1, 2, 4])
        #expect(records[1]["s"]?.objectValue?["label"] == "neutral")  // the repaired answer
        let rejects = try project.records("raw_data/logs/p/\(manifest.runID).scored.rejects.jsonl")
        #expect(rejects.count == 1)
        #expect(rejects.first?["line"] == 3)
        #expect(rejects.first?["raw"] == #"{"label":"meh","score":0,"confidence":0.5}"#)
        #expect(rejects.first?["reason"]?.stringValue?.contains(#"$.label: expected one of "positive", "negative", "neutral", found "meh""#) == true)

        // The repaired answer was cached under the original question; only the quarantined one is asked again.
        _ = try await run(project, env, force: true)
        let asked = await server.requests.dropFirst(6)
        #expect(asked.count == 2 && asked.allSatisfy { $0.prompt.contains("stubborn") })
    }

    /// With a price per token, budget_usd stops sending after the calls that fit, and the message gives
    /// what the provider's reported usage really cost (not the estimates reserved).
    @Test(arguments: WireFormat.allCases)
    func budgetStopsAtTheLimitAndReportsTheRealSpend(format: WireFormat) async throws {
        let project = try Project()
        let server = try FakeLLMServer(format)
        // 7 output tokens at 0.01 USD each: 0.07 a call; the stage reserves 0.10 (max_tokens 10) for each call
        // before it is sent, so three fit in 0.35 and the fourth is refused before any answer came back.
        let port = try await server.start { .answer(sentiment($0.prompt), outputTokens: 7) }
        defer { Task { await server.stop() } }
        let prices = project.root + "/prices.json"
        try #"{"providers": {"\#(format.rawValue)": {"\#(format.model)": {"input": 0, "output": 10000}}}}"#
            .write(toFile: prices, atomically: true, encoding: .utf8)
        try project.putReviews((1...6).map { "review \($0)" })
        try project.writePipeline(format.pipeline("into: s, max_tokens: 10, concurrency: 1, budget_usd: 0.35"))
        var env = format.environment(port: port)
        env["AGENTSHOP_LLM_PRICES"] = prices

        let first = try await run(project, env)
        #expect(first.status == .succeeded, "\(first.error ?? "")")
        #expect(await server.calls == 3)
        let stage = first.stage("scored")!
        #expect(stage.counts["enriched"] == 3 && stage.counts["pending_budget"] == 3)
        // The message gives what the three calls really cost (3 x 0.07), not what had settled when the
        // fourth was refused (nothing yet).
        let reason = stage.llmTotals?["budget_stopped"]?.stringValue ?? ""
        #expect(reason == "budget_usd 0.3500 reached (spent 0.2100)", "\(reason)")
        #expect(abs((stage.llmTotals?["cost_usd"]?.doubleValue ?? 0) - 0.21) < 1e-9)
        let records = try project.records(outFile)
        #expect(records.count == 6)
        #expect(records.suffix(3).allSatisfy { $0["s"] == nil && $0["enrich_pending"]?.stringValue?.hasPrefix("budget_usd") == true })

        // The next run sends only the three left.
        let second = try await run(project, env)
        #expect(second.stage("scored")?.counts["enriched"] == 6)
        #expect(await server.calls == 6)
    }

    /// LLM_<P>_RATE_LIMIT_RPM spaces the requests: at 120 a minute (a burst of 2, then one per 0.5 s),
    /// six requests sent with concurrency 6 span at least 2 s.
    @Test(arguments: WireFormat.allCases)
    func requestsPerMinuteSpacesTheRequests(format: WireFormat) async throws {
        let project = try Project()
        let server = try FakeLLMServer(format)
        let port = try await server.start { .answer(sentiment($0.prompt)) }
        defer { Task { await server.stop() } }
        try project.putReviews((1...6).map { "review \($0)" })
        try project.writePipeline(format.pipeline("into: s, concurrency: 6"))
        let manifest = try await run(project, format.environment(port: port, extra: ["RATE_LIMIT_RPM": "120"]))
        #expect(manifest.status == .succeeded, "\(manifest.error ?? "")")
        let times = await server.requests.map(\.arrivedAt).sorted()
        #expect(times.count == 6)
        if times.count == 6 {
            #expect(times[5] - times[0] >= 1.8, "the six requests arrived within \(times[5] - times[0]) s")
            // No two requests after the burst arrive closer than the rate allows (with some scheduling slack).
            let gaps = zip(times.dropFirst(2), times.dropFirst(3)).map { $1 - $0 }
            #expect(gaps.allSatisfy { $0 >= 0.35 }, "\(gaps)")
        }
    }

    /// A 429 with Retry-After: 2 is retried no sooner than two seconds later (the computed backoff
    /// would be under a second), and the record is enriched.
    @Test(arguments: WireFormat.allCases)
    func retryAfterIsHonoured(format: WireFormat) async throws {
        let project = try Project()
        let server = try FakeLLMServer(format)
        let port = try await server.start { request in
            if request.prompt.contains("busy"), request.seen == 1 {
                return WireReply(status: 429, content: #"{"error":{"message":"slow down"}}"#, headers: ["Retry-After": "2"])
            }
            return .answer(sentiment(request.prompt))
        }
        defer { Task { await server.stop() } }
        try project.putReviews(["busy day", "quiet day"])
        try project.writePipeline(format.pipeline("into: s"))
        let manifest = try await run(project, format.environment(port: port))
        #expect(manifest.status == .succeeded, "\(manifest.error ?? "")")
        let busy = await server.requests.filter { $0.prompt.contains("busy") }
        #expect(busy.count == 2)
        if busy.count == 2 {
            #expect(busy[1].arrivedAt - busy[0].arrivedAt >= 1.9, "retried after \(busy[1].arrivedAt - busy[0].arrivedAt) s")
        }
        #expect(try project.records(outFile).map { $0["s"]?.objectValue?["label"] } == ["neutral", "neutral"])
        #expect(await server.calls == 3)
        #expect(manifest.stage("scored")!.llmCalls.filter { $0.status == .success }.count == 2)
    }
}

/// The seed's analyses keep their fields through the real providers: content_analysis answers carry
/// business_value and recommendations, a summary gets its measured compression_ratio, and an answer
/// missing a field or giving one of the wrong type is quarantined with the reason, not defaulted.
@Suite(.serialized) struct EnrichAnalysisWireTests {
    static let formats: [WireFormat] = [.openai, .anthropic]

    static func pipeline(_ format: WireFormat, task: String) -> String {
        """
        pipeline: p
        stages:
          scored:
            enrich: { from: raw_data/imports/reviews.jsonl, provider: \(format.rawValue), model: \(format.model), task: \(task) }
            out: \(out)
        """
    }

    static let analysis = #"{"topics":["tents"],"insights":["Leaks in rain."],"quality_score":0.6,"#
        + #""business_value":"high","recommendations":["Answer the complaint.","Check the seams."]}"#

    @Test(arguments: formats)
    func contentAnalysisCarriesBusinessValueAndRecommendations(format: WireFormat) async throws {
        let project = try Project()
        let server = try FakeLLMServer(format)
        let port = try await server.start { request in
            // The prompt asks for the fields.
            guard request.prompt.contains("business_value"), request.prompt.contains("recommendations") else {
                return .answer(#"{"error":"the prompt does not ask for business_value and recommendations"}"#)
            }
            if request.prompt.contains("missing") {
                return .answer(#"{"topics":["x"],"insights":[],"quality_score":0.5,"recommendations":["Do it."]}"#)
            }
            if request.prompt.contains("wrong") {
                return .answer(#"{"topics":["x"],"insights":[],"quality_score":0.5,"business_value":"high","recommendations":"Do it."}"#)
            }
            return .answer(Self.analysis)
        }
        defer { Task { await server.stop() } }
        try project.putReviews(["the tent leaks", "missing a field", "wrong type"])
        try project.writePipeline(Self.pipeline(format, task: "content_analysis"))
        let manifest = try await run(project, format.environment(port: port))
        #expect(manifest.status == .succeeded, "\(manifest.error ?? "")")
        let shapeErrors = await server.shapeErrors
        #expect(shapeErrors.isEmpty, "\(shapeErrors)")

        let records = try project.records(outFile)
        #expect(records.count == 1)
        #expect(records.first?["business_value"] == "high")
        #expect(records.first?["recommendations"] == ["Answer the complaint.", "Check the seams."])
        #expect(records.first?["quality_score"] == 0.6)

        // Each garbage answer was sent back once for repair, then quarantined with what was wrong.
        #expect(await server.requests.filter(\.repairing).count == 2)
        #expect(manifest.stage("scored")?.counts["invalid"] == 2)
        let rejects = try project.records("raw_data/logs/p/\(manifest.runID).scored.rejects.jsonl")
        let reasons = rejects.compactMap { $0["reason"]?.stringValue }
        #expect(reasons.count == 2)
        #expect(reasons.contains { $0.contains("missing required property 'business_value'") }, "\(reasons)")
        #expect(reasons.contains { $0.contains("$.recommendations: expected array, found") }, "\(reasons)")
    }

    @Test(arguments: formats)
    func aSummaryGetsItsCompressionRatio(format: WireFormat) async throws {
        let project = try Project()
        let server = try FakeLLMServer(format)
        let port = try await server.start { _ in .answer(#"{"summary":"A tent that leaks."}"#) }
        defer { Task { await server.stop() } }
        // 18 characters of summary over 70 of text.
        try project.putReviews(["The tent leaks at the seams whenever it rains, and the poles bent too."])
        try project.writePipeline(Self.pipeline(format, task: "summary"))
        let manifest = try await run(project, format.environment(port: port))
        #expect(manifest.status == .succeeded, "\(manifest.error ?? "")")
        let records = try project.records(outFile)
        #expect(records.first?["summary"] == "A tent that leaks.")
        #expect(records.first?["compression_ratio"] == .double(0.257))
        // A rerun answers from the cache and measures the same.
        _ = try await run(project, format.environment(port: port), force: true)
        #expect(await server.calls == 1)
        #expect(try project.records(outFile) == records)
    }
}
