import Foundation
import Lake
import LLM
import Pipeline
import Stages
import Testing

private let out = "processed_data/ml_datasets/reviews/dt={run_date}/sentiment.jsonl"
private let outFile = "processed_data/ml_datasets/reviews/dt=2026-01-02/sentiment.jsonl"

private func pipeline(_ enrich: String) -> String {
    """
    pipeline: p
    stages:
      scored:
        enrich: { from: raw_data/imports/reviews.jsonl, \(enrich) }
        out: \(out)
    """
}

@Suite struct EnrichConfigTests {
    @Test(arguments: [
        ("enrich: { from: raw_data/imports/r.jsonl }", "4:13: stages.scored.enrich: missing required key 'task'"),
        ("enrich: { from: raw_data/imports/r.jsonl, task: sentimnet }",
         "4:53: stages.scored.enrich.task: expected one of content_analysis, sentiment, summary, keywords, categorize, cleanup, custom, found 'sentimnet' (did you mean 'sentiment'?)"),
        ("enrich: { from: raw_data/imports/r.jsonl, task: custom, prompt: \"Rate {{name}}\" }",
         "4:13: stages.scored.enrich: task custom needs 'schema' (the JSON Schema its answer must meet)"),
        ("enrich: { from: raw_data/imports/r.jsonl, task: custom, prompt: \"Rate {{name}}\", schema: { type: object, pattern: x } }",
         "4:94: stages.scored.enrich.schema: invalid schema: pattern: unsupported keyword 'pattern'"),
        ("enrich: { from: raw_data/imports/r.jsonl, task: custom, prompt: \"x {{a\", schema: { type: object } }",
         "4:72: stages.scored.enrich.prompt: '{{' without a closing '}}'"),
        ("enrich: { from: raw_data/imports/r.jsonl, task: categorize }",
         "4:13: stages.scored.enrich: task categorize needs 'categories' (the list to choose from)"),
        ("enrich: { from: raw_data/imports/r.jsonl, task: sentiment, length: short }",
         "4:72: stages.scored.enrich.length: 'length' is for task summary"),
        ("enrich: { from: raw_data/imports/r.jsonl, task: sentiment, schema: { type: object } }",
         "4:72: stages.scored.enrich.schema: 'schema' is for task custom; task sentiment has its own"),
        ("enrich: { from: raw_data/imports/r.jsonl, task: sentiment, into: a.b }",
         "4:70: stages.scored.enrich.into: expected a field name (no dots), found 'a.b'"),
        ("enrich: { from: raw_data/imports/r.jsonl, task: sentiment, provider: gemini }",
         "4:74: stages.scored.enrich.provider: expected one of offline, openai, anthropic, ollama, groq, perplexity, found 'gemini'"),
        ("enrich: { from: raw_data/imports/r.jsonl, task: sentiment, budget: 3 }",
         "4:64: stages.scored.enrich.budget: unknown key 'budget'"),
        ("enrich: { from: raw_data/imports/r.jsonl, task: categorize, categories: [a, b], rules: { c: [x] } }",
         "4:97: stages.scored.enrich.rules.c: 'c' is not one of the categories"),
        ("enrich: { from: raw_data/imports/r.jsonl, task: summary, length: tiny }",
         "4:70: stages.scored.enrich.length: expected one of short, medium, long, found 'tiny'"),
        ("enrich: { from: raw_data/imports/r.jsonl, task: sentiment, provider: [openai, chatgpt] }",
         "4:83: stages.scored.enrich.provider.1: expected one of offline, openai, anthropic, ollama, groq, perplexity, found 'chatgpt'"),
        ("enrich: { from: raw_data/imports/r.jsonl, task: sentiment, provider: [openai, anthropic, openai] }",
         "4:94: stages.scored.enrich.provider.2: 'openai' is listed twice"),
        ("enrich: { from: raw_data/imports/r.jsonl, task: sentiment, provider: openai, base_url: \"ftp://h/v1\" }",
         "4:92: stages.scored.enrich.base_url: expected an http:// or https:// URL"),
        ("enrich: { from: raw_data/imports/r.jsonl, task: sentiment, base_url: \"http://h/v1\" }",
         "4:74: stages.scored.enrich.base_url: the offline provider calls no server"),
        ("enrich: { from: raw_data/imports/r.jsonl, task: sentiment, provider: openai, base_url: \"http://u:sk-pw@h/v1\" }",
         "4:92: stages.scored.enrich.base_url: a base_url carries no credentials or query"),
        ("enrich: { from: raw_data/imports/r.jsonl, task: sentiment, provider: openai, api_key_env: K }",
         "4:95: stages.scored.enrich.api_key_env: 'api_key_env' names the key for base_url's server"),
    ])
    func problemsPointAtTheConfig(yaml: String, problem: String) throws {
        let project = try Project()
        try project.writePipeline("""
        pipeline: p
        stages:
          scored:
            \(yaml)
            out: processed_data/x.jsonl
        """)
        let problems = try project.problems()
        #expect(problems.contains { $0.hasPrefix(problem) }, "\(problems)")
    }

    @Test func aValidStageLoads() throws {
        let project = try Project()
        try project.putReviews(["good"])
        try project.writePipeline(pipeline("""
        task: categorize, categories: [shoes, tents], rules: { tents: [tent, camping] }, text: "{{name}}. {{description}}", into: cat, temperature: 0, \
        max_tokens: 300, concurrency: 4, budget_usd: 1.0, cache_ttl: 30d, on_invalid: quarantine, provider: offline
        """))
        #expect(try project.problems() == [])
    }
}

@Suite struct EnrichStageTests {
    @Test func offlineIsDeterministicAndInInputOrder() async throws {
        var outputs: [String] = []
        for _ in 0..<2 {
            let project = try Project()
            try project.putReviews(["Great shoes, love them!", "Terrible, broke after a week.", "It is a shoe.", "Great shoes, love them!"])
            try project.writePipeline(pipeline("task: sentiment, into: sentiment, concurrency: 3"))
            let manifest = try await project.run()
            #expect(manifest.status == .succeeded, "\(manifest.error ?? "")")
            let records = try project.records(outFile)
            #expect(records.map { $0["id"] } == [1, 2, 3, 4])
            #expect(records[0]["sentiment"]?.objectValue?["label"] == "positive")
            #expect(records[1]["sentiment"]?.objectValue?["label"] == "negative")
            let calls = manifest.stage("scored")!.llmCalls
            #expect(calls.filter { $0.status == .success }.count == 3)  // the repeated text is asked once
            #expect(calls.filter { $0.status == .cached }.count == 1)
            #expect(calls.allSatisfy { $0.provider == .offline && $0.model == OfflineProvider.modelName && $0.costUSD == 0 })
            outputs.append(try project.read(outFile))
        }
        #expect(outputs[0] == outputs[1])
    }

    /// The offline rules give the seed's analysis fields for each record: business value and recommendations
    /// from the record's text, and a summary's compression ratio.
    @Test func offlineAnalysesCarryTheSeedsFields() async throws {
        let project = try Project()
        try project.putReviews(["Terrible tent. It leaked on the first night and the zip broke. I want a refund.",
                                "BUY NOW!!! CHEAP TENTS!!! $$$ ### CLICK HERE!!!"])
        try project.writePipeline(pipeline("task: content_analysis, into: analysis"))
        let manifest = try await project.run()
        #expect(manifest.status == .succeeded, "\(manifest.error ?? "")")
        let analyses = try project.records(outFile).map { $0["analysis"]?.objectValue }
        #expect(analyses.map { $0?["business_value"] } == ["medium", "low"])
        let first = analyses[0]?["recommendations"]?.arrayValue?.compactMap(\.stringValue) ?? []
        #expect(first.first == "Expand the text from 16 to at least 80 words with concrete details (use, size, materials).")
        #expect(first.contains { $0.hasPrefix("Answer the complaint") })
        let second = analyses[1]?["recommendations"]?.arrayValue?.compactMap(\.stringValue) ?? []
        #expect(second.contains("Drop the capitals and exclamation marks: they read as spam."))

        let summaries = try Project()
        try summaries.putReviews(["The tent is light. It packs small and pitches in five minutes. The zip sticks."])
        try summaries.writePipeline(pipeline("task: summary"))
        #expect(try await summaries.run().status == .succeeded)
        let record = try #require(try summaries.records(outFile).first)
        // The short summary is the lead sentence: 18 characters of 78.
        #expect(record["summary"] == "The tent is light.")
        #expect(record["compression_ratio"] == .double(0.231))
    }

    @Test func rerunMakesZeroCallsAndDuplicatesAreSentOnce() async throws {
        let project = try Project()
        let provider = ScriptedProvider(answer: ScriptedProvider.sentiment)
        try project.putReviews(["good", "bad", "good", "fine", "bad"])
        try project.writePipeline(pipeline("task: sentiment, concurrency: 4"))
        let registry = project.registry(provider)
        let first = try await project.run(registry: registry)
        #expect(first.status == .succeeded, "\(first.error ?? "")")
        #expect(await provider.log.count == 3)
        #expect(first.stage("scored")!.llmTotals?["sent"] == 3)
        // Merged: the answer's fields sit beside the record's.
        let records = try project.records(outFile)
        #expect(records.map { $0["label"] } == ["positive", "negative", "positive", "positive", "negative"])
        #expect(records[0].keys == ["id", "text", "label", "score", "confidence"])

        let again = try await project.run(registry: registry) { $0.force = true }
        #expect(again.status == .succeeded)
        #expect(await provider.log.count == 3)  // nothing asked again
        let calls = again.stage("scored")!.llmCalls
        #expect(calls.count == 5 && calls.allSatisfy { $0.status == .cached && $0.cacheHit && $0.costUSD == 0 })
        #expect(try project.records(outFile) == records)

        // --no-cache asks again (and refreshes the cache).
        let fresh = try await project.run(registry: registry) { $0.force = true; $0.refreshCaches = true }
        #expect(fresh.status == .succeeded)
        #expect(await provider.log.count == 6)
    }

    @Test func expiredEntriesAreAskedAgain() async throws {
        let project = try Project()
        let provider = ScriptedProvider(answer: ScriptedProvider.sentiment)
        try project.putReviews(["good", "bad"])
        try project.writePipeline(pipeline("task: sentiment, cache_ttl: 1h"))
        let registry = project.registry(provider)
        #expect(try await project.run(registry: registry).status == .succeeded)
        #expect(await provider.log.count == 2)
        // Age one entry by two hours.
        let cache = ResponseCache(lake: project.lake)
        let entries = try FileManager.default.subpathsOfDirectory(atPath: cache.folder).filter { $0.hasSuffix(".json") }.sorted()
        #expect(entries.count == 2)
        let key = String(entries[0].split(separator: "/").last!.dropLast(5))
        var entry = try #require(cache.lookup(key))
        entry.createdAt = Timestamp.iso(Date().addingTimeInterval(-7200))
        try cache.store(key, entry)
        #expect(try await project.run(registry: registry) { $0.force = true }.status == .succeeded)
        #expect(await provider.log.count == 3)
    }

    @Test func invalidAnswersAreRepairedOnceThenQuarantined() async throws {
        let project = try Project()
        // "fixable": garbage, then a valid answer to the repair prompt; "hopeless": out of range both times.
        let provider = ScriptedProvider { request in
            let repairing = request.messages.count == 3
            switch request.intent?.text ?? "" {
            case "fixable": return repairing ? #"{"label":"neutral","score":0,"confidence":0.5}"# : "Sorry, I can't answer in JSON."
            case "hopeless": return #"{"label":"positive","score":7,"confidence":0.5}"#
            default: return ScriptedProvider.sentiment(request)
            }
        }
        try project.putReviews(["good", "fixable", "hopeless", "bad"])
        try project.writePipeline(pipeline("task: sentiment, into: s"))
        let registry = project.registry(provider)
        let manifest = try await project.run(registry: registry)
        #expect(manifest.status == .succeeded, "\(manifest.error ?? "")")
        let stage = manifest.stage("scored")!
        #expect(stage.counts["invalid"] == 1 && stage.counts["records_out"] == 3)
        #expect(try project.records(outFile).map { $0["id"] } == [1, 2, 4])
        #expect(try project.records(outFile)[1]["s"]?.objectValue?["label"] == "neutral")

        // The repair prompt named the violation.
        let repair = await provider.log.requests.first { $0.intent?.text == "fixable" && $0.messages.count == 3 }
        #expect(repair?.messages[1].content == "Sorry, I can't answer in JSON.")
        #expect(repair?.messages[2].content.contains("the answer is not JSON") == true)
        let hopelessRepair = await provider.log.requests.first { $0.intent?.text == "hopeless" && $0.messages.count == 3 }
        #expect(hopelessRepair?.messages[2].content.contains("$.score: 7 is above the maximum 1") == true)

        // The rejects file holds the raw answer and the reason.
        let rejects = try project.records("raw_data/logs/p/\(manifest.runID).scored.rejects.jsonl")
        #expect(rejects.count == 1)
        #expect(rejects[0]["raw"] == #"{"label":"positive","score":7,"confidence":0.5}"#)
        #expect(rejects[0]["line"] == 3)
        #expect(rejects[0]["reason"]?.stringValue?.contains("$.score: 7 is above the maximum 1") == true)
        let statuses = stage.llmCalls.map(\.status)
        #expect(statuses.filter { $0 == .invalid }.count == 3 && statuses.filter { $0 == .success }.count == 3)

        // The repaired answer is cached under the original question; the hopeless one is asked again.
        let before = await provider.log.count
        _ = try await project.run(registry: registry) { $0.force = true }
        #expect(await provider.log.count == before + 2)
        #expect(await provider.log.texts.suffix(2) == ["hopeless", "hopeless"])

        // on_invalid: fail stops the stage instead.
        try project.writePipeline(pipeline("task: sentiment, into: s, on_invalid: fail"))
        let failed = try await project.run(registry: registry)
        #expect(failed.status == .failed)
        #expect(failed.stage("scored")?.error?.contains("reviews.jsonl:3: invalid answer") == true)
    }

    @Test func budgetStopsSendingAndTheNextRunCompletes() async throws {
        let project = try Project()
        let provider = ScriptedProvider(answer: ScriptedProvider.sentiment)
        try project.putReviews(["a good", "b bad", "c good", "d good", "e bad", "f good"])
        // 0.10 USD a call (10 output tokens at 0.01): three calls fit in 0.35.
        try project.writePipeline(pipeline("task: sentiment, into: s, max_tokens: 10, concurrency: 4, budget_usd: 0.35"))
        let registry = project.registry(provider)
        let first = try await project.run(registry: registry)
        #expect(first.status == .succeeded, "\(first.error ?? "")")
        #expect(await provider.log.count == 3)
        let stage = first.stage("scored")!
        #expect(stage.counts["enriched"] == 3 && stage.counts["pending_budget"] == 3)
        // The stop message gives the real spend, once every call in flight settled; a record held back names the limit.
        #expect(stage.llmTotals?["budget_stopped"]?.stringValue == "budget_usd 0.3500 reached (spent 0.3000)")
        #expect(stage.llmCalls.filter { $0.status == .skippedBudget }.allSatisfy { $0.error == "budget_usd 0.3500 reached" })
        #expect(stage.llmCalls.filter { $0.status == .skippedBudget }.count == 3)
        #expect(abs((stage.llmTotals?["cost_usd"]?.doubleValue ?? 0) - 0.3) < 1e-9)
        let records = try project.records(outFile)
        #expect(records.count == 6)
        #expect(records.prefix(3).allSatisfy { $0["s"] != nil && $0["enrich_pending"] == nil })
        #expect(records.suffix(3).allSatisfy { $0["s"] == nil && $0["enrich_pending"]?.stringValue == "budget_usd 0.3500 reached" })

        // The next run picks the stage up by itself and sends only what is left.
        let second = try await project.run(registry: registry)
        #expect(second.stage("scored")?.status == .ran)
        #expect(await provider.log.count == 6)
        #expect(second.stage("scored")?.counts["enriched"] == 6)
        #expect(try project.records(outFile).allSatisfy { $0["s"] != nil && $0["enrich_pending"] == nil })

        // Complete now: up to date.
        let third = try await project.run(registry: registry)
        #expect(third.stage("scored")?.status == .skipped)
    }

    @Test func dailyCapCountsTodaysCallRecords() async throws {
        let project = try Project()
        let provider = ScriptedProvider(answer: ScriptedProvider.sentiment)
        try project.putReviews(["a good", "b bad", "c good"])
        try project.writePipeline(pipeline("task: sentiment, max_tokens: 10, concurrency: 3"))
        let registry = project.registry(provider, dailyCap: 0.25)
        let first = try await project.run(registry: registry)
        #expect(await provider.log.count == 2)
        #expect(first.stage("scored")?.llmTotals?["budget_stopped"]?.stringValue == "daily cap 0.2500 reached (spent today 0.2000)")
        // Today's 0.20 is in the manifest: the next run may spend nothing more.
        let second = try await project.run(registry: registry)
        #expect(second.status == .succeeded)
        #expect(await provider.log.count == 2)
        #expect(second.stage("scored")?.counts["pending_budget"] == 1)
    }

    @Test func missingFieldsFailOrRejectAsConfigured() async throws {
        let project = try Project()
        try project.putReviews(["good"])
        try project.writePipeline(pipeline("task: sentiment, text: \"{{title}}: {{text}}\""))
        let failed = try await project.run()
        #expect(failed.status == .failed)
        #expect(failed.stage("scored")?.error == "raw_data/imports/reviews.jsonl:1: the record has no field 'title' that the prompt uses (set on_missing: empty to allow it)")
        try project.writePipeline(pipeline("task: sentiment, text: \"{{title}}: {{text}}\", on_missing: reject"))
        let rejected = try await project.run()
        #expect(rejected.status == .succeeded)
        #expect(rejected.stage("scored")?.counts["rejected"] == 1)
        try project.writePipeline(pipeline("task: sentiment, text: \"{{title}}: {{text}}\", on_missing: empty"))
        #expect(try await project.run().stage("scored")?.counts["enriched"] == 1)
    }

    @Test func disabledProviderIsRefused() async throws {
        let project = try Project()
        try project.putReviews(["good"])
        try project.writePipeline(pipeline("task: sentiment"))
        var switches = try ProviderSwitches.load(lake: project.lake)
        switches.set(.offline, enabled: false)
        try switches.save(lake: project.lake)
        let manifest = try await project.run()
        #expect(manifest.status == .failed)
        #expect(manifest.stage("scored")?.error?.hasPrefix("provider offline is disabled (agentshop llm disable)") == true)
        #expect(!project.exists(outFile))
    }

    @Test func cleanupRunsLocallyAndCategorizeAndSummaryUseOffline() async throws {
        let project = try Project()
        try project.putReviews(["<p>Great&nbsp;tent,   <b>waterproof</b> and light.</p>"])
        try project.writePipeline("""
        pipeline: p
        stages:
          clean:
            enrich: { from: raw_data/imports/reviews.jsonl, task: cleanup, into: clean }
            out: processed_data/clean.jsonl
          cat:
            enrich: { from: clean, task: categorize, categories: [shoes, tents], text: "{{clean.cleaned_text}}", into: category }
            out: processed_data/cat.jsonl
          sum:
            enrich: { from: clean, task: summary, length: short, text: "{{clean.cleaned_text}}", into: summary }
            out: processed_data/sum.jsonl
        """)
        let manifest = try await project.run()
        #expect(manifest.status == .succeeded, "\(manifest.error ?? "")")
        #expect(manifest.stage("clean")?.details == nil)  // no provider, no call records
        let clean = try project.records("processed_data/clean.jsonl")[0]["clean"]?.objectValue?["cleaned_text"]
        #expect(clean == "Great tent, waterproof and light.")
        let category = try project.records("processed_data/cat.jsonl")[0]["category"]?.objectValue
        #expect(category?["category"] == "tents")
        let summary = try project.records("processed_data/sum.jsonl")[0]["summary"]?.objectValue?["summary"]?.stringValue
        #expect(summary?.isEmpty == false)
    }

    @Test func planEstimatesCallsAndCost() async throws {
        let project = try Project()
        let provider = ScriptedProvider(answer: ScriptedProvider.sentiment)
        try project.putReviews(["good", "bad", "good"])
        try project.writePipeline(pipeline("task: sentiment, max_tokens: 10, budget_usd: 2"))
        let registry = project.registry(provider)
        let plan = try await project.run(registry: registry) { $0.dryRun = true }
        let note = try #require(plan.stage("scored")?.note)
        #expect(note.hasPrefix("3 records, 2 distinct prompts, 0 cached: 2 calls to openai/fake-1, ~"), "\(note)")
        #expect(note.contains("≤20 out, est. ≤ $0.2000 (budget_usd 2.00)"), "\(note)")
        #expect(await provider.log.count == 0)
        _ = try await project.run(registry: registry)
        let replan = try await project.run(registry: registry) { $0.dryRun = true; $0.force = true }
        #expect(replan.stage("scored")?.note?.hasPrefix("3 records, 2 distinct prompts, 2 cached: 0 calls") == true)
    }
}

@Suite struct EnrichSecretsTests {
    /// Through the real OpenAI provider against a loopback server: a run that succeeds, and one
    /// that fails on a server that echoes the key in its error (as OpenAI's 401 does). The key
    /// must be sent, and must appear in no file either run wrote, no manifest, no log line, no error.
    @Test func theKeyReachesNoFileManifestLogOrError() async throws {
        let project = try Project()
        let key = "sk-test-LEAKCHECK-0123456789abcdef"
        let server = try FakeOpenAI()
        let base = try await server.start { body in
            let messages = body.objectValue?["messages"]?.arrayValue ?? []
            let user = messages.last?.objectValue?["content"]?.stringValue ?? ""
            if user.contains("explode") {
                return (401, #"{"error":{"message":"Incorrect API key provided: \#(key). You can find your API key at https://platform.openai.com","type":"invalid_request_error","code":"invalid_api_key"}}"#)
            }
            let label = user.contains("awful") ? "negative" : "positive"
            return (200, FakeOpenAI.completion(#"{"label":"\#(label)","score":0.5,"confidence":0.9}"#))
        }
        defer { Task { await server.stop() } }
        let environment = ["OPENAI_API_KEY": key, "LLM_OPENAI_BASE_URL": base]
        try project.putReviews(["lovely boots", "awful tent", "lovely boots"])
        try project.writePipeline(pipeline("provider: openai, model: gpt-4o-mini, task: sentiment, into: s, budget_usd: 1"))
        let logs = LogCapture()

        let ok = try await project.run(registry: BuiltinStages.registry, environment: environment, logs: logs)
        #expect(ok.status == .succeeded, "\(ok.error ?? "")")
        #expect(await server.calls == 2)
        #expect(await server.authorizations.allSatisfy { $0 == "Bearer \(key)" })
        let calls = ok.stage("scored")!.llmCalls
        #expect(calls.filter { $0.status == .success }.count == 2)
        #expect(calls.allSatisfy { $0.provider == .openai && $0.model == "gpt-4o-mini" })
        #expect(calls.first { $0.status == .success }?.tokensIn == 40)
        #expect((calls.first { $0.status == .success }?.costUSD ?? 0) > 0)  // priced from usage by the price table
        #expect(try project.records(outFile).map { $0["s"]?.objectValue?["label"] } == ["positive", "negative", "positive"])

        try project.putReviews(["lovely boots", "explode"])
        let failed = try await project.run(registry: BuiltinStages.registry, environment: environment, logs: logs)
        #expect(failed.status == .failed)
        let error = try #require(failed.stage("scored")?.error)
        #expect(error.contains("reviews.jsonl:2") && error.contains("401"), "\(error)")
        #expect(error.contains("Incorrect API key provided"), "\(error)")  // the echo came through, redacted

        var texts = logs.lines + [error, failed.error ?? "", ok.error ?? ""]
        let encoder = JSONEncoder()
        texts.append(String(decoding: try encoder.encode(ok), as: UTF8.self))
        texts.append(String(decoding: try encoder.encode(failed), as: UTF8.self))
        let files = FileManager.default.enumerator(atPath: project.root)!.compactMap { $0 as? String }
        var scanned = 0
        for file in files {
            let path = project.root + "/" + file
            var isFolder: ObjCBool = false
            guard FileManager.default.fileExists(atPath: path, isDirectory: &isFolder), !isFolder.boolValue else { continue }
            let bytes = try FileInput.readAll(path: path)
            texts.append(String(decoding: bytes, as: UTF8.self))  // nothing here is compressed
            scanned += 1
        }
        #expect(scanned >= 5)  // output, cache entries, manifests, state, rejects/…
        let leaks = texts.filter { $0.contains(key) || $0.contains("LEAKCHECK") }
        #expect(leaks.isEmpty, "\(leaks.map { String($0.prefix(300)) })")
    }
}

@Suite struct EnrichWireTests {
    /// Through the real OpenAI provider on loopback: a 429 (Retry-After) and a 503 are retried; garbage
    /// is repaired with the violation named; an answer that stays invalid is quarantined.
    @Test func retriesRepairsAndQuarantinesOverTheOpenAIWireFormat() async throws {
        let project = try Project()
        let seen = SeenCounter()
        let server = try FakeOpenAI()
        let base = try await server.start { body in
            let messages = body.objectValue?["messages"]?.arrayValue ?? []
            let first = messages.first { $0.objectValue?["role"] == "user" }?.objectValue?["content"]?.stringValue ?? ""
            let repairing = messages.count > 2  // system, user, then the bad answer and the repair request
            let n = seen.next(first + (repairing ? "#repair" : ""))
            let valid = FakeOpenAI.completion(#"{"label":"neutral","score":0,"confidence":0.5}"#)
            if first.contains("busy") { return n == 1 ? (429, #"{"error":{"message":"rate limited"}}"#) : (200, valid) }
            if first.contains("flaky") { return n == 1 ? (503, "upstream down") : (200, valid) }
            if first.contains("garbled") { return (200, repairing ? valid : FakeOpenAI.completion("I think it is neutral.")) }
            if first.contains("stubborn") { return (200, FakeOpenAI.completion(#"{"label":"meh","score":0,"confidence":0.5}"#)) }
            return (200, valid)
        }
        defer { Task { await server.stop() } }
        try project.putReviews(["busy day", "flaky wifi", "garbled", "stubborn", "plain"])
        try project.writePipeline(pipeline("provider: openai, model: gpt-4o-mini, task: sentiment, into: s"))
        let manifest = try await project.run(registry: BuiltinStages.registry,
                                             environment: ["OPENAI_API_KEY": "sk-test", "LLM_OPENAI_BASE_URL": base])
        #expect(manifest.status == .succeeded, "\(manifest.error ?? "")")
        #expect(try project.records(outFile).map { $0["id"] } == [1, 2, 3, 5])
        let rejects = try project.records("raw_data/logs/p/\(manifest.runID).scored.rejects.jsonl")
        #expect(rejects.count == 1 && rejects[0]["line"] == 4)
        #expect(rejects[0]["reason"]?.stringValue?.contains(#"$.label: expected one of "positive", "negative", "neutral", found "meh""#) == true)
        // 5 first questions + 1 retry each for busy and flaky + 1 repair each for garbled and stubborn.
        #expect(await server.calls == 9)
    }
}
