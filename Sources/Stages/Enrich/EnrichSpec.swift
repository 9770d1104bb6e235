import LLM
import Lake
import Pipeline

extension EnrichStage {
    /// The `enrich` kind's settings: validation, fingerprint and docs/stages/enrich.md come from here.
    public static let spec = StageKindSpec(
        name: "enrich",
        summary: "add LLM (or offline rule) judgements to records: sentiment, summary, keywords, categories, custom JSON",
        outputs: .required,
        settings: [
            SettingSpec("from", .strings, label: "stages, paths or globs", required: true,
                        "Stages, paths or globs (JSONL or CSV)."),
            SettingSpec("task", .choice(EnrichTask.Name.allCases.map(\.rawValue)), required: true,
                        "What to ask; see the tasks below."),
            SettingSpec("provider", .custom("a provider name or a list of them"),
                        default: "`AGENTSHOP_LLM_PROVIDER`, else the store's `llm.default_provider`, else offline",
                        "Who answers (see `agentshop llm providers`): one of "
                        + ProviderKind.allCases.map { "`\($0.rawValue)`" }.joined(separator: ", ")
                        + ", or a fallback list (`[anthropic, openai, offline]`) asked in turn when one is down, out of "
                        + "budget or rate-limited past a deadline; records then note the one that answered in "
                        + "`enrich_provider`. `offline` is deterministic rules, not a language model."),
            SettingSpec("base_url", .string, label: "URL", default: "the provider's",
                        "The first provider's endpoint, for any OpenAI-compatible server (vLLM, llama.cpp, LM Studio); "
                        + "part of the cache key; no credentials or query in it. See docs/llm.md."),
            SettingSpec("api_key_env", .string, label: "variable name", default: "none", fingerprint: false,
                        "With `base_url`: the environment variable holding that server's key (the provider's usual key "
                        + "is never sent to a stage's own `base_url`)."),
            SettingSpec("model", .string, default: "the provider's default",
                        "`LLM_<P>_DEFAULT_MODEL` or the built-in default."),
            SettingSpec("text", .string, label: "template", default: "{{text}}",
                        "What a built-in task reads: a template, `{{field}}` and `{{a.b}}` from the record (strings bare, "
                        + "other values as JSON, `{{{{` for a literal `{{`)."),
            SettingSpec("prompt", .string, label: "template", default: "none",
                        "`custom` only, and required there: the prompt, a template over the record."),
            SettingSpec("schema", .custom("JSON Schema (a mapping)"), default: "none",
                        "`custom` only, and required there: the JSON Schema the answer must meet. The subset: `type`, "
                        + "`properties`, `required`, `additionalProperties: false`, `enum`, `items`, `minimum`/`maximum`, "
                        + "`minLength`/`maxLength`, `minItems`/`maxItems` (`title`, `description` ignored); any other "
                        + "keyword is refused."),
            SettingSpec("categories", .strings, default: "none", "`categorize` only, and required there: the list to choose from."),
            SettingSpec("rules", .mapping(of: "category: [keyword, …]"), default: "none",
                        "`categorize` only: the offline rules, and a hint in a model's prompt."),
            SettingSpec("length", .choice(EnrichTask.SummaryLength.allCases.map(\.rawValue)), default: "short",
                        "`summary` only: how long a summary."),
            SettingSpec("system", .string, default: "the task's", "Replaces the system prompt."),
            SettingSpec("into", .string, label: "field name", default: "merge",
                        "Nest the answer under this field; without it the answer's fields are merged into the record "
                        + "(and win over same-named fields)."),
            SettingSpec("temperature", .number(min: 0, max: 2), default: "the provider's", "Sent as given; part of the cache key."),
            SettingSpec("max_tokens", .integer(min: 1, max: 1_000_000), default: "the provider's",
                        "Sent as given; part of the cache key."),
            // Records are reserved and written in input order whatever the concurrency: the output does not depend on it.
            SettingSpec("concurrency", .integer(min: 1, max: 256), default: "4", fingerprint: false,
                        "Requests in flight for this stage (the provider's own limit, `LLM_<P>_MAX_CONCURRENCY`, applies "
                        + "too, shared by all stages of the process)."),
            SettingSpec("budget_usd", .number(min: 0), default: "none",
                        "The most this stage run may spend; records past it are written with `enrich_pending` and asked "
                        + "on the next run."),
            SettingSpec("cache_ttl", .duration, default: "forever", "`30d`, `12h`…: older cache entries are asked again."),
            SettingSpec("timeout", .duration, default: "60s", "One attempt."),
            SettingSpec("on_invalid", .choice(["quarantine", "fail"]), default: "quarantine",
                        "An answer that stays invalid: `quarantine` sends the record to the rejects file; `fail` stops the stage."),
            SettingSpec("on_missing", .choice(PromptTemplate.MissingField.allCases.map(\.rawValue) + ["reject"]),
                        default: "error",
                        "A record lacking a field the template uses: `error` stops the stage naming the record and the "
                        + "field; `empty` renders it as empty; `reject` sends the record to the rejects file."),
            SettingSpec("max_rejects", .custom("count or share"), default: "all answers",
                        "More rejected records (invalid answers and `on_missing: reject`) than this fails the stage without "
                        + "publishing its output: a count (`10`) or a share of the records read (`5%`, `0.05`). Unset, a run "
                        + "fails only when every answer was invalid and quarantined."),
        ])
}
