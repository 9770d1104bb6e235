import ArgumentParser
import Foundation
import Lake
import LLM
import Transport

/// `agentshop llm`: the providers, their switches and health, one-off prompts, comparisons and spending.
struct LLMCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "llm",
        abstract: "LLM providers: list, enable/disable, test, compare, health, usage, prices.",
        discussion: """
        Keys come from the environment or .env (OPENAI_API_KEY, ANTHROPIC_API_KEY, GROQ_API_KEY, \
        PERPLEXITY_API_KEY, or LLM_<PROVIDER>_API_KEY); OLLAMA_HOST points at Ollama. `offline` is \
        rule-based and is not a language model: it answers the built-in tasks (--task), not free prompts.

        Examples:
          agentshop llm providers
          agentshop llm test 'Great product!' --task sentiment
        """,
        subcommands: [Providers.self, Enable.self, Disable.self, Test.self, Compare.self, Health.self, Usage.self,
                      Prices.self],
        defaultSubcommand: Providers.self
    )

    /// What every `llm` subcommand resolves: the provider catalogue (environment over .env), its
    /// configurations and the switches in the lake.
    struct Context {
        let lake: Lake
        let catalogue: ProviderCatalogue
        let configurations: [ProviderKind: ProviderConfiguration]
        let switches: ProviderSwitches

        init(_ global: GlobalOptions) throws {
            lake = try global.openLake(mustExist: false)
            catalogue = ProviderCatalogue(environment: global.environment(projectFolder: nil).variables,
                                          projectFolder: FileManager.default.currentDirectoryPath)
            do {
                configurations = Dictionary(uniqueKeysWithValues: try catalogue.configurations().map { ($0.kind, $0) })
                switches = try ProviderSwitches.load(lake: lake)
            } catch {
                Console.error("\(error)")
                throw ExitStatus.invalidInput
            }
        }

        func prices() throws -> PriceTable {
            do {
                return try catalogue.prices()
            } catch {
                Console.error("\(error)")
                throw ExitStatus.invalidInput
            }
        }

        /// The provider named `name`, refused with a clear message (exit 2) when unknown, disabled or without a key.
        func provider(_ name: String) throws -> (any LLMProvider, ProviderConfiguration) {
            let configuration = configurations[try LLMCommand.parseKind(name)]!
            do {
                return (try catalogue.provider(configuration, switches: switches), configuration)
            } catch {
                Console.error(Secret.redact("\(error)"))
                throw ExitStatus.invalidInput
            }
        }
    }

    static func parseKind(_ name: String) throws -> ProviderKind {
        guard let kind = ProviderKind(rawValue: name.lowercased()) else {
            Console.error("unknown provider '\(name)' (known: \(ProviderKind.allCases.map(\.rawValue).joined(separator: ", ")))")
            throw ExitStatus.invalidInput
        }
        return kind
    }

    static func usd(_ value: Double?) -> String {
        guard let value else { return "?" }
        return value == 0 ? "$0" : String(format: "$%.6f", value)
    }

    /// Options shared by `test` and `compare`: the request sent.
    struct RequestOptions: ParsableArguments {
        @Option(help: "A system prompt.")
        var system: String?

        @Option(help: ArgumentHelp("A built-in task for the offline provider ("
                                       + OfflineProvider.tasks.joined(separator: ", ") + "): the prompt is then the text.",
                                   valueName: "task"))
        var task: String?

        @Option(name: .customLong("option"),
                help: ArgumentHelp("A task option, e.g. length=short or categories=a,b (repeatable).", valueName: "key=value"))
        var options: [String] = []

        @Option(help: "Output token cap.")
        var maxTokens: Int?

        @Option(help: "Sampling temperature.")
        var temperature: Double?

        @Flag(help: "Ask for a JSON object (response_format / format: json).")
        var jsonOutput = false

        @Option(help: ArgumentHelp("One attempt: seconds, or 30s, 2m.", valueName: "duration"))
        var timeout = Seconds(60)

        func request(prompt: String, model: String) throws -> CompletionRequest {
            var parsed: [String: String] = [:]
            for option in options {
                guard let eq = option.firstIndex(of: "=") else {
                    Console.error("--option takes key=value, found '\(option)'")
                    throw ExitStatus.invalidInput
                }
                parsed[String(option[..<eq])] = String(option[option.index(after: eq)...])
            }
            return CompletionRequest(model: model, system: system, messages: [ChatMessage(.user, prompt)],
                                     temperature: temperature, maxTokens: maxTokens, jsonOutput: jsonOutput,
                                     timeout: timeout.value, intent: task.map { TaskIntent(task: $0, text: prompt, options: parsed) })
        }
    }

    struct Providers: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            commandName: "providers",
            abstract: "List providers: enabled, configured, default model, endpoint, limits, last health check.",
            discussion: "Examples:\n  agentshop llm providers\n  agentshop llm providers --json")

        @OptionGroup var global: GlobalOptions

        func run() async throws {
            let context = try Context(global)
            let health = ProviderHealthLog.load(lake: context.lake)
            struct Row: Encodable {
                let provider: String, enabled: Bool, configured: Bool, default_model: String, base_url: String
                let requests_per_minute: Int?, tokens_per_minute: Int?, daily_cost_limit_usd: Double?, max_concurrency: Int
                let health: String?, health_checked_at: String?
            }
            var rows: [Row] = []
            for kind in ProviderKind.allCases {
                let c = context.configurations[kind]!
                let h = health.entries[kind]
                rows.append(Row(provider: kind.rawValue, enabled: context.switches.isEnabled(kind), configured: c.isConfigured,
                                default_model: c.defaultModel, base_url: c.baseURL, requests_per_minute: c.requestsPerMinute,
                                tokens_per_minute: c.tokensPerMinute, daily_cost_limit_usd: c.dailyCostLimitUSD,
                                max_concurrency: c.maxConcurrency, health: h.map { "\($0.status): \($0.detail)" },
                                health_checked_at: h?.checkedAt))
            }
            if global.json { Console.json(rows); return }
            var table = [["PROVIDER", "ENABLED", "CONFIGURED", "DEFAULT MODEL", "ENDPOINT", "LIMITS", "HEALTH"]]
            for (kind, row) in zip(ProviderKind.allCases, rows) {
                let key = kind.needsKey ? (row.configured ? "key set" : "no key (\(kind.keyVariable ?? ""))")
                    : kind == .ollama && !row.configured ? "OLLAMA_HOST not set" : "no key needed"
                var limits: [String] = []
                if let rpm = row.requests_per_minute { limits.append("\(rpm) rpm") }
                if let tpm = row.tokens_per_minute { limits.append("\(tpm) tpm") }
                if let cap = row.daily_cost_limit_usd { limits.append(String(format: "$%.2f/day", cap)) }
                limits.append("\(row.max_concurrency) at once")
                let checked = health.entries[kind].map { "\($0.status) \($0.checkedAt.prefix(16))" } ?? "not checked"
                table.append([kind.rawValue, row.enabled ? "yes" : "no", key, row.default_model,
                              kind == .offline ? "(rules, no network)" : row.base_url, limits.joined(separator: ", "), checked])
            }
            Console.out(Console.table(table))
        }
    }

    struct Enable: AsyncParsableCommand {
        static let configuration = CommandConfiguration(commandName: "enable", abstract: "Switch a provider on.",
            discussion: "Examples:\n  agentshop llm enable openai")
        @OptionGroup var global: GlobalOptions
        @Argument(help: "The provider.") var provider: String
        func run() async throws { try LLMCommand.setEnabled(provider, true, global) }
    }

    struct Disable: AsyncParsableCommand {
        static let configuration = CommandConfiguration(commandName: "disable",
                                                        abstract: "Switch a provider off: enrich, test and compare refuse it.",
            discussion: "Examples:\n  agentshop llm disable groq")
        @OptionGroup var global: GlobalOptions
        @Argument(help: "The provider.") var provider: String
        func run() async throws { try LLMCommand.setEnabled(provider, false, global) }
    }

    static func setEnabled(_ name: String, _ on: Bool, _ global: GlobalOptions) throws {
        let kind = try parseKind(name)
        let lake = try global.openLake()
        var switches: ProviderSwitches
        do {
            switches = try ProviderSwitches.load(lake: lake)
            switches.set(kind, enabled: on)
            try switches.save(lake: lake)
        } catch {
            Console.error("\(error)")
            throw ExitStatus.invalidInput
        }
        ProviderStatusSync.update(lake: lake, environment: global.environment(projectFolder: nil).variables)
        Console.out("\(kind.rawValue) \(on ? "enabled" : "disabled")")
    }

    struct Test: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            commandName: "test", abstract: "Send one prompt to one provider and show the answer, tokens, latency and cost.",
            discussion: "Exit status 1 when the call fails.\n\nExamples:\n  agentshop llm test 'Great product!' --task sentiment\n  agentshop llm test 'Say hi' --provider ollama --model llama3.2:1b")

        @OptionGroup var global: GlobalOptions
        @Argument(help: "The prompt (for offline with --task: the text).") var prompt: String
        @Option(help: "The provider.") var provider: String = "offline"
        @Option(help: "The model (default: the provider's default model).") var model: String?
        @OptionGroup var request: RequestOptions

        func run() async throws {
            let context = try Context(global)
            let prices = try context.prices()
            let (llm, configuration) = try context.provider(provider)
            let outcome = await ProviderComparison.ask(llm, try request.request(prompt: prompt, model: model ?? configuration.defaultModel),
                                                       prices: prices)
            if global.json {
                Console.json(outcome)
            } else if let error = outcome.error {
                Console.error(error)
            } else {
                Console.out("provider  \(outcome.provider)")
                Console.out("model     \(outcome.model)")
                Console.out("latency   \(outcome.latencyMs)ms (\(outcome.attempts) attempt\(outcome.attempts == 1 ? "" : "s"))")
                Console.out("tokens    \(outcome.tokensIn.map(String.init) ?? "?") in, \(outcome.tokensOut.map(String.init) ?? "?") out")
                Console.out("cost      \(LLMCommand.usd(outcome.costUSD))")
                if let finish = outcome.finishReason { Console.out("finish    \(finish)") }
                for citation in outcome.citations { Console.out("source    \(citation)") }
                Console.out("")
                Console.out(outcome.output)
            }
            if outcome.error != nil { throw ExitStatus.runFailed }
        }
    }

    struct Compare: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            commandName: "compare",
            abstract: "Send one prompt to several providers at once; a table of latency, tokens, cost and output.",
            discussion: "Exit status 1 when every provider failed.\n\nExamples:\n  agentshop llm compare 'Summarise: …' --providers openai,groq:llama-3.3-70b-versatile")

        @OptionGroup var global: GlobalOptions
        @Argument(help: "The prompt.") var prompt: String
        @Option(help: ArgumentHelp("Providers, each optionally with a model: openai,groq:llama-3.3-70b-versatile,ollama:llama3.2:1b.",
                                   valueName: "list"))
        var providers: String
        @Option(help: "Characters of each output shown in the table.") var width: Int = 60
        @OptionGroup var request: RequestOptions

        func run() async throws {
            let context = try Context(global)
            let prices = try context.prices()
            var calls: [(provider: any LLMProvider, request: CompletionRequest)] = []
            for item in providers.split(separator: ",").map({ $0.trimmingCharacters(in: .whitespaces) }) where !item.isEmpty {
                let parts = item.split(separator: ":", maxSplits: 1).map(String.init)
                let (llm, configuration) = try context.provider(parts[0])
                let model = parts.count > 1 ? parts[1] : configuration.defaultModel
                calls.append((llm, try request.request(prompt: prompt, model: model)))
            }
            guard !calls.isEmpty else {
                Console.error("--providers names no provider")
                throw ExitStatus.invalidInput
            }
            let outcomes = await ProviderComparison.run(calls, prices: prices)
            if global.json {
                Console.json(outcomes)
            } else {
                var table = [["PROVIDER", "MODEL", "STATUS", "LATENCY", "IN", "OUT", "COST", "OUTPUT"]]
                for o in outcomes {
                    let text = (o.error ?? o.output).split(whereSeparator: \.isNewline).joined(separator: " ")
                    let shown = text.count > width ? String(text.prefix(max(1, width - 1))) + "…" : text
                    table.append([o.provider, o.model, o.status, "\(o.latencyMs)ms", o.tokensIn.map(String.init) ?? "",
                                  o.tokensOut.map(String.init) ?? "", o.status == "ok" ? LLMCommand.usd(o.costUSD) : "", shown])
                }
                Console.out(Console.table(table))
            }
            if outcomes.allSatisfy({ $0.status != "ok" }) { throw ExitStatus.runFailed }
        }
    }

    struct Health: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            commandName: "health",
            abstract: "Check each enabled, configured provider with a cheap request (a model list or a one-token completion).",
            discussion: "Exit status 1 when a check fails. Results are kept for `llm providers` when the lake exists, and in the store's llm_provider_status when the store exists.\n\nExamples:\n  agentshop llm health\n  agentshop llm health --timeout 3 --json")

        @OptionGroup var global: GlobalOptions
        @Option(help: ArgumentHelp("Each check: seconds, or 3s, 500ms.", valueName: "duration")) var timeout = Seconds(10)

        func run() async throws {
            let context = try Context(global)
            let rows = await ProviderHealth.checkAndRecord(ProviderKind.allCases.map { context.configurations[$0]! },
                                                           switches: context.switches, timeout: timeout.value, lake: context.lake)
            ProviderStatusSync.update(lake: context.lake, environment: context.catalogue.environment)
            if global.json {
                struct Row: Encodable { let provider: String, status: String, latency_ms: Int?, detail: String }
                Console.json(rows.map {
                    Row(provider: $0.kind.rawValue, status: $0.status, latency_ms: $0.latencyMs, detail: $0.detail)
                })
            } else {
                var table = [["PROVIDER", "STATUS", "LATENCY", "DETAIL"]]
                for row in rows { table.append([row.kind.rawValue, row.status, row.latencyMs.map { "\($0)ms" } ?? "", row.detail]) }
                Console.out(Console.table(table))
            }
            if rows.contains(where: { $0.status == "fail" }) { throw ExitStatus.runFailed }
        }
    }

    struct Usage: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            commandName: "usage",
            abstract: "LLM calls, tokens and cost by day, provider and model, from the run manifests.",
            discussion: "Examples:\n  agentshop llm usage\n  agentshop llm usage --days 7 --provider openai")

        @OptionGroup var global: GlobalOptions
        @Option(help: "The last N days (UTC), today included.") var days: Int = 30
        @Option(help: "Only this provider.") var provider: String?

        func run() async throws {
            guard days > 0 else {
                Console.error("--days takes a positive number")
                throw ExitStatus.invalidInput
            }
            if let provider { _ = try LLMCommand.parseKind(provider) }
            let lake = try global.openLake()
            let (manifests, unreadable) = ManifestStore(lake: lake).all()
            for path in unreadable { Console.error("warning: unreadable manifest \(path)") }
            let today = Timestamp.parse(Timestamp.day(Date()) + "T00:00:00Z") ?? Date()
            let since = today.addingTimeInterval(-Double(days - 1) * 86_400)
            let report = UsageReport.from(manifests, since: since, provider: provider?.lowercased())
            if global.json { Console.json(report.rows); return }
            guard !report.rows.isEmpty else {
                Console.out("no LLM calls in the last \(days) day\(days == 1 ? "" : "s")")
                return
            }
            var table = [["DAY", "PROVIDER", "MODEL", "CALLS", "CACHED", "FAILED", "TOKENS IN", "TOKENS OUT", "COST", "AVG LATENCY"]]
            for r in report.rows {
                table.append([r.day, r.provider, r.model, "\(r.calls)", "\(r.cached)", "\(r.failed)", "\(r.tokensIn)",
                              "\(r.tokensOut)", String(format: "$%.6f", r.costUSD), r.averageLatencyMs.map { "\($0)ms" } ?? ""])
            }
            table.append(["total", "", "", "\(report.totalCalls)", "\(report.rows.reduce(0) { $0 + $1.cached })",
                          "\(report.rows.reduce(0) { $0 + $1.failed })", "\(report.rows.reduce(0) { $0 + $1.tokensIn })",
                          "\(report.rows.reduce(0) { $0 + $1.tokensOut })", String(format: "$%.6f", report.totalCostUSD), ""])
            Console.out(Console.table(table))
        }
    }

    struct Prices: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            commandName: "prices",
            abstract: "The price table in use (USD per 1M tokens): shipped, under AGENTSHOP_LLM_PRICES or pipelines/llm_prices.json.",
            discussion: "--json prints it in the file format, a starting point for an override file.\n\nExamples:\n  agentshop llm prices\n  agentshop llm prices --json")

        @OptionGroup var global: GlobalOptions

        func run() async throws {
            let context = try Context(global)
            let table = try context.prices()
            if global.json { Console.out(table.json()); return }
            var rows = [["PROVIDER", "MODEL", "INPUT /1M", "OUTPUT /1M"]]
            for kind in table.prices.keys.sorted() {
                for (model, price) in table.prices[kind]!.sorted(by: { $0.key < $1.key }) {
                    rows.append([kind.rawValue, model, String(format: "$%.3f", price.inputPerMillion),
                                 String(format: "$%.3f", price.outputPerMillion)])
                }
            }
            Console.out(Console.table(rows))
            let overrides = table.overridePath.map { ", with overrides from \($0)" } ?? ""
            Console.out("prices as of \(table.asOf ?? "?")" + overrides)
        }
    }
}
