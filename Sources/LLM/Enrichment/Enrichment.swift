import Foundation
import Lake
import Transport

/// What an enrichment asks and how it treats the answers: the enrich stage's settings, read from
/// its configuration by the stage and carried here whole.
public struct EnrichmentSettings: Sendable {
    /// What happens to a record whose answer stays invalid after the repair attempt.
    public enum InvalidPolicy: String, CaseIterable, Sendable {
        /// To the rejects file with the raw answer and the reason; the run goes on.
        case quarantine
        /// The enrichment fails.
        case fail
    }

    /// What happens to a record that lacks a field the template reads.
    public enum MissingPolicy: Sendable {
        case error, empty, reject
    }

    public let provider: ProviderKind
    public let model: String?
    public let task: EnrichTask
    public let template: PromptTemplate
    public let into: String?
    public let temperature: Double?
    public let maxTokens: Int?
    public let concurrency: Int
    public let budgetUSD: Double?
    public let cacheTTL: Double?
    public let timeout: Double
    public let onInvalid: InvalidPolicy
    public let onMissing: MissingPolicy

    public init(provider: ProviderKind, model: String?, task: EnrichTask, template: PromptTemplate, into: String?,
                temperature: Double?, maxTokens: Int?, concurrency: Int, budgetUSD: Double?, cacheTTL: Double?,
                timeout: Double, onInvalid: InvalidPolicy, onMissing: MissingPolicy) {
        self.provider = provider
        self.model = model
        self.task = task
        self.template = template
        self.into = into
        self.temperature = temperature
        self.maxTokens = maxTokens
        self.concurrency = concurrency
        self.budgetUSD = budgetUSD
        self.cacheTTL = cacheTTL
        self.timeout = timeout
        self.onInvalid = onInvalid
        self.onMissing = onMissing
    }
}

/// Why an enrichment stopped: a message the user can act on.
public struct EnrichmentError: Error, CustomStringConvertible, Sendable {
    public let message: String
    public init(_ message: String) { self.message = message }
    public var description: String { message }
}

/// One enrichment: reads the input records in order, asks for each one's answer (cache, then
/// provider, within the budget), and hands each record with its answer to `write`, in input order.
/// Records that cannot be enriched go to `reject`. The caller owns the files written.
public struct Enrichment: Sendable {
    public typealias Settings = EnrichmentSettings

    public let settings: Settings
    public let lake: Lake
    /// Ask again even when the cache holds an answer (`run --no-cache`).
    public let refreshCache: Bool
    /// The provider, made when the first record needs it (a cleanup task never does).
    public let provider: @Sendable () throws -> EnrichProvider

    public init(settings: Settings, lake: Lake, refreshCache: Bool, provider: @escaping @Sendable () throws -> EnrichProvider) {
        self.settings = settings
        self.lake = lake
        self.refreshCache = refreshCache
        self.provider = provider
    }

    /// The field a record carries when the budget stopped the run before its answer was asked for.
    public static let pendingField = "enrich_pending"

    /// What became of one record.
    enum Outcome: Sendable {
        case answer(JSONValue)
        /// Not sent: the budget was reached. Carried un-enriched, completed by the next run.
        case pending(String)
        /// The answer stayed invalid after the repair attempt.
        case invalid(raw: String, reason: String)
        /// The record itself cannot be asked about (a field the template needs is missing).
        case rejected(String)
        case failed(String)
    }

    /// What an enrichment did: its counts, its call records, and why it stopped sending if it did.
    public struct Summary: Sendable {
        public var recordsIn = 0
        public var enriched = 0
        /// Carried un-enriched because the budget was reached.
        public var pending = 0
        /// Answers still invalid after the repair attempt.
        public var invalid = 0
        /// Records lacking a field the template reads (on_missing: reject).
        public var rejectedMissing = 0
        public var calls: [LLMCallRecord] = []
        /// The budget's reason, when it stopped sending.
        public var stopReason: String?
        /// The model asked; nil when the task needs none.
        public var model: String?

        public var rejected: Int { invalid + rejectedMissing }
        /// Requests that went to a provider (not cache hits, not skipped for the budget).
        public var sent: Int { calls.filter { !$0.cacheHit && $0.status != .skippedBudget }.count }
        public var cacheHits: Int { calls.filter(\.cacheHit).count }
        public var costUSD: Double { calls.reduce(0) { $0 + $1.costUSD } }
    }

    /// Enriches every record of `files`, in order. `write` gets each record to keep (enriched, or
    /// carried with `pendingField`), `reject` each record quarantined; `progress` the records done.
    public func run(files: [LakePath], progress: (Int) -> Void = { _ in }, write: (JSONObject) throws -> Void,
                    reject: (RejectedRecord) throws -> Void) async throws -> Summary {
        let task = settings.task
        let asker: Asker?
        if task.usesModel {
            asker = try await Asker(settings: settings, provider: try provider(), lake: lake, refresh: refreshCache)
        } else {
            asker = nil
        }
        var summary = Summary()
        let window = max(64, settings.concurrency * 8)
        try await withThrowingTaskGroup(of: (Int, Outcome).self) { group in
            var waiting: [Int: (record: JSONObject, file: String, line: Int)] = [:]
            var results: [Int: Outcome] = [:]
            var nextIndex = 0
            var nextWrite = 0

            func writeReady() throws {
                while let outcome = results.removeValue(forKey: nextWrite) {
                    let (record, file, line) = waiting.removeValue(forKey: nextWrite)!
                    nextWrite += 1
                    switch outcome {
                    case .answer(let value):
                        try write(merge(value, into: record))
                        summary.enriched += 1
                    case .pending(let reason):
                        var carried = record
                        carried[Self.pendingField] = .string(reason)
                        try write(carried)
                        summary.pending += 1
                    case .invalid(let raw, let reason):
                        if settings.onInvalid == .fail {
                            throw EnrichmentError("\(file):\(line): invalid answer from \(settings.provider.rawValue): \(reason) (on_invalid: fail)")
                        }
                        try reject(RejectedRecord(file: file, line: line, reason: "invalid answer: \(reason)", raw: raw))
                        summary.invalid += 1
                    case .rejected(let reason):
                        try reject(RejectedRecord(file: file, line: line, reason: reason, raw: JSONValue.object(record).serialized()))
                        summary.rejectedMissing += 1
                    case .failed(let message):
                        throw EnrichmentError("\(file):\(line): \(message); answers received so far are cached, so a rerun continues from here")
                    }
                    if nextWrite % 100 == 0 { progress(nextWrite) }
                }
            }

            for file in files {
                let reader = try RecordReader(path: file.absolute, displayPath: file.relative)
                while let record = try reader.next() {
                    summary.recordsIn += 1
                    while nextIndex - nextWrite >= window, let (index, outcome) = try await group.next() {
                        results[index] = outcome
                        try writeReady()
                    }
                    let index = nextIndex
                    let line = reader.line
                    waiting[index] = (record, file.relative, line)
                    nextIndex += 1
                    let label = "\(file.relative):\(line)"
                    group.addTask {
                        (index, try await self.outcome(for: record, index: index, label: label, asker: asker))
                    }
                }
            }
            while let (index, outcome) = try await group.next() {
                results[index] = outcome
                try writeReady()
            }
        }
        summary.calls = await asker?.ledger.calls ?? []
        summary.stopReason = await asker?.budget.stopReason
        summary.model = asker?.model
        return summary
    }

    /// The record with the answer under `into`, or with the answer's fields merged in.
    func merge(_ answer: JSONValue, into record: JSONObject) -> JSONObject {
        var out = record
        if let into = settings.into {
            out[into] = answer
        } else if let fields = answer.objectValue {
            for entry in fields { out[entry.key] = entry.value }
        }
        return out
    }

    func outcome(for record: JSONObject, index: Int, label: String, asker: Asker?) async throws -> Outcome {
        let text: String
        do {
            text = try settings.template.render(record, recordLabel: label,
                                                missing: settings.onMissing == .empty ? .empty : .error)
        } catch {
            await asker?.turnstile.pass(index)  // later records must not wait for this one
            if settings.onMissing == .reject { return .rejected(error.message) }
            throw EnrichmentError(error.message)
        }
        guard let asker else {
            // cleanup: the offline rules' cleaner, run here; no provider, no cache, no call record.
            return .answer(.object(JSONObject([("cleaned_text", .string(TextCleanup.clean(text)))])))
        }
        return await asker.answer(text: text, index: index)
    }
}

/// How a record's text becomes a request and a cache key, for one provider and model.
struct EnrichRequests: Sendable {
    let settings: EnrichmentSettings
    let provider: EnrichProvider
    let model: String
    let systemPrompt: String
    let taskPrompt: PromptTemplate

    init(settings: EnrichmentSettings, provider: EnrichProvider) throws {
        self.settings = settings
        self.provider = provider
        model = settings.model ?? provider.defaultModel
        systemPrompt = settings.task.system
        do { taskPrompt = try PromptTemplate(settings.task.prompt) } catch { throw EnrichmentError("task prompt: \(error.message)") }
    }

    /// The user prompt for a record's text (a custom task's text is its prompt).
    func prompt(for text: String) -> String {
        settings.task.name == .custom ? text : taskPrompt.render(values: ["text": text])
    }

    func request(prompt: String, text: String) -> CompletionRequest {
        CompletionRequest(model: model, system: systemPrompt, messages: [ChatMessage(.user, prompt)],
                          temperature: settings.temperature, maxTokens: settings.maxTokens, jsonOutput: true,
                          timeout: settings.timeout,
                          intent: TaskIntent(task: settings.task.name.rawValue, text: text, options: settings.task.options))
    }

    func identity(prompt: String) -> RequestIdentity {
        var parameters = JSONObject([("json", .bool(true))])
        if let t = settings.temperature { parameters["temperature"] = .double(t) }
        if let m = settings.maxTokens { parameters["max_tokens"] = .int(Int64(m)) }
        for (k, v) in settings.task.options.sorted(by: { $0.key < $1.key }) { parameters["option." + k] = .string(v) }
        return RequestIdentity(provider: provider.kind, baseURL: provider.baseURL, model: model, system: systemPrompt,
                               prompt: prompt, parameters: .object(parameters), schema: settings.task.schema?.source ?? .null)
    }

    /// The tokens a request will use at most: its text, and max_tokens (or 512) of answer.
    func estimatedUsage(_ request: CompletionRequest) -> TokenUsage {
        let input = request.messages.reduce(TokenEstimate.tokens(in: request.system ?? "")) { $0 + TokenEstimate.tokens(in: $1.content) }
        return TokenUsage(input: input, output: request.maxTokens ?? 512)
    }

    func estimatedCost(_ request: CompletionRequest) -> Double {
        provider.cost(model, estimatedUsage(request)) ?? 0
    }

    /// The cost of an answer from its usage; estimated from the text when the provider reported none.
    func cost(_ completion: Completion, _ request: CompletionRequest) -> Double {
        let usage = completion.usage ?? TokenUsage(input: estimatedUsage(request).input,
                                                   output: TokenEstimate.tokens(in: completion.text))
        return provider.cost(model, usage) ?? 0  // the model asked for: answers name dated variants
    }
}

/// Asks one provider for answers: cache, in-run deduplication, budget, concurrency, validation and repair.
final class Asker: Sendable {
    let settings: EnrichmentSettings
    let requests: EnrichRequests
    let cache: ResponseCache
    let refresh: Bool
    let budget: Budget
    let ledger = EnrichLedger()
    let turnstile = Turnstile()
    let limit: ConcurrencyLimit

    var provider: EnrichProvider { requests.provider }
    var model: String { requests.model }

    init(settings: EnrichmentSettings, provider: EnrichProvider, lake: Lake, refresh: Bool) async throws {
        self.settings = settings
        requests = try EnrichRequests(settings: settings, provider: provider)
        cache = ResponseCache(lake: lake)
        self.refresh = refresh
        limit = ConcurrencyLimit(settings.concurrency)
        let model = requests.model
        let daily = provider.dailyCostLimit
        if (settings.budgetUSD != nil || daily != nil), provider.cost(model, TokenUsage(input: 1000, output: 1000)) == nil {
            throw EnrichmentError("no price for \(provider.kind.rawValue) model '\(model)' in the price table, so budget_usd or "
                             + "LLM_\(provider.kind.environmentName)_COST_LIMIT_DAILY cannot be enforced; add the model to the price table")
        }
        let spentToday = daily == nil ? 0 : LLMCallRecord.spend(in: lake, provider: provider.kind, day: Timestamp.day(Date()))
        budget = Budget(stageLimit: settings.budgetUSD, dailyLimit: daily, spentBefore: spentToday)
    }

    /// The outcome for the record at `index` (in input order) whose text is `text`.
    func answer(text: String, index: Int) async -> Enrichment.Outcome {
        let prompt = requests.prompt(for: text)
        let identity = requests.identity(prompt: prompt)
        let key = identity.key
        let (task, shared) = await ledger.task(for: key) {
            await self.fetch(key: key, identity: identity, prompt: prompt, text: text, index: index)
        }
        if shared {
            await turnstile.pass(index)
            await ledger.record(call(key, identity, status: .cached, cacheHit: true, latencyMs: 0))
        }
        return await task.value
    }

    private func call(_ key: String, _ identity: RequestIdentity, status: LLMCallRecord.Status, usage: TokenUsage? = nil,
                      cost: Double = 0, cacheHit: Bool = false, latencyMs: Int = 0, finishReason: String? = nil,
                      error: String? = nil) -> LLMCallRecord {
        LLMCallRecord(requestKey: key, provider: provider.kind, model: model, task: settings.task.name.rawValue,
                      promptSHA256: identity.promptSHA256, status: status, tokensIn: usage?.input ?? 0,
                      tokensOut: usage?.output ?? 0, costUSD: cost, latencyMs: latencyMs, cacheHit: cacheHit,
                      finishReason: finishReason, error: error, at: Timestamp.iso(Date()))
    }

    /// Checks an answer against the task's schema; the parsed object, or every problem found.
    func check(_ text: String) -> Result<JSONValue, AnswerProblem> {
        switch EnrichTask.extractJSON(text) {
        case .failure(let problem): return .failure(problem)
        case .success(let value):
            let violations = settings.task.schema?.validate(value, limit: 5) ?? []
            if violations.isEmpty { return .success(value) }
            return .failure(AnswerProblem(violations.map(\.description).joined(separator: "; ")))
        }
    }

    private func fetch(key: String, identity: RequestIdentity, prompt: String, text: String, index: Int) async -> Enrichment.Outcome {
        if !refresh, let hit = cache.lookup(key, ttl: settings.cacheTTL), case .success(let value) = check(hit.text) {
            await turnstile.pass(index)
            await ledger.record(call(key, identity, status: .cached, cacheHit: true, finishReason: hit.finishReason))
            return .answer(value)
        }
        var request = requests.request(prompt: prompt, text: text)
        // Reservations are made in input order, so that a budget stop leaves exactly the tail.
        await turnstile.wait(for: index)
        let estimate = estimatedCost(request)
        let allowed = await budget.reserve(estimate)
        await turnstile.pass(index)
        let first = await send(request, key: key, identity: identity, reserved: allowed ? estimate : nil)
        let answer: Completion
        switch first {
        case .done(let completion): answer = completion
        case .stopped(let outcome): return outcome
        }
        let problem: AnswerProblem
        switch check(answer.text) {
        case .success(let value):
            store(key, answer)
            await ledger.record(call(key, identity, status: .success, usage: answer.usage, cost: cost(answer, request),
                                     latencyMs: answer.latencyMs, finishReason: answer.finishReason))
            return .answer(value)
        case .failure(let p):
            problem = p
            await ledger.record(call(key, identity, status: .invalid, usage: answer.usage, cost: cost(answer, request),
                                     latencyMs: answer.latencyMs, finishReason: answer.finishReason, error: p.message))
        }

        // One repair attempt: the conversation so far plus what was wrong.
        request.messages += [ChatMessage(.assistant, answer.text),
                             ChatMessage(.user, settings.task.repairMessage(problems: [problem.message]))]
        let second = await send(request, key: key, identity: identity, reserved: nil)
        guard case .done(let repaired) = second else {
            if case .stopped(let outcome) = second { return outcome }
            return .failed("unreachable")
        }
        switch check(repaired.text) {
        case .success(let value):
            store(key, repaired)  // under the original question: a rerun asks nothing
            await ledger.record(call(key, identity, status: .success, usage: repaired.usage, cost: cost(repaired, request),
                                     latencyMs: repaired.latencyMs, finishReason: repaired.finishReason))
            return .answer(value)
        case .failure(let p):
            await ledger.record(call(key, identity, status: .invalid, usage: repaired.usage, cost: cost(repaired, request),
                                     latencyMs: repaired.latencyMs, finishReason: repaired.finishReason, error: p.message))
            return .invalid(raw: repaired.text, reason: "\(p.message) (first answer: \(problem.message))")
        }
    }

    enum Sent {
        case done(Completion)
        case stopped(Enrichment.Outcome)
    }

    /// One provider request within the budget and the stage's concurrency. `reserved`: the
    /// estimate already reserved for it, or nil to reserve now (a refused reservation is nil too,
    /// after a failed `reserve`; the budget is then closed and refuses again).
    private func send(_ request: CompletionRequest, key: String, identity: RequestIdentity, reserved: Double?) async -> Sent {
        let estimate = reserved ?? estimatedCost(request)
        var allowed = reserved != nil
        if !allowed { allowed = await budget.reserve(estimate) }
        guard allowed else {
            let reason = await budget.stopReason ?? "budget reached"
            await ledger.record(call(key, identity, status: .skippedBudget, error: reason))
            return .stopped(.pending(reason))
        }
        await limit.acquire()
        let started = Date()
        do {
            var completion = try await provider.send(request)
            await limit.release()
            await budget.settle(reserved: estimate, actual: cost(completion, request))
            // Whatever the provider, no answer carries a secret into the records, rejects or cache.
            completion.text = Secret.redact(completion.text)
            return .done(completion)
        } catch {
            await limit.release()
            await budget.settle(reserved: estimate, actual: 0)
            let message = (error as? LLMError)?.description ?? (error is CancellationError ? "interrupted" : "\(error)")
            await ledger.record(call(key, identity, status: .error, latencyMs: Int(Date().timeIntervalSince(started) * 1000),
                                     error: message))
            return .stopped(.failed(message))
        }
    }

    private func store(_ key: String, _ completion: Completion) {
        // A cache that cannot be written costs a repeat call later, not this run.
        try? cache.store(key, CachedResponse(completion))
    }

    func estimatedCost(_ request: CompletionRequest) -> Double { requests.estimatedCost(request) }
    func cost(_ completion: Completion, _ request: CompletionRequest) -> Double { requests.cost(completion, request) }
}

/// The run's call records, and the answer of every question asked so far (so that identical
/// prompts in one run are sent once, with or without the cache).
actor EnrichLedger {
    private(set) var calls: [LLMCallRecord] = []
    private var answers: [String: Task<Enrichment.Outcome, Never>] = [:]

    func record(_ call: LLMCallRecord) { calls.append(call) }

    /// The task answering `key`: started with `fetch` the first time, shared after that (`shared` true).
    func task(for key: String, fetch: @escaping @Sendable () async -> Enrichment.Outcome) -> (Task<Enrichment.Outcome, Never>, shared: Bool) {
        if let task = answers[key] { return (task, true) }
        let task = Task { await fetch() }
        answers[key] = task
        return (task, false)
    }
}

/// Lets records through one at a time in input order: `wait(for: i)` returns once every record
/// before `i` has called `pass`. Every index passes exactly once, waiting or not.
actor Turnstile {
    private var next = 0
    private var early: Set<Int> = []
    private var waiting: [Int: CheckedContinuation<Void, Never>] = [:]

    func wait(for index: Int) async {
        if index <= next { return }
        await withCheckedContinuation { waiting[index] = $0 }
    }

    func pass(_ index: Int) {
        guard index == next else { early.insert(index); return }
        next += 1
        while early.remove(next) != nil { next += 1 }
        waiting.removeValue(forKey: next)?.resume()
    }
}
