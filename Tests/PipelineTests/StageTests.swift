import Foundation
import Testing
@testable import Lake
@testable import Pipeline

struct StageRegistryTests {
    @Test func aRegistryHoldsOnlyWhatItWasGiven() {
        let registry = fakeRegistry()
        #expect(registry.names == ["emit", "meet", "notify"])
        #expect(registry.kind(named: "emit")?.summary == "writes text")
        #expect(registry.kind(named: "import") == nil)
        if case .some(OutputRule.none) = registry.kind(named: "notify")?.outputs {} else { Issue.record("notify writes no files") }
        #expect(StageRegistry([]).names.isEmpty)
    }
}

struct StageContextTests {
    private func context(_ lake: Lake, inputs: [ResolvedInput]) throws -> StageContext {
        StageContext(lake: lake, pipeline: "p", stage: "s", runID: "R", runDate: "2026-01-02", logger: quietLogger,
                     environment: PipelineEnvironment(variables: [:]), inputs: inputs,
                     outputs: [try lake.resolve("out/x.txt")], rejectsPath: try lake.resolve("raw_data/logs/p/R.s.rejects.jsonl"),
                     stateFolder: lake.stateFolder + "/stages/p/s", onProgress: { _, _ in })
    }

    @Test func allInputFilesKeepsDeclarationOrderWithoutRepeats() throws {
        let lake = Lake(root: "/lake")
        let a = try lake.resolve("in/a.csv"), b = try lake.resolve("in/b.csv"), c = try lake.resolve("in/c.csv")
        let ctx = try context(lake, inputs: [
            ResolvedInput(input: .files("in/*.csv"), files: [b, a]),
            ResolvedInput(input: .stage("up"), files: [c, b]),
        ])
        #expect(ctx.allInputFiles.map(\.relative) == ["in/b.csv", "in/a.csv", "in/c.csv"])
        #expect(ctx.files(for: .stage("up")).map(\.relative) == ["in/c.csv", "in/b.csv"])
        #expect(ctx.files(for: .stage("other")).isEmpty)
        #expect(ctx.childProcessGuard.path == "/lake/.agentshop/stages/p/s/child.pid")
    }

    @Test func inputDescriptions() {
        #expect(StageInput.stage("seed").description == "seed")
        #expect(StageInput.files("raw_data/*.csv").description == "raw_data/*.csv")
    }
}

struct OutputTemplateTests {
    @Test(arguments: [
        ("processed_data/x.txt", "processed_data/x.txt"),
        ("p/{pipeline}/{stage}/dt={run_date}/{run_id}.jsonl", "p/daily/seed/dt=2026-01-02/R1.jsonl"),
        ("{run_date}-{run_date}", "2026-01-02-2026-01-02"),
    ])
    func expand(template: String, expected: String) {
        #expect(OutputTemplate.expand(template, runID: "R1", runDate: "2026-01-02", pipeline: "daily", stage: "seed") == expected)
    }

    @Test(arguments: [
        ("a/{run_date}/b", [String]()),
        ("a/{day}/{run_id}/{x}", ["day", "x"]),
        ("a/{unclosed", ["{unclosed"]),
        ("a/{}", [""]),
    ])
    func unknownPlaceholders(template: String, expected: [String]) {
        #expect(OutputTemplate.unknownPlaceholders(in: template) == expected)
    }

    @Test func asGlob() {
        #expect(OutputTemplate.asGlob("p/dt={run_date}/{stage}.jsonl") == "p/dt=*/*.jsonl")
    }

    @Test(arguments: [
        ("processed_data/a.txt", "processed_data/a.txt", true),
        ("processed_data/*.txt", "processed_data/a.txt", true),
        ("processed_data/*/a.txt", "processed_data/{run_date}/a.txt", true),
        ("processed_data/**", "processed_data/x/a.txt", false),
        ("processed_data/*.csv", "processed_data/a.txt", false),
        ("*.txt", "processed_data/a.txt", false),
    ])
    func patternsMatchTemplates(pattern: String, template: String, expected: Bool) {
        #expect(PipelineLoader.matches(pattern: pattern, template: template) == expected)
    }
}
