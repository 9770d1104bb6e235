import Foundation
import Lake
import LLM
import Logging
import Pipeline
import Stages

/// Counts what a test provider was asked.
actor ProviderLog {
    private(set) var requests: [CompletionRequest] = []
    func add(_ request: CompletionRequest) -> Int {
        requests.append(request)
        return requests.count
    }
    var count: Int { requests.count }
    /// The record texts asked about, in the order asked.
    var texts: [String] { requests.compactMap { $0.intent?.text } }
}

/// A language-model stand-in: answers with whatever `answer` makes of the request (the record's
/// text is in `intent.text`; a repair attempt has three messages). Usage: 5 tokens in, 10 out.
struct ScriptedProvider: LLMProvider {
    let kind: ProviderKind
    let log = ProviderLog()
    let answer: @Sendable (CompletionRequest) throws -> String

    init(kind: ProviderKind = .openai, answer: @escaping @Sendable (CompletionRequest) throws -> String) {
        self.kind = kind
        self.answer = answer
    }

    func complete(_ request: CompletionRequest) async throws -> Completion {
        _ = await log.add(request)
        return Completion(text: try answer(request), model: request.model, usage: TokenUsage(input: 5, output: 10),
                          finishReason: "stop", latencyMs: 1)
    }

    /// A valid sentiment answer whose label follows the text ("bad" → negative).
    static func sentiment(_ request: CompletionRequest) -> String {
        let text = request.intent?.text ?? ""
        return text.contains("bad") ? #"{"label":"negative","score":-0.8,"confidence":0.9}"#
            : #"{"label":"positive","score":0.7,"confidence":0.8}"#
    }
}

extension Project {
    /// A registry whose enrich stage talks to `provider` (at 0.01 USD per output token, so 0.10 a call).
    func registry(_ provider: any LLMProvider, dailyCap: Double? = nil) -> StageRegistry {
        StageRegistry([ImportStage.kind, EnrichStage.kind(providers: { _, _, _, _ in
            EnrichProvider(provider: provider, baseURL: "http://fake", defaultModel: "fake-1", dailyCostLimit: dailyCap,
                           cost: { _, usage in Double(usage.output) * 0.01 })
        })])
    }

    func run(registry: StageRegistry, environment: [String: String] = [:], logs: LogCapture? = nil,
             _ configure: (inout RunOptions) -> Void = { _ in }) async throws -> RunManifest {
        var options = RunOptions()
        options.runDate = "2026-01-02"
        configure(&options)
        let env = PipelineEnvironment(variables: environment)
        let spec = try PipelineLoader(registry: registry, environment: env, lake: lake).load(file: pipelineFile).0
        let runner = PipelineRunner(spec: spec, lake: lake, environment: env,
                                    logger: Logger(label: "enrich-tests") { _ in
                                        logs.map { CapturingLogHandler(capture: $0) as LogHandler } ?? SwiftLogNoOpLogHandler()
                                    }, options: options)
        return await runner.run()
    }

    /// Review records with these texts, as raw_data/imports/reviews.jsonl.
    func putReviews(_ texts: [String]) throws {
        let lines = texts.enumerated().map { i, text in
            JSONValue.object(JSONObject([("id", .int(Int64(i + 1))), ("text", .string(text))])).serialized()
        }
        try put("raw_data/imports/reviews.jsonl", lines.joined(separator: "\n") + "\n")
    }
}

extension RunManifest.StageRun {
    /// The stage's call records (`details.llm.calls`).
    var llmCalls: [LLMCallRecord] {
        details?.objectValue?["llm"]?.objectValue?["calls"]?.arrayValue?.compactMap(LLMCallRecord.init(json:)) ?? []
    }
    var llmTotals: JSONObject? { details?.objectValue?["llm"]?.objectValue?["totals"]?.objectValue }
}

/// The lake's JSON value, for files that also import FlyingFox (which has a JSONValue of its own).
typealias LakeJSON = JSONValue

/// Log lines (message and metadata) kept in memory.
final class LogCapture: @unchecked Sendable {
    private let lock = NSLock()
    private var kept: [String] = []
    func add(_ line: String) { lock.lock(); kept.append(line); lock.unlock() }
    var lines: [String] { lock.lock(); defer { lock.unlock() }; return kept }
}

struct CapturingLogHandler: LogHandler {
    let capture: LogCapture
    var metadata: Logger.Metadata = [:]
    var logLevel: Logger.Level = .trace

    subscript(metadataKey key: String) -> Logger.Metadata.Value? {
        get { metadata[key] }
        set { metadata[key] = newValue }
    }

    func log(level: Logger.Level, message: Logger.Message, metadata extra: Logger.Metadata?, source: String,
             file: String, function: String, line: UInt) {
        let all = metadata.merging(extra ?? [:]) { $1 }
        capture.add("\(level) \(message) \(all.sorted { $0.key < $1.key }.map { "\($0.key)=\($0.value)" }.joined(separator: " "))")
    }
}
