import Foundation
import Lake
import LLM
import Pipeline
import Store

/// `enrich`: adds an LLM's (or the offline rules') judgement to every record: sentiment, a summary,
/// keywords, a category, a content analysis, locally cleaned text, or a custom prompt and schema.
///
/// ```yaml
/// review_sentiment:
///   enrich:
///     from: reviews
///     provider: offline            # openai | anthropic | groq | perplexity | ollama | offline (default), or a fallback list [anthropic, openai, offline]
///     task: sentiment              # content_analysis | sentiment | summary | keywords | categorize | cleanup | custom
///     text: "{{title}}. {{text}}"  # what the task reads (default "{{text}}")
///     into: sentiment              # nest the answer under this field (default: merge its fields)
///     budget_usd: 1.0
///     max_rejects: 10%             # more rejected records fails the stage (default: only all of them)
///   out: processed_data/ml_datasets/reviews/dt={run_date}/sentiment.jsonl.gz
/// ```
///
/// Answers are checked against the task's JSON Schema; an invalid one is retried once with a
/// repair prompt, then the record goes to the rejects file with the raw answer. A run whose every
/// answer was quarantined fails (its output is not published) unless `max_rejects` allows it. Answers are cached
/// in `external_apis/llm_responses/cache`; every call is recorded in the manifest.
public enum EnrichStage {
    public static let kind = kind(providers: { choice, lake, environment, projectFolder in
        try ProviderCatalogue(environment: environment.variables, projectFolder: projectFolder).enrichProvider(choice, lake: lake)
    })

    /// The kind with another provider source (tests bind fakes).
    public static func kind(providers: @escaping EnrichProviderSource) -> StageKind {
        StageKind(spec: spec) { config, context in configure(config, context, providers: providers) }
    }

    static func configure(_ config: ConfigValue, _ context: StageConfigContext,
                          providers: @escaping EnrichProviderSource) -> (any StageDefinition)? {
        guard config.expectMapping() else { return nil }
        var ok = true
        let inputs = context.inputs(config.value("from", required: true))
        let chain = readProviders(config)
        if chain == nil { ok = false }
                let taskName = config.value("task", required: true)?.asChoice(EnrichTask.Name.allCases.map(\.rawValue))
            .flatMap(EnrichTask.Name.init)
        if config.value("task") != nil && taskName == nil { ok = false }

        // Task-specific keys: read them all so that misplaced ones get a clear message.
        let promptValue = config.value("prompt")
        let schemaValue = config.value("schema")
        let categoriesValue = config.value("categories")
        let lengthValue = config.value("length")
        let rulesValue = config.value("rules")
        let textValue = config.value("text")
        let system = config.string("system")

        var task: EnrichTask?
        switch taskName {
        case .custom?:
            if promptValue == nil { config.error("task custom needs 'prompt' (a template over the record, e.g. \"Rate {{name}}\")"); ok = false }
            if schemaValue == nil { config.error("task custom needs 'schema' (the JSON Schema its answer must meet)"); ok = false }
            if let textValue { textValue.error("'text' is for the built-in tasks; a custom task's prompt reads the record itself"); ok = false }
            if let promptText = promptValue?.asString(), let schemaValue, let schema = readSchema(schemaValue) {
                task = EnrichTask.custom(system: system, prompt: promptText, schema: schema)
            } else { ok = false }
        case .some(let name):
            if let promptValue { promptValue.error("'prompt' is for task custom; a built-in task builds its prompt from 'text'"); ok = false }
            if let schemaValue { schemaValue.error("'schema' is for task custom; task \(name.rawValue) has its own"); ok = false }
            if name != .categorize, let categoriesValue { categoriesValue.error("'categories' is for task categorize"); ok = false }
            if name != .summary, let lengthValue { lengthValue.error("'length' is for task summary"); ok = false }
            if name != .categorize, let rulesValue { rulesValue.error("'rules' is for task categorize"); ok = false }
            var categories: [String] = []
            if name == .categorize {
                if let list = categoriesValue?.asStrings() {
                    categories = list
                    if list.isEmpty { categoriesValue?.error("give at least one category"); ok = false }
                    if Set(list).count != list.count { categoriesValue?.error("a category is listed twice"); ok = false }
                    if list.contains(where: { $0.contains(",") }) { categoriesValue?.error("a category cannot hold a comma"); ok = false }
                } else {
                    if categoriesValue == nil { config.error("task categorize needs 'categories' (the list to choose from)") }
                    ok = false
                }
            }
            let length = lengthValue?.asChoice(EnrichTask.SummaryLength.allCases.map(\.rawValue))
                .flatMap(EnrichTask.SummaryLength.init) ?? .short
            if lengthValue != nil && lengthValue?.asString().flatMap(EnrichTask.SummaryLength.init) == nil { ok = false }
            var rules: [(category: String, keywords: [String])] = []
            if name == .categorize, let rulesValue, let entries = rulesValue.entries() {
                for (category, keywordsValue) in entries {
                    guard let keywords = keywordsValue.asStrings() else { ok = false; continue }
                    if !categories.isEmpty && !categories.contains(category) {
                        keywordsValue.error("'\(category)' is not one of the categories\(Suggestion.didYouMean(category, in: categories))")
                        ok = false
                    }
                    if keywords.contains(where: { $0.contains(",") || $0.contains(";") || $0.contains(":") }) {
                        keywordsValue.error("a keyword cannot hold ',', ';' or ':'")
                        ok = false
                    }
                    rules.append((category, keywords))
                }
            }
            let builtin = EnrichTask.builtin(name, length: length, categories: categories, rules: rules)
            task = system.map { EnrichTask(name: builtin.name, system: $0, prompt: builtin.prompt, schema: builtin.schema,
                                           options: builtin.options) } ?? builtin
            if name == .cleanup && chain?.contains(where: { $0.kind != .offline }) == true && config.value("provider") != nil {
                config.value("provider")?.warning("task cleanup runs locally; the provider is not called")
            }
        case nil: ok = false
        }

        // The record template: the prompt of a custom task, `text` of a built-in one.
        var recordTemplate: PromptTemplate?
        let templateValue = taskName == .custom ? promptValue : textValue
        let templateText = taskName == .custom ? task?.prompt : (textValue?.asString() ?? "{{text}}")
        if let templateText {
            do {
                recordTemplate = try PromptTemplate(templateText)
                if recordTemplate!.fields.isEmpty {
                    (templateValue ?? config).warning("the template reads no field of the record: every record gets the same answer")
                }
            } catch {
                if let templateValue, let offset = error.offset { templateValue.error(error.message, atOffset: offset) }
                else { (templateValue ?? config).error(error.message) }
                ok = false
            }
        }

        let into = config.string("into")
        if let into, into.isEmpty || into.contains(".") {
            config.value("into")?.error("expected a field name (no dots), found '\(into)'")
            ok = false
        }
        let temperature = config.double("temperature", min: 0, max: 2)
        let maxTokens = config.int("max_tokens", min: 1, max: 1_000_000)
        let concurrency = config.int("concurrency", min: 1, max: 256) ?? 4
        let budget = config.double("budget_usd", min: 0)
        let ttl = config.duration("cache_ttl")
        let timeout = config.duration("timeout") ?? 60
        let onInvalid = config.choice("on_invalid", EnrichmentSettings.InvalidPolicy.allCases.map(\.rawValue))
            .flatMap(EnrichmentSettings.InvalidPolicy.init) ?? .quarantine
        let onMissing = config.choice("on_missing", PromptTemplate.MissingField.allCases.map(\.rawValue) + ["reject"])
        var maxRejects: RejectLimit?
        if let value = config.value("max_rejects") {
            maxRejects = RejectLimit.read(value)
            if maxRejects == nil { ok = false }
        }
        guard ok, let inputs, let task, let recordTemplate, let chain else { return nil }
        let settings = EnrichmentSettings(
            providers: chain, task: task, template: recordTemplate, into: into,
            temperature: temperature, maxTokens: maxTokens, concurrency: concurrency, budgetUSD: budget, cacheTTL: ttl,
            timeout: timeout, onInvalid: onInvalid,
            onMissing: onMissing == "reject" ? .reject : (onMissing == "empty" ? .empty : .error))
        // A provider chosen by the environment or the store, not the file, enters the fingerprint here.
        let defaulted = config.value("provider") == nil ? config.environmentVariable(defaultProviderVariable) : nil
        return Definition(inputs: inputs, settings: settings, maxRejects: maxRejects, pipeline: context.pipeline, stage: context.stage,
                          projectFolder: context.projectFolder, providers: providers,
                          defaultedProviders: defaulted.map { _ in chain.map(\.kind.rawValue).joined(separator: ",") })
    }

    /// The variable naming the provider (or a comma-separated fallback list) of a stage that names none; the
    /// store's `llm.default_provider` gives it when neither the environment nor `.env` does.
    public static let defaultProviderVariable = "AGENTSHOP_LLM_PROVIDER"

    /// `provider` (one name or a fallback list, each checked at its position; without it,
    /// `AGENTSHOP_LLM_PROVIDER`'s, else `offline`), with `model`, `base_url` and `api_key_env` for the
    /// first; nil after reporting a problem.
    static func readProviders(_ config: ConfigValue) -> [ProviderChoice]? {
        let names = ProviderKind.allCases.map(\.rawValue)
        var kinds: [ProviderKind] = []
        var ok = true
        if let value = config.value("provider") {
            let items = value.isSequence ? value.asList() ?? [] : [value]
            if value.isSequence && items.isEmpty { value.error("name at least one provider"); ok = false }
            for item in items {
                guard let kind = item.asChoice(names).flatMap(ProviderKind.init) else { ok = false; continue }
                if kinds.dropFirst().contains(kind) || (kinds.first == kind && config.value("base_url") == nil) {
                    item.error("'\(kind.rawValue)' is listed twice")
                    ok = false
                }
                kinds.append(kind)
            }
        } else if let setting = config.environmentVariable(defaultProviderVariable) {
            // No provider in the stage: the environment's, .env's or the store's (llm.default_provider).
            let origin = "\(defaultProviderVariable) (environment, .env or the store's config_settings "
                + "\(StoreSettings.key(forVariable: defaultProviderVariable) ?? "")) names"
            for name in setting.split(separator: ",").map({ $0.trimmingCharacters(in: .whitespaces) }) {
                guard let kind = ProviderKind(rawValue: name) else {
                    config.error("no 'provider' here, and \(origin) '\(name)': expected one of \(names.joined(separator: ", "))"
                                 + Suggestion.didYouMean(name, in: names))
                    ok = false
                    continue
                }
                if kinds.contains(kind) { config.error("no 'provider' here, and \(origin) '\(name)' twice"); ok = false }
                kinds.append(kind)
            }
            if kinds.isEmpty && ok { config.error("no 'provider' here, and \(origin) no provider"); ok = false }
        } else {
            kinds = [.offline]
        }
        let model = config.string("model")
        var baseURL: String?
        if let value = config.value("base_url"), let text = value.asString() {
            if let first = kinds.first, first == .offline {
                value.error("the offline provider calls no server; 'base_url' is for the first provider of the stage")
                ok = false
            } else if let url = URL(string: text), url.user != nil || url.password != nil || url.query != nil {
                // Not echoed: what is in it may be a password.
                value.error("a base_url carries no credentials or query; put the server's key in a variable named by api_key_env")
                ok = false
            } else if let url = URL(string: text), ["http", "https"].contains(url.scheme?.lowercased() ?? ""), url.host != nil {
                baseURL = text
            } else {
                value.error("expected an http:// or https:// URL, e.g. http://127.0.0.1:8000/v1, found '\(text)'")
                ok = false
            }
        } else if config.value("base_url") != nil {
            ok = false
        }
        let keyVariable = config.string("api_key_env")
        if let keyValue = config.value("api_key_env") {
            if keyVariable == nil { ok = false }
            else if baseURL == nil && config.value("base_url") == nil {
                keyValue.error("'api_key_env' names the key for base_url's server; without base_url the environment's key is used")
                ok = false
            }
        }
        guard ok, !kinds.isEmpty else { return nil }
        var chain = kinds.map { ProviderChoice($0) }
        chain[0].model = model
        chain[0].baseURL = baseURL
        chain[0].apiKeyVariable = keyVariable
        return chain
    }

    static func readSchema(_ value: ConfigValue) -> JSONSchema? {
        guard value.expectMapping() else { return nil }
        do {
            let schema = try JSONSchema(value.jsonValue())
            if schema.types != ["object"] {
                value.error("the answer is one JSON object: the schema's type must be object")
                return nil
            }
            return schema
        } catch {
            value.error("invalid schema: \(error)")
            return nil
        }
    }

    struct Definition: StageDefinition {
        let inputs: [StageInput]
        let settings: EnrichmentSettings
        /// More rejected records than this fails the stage; unset, only every answer being quarantined does.
        let maxRejects: RejectLimit?
        let pipeline: String
        let stage: String
        let projectFolder: String
        let providers: EnrichProviderSource
        /// The chain when it came from `AGENTSHOP_LLM_PROVIDER` (or the store's setting), not the file.
        var defaultedProviders: String? = nil

        /// Where a budget-stopped run leaves its run id (see `fingerprintExtra`).
        static func budgetStopMarker(lake: Lake, pipeline: String, stage: String) -> String {
            StageContext.stateFolder(lake: lake, pipeline: pipeline, stage: stage) + "/enrich-budget-stop"
        }

        /// A run stopped by a budget writes its run id to a marker file that stays. The fingerprint
        /// includes it, so the next run differs from the stopped one and completes the records left
        /// (the done ones come from the cache); after that the marker is unchanged and the stage
        /// is up to date again.
        func fingerprintExtra(lake: Lake) throws -> String {
            let marker = Self.budgetStopMarker(lake: lake, pipeline: pipeline, stage: stage)
            let provider = defaultedProviders.map { "provider:" + $0 + ";" } ?? ""
            guard let text = try? String(contentsOfFile: marker, encoding: .utf8) else { return provider }
            return provider + "budget-stopped:" + text
        }

        /// The response cache, shared by every enrich stage: a killed run may leave a temporary there.
        func sideFolders(lake: Lake) -> [String] { [ResponseCache(lake: lake).folder] }

        func planNote(lake: Lake, inputs: [ResolvedInput]) -> String? {
            EnrichmentEstimate.note(settings: settings, lake: lake, files: inputs.flatMap(\.files), provider: {
                try provider(settings.providers[0], lake, PipelineEnvironment.load(dotEnvFiles: [projectFolder + "/.env"]))
            })
        }

        /// A provider of the chain, with its refusal (switched off, no key, a malformed variable) as a stage error.
        func provider(_ choice: ProviderChoice, _ lake: Lake, _ environment: PipelineEnvironment) throws -> EnrichProvider {
            do {
                return try providers(choice, lake, environment, projectFolder)
            } catch let error as StageError {
                throw error
            } catch {
                throw StageError("\(error)")
            }
        }

        func run(_ context: StageContext) async throws -> StageReport {
            if let queue = context.environment.variables[QueuedEnrich.queueVariable], !queue.isEmpty {
                return try await QueuedEnrich.coordinate(settings: settings, context: context, url: queue)
            }
            return try await runHere(context)
        }

        /// Enriches the stage's inputs in this process (a whole run, or one queue item in a worker).
        func runHere(_ context: StageContext) async throws -> StageReport {
            let (output, outputType) = try context.singleRecordOutput(kind: "enrich")
            guard outputType.format == .jsonl else {
                throw StageError("an enrich stage writes JSON Lines (name its output .jsonl or .jsonl.gz): answers are nested objects")
            }
            let enrichment = Enrichment(settings: settings, lake: context.lake, refreshCache: context.refreshCaches,
                                        provider: { try provider($0, context.lake, context.environment) })
            let rejects = RejectsFile(path: context.rejectsPath, stage: context.stage)
            let writer = try RecordWriter(path: output.absolute, type: outputType)
            let summary: Enrichment.Summary
            do {
                summary = try await writer.publish {
                    let summary = try await rejects.publish {
                        try await enrichment.run(files: context.allInputFiles, progress: { context.progress($0) },
                                                 write: { try writer.write($0) }, reject: { try rejects.add($0) })
                    }
                    try accept(summary, rejects: context.rejectsPath)
                    return summary
                }
            } catch let error as EnrichmentError {
                throw StageError(error.message)
            }
            context.progress(summary.recordsIn, of: summary.recordsIn)
            return try report(summary, output: output, records: writer.recordCount, context: context)
        }

        /// An enrich stage whose every answer was quarantined did not do its work; `max_rejects` sets another limit.
        func accept(_ summary: Enrichment.Summary, rejects: LakePath) throws {
            let listed = summary.rejected > 0 ? rejects.relative : nil
            if let maxRejects {
                try RejectLimit.check(maxRejects, key: "max_rejects", bad: summary.rejected, of: summary.recordsIn,
                                      what: "records rejected", rejects: listed)
            } else if summary.invalid > 0 && summary.enriched == 0 {
                throw StageError("every answer was invalid and quarantined (\(summary.invalid) of \(summary.recordsIn) records) in \(listed ?? "")"
                                 + "; check the prompt, the schema and the model, or set max_rejects to accept it; "
                                 + "the previous output is kept")
            }
        }

        /// The manifest's counts and call records; the budget-stop marker and the log lines.
        func report(_ summary: Enrichment.Summary, output: LakePath, records: Int, context: StageContext) throws -> StageReport {
            let task = settings.task
            var extra: [(String, JSONValue)] = [
                ("provider", .string(settings.provider.rawValue)), ("model", .string(summary.model ?? "")),
                ("task", .string(task.name.rawValue)), ("records_pending", .int(Int64(summary.pending))),
            ]
            if settings.providers.count > 1 {
                extra.append(("providers", .array(settings.providers.map { .string($0.kind.rawValue) })))
            }
            for unusable in summary.unusable {
                context.logger.warning("provider left out of the chain", metadata: ["reason": "\(unusable)"])
            }
            if let stopReason = summary.stopReason {
                extra.append(("budget_stopped", .string(stopReason)))
                try AtomicFile.write(context.runID, to: Self.budgetStopMarker(lake: context.lake, pipeline: pipeline, stage: stage))
                context.logger.warning("budget reached: stopped sending; records left un-enriched for the next run", metadata: [
                    "reason": "\(stopReason)", "pending": "\(summary.pending)", "marker_field": "\(Enrichment.pendingField)",
                ])
            }
            if summary.rejected > 0 {
                context.logger.warning("records rejected", metadata: [
                    "invalid": "\(summary.invalid)", "missing_fields": "\(summary.rejectedMissing)",
                    "rejects": "\(context.rejectsPath.relative)"])
            }
            context.logger.info("enrich finished", metadata: [
                "records": "\(summary.recordsIn)", "enriched": "\(summary.enriched)", "calls_sent": "\(summary.sent)",
                "cache_hits": "\(summary.cacheHits)", "cost_usd": "\(String(format: "%.6f", summary.costUSD))",
            ])
            return StageReport(
                counts: ["records_in": summary.recordsIn, "records_out": records, "enriched": summary.enriched,
                         "pending_budget": summary.pending, "budget_reached": summary.stopReason == nil ? 0 : 1,
                         "rejected": summary.rejected, "invalid": summary.invalid,
                         "calls_sent": summary.sent, "cache_hits": summary.cacheHits],
                recordsPerOutput: [output.relative: records],
                details: task.usesModel ? LLMCallRecord.details(summary.calls, extra: extra) : JSONValue?.none)
        }
    }
}

/// Makes a provider an enrich stage run uses (one per entry of its chain); a refusal (switched off,
/// no key) is an error the user can act on. Tests bind fakes.
public typealias EnrichProviderSource = @Sendable (_ choice: ProviderChoice, _ lake: Lake, _ environment: PipelineEnvironment,
                                                 _ projectFolder: String) throws -> EnrichProvider
