import Foundation
import Lake
import LLM
import Testing
import TestSupport

/// Answers a sentiment request by its text ("bad" → negative) and counts what it was asked.
final class CountingProvider: LLMProvider, @unchecked Sendable {
    let kind: ProviderKind
    private let lock = NSLock()
    private var asked: [String] = []
    let failWith: LLMError?
    /// Answers this text instead of a valid sentiment, when set.
    let fixed: String?

    init(kind: ProviderKind = .openai, failWith: LLMError? = nil, fixed: String? = nil) {
        self.kind = kind
        self.failWith = failWith
        self.fixed = fixed
    }

    var texts: [String] { lock.withLock { asked } }

    func complete(_ request: CompletionRequest) async throws -> Completion {
        lock.withLock { asked.append(request.intent?.text ?? "") }
        if let failWith { throw failWith }
        if let fixed { return Completion(text: fixed, model: request.model, usage: TokenUsage(input: 5, output: 10), latencyMs: 1) }
        let text = request.intent?.text ?? ""
        let answer = text.contains("bad") ? #"{"label":"negative","score":-0.8,"confidence":0.9}"#
            : #"{"label":"positive","score":0.7,"confidence":0.8}"#
        return Completion(text: answer, model: request.model, usage: TokenUsage(input: 5, output: 10), latencyMs: 1)
    }
}

/// The enrichment engine on its own, without a pipeline: records in, records with answers out, in order.
@Suite struct EnrichmentTests {
    /// A folder per test, removed after it.
    let folder: TemporaryDirectory
    let lake: Lake

    init() throws {
        folder = try TemporaryDirectory()
        lake = Lake(root: folder.path)
        try FileManager.default.createDirectory(atPath: lake.root + "/in", withIntermediateDirectories: true)
    }

    func input(_ texts: [String]) throws -> LakePath {
        let lines = texts.enumerated().map { i, text in
            JSONValue.object(JSONObject([("id", .int(Int64(i + 1))), ("text", .string(text))])).serialized()
        }
        try (lines.joined(separator: "\n") + "\n").write(toFile: lake.root + "/in/reviews.jsonl", atomically: true, encoding: .utf8)
        return try lake.resolve("in/reviews.jsonl")
    }

    static func settings(budget: Double? = nil, into: String? = "s") throws -> EnrichmentSettings {
        EnrichmentSettings(provider: .openai, model: nil, task: EnrichTask.builtin(.sentiment), template: try PromptTemplate("{{text}}"),
                           into: into, temperature: nil, maxTokens: 10, concurrency: 4, budgetUSD: budget, cacheTTL: nil,
                           timeout: 10, onInvalid: .quarantine, onMissing: .error)
    }

    func run(_ provider: CountingProvider, files: [LakePath], budget: Double? = nil) async throws
        -> (records: [JSONObject], rejects: [RejectedRecord], summary: Enrichment.Summary) {
        try await run(chain: [provider], files: files, budget: budget)
    }

    /// Runs with `chain` as the provider chain (each its own endpoint, so each its own cache entries).
    func run(chain: [CountingProvider], files: [LakePath], budget: Double? = nil) async throws
        -> (records: [JSONObject], rejects: [RejectedRecord], summary: Enrichment.Summary) {
        let base = try Self.settings(budget: budget)
        let settings = EnrichmentSettings(
            providers: chain.map { ProviderChoice($0.kind) }, task: base.task, template: base.template, into: base.into,
            temperature: nil, maxTokens: 10, concurrency: 4, budgetUSD: budget, cacheTTL: nil, timeout: 10,
            onInvalid: .quarantine, onMissing: .error)
        let enrichment = Enrichment(settings: settings, lake: lake, refreshCache: false, provider: { choice in
            let provider = chain.first { $0.kind == choice.kind }!
            return EnrichProvider(provider: provider, baseURL: "http://\(choice.kind.rawValue)",
                                  cost: { _, usage in Double(usage.output) * 0.01 })
        })
        var records: [JSONObject] = []
        var rejects: [RejectedRecord] = []
        let summary = try await enrichment.run(files: files, write: { records.append($0) }, reject: { rejects.append($0) })
        return (records, rejects, summary)
    }

    /// A summary's compression_ratio: summary characters over text characters, white space runs counted once.
    @Test func compressionRatioIsMeasuredInCharacters() throws {
        let task = EnrichTask.builtin(.summary)
        #expect(task.fields == ["summary", "compression_ratio"])
        // "Hello world. This is long." is 26 characters once the white space is collapsed; the summary 12.
        let answer = task.completing(["summary": "Hello world."], text: "  Hello   world.\n\n\tThis is long. ")
        #expect(answer.objectValue?["compression_ratio"] == .double(0.462))
        #expect(answer.objectValue?["summary"] == "Hello world.")
        // Characters are grapheme clusters: "café 😀!" is 7, "café" 4.
        #expect(task.completing(["summary": "café"], text: "café 😀!").objectValue?["compression_ratio"] == .double(0.571))
        // Nothing to compress: null, not 0 and not a division by zero.
        #expect(task.completing(["summary": ""], text: " \n ").objectValue?["compression_ratio"] == .null)
        // Other tasks are left as answered.
        let sentiment: JSONValue = ["label": "neutral", "score": 0, "confidence": 0.5]
        #expect(EnrichTask.builtin(.sentiment).completing(sentiment, text: "x") == sentiment)
    }

    @Test func answersComeBackInInputOrderAndDuplicatesAreAskedOnce() async throws {
        let file = try input((1...40).map { $0 % 10 == 0 ? "bad \($0 % 20)" : "good \($0)" })
        let provider = CountingProvider()
        let (records, rejects, summary) = try await run(provider, files: [file])
        #expect(records.map { $0["id"]?.doubleValue } == (1...40).map { Double($0) })
        #expect(records[9]["s"]?.objectValue?["label"]?.stringValue == "negative")
        #expect(records[0]["s"]?.objectValue?["label"]?.stringValue == "positive")
        #expect(rejects.isEmpty)
        // "bad 10" and "bad 0" each appear twice: 38 distinct prompts, each sent once.
        #expect(provider.texts.count == 38)
        #expect(summary.enriched == 40 && summary.sent == 38 && summary.cacheHits == 2)
    }

    @Test func aSecondRunIsAnsweredFromTheCache() async throws {
        let file = try input(["good one", "bad one"])
        let provider = CountingProvider()
        _ = try await run(provider, files: [file])
        let (records, _, summary) = try await run(provider, files: [file])
        #expect(provider.texts.count == 2)
        #expect(records.count == 2 && summary.sent == 0 && summary.cacheHits == 2)
    }

    @Test func theBudgetLeavesTheTailPending() async throws {
        let file = try input((1...5).map { "review \($0)" })
        let provider = CountingProvider()
        // 0.10 a call (10 tokens at 0.01): three fit in 0.35.
        let (records, _, summary) = try await run(provider, files: [file], budget: 0.35)
        #expect(summary.enriched == 3 && summary.pending == 2)
        #expect(records.suffix(2).allSatisfy { $0[Enrichment.pendingField]?.stringValue?.hasPrefix("budget_usd") == true })
        #expect(summary.stopReason != nil)
    }

    @Test func aFailedCallStopsWithThePosition() async throws {
        let file = try input(["one"])
        let provider = CountingProvider(failWith: LLMError(.server, provider: .openai, status: 503, message: "down"))
        await #expect(throws: EnrichmentError.self) { _ = try await run(provider, files: [file]) }
    }

    @Test func anInvalidAnswerIsRepairedOnceThenQuarantined() async throws {
        let file = try input(["one"])
        let provider = CountingProvider(fixed: #"{"label":"great"}"#)
        let (records, rejects, summary) = try await run(provider, files: [file])
        #expect(records.isEmpty && summary.invalid == 1)
        #expect(provider.texts.count == 2)  // the question, then the repair
        #expect(rejects.first?.reason.hasPrefix("invalid answer:") == true && rejects.first?.line == 1)
    }

    @Test func aChainHandsADownProviderOnAndRecordsWhoAnswered() async throws {
        let file = try input(["one", "two", "three"])
        let down = CountingProvider(kind: .anthropic, failWith: LLMError(.server, provider: .anthropic, status: 503, message: "down"))
        let up = CountingProvider(kind: .ollama)
        let (records, _, summary) = try await run(chain: [down, up], files: [file])
        #expect(records.map { $0[Enrichment.providerField]?.stringValue } == ["ollama", "ollama", "ollama"])
        #expect(summary.enriched == 3)
        #expect(up.texts.count == 3 && down.texts.count >= 1 && down.texts.count <= 3)
        // The rerun finds the answers under the provider that gave them and asks nobody.
        let (again, _, rerun) = try await run(chain: [down, up], files: [file])
        #expect(again.map { $0[Enrichment.providerField]?.stringValue } == ["ollama", "ollama", "ollama"])
        #expect(rerun.sent == 0 && up.texts.count == 3)
    }

    @Test func aChainWhoseEveryProviderIsDownFails() async throws {
        let file = try input(["one"])
        let a = CountingProvider(kind: .anthropic, failWith: LLMError(.unavailable, provider: .anthropic, message: "refused"))
        let b = CountingProvider(kind: .ollama, failWith: LLMError(.timeout, provider: .ollama, message: "timed out"))
        await #expect(throws: EnrichmentError.self) { _ = try await run(chain: [a, b], files: [file]) }
    }
}
