import Foundation
import Lake
import Store
import Testing

/// The store's `config_settings` is the lowest layer of settings (docs/store.md): a key AgentShop seeds
/// changes what a run does when neither the pipeline nor the environment sets it, and loses to both.
@Suite struct StoreSettingsEndToEndTests {
    static let pipeline = """
        pipeline: scores
        stages:
          scored:
            enrich: { from: raw_data/imports/reviews.jsonl, task: sentiment, into: s }
            out: processed_data/ml_datasets/scores/dt={run_date}/part.jsonl
        """

    /// No key reaches the binary from the test's own environment.
    static let noKeys = ["OPENAI_API_KEY": "", "LLM_OPENAI_API_KEY": "", "AGENTSHOP_LLM_PROVIDER": ""]

    func set(_ project: Project, _ key: String, _ value: String?) throws {
        let db = try Database(path: project.lake + "/store/agentshop.sqlite")
        #expect(try db.run("UPDATE config_settings SET value = ? WHERE key = ?", [value.map(SQLValue.text) ?? .null, .text(key)]) == 1)
    }

    @Test func theStoresDefaultProviderIsTheLowestLayer() throws {
        let project = try Project()
        #expect(try project.run(["init"]).status == 0)
        #expect(try project.run(["db", "init"]).status == 0)
        try project.write("datalake/raw_data/imports/reviews.jsonl", #"{"text": "great tent"}"# + "\n")
        try project.write("pipelines/scores.yaml", Self.pipeline)

        // The store names openai, which has no key here: the run tries it and says so.
        try set(project, "llm.default_provider", "openai")
        let refused = try project.run(["run", "scores"], environment: Self.noKeys)
        #expect(refused.status != 0)
        #expect(refused.stderr.contains("no API key: set OPENAI_API_KEY"), "\(refused.stderr)")

        // The environment wins over the store.
        var offline = Self.noKeys
        offline["AGENTSHOP_LLM_PROVIDER"] = "offline"
        let ran = try project.run(["run", "scores", "--json"], environment: offline)
        #expect(ran.status == 0, "\(ran.stderr)")
        #expect(ran.stdout.contains("rules-v2"), "the offline rules answered: \(ran.stdout)")

        // A name the store holds that is no provider is reported at the stage, naming the key.
        try set(project, "llm.default_provider", "chatgpt")
        let invalid = try project.run(["validate", "pipelines/scores.yaml"], environment: Self.noKeys)
        #expect(invalid.status == 2)
        #expect(invalid.stderr.contains("stages.scored.enrich: no 'provider' here, and AGENTSHOP_LLM_PROVIDER"), "\(invalid.stderr)")
        #expect(invalid.stderr.contains("config_settings llm.default_provider) names 'chatgpt'"), "\(invalid.stderr)")

        // The pipeline's own provider wins over the store.
        try project.write("pipelines/scores.yaml", Self.pipeline.replacingOccurrences(of: "task: sentiment", with: "provider: offline, task: sentiment"))
        #expect(try project.run(["validate", "pipelines/scores.yaml"], environment: Self.noKeys).status == 0)

        // Without a value the built-in default (offline) applies again.
        try project.write("pipelines/scores.yaml", Self.pipeline)
        try set(project, "llm.default_provider", nil)
        #expect(try project.run(["run", "scores", "--force"], environment: Self.noKeys).status == 0)
    }

    /// A provider taken from the store enters the stage's fingerprint: changing the setting reruns the stage.
    @Test func changingTheStoredProviderRerunsTheStage() throws {
        let project = try Project()
        #expect(try project.run(["init"]).status == 0)
        #expect(try project.run(["db", "init"]).status == 0)
        try project.write("datalake/raw_data/imports/reviews.jsonl", #"{"text": "great tent"}"# + "\n")
        try project.write("pipelines/scores.yaml", Self.pipeline)
        #expect(try project.runPipeline("scores").0.status == 0)
        #expect(Project.statuses(try project.runPipeline("scores").1)["scored"] == "skipped")
        try set(project, "llm.default_provider", "offline")
        #expect(Project.statuses(try project.runPipeline("scores").1)["scored"] == "ran")
    }
}
