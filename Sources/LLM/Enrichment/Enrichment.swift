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

    /// The providers asked, in order: the next is asked when one is down, out of budget or
    /// rate-limited past its deadline. Never empty.
    public let providers: [ProviderChoice]
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

    /// The first provider of the chain.
    public var provider: ProviderKind { providers[0].kind }

    public init(providers: [ProviderChoice], task: EnrichTask, template: PromptTemplate, into: String?,
                temperature: Double?, maxTokens: Int?, concurrency: Int, budgetUSD: Double?, cacheTTL: Double?,
                timeout: Double, onInvalid: InvalidPolicy, onMissing: MissingPolicy) {
        precondition(!providers.isEmpty, "an enrichment needs a provider")
        self.providers = providers
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

extension EnrichmentSettings {
    /// Settings with one provider.
    public init(provider: ProviderKind, model: String?, task: EnrichTask, template: PromptTemplate, into: String?,
                temperature: Double?, maxTokens: Int?, concurrency: Int, budgetUSD: Double?, cacheTTL: Double?,
                timeout: Double, onInvalid: InvalidPolicy, onMissing: MissingPolicy) {
        self.init(providers: [ProviderChoice(provider, model: model)], task: task, template: template, into: into,
                  temperature: temperature, maxTokens: maxTokens, concurrency: concurrency, budgetUSD: budgetUSD,
                  cacheTTL: cacheTTL, timeout: timeout, onInvalid: onInvalid, onMissing: onMissing)
    }
}

/// One provider of an enrichment's chain: its kind, and where the stage says so, its endpoint and model.
public struct ProviderChoice: Sendable, Equatable {
    public var kind: ProviderKind
    /// An endpoint other than the environment's (a vLLM, llama.cpp or LM Studio server speaking
    /// the OpenAI wire format, for `openai`). The environment's key is not sent to it.
    public var baseURL: String?
    /// The variable holding the key for `baseURL`'s server, when it wants one.
    public var apiKeyVariable: String?
    /// Nil: the provider's default model.
    public var model: String?

    public init(_ kind: ProviderKind, baseURL: String? = nil, apiKeyVariable: String? = nil, model: String? = nil) {
        self.kind = kind
        self.baseURL = baseURL
        self.apiKeyVariable = apiKeyVariable
        self.model = model
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
    /// Makes each provider of the chain when the run starts (a cleanup task needs none).
    public let provider: @Sendable (ProviderChoice) throws -> EnrichProvider

    public init(settings: Settings, lake: Lake, refreshCache: Bool,
                provider: @escaping @Sendable (ProviderChoice) throws -> EnrichProvider) {
        self.settings = settings
        self.lake = lake
        self.refreshCache = refreshCache
        self.provider = provider
    }

    /// The field a record carries when the budget stopped the run before its answer was asked for.
    public static let pendingField = "enrich_pending"
    /// The field naming the provider that answered, in the records of a stage with a provider chain.
    public static let providerField = "enrich_provider"

    /// What became of one record.
    enum Outcome: Sendable {
        /// The answer, and the provider that gave it (nil: no provider, a local task).
        case answer(JSONValue, ProviderKind?)
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
        /// Providers of the chain left out because they could not be used (switched off, no key), with the reason.
        public var unusable: [String] = []

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
        var summary = Summary()
        let asker: Asker?
        if task.usesModel {
            var made: [(ProviderChoice, EnrichProvider)] = []
            for choice in settings.providers {
                do {
                    made.append((choice, try provider(choice)))
                } catch {
                    // One provider alone must work; in a chain the others stand in for it.
                    if settings.providers.count == 1 { throw error }
                    summary.unusable.append("\(choice.kind.rawValue): \(error)")
                }
            }
            guard !made.isEmpty else {
                throw EnrichmentError("no provider of the chain can be used: " + summary.unusable.joined(separator: "; "))
            }
            asker = try await Asker(settings: settings, providers: made, lake: lake, refresh: refreshCache)
        } else {
            asker = nil
        }
        // Records are written in input order whatever the concurrency: the output does not depend on it.
        var written = 0
        func deliver(_ item: (record: JSONObject, file: String, line: Int, outcome: Outcome)) throws {
            let (record, file, line) = (item.record, item.file, item.line)
            written += 1
            switch item.outcome {
            case .answer(let value, let answeredBy):
                var enriched = merge(value, into: record)
                if settings.providers.count > 1, let answeredBy {
                    enriched[Self.providerField] = .string(answeredBy.rawValue)
                }
                try write(enriched)
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
            if written % 100 == 0 { progress(written) }
        }
        try await orderedConcurrentMap(window: max(64, settings.concurrency * 8), deliver: deliver) { submit in
            var index = 0
            for file in files {
                let reader = try RecordReader(path: file.absolute, displayPath: file.relative)
                while let record = try reader.next() {
                    summary.recordsIn += 1
                    let (line, name, at) = (reader.line, file.relative, index)
                    index += 1
                    try await submit {
                        (record, name, line, try await self.outcome(for: record, index: at, label: "\(name):\(line)", asker: asker))
                    }
                }
            }
        }
        summary.calls = await asker?.ledger.calls ?? []
        summary.stopReason = await asker?.stopReason()
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
            return .answer(.object(JSONObject([("cleaned_text", .string(TextCleanup.clean(text)))])), nil)
        }
        switch await asker.answer(text: text, index: index) {
        case .answer(let value, let answeredBy): return .answer(settings.task.completing(value, text: text), answeredBy)
        case let other: return other
        }
    }
}

/// How a record's text becomes a request and a cache key, for one provider and model.
struct EnrichRequests: Sendable {
    let settings: EnrichmentSettings
    let provider: EnrichProvider
    let model: String
    let systemPrompt: String
    let taskPrompt: PromptTemplate

    init(settings: EnrichmentSettings, choice: ProviderChoice, provider: EnrichProvider) throws {
        self.settings = settings
        self.provider = provider
        model = choice.model ?? provider.defaultModel
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

    /// The cache key's parts: the provider and its endpoint are among them, so that an answer from a
    /// fallback provider or another server is never taken for this one's.
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

/// Asks a chain of providers for answers: cache, in-run deduplication, budgets, concurrency,
/// validation and repair. The first provider is asked; the next one when it is down (transport
/// errors, 5xx or 429 after its retries, a Retry-After past the deadline) or past its daily cap.
/// A provider found down is not asked again in this run.
final class Asker: Sendable {
    /// One provider of the chain, with its daily cap.
    struct Member: Sendable {
        /// Its place in the chain.
        let place: Int
        let requests: EnrichRequests
        /// The provider's daily cap (`LLM_<P>_COST_LIMIT_DAILY`), if it has one.
        let budget: Budget
        var kind: ProviderKind { requests.provider.kind }
    }

    let settings: EnrichmentSettings
    let members: [Member]
    let cache: ResponseCache
    let refresh: Bool
    /// The stage's `budget_usd`, shared by the chain.
    let budget: Budget
    let ledger = EnrichLedger()
    let turnstile = Turnstile()
    let limit: ConcurrencyLimit
    let down = DownProviders()

    var model: String { members[0].requests.model }

    init(settings: EnrichmentSettings, providers: [(ProviderChoice, EnrichProvider)], lake: Lake, refresh: Bool) async throws {
        self.settings = settings
        cache = ResponseCache(lake: lake)
        self.refresh = refresh
        limit = ConcurrencyLimit(settings.concurrency)
        budget = Budget(stageLimit: settings.budgetUSD, dailyLimit: nil)
        var members: [Member] = []
        for (choice, provider) in providers {
            let requests = try EnrichRequests(settings: settings, choice: choice, provider: provider)
            let model = requests.model
            let daily = provider.dailyCostLimit
            if (settings.budgetUSD != nil || daily != nil), provider.cost(model, TokenUsage(input: 1000, output: 1000)) == nil {
                throw EnrichmentError("no price for \(provider.kind.rawValue) model '\(model)' in the price table, so budget_usd or "
                                      + "LLM_\(provider.kind.environmentName)_COST_LIMIT_DAILY cannot be enforced; add the model to the price table")
            }
            let day = Timestamp.day(Date())
            let spentToday = daily == nil ? 0 : LLMCallRecord.spend(in: lake, provider: provider.kind, day: day)
            // Under a queue the day's cap is every worker's: this provider's ledger of the day, in the queue.
            let sharedDaily = try daily.flatMap { cap in
                try Budget.sharedDailyCaps?.ledger(provider: provider.kind, day: day, cap: cap, spentBefore: spentToday)
            }
            members.append(Member(place: members.count, requests: requests,
                                  budget: Budget(stageLimit: nil, dailyLimit: daily, spentBefore: spentToday, sharedDaily: sharedDaily)))
        }
        self.members = members
    }

    /// Why sending stopped: the stage's budget, or every provider's daily cap; nil while one can still send.
    func stopReason() async -> String? {
        if let reason = await budget.stopReason { return reason }
        var reasons: [String] = []
        for member in members {
            guard let reason = await member.budget.stopReason else { return nil }
            reasons.append(members.count > 1 ? "\(member.kind.rawValue): \(reason)" : reason)
        }
        return reasons.joined(separator: "; ")
    }

    /// Which limit stopped sending, without a spend (what a record held back carries); nil while one can still send.
    func limitReached() async -> String? {
        if let reason = await budget.limitReached { return reason }
        var reasons: [String] = []
        for member in members {
            guard let reason = await member.budget.limitReached else { return nil }
            reasons.append(members.count > 1 ? "\(member.kind.rawValue): \(reason)" : reason)
        }
        return reasons.joined(separator: "; ")
    }

    /// The outcome for the record at `index` (in input order) whose text is `text`.
    func answer(text: String, index: Int) async -> Enrichment.Outcome {
        let prompt = members[0].requests.prompt(for: text)
        let identity = members[0].requests.identity(prompt: prompt)
        let key = identity.key
        let (task, shared) = await ledger.task(for: key) {
            await self.fetch(prompt: prompt, text: text, index: index)
        }
        if shared {
            await turnstile.pass(index)
            await ledger.record(call(members[0], key, identity, status: .cached, cacheHit: true, latencyMs: 0))
        }
        return await task.value
    }

    private func call(_ member: Member, _ key: String, _ identity: RequestIdentity, status: LLMCallRecord.Status,
                      usage: TokenUsage? = nil, cost: Double = 0, cacheHit: Bool = false, latencyMs: Int = 0,
                      finishReason: String? = nil, error: String? = nil) -> LLMCallRecord {
        LLMCallRecord(requestKey: key, provider: member.kind, model: member.requests.model, task: settings.task.name.rawValue,
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

    /// A place in the chain and the estimate reserved for its request.
    struct Reservation {
        let member: Int
        let estimate: Double
    }

    /// Reserves the estimate with the stage's budget and the first provider from `start` that is
    /// not down and whose daily cap allows it; nil when none can send (the record is left pending).
    private func reserve(prompt: String, text: String, from start: Int) async -> Reservation? {
        for i in members.indices where i >= start {
            if await down.contains(i) { continue }
            let estimate = members[i].requests.estimatedCost(members[i].requests.request(prompt: prompt, text: text))
            guard await budget.reserve(estimate) else { return nil }
            if await members[i].budget.reserve(estimate) { return Reservation(member: i, estimate: estimate) }
            await budget.settle(reserved: estimate, actual: 0)
        }
        return nil
    }

    private func fetch(prompt: String, text: String, index: Int) async -> Enrichment.Outcome {
        if !refresh {
            // Any provider of the chain that answered this question before: a rerun asks nothing.
            for member in members {
                let identity = member.requests.identity(prompt: prompt)
                if let hit = cache.lookup(identity.key, ttl: settings.cacheTTL), case .success(let value) = check(hit.text) {
                    await turnstile.pass(index)
                    await ledger.record(call(member, identity.key, identity, status: .cached, cacheHit: true,
                                             finishReason: hit.finishReason))
                    return .answer(value, member.kind)
                }
            }
        }
        // Reservations are made in input order, so that a budget stop leaves exactly the tail.
        await turnstile.wait(for: index)
        var reservation = await reserve(prompt: prompt, text: text, from: 0)
        await turnstile.pass(index)
        var failures: [String] = []
        while true {
            guard let reserved = reservation else {
                if await stopReason() == nil {
                    // Not the budget: every provider left is down.
                    return .failed(failures.isEmpty ? "every provider of the chain is down" : failures.joined(separator: "; "))
                }
                return await pending(prompt: prompt)
            }
            let member = members[reserved.member]
            let identity = member.requests.identity(prompt: prompt)
            let request = member.requests.request(prompt: prompt, text: text)
            switch await send(request, member: member, key: identity.key, identity: identity, reserved: reserved.estimate) {
            case .done(let completion):
                return await validate(completion, request: request, member: member, identity: identity)
            case .stopped(let outcome):
                return outcome
            case .providerDown:
                reservation = await reserve(prompt: prompt, text: text, from: reserved.member + 1)
            case .failed(let error, let message):
                failures.append(message)
                guard Self.isDown(error), reserved.member + 1 < members.count else {
                    return .failed(failures.joined(separator: "; then "))
                }
                reservation = await reserve(prompt: prompt, text: text, from: reserved.member + 1)
            }
        }
    }

    /// A record no provider could take for the budget: recorded as skipped, carried pending.
    private func pending(prompt: String) async -> Enrichment.Outcome {
        let reason = await limitReached() ?? "budget reached"
        let identity = members[0].requests.identity(prompt: prompt)
        await ledger.record(call(members[0], identity.key, identity, status: .skippedBudget, error: reason))
        return .pending(reason)
    }

    /// The answer checked against the schema; an invalid one is sent back once, to the same provider, for repair.
    private func validate(_ answer: Completion, request original: CompletionRequest, member: Member,
                          identity: RequestIdentity) async -> Enrichment.Outcome {
        let key = identity.key
        var request = original
        let problem: AnswerProblem
        switch check(answer.text) {
        case .success(let value):
            store(key, answer)
            await ledger.record(call(member, key, identity, status: .success, usage: answer.usage,
                                     cost: member.requests.cost(answer, request), latencyMs: answer.latencyMs,
                                     finishReason: answer.finishReason))
            return .answer(value, member.kind)
        case .failure(let p):
            problem = p
            await ledger.record(call(member, key, identity, status: .invalid, usage: answer.usage,
                                     cost: member.requests.cost(answer, request), latencyMs: answer.latencyMs,
                                     finishReason: answer.finishReason, error: p.message))
        }

        // One repair attempt: the conversation so far plus what was wrong.
        request.messages += [ChatMessage(.assistant, answer.text),
                             ChatMessage(.user, settings.task.repairMessage(problems: [problem.message]))]
        let repaired: Completion
        switch await send(request, member: member, key: key, identity: identity, reserved: nil) {
        case .done(let completion): repaired = completion
        case .stopped(let outcome): return outcome
        case .failed(_, let message): return .failed(message)
        case .providerDown: return .failed("\(member.kind.rawValue) went down before the repair request")
        }
        switch check(repaired.text) {
        case .success(let value):
            store(key, repaired)  // under the original question: a rerun asks nothing
            await ledger.record(call(member, key, identity, status: .success, usage: repaired.usage,
                                     cost: member.requests.cost(repaired, request), latencyMs: repaired.latencyMs,
                                     finishReason: repaired.finishReason))
            return .answer(value, member.kind)
        case .failure(let p):
            await ledger.record(call(member, key, identity, status: .invalid, usage: repaired.usage,
                                     cost: member.requests.cost(repaired, request), latencyMs: repaired.latencyMs,
                                     finishReason: repaired.finishReason, error: p.message))
            return .invalid(raw: repaired.text, reason: "\(p.message) (first answer: \(problem.message))")
        }
    }

    enum Sent {
        case done(Completion)
        case stopped(Enrichment.Outcome)
        case failed(any Error, String)
        /// Not sent: the provider was found down while this request waited its turn.
        case providerDown
    }

    /// One provider request within the budgets and the stage's concurrency. `reserved`: the
    /// estimate already reserved for it, or nil to reserve now (a refused reservation leaves the
    /// record pending; the budget is then closed and refuses again).
    private func send(_ request: CompletionRequest, member: Member, key: String, identity: RequestIdentity,
                      reserved: Double?) async -> Sent {
        let estimate = reserved ?? member.requests.estimatedCost(request)
        if reserved == nil {
            var allowed = await budget.reserve(estimate)
            if allowed {
                allowed = await member.budget.reserve(estimate)
                if !allowed { await budget.settle(reserved: estimate, actual: 0) }
            }
            guard allowed else {
                let stageReason = await budget.limitReached
                let memberReason = await member.budget.limitReached
                let reason = stageReason ?? memberReason ?? "budget reached"
                await ledger.record(call(member, key, identity, status: .skippedBudget, error: reason))
                return .stopped(.pending(reason))
            }
        }
        await limit.acquire()
        if members.count > 1, await down.contains(member.place) {
            await limit.release()
            await budget.settle(reserved: estimate, actual: 0)
            await member.budget.settle(reserved: estimate, actual: 0)
            return .providerDown
        }
        let started = Date()
        do {
            var completion = try await member.requests.provider.send(request)
            await limit.release()
            let cost = member.requests.cost(completion, request)
            await budget.settle(reserved: estimate, actual: cost)
            await member.budget.settle(reserved: estimate, actual: cost)
            // Whatever the provider, no answer carries a secret into the records, rejects or cache.
            completion.text = Secret.redact(completion.text)
            return .done(completion)
        } catch {
            if members.count > 1, Self.isDown(error) {
                await down.insert(member.place)  // before the slot is freed: the next request sees it
            }
            await limit.release()
            await budget.settle(reserved: estimate, actual: 0)
            await member.budget.settle(reserved: estimate, actual: 0)
            let message = (error as? LLMError)?.description ?? (error is CancellationError ? "interrupted" : "\(error)")
            await ledger.record(call(member, key, identity, status: .error,
                                     latencyMs: Int(Date().timeIntervalSince(started) * 1000), error: message))
            return .failed(error, message)
        }
    }

    /// A failure that hands the record to the next provider: down (transport, timeout, 5xx) or
    /// rate-limited past the deadline, after the retries.
    static func isDown(_ error: any Error) -> Bool {
        (error as? LLMError)?.isTransient == true
    }

    private func store(_ key: String, _ completion: Completion) {
        // A cache that cannot be written costs a repeat call later, not this run.
        try? cache.store(key, CachedResponse(completion))
    }
}

/// The providers of a chain found down in this run (by their place in the chain).
actor DownProviders {
    private var down: Set<Int> = []
    func insert(_ member: Int) { down.insert(member) }
    func contains(_ member: Int) -> Bool { down.contains(member) }
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
