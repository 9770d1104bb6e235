import Foundation
import Lake
import LLM
import Pipeline

/// `enrich`: adds an LLM's (or the offline rules') judgement to every record: sentiment, a summary,
/// keywords, a category, a content analysis, locally cleaned text, or a custom prompt and schema.
///
/// ```yaml
/// review_sentiment:
///   enrich:
///     from: reviews
///     provider: offline            # openai | anthropic | groq | perplexity | ollama | offline (default)
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
    public static let kind = kind(providers: ProviderBindings.live)

    /// The kind with another provider source (tests bind fakes).
    public static func kind(providers: @escaping EnrichProviderSource) -> StageKind {
        StageKind(name: "enrich",
                  summary: "add LLM (or offline rule) judgements to records: sentiment, summary, keywords, categories, custom JSON",
                  outputs: .required) { config, context in
            configure(config, context, providers: providers)
        }
    }

    static func configure(_ config: ConfigValue, _ context: StageConfigContext,
                          providers: @escaping EnrichProviderSource) -> (any StageDefinition)? {
        guard config.expectMapping() else { return nil }
        var ok = true
        let inputs = context.inputs(config.value("from", required: true))
        let provider = config.choice("provider", ProviderKind.allCases.map(\.rawValue)).flatMap(ProviderKind.init) ?? .offline
        let model = config.string("model")
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
            if name == .cleanup && provider != .offline && config.value("provider") != nil {
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
        let onInvalid = config.choice("on_invalid", InvalidPolicy.allCases.map(\.rawValue)).flatMap(InvalidPolicy.init) ?? .quarantine
        let onMissing = config.choice("on_missing", PromptTemplate.MissingField.allCases.map(\.rawValue) + ["reject"])
        var maxRejects: RejectLimit?
        if let value = config.value("max_rejects") {
            maxRejects = RejectLimit.read(value)
            if maxRejects == nil { ok = false }
        }
        config.rejectUnknownKeys()
        guard ok, let inputs, let task, let recordTemplate else { return nil }
        let settings = EnrichSettings(
            provider: provider, model: model, task: task, template: recordTemplate, into: into,
            temperature: temperature, maxTokens: maxTokens, concurrency: concurrency, budgetUSD: budget, cacheTTL: ttl,
            timeout: timeout, onInvalid: onInvalid,
            onMissing: onMissing == "reject" ? .reject : (onMissing == "empty" ? .empty : .error), maxRejects: maxRejects)
        return Definition(inputs: inputs, settings: settings, pipeline: context.pipeline, stage: context.stage,
                          projectFolder: context.projectFolder, providers: providers)
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

    /// What happens to a record whose answer stays invalid after the repair attempt.
    enum InvalidPolicy: String, CaseIterable, Sendable {
        /// To the rejects file with the raw answer and the reason; the run goes on.
        case quarantine
        /// The stage fails.
        case fail
    }

    enum MissingPolicy: Sendable {
        case error, empty, reject
    }

    struct EnrichSettings: Sendable {
        let provider: ProviderKind
        let model: String?
        let task: EnrichTask
        let template: PromptTemplate
        let into: String?
        let temperature: Double?
        let maxTokens: Int?
        let concurrency: Int
        let budgetUSD: Double?
        let cacheTTL: Double?
        let timeout: Double
        let onInvalid: InvalidPolicy
        let onMissing: MissingPolicy
        /// More rejected records than this fails the stage; unset, only every answer being quarantined does.
        var maxRejects: RejectLimit? = nil
    }

    struct Definition: StageDefinition {
        let inputs: [StageInput]
        let settings: EnrichSettings
        let pipeline: String
        let stage: String
        let projectFolder: String
        let providers: EnrichProviderSource

        /// A run stopped by a budget writes its run id to a marker file that stays. The fingerprint
        /// includes it, so the next run differs from the stopped one and completes the records left
        /// (the done ones come from the cache); after that the marker is unchanged and the stage
        /// is up to date again.
        func fingerprintExtra(lake: Lake) throws -> String {
            let marker = EnrichRun.budgetStopMarker(lake: lake, pipeline: pipeline, stage: stage)
            guard let text = try? String(contentsOfFile: marker, encoding: .utf8) else { return "" }
            return "budget-stopped:" + text
        }

        /// The response cache, shared by every enrich stage: a killed run may leave a temporary there.
        func sideFolders(lake: Lake) -> [String] { [ResponseCache(lake: lake).folder] }

        func planNote(lake: Lake, inputs: [ResolvedInput]) -> String? {
            EnrichPlan.note(settings: settings, lake: lake, files: inputs.flatMap(\.files),
                            provider: { try providers(settings.provider, lake, PipelineEnvironment.load(dotEnvFiles: [projectFolder + "/.env"]), projectFolder) })
        }

        func run(_ context: StageContext) async throws -> StageReport {
            if let queue = context.environment.variables[QueuedEnrich.queueVariable], !queue.isEmpty {
                return try await QueuedEnrich.coordinate(settings: settings, context: context, url: queue)
            }
            return try await EnrichRun(settings: settings, context: context,
                                provider: { try providers(settings.provider, context.lake, context.environment, projectFolder) }).run()
        }
    }
}
