import Foundation
import Lake
import LLM
import Pipeline
import Transport

/// One run of an enrich stage: reads the input records in order, asks for each one's answer
/// (cache, then provider, within the budget), and writes each record with its answer, in input order.
struct EnrichRun {
    typealias Settings = EnrichStage.EnrichSettings

    let settings: Settings
    let context: StageContext
    let provider: @Sendable () throws -> EnrichProvider

    /// Where a budget-stopped run leaves its run id (see `Definition.fingerprintExtra`).
    static func budgetStopMarker(lake: Lake, pipeline: String, stage: String) -> String {
        StageContext.stateFolder(lake: lake, pipeline: pipeline, stage: stage) + "/enrich-budget-stop"
    }

    /// The field a record carries when the budget stopped the run before its answer was asked for.
    static let pendingField = "enrich_pending"

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

    func run() async throws -> StageReport {
        let (output, outputType) = try context.singleRecordOutput(kind: "enrich")
        guard outputType.format == .jsonl else {
            throw StageError("an enrich stage writes JSON Lines (name its output .jsonl or .jsonl.gz): answers are nested objects")
        }
        let task = settings.task
        let asker: Asker?
        if task.usesModel {
            asker = try await Asker(settings: settings, provider: try provider(), context: context)
        } else {
            asker = nil
        }

        let rejects = RejectsFile(path: context.rejectsPath)
        let writer = try RecordWriter(path: output.absolute, type: outputType)
        var recordsIn = 0, enriched = 0, pending = 0, invalid = 0, rejectedMissing = 0
        let window = max(64, settings.concurrency * 8)
        do {
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
                            try writer.write(merge(value, into: record))
                            enriched += 1
                        case .pending(let reason):
                            var carried = record
                            carried[Self.pendingField] = .string(reason)
                            try writer.write(carried)
                            pending += 1
                        case .invalid(let raw, let reason):
                            if settings.onInvalid == .fail {
                                throw StageError("\(file):\(line): invalid answer from \(settings.provider.rawValue): \(reason) (on_invalid: fail)")
                            }
                            try rejects.add(RejectedRecord(file: file, line: line, reason: "invalid answer: \(reason)", raw: raw))
                            invalid += 1
                        case .rejected(let reason):
                            try rejects.add(RejectedRecord(file: file, line: line, reason: reason, raw: JSONValue.object(record).serialized()))
                            rejectedMissing += 1
                        case .failed(let message):
                            throw StageError("\(file):\(line): \(message); answers received so far are cached, so a rerun continues from here")
                        }
                        if nextWrite % 100 == 0 { context.progress(nextWrite) }
                    }
                }

                for file in context.allInputFiles {
                    let reader = try RecordReader(path: file.absolute, displayPath: file.relative)
                    while let record = try reader.next() {
                        recordsIn += 1
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
            try rejects.commit()
            try accept(recordsIn: recordsIn, enriched: enriched, invalid: invalid, rejectedMissing: rejectedMissing)
            try writer.commit()
        } catch {
            writer.abandon()
            rejects.abandon()
            throw error
        }
        context.progress(recordsIn, of: recordsIn)

        let calls = await asker?.ledger.calls ?? []
        let stopReason = await asker?.budget.stopReason
        var extra: [(String, JSONValue)] = [
            ("provider", .string(settings.provider.rawValue)), ("model", .string(asker?.model ?? "")),
            ("task", .string(task.name.rawValue)), ("records_pending", .int(Int64(pending))),
        ]
        if let stopReason {
            extra.append(("budget_stopped", .string(stopReason)))
            try AtomicFile.write(context.runID, to: Self.budgetStopMarker(lake: context.lake, pipeline: context.pipeline, stage: context.stage))
            context.logger.warning("budget reached: stopped sending; records left un-enriched for the next run", metadata: [
                "reason": "\(stopReason)", "pending": "\(pending)", "marker_field": "\(Self.pendingField)",
            ])
        }
        if invalid + rejectedMissing > 0 {
            context.logger.warning("records rejected", metadata: ["invalid": "\(invalid)", "missing_fields": "\(rejectedMissing)",
                                                                  "rejects": "\(context.rejectsPath.relative)"])
        }
        let sent = calls.filter { !$0.cacheHit && $0.status != .skippedBudget }.count
        let cost = calls.reduce(0) { $0 + $1.costUSD }
        context.logger.info("enrich finished", metadata: [
            "records": "\(recordsIn)", "enriched": "\(enriched)", "calls_sent": "\(sent)",
            "cache_hits": "\(calls.filter(\.cacheHit).count)", "cost_usd": "\(String(format: "%.6f", cost))",
        ])
        return StageReport(
            counts: ["records_in": recordsIn, "records_out": writer.recordCount, "enriched": enriched,
                     "pending_budget": pending, "budget_reached": stopReason == nil ? 0 : 1,
                     "rejected": invalid + rejectedMissing, "invalid": invalid,
                     "calls_sent": sent, "cache_hits": calls.filter(\.cacheHit).count],
            recordsPerOutput: [output.relative: writer.recordCount],
            details: task.usesModel ? LLMCallRecord.details(calls, extra: extra) : JSONValue?.none)
    }

    /// An enrich stage whose every answer was quarantined did not do its work; `max_rejects` sets another limit.
    func accept(recordsIn: Int, enriched: Int, invalid: Int, rejectedMissing: Int) throws {
        let rejected = invalid + rejectedMissing
        let listed = rejected > 0 ? context.rejectsPath.relative : nil
        if let limit = settings.maxRejects {
            try RejectLimit.check(limit, key: "max_rejects", bad: rejected, of: recordsIn, what: "records rejected", rejects: listed)
        } else if invalid > 0 && enriched == 0 {
            throw StageError("every answer was invalid and quarantined (\(invalid) of \(recordsIn) records) in \(listed ?? "")"
                             + "; check the prompt, the schema and the model, or set max_rejects to accept it; "
                             + "the previous output is kept")
        }
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
            throw StageError(error.message)
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
    let settings: EnrichStage.EnrichSettings
    let provider: EnrichProvider
    let model: String
    let systemPrompt: String
    let taskPrompt: PromptTemplate

    init(settings: EnrichStage.EnrichSettings, provider: EnrichProvider) throws {
        self.settings = settings
        self.provider = provider
        model = settings.model ?? provider.defaultModel
        systemPrompt = settings.task.system
        do { taskPrompt = try PromptTemplate(settings.task.prompt) } catch { throw StageError("task prompt: \(error.message)") }
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
    let settings: EnrichStage.EnrichSettings
    let requests: EnrichRequests
    let cache: ResponseCache
    let refresh: Bool
    let budget: Budget
    let ledger = EnrichLedger()
    let turnstile = Turnstile()
    let limit: ConcurrencyLimit

    var provider: EnrichProvider { requests.provider }
    var model: String { requests.model }

    init(settings: EnrichStage.EnrichSettings, provider: EnrichProvider, context: StageContext) async throws {
        self.settings = settings
        requests = try EnrichRequests(settings: settings, provider: provider)
        cache = ResponseCache(lake: context.lake)
        refresh = context.refreshCaches
        limit = ConcurrencyLimit(settings.concurrency)
        let model = requests.model
        let daily = provider.dailyCostLimit
        if (settings.budgetUSD != nil || daily != nil), provider.cost(model, TokenUsage(input: 1000, output: 1000)) == nil {
            throw StageError("no price for \(provider.kind.rawValue) model '\(model)' in the price table, so budget_usd or "
                             + "LLM_\(provider.kind.environmentName)_COST_LIMIT_DAILY cannot be enforced; add the model to the price table")
        }
        let spentToday = daily == nil ? 0 : LLMCallRecord.spend(in: context.lake, provider: provider.kind, day: Timestamp.day(Date()))
        budget = Budget(stageLimit: settings.budgetUSD, dailyLimit: daily, spentBefore: spentToday)
    }

    /// The outcome for the record at `index` (in input order) whose text is `text`.
    func answer(text: String, index: Int) async -> EnrichRun.Outcome {
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

    private func fetch(key: String, identity: RequestIdentity, prompt: String, text: String, index: Int) async -> EnrichRun.Outcome {
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
        case stopped(EnrichRun.Outcome)
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
    private var answers: [String: Task<EnrichRun.Outcome, Never>] = [:]

    func record(_ call: LLMCallRecord) { calls.append(call) }

    /// The task answering `key`: started with `fetch` the first time, shared after that (`shared` true).
    func task(for key: String, fetch: @escaping @Sendable () async -> EnrichRun.Outcome) -> (Task<EnrichRun.Outcome, Never>, shared: Bool) {
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
