import Foundation
import Testing
import TestSupport
@testable import Lake
@testable import Pipeline

/// A kind declared by a spec: its code reads the settings and never checks unknown keys itself.
private struct Declared: StageDefinition {
    var inputs: [StageInput] { [] }
    func run(_ context: StageContext) async throws -> StageReport { StageReport() }
}

private let declaredSpec = StageKindSpec(
    name: "declared", summary: "a kind with a spec", outputs: .required, journal: true,
    settings: [
        SettingSpec("text", .string, required: true, journal: true, "What to write."),
        SettingSpec("times", .integer(min: 1, max: 10), default: "1", journal: true, "How often."),
        SettingSpec("rate", .number(min: 0), journal: false, "A rate."),
        SettingSpec("quick", .boolean, default: "false", journal: false, "A flag."),
        SettingSpec("wait", .duration, fingerprint: false, journal: false, "Not part of the fingerprint."),
        SettingSpec("mode", .choice(["a", "b"]), default: "a", journal: true, "A choice."),
        SettingSpec("per_host", .object([
            SettingSpec("delay", .duration, default: "1s", "A delay."),
        ]), journal: false, "Nested settings."),
        SettingSpec("charts", .items([
            SettingSpec("y", .string, required: true, "A column."),
        ]), journal: false, "Listed settings."),
    ])

private func declaredRegistry() -> StageRegistry {
    StageRegistry([
        StageKind(spec: declaredSpec) { config, _ in
            // Reads some settings with the same readers the spec checks with (a problem is reported once).
            _ = config.string("text", required: true)
            _ = config.int("times", min: 1, max: 10)
            return Declared()
        },
    ])
}

private func load(_ yaml: String) throws -> (spec: PipelineSpec?, diagnostics: [Diagnostic]) {
    let tmp = try TemporaryDirectory()
    let file = try tmp.write("pipelines/p.yaml", yaml)
    let loader = PipelineLoader(registry: declaredRegistry(), environment: PipelineEnvironment(variables: ["T": "hi"]), lake: nil)
    do {
        let (spec, warnings) = try loader.load(file: file)
        return (spec, warnings)
    } catch {
        return (nil, error.diagnostics)
    }
}

struct StageKindSpecTests {
    @Test func unknownKeysAreReportedAtTheirPlaceWithASuggestion() throws {
        let result = try load("""
        stages:
          a:
            declared: { text: x, tims: 3, per_host: { dealy: 2s } }
            out: o.txt
        """)
        let messages = result.diagnostics.map { "\($0.line):\($0.column): \($0.keyPath): \($0.message)" }
        #expect(messages == [
            "3:26: stages.a.declared.tims: unknown key 'tims' (did you mean 'times'?)",
            "3:47: stages.a.declared.per_host.dealy: unknown key 'dealy'",
        ])
    }

    @Test func typesAreCheckedFromTheSpecAndEachProblemIsReportedOnce() throws {
        let result = try load("""
        stages:
          a:
            declared:
              text: [x]
              times: 99
              rate: fast
              quick: maybe
              wait: soon
              mode: c
              charts: [{ x: 1 }]
            out: o.txt
        """)
        let messages = result.diagnostics.map { "\($0.line): \($0.keyPath): \($0.message)" }
        #expect(messages == [
            "4: stages.a.declared.text: expected a string, found a list",
            "5: stages.a.declared.times: must be at most 10, found 99",
            "6: stages.a.declared.rate: expected a number, found 'fast'",
            "7: stages.a.declared.quick: expected true or false, found 'maybe'",
            "8: stages.a.declared.wait: expected a duration like 30s, 15m, 24h or 7d, found 'soon'",
            "9: stages.a.declared.mode: expected one of a, b, found 'c' (did you mean 'a'?)",
            "10: stages.a.declared.charts.0: missing required key 'y'",
            "10: stages.a.declared.charts.0.x: unknown key 'x' (did you mean 'y'?)",
        ])
    }

    @Test func aMissingRequiredSettingIsReportedOnce() throws {
        let result = try load("stages:\n  a:\n    declared: { times: 2 }\n    out: o.txt\n")
        #expect(result.diagnostics.map(\.message) == ["missing required key 'text'"])
    }

    @Test func theFingerprintTakesOnlyTheSettingsMarkedForIt() throws {
        func config(_ settings: String) throws -> String {
            let result = try load("stages:\n  a:\n    declared: { text: x\(settings) }\n    out: o.txt\n")
            return try #require(result.spec?.stages.first).canonicalConfig
        }
        let plain = try config("")
        #expect(try config(", wait: 5s") == plain)  // fingerprint: false
        #expect(try config(", times: 2") != plain)
        #expect(try config(", quick: true") != plain)
    }

    @Test func theJournalTextHoldsExactlyTheJournalSettings() throws {
        let tmp = try TemporaryDirectory()
        let diagnostics = Diagnostics(file: tmp.file("x.yaml"))
        let config = try #require(ConfigValue.document(
            text: "{ text: '${T}', times: 2, rate: 1, quick: true, mode: b, unknown: 1 }", diagnostics: diagnostics,
            environment: PipelineEnvironment(variables: ["T": "hi"])))
        #expect(declaredSpec.canonicalText(of: config) { $0.journal == true } == #"{"mode":"b","text":"hi","times":2}"#)
    }

    @Test func aKindWithoutASpecIsUndeclaredAndChecksItsOwnKeys() throws {
        let kind = StageKind(name: "fake", summary: "no spec", outputs: .none) { _, _ in Declared() }
        let registry = StageRegistry([kind, declaredRegistry().kind(named: "declared")!])
        #expect(registry.undeclaredKinds == ["fake"])
        #expect(!kind.spec.isDeclared)
        #expect(kind.name == "fake" && kind.summary == "no spec")
    }

    @Test func theReferenceListsNestedSettingsAfterTheirParent() {
        let markdown = StageReference.markdown(declaredSpec)
        #expect(markdown.contains("| `per_host.delay` | `duration` | `1s` | yes | no | A delay. |"))
        #expect(markdown.contains("| `charts[].y` | `string` | required |"))
        #expect(markdown.contains("| `wait` | `duration` |  | no | no | Not part of the fingerprint. |"))
        let text = StageReference.text(declaredSpec)
        #expect(text.contains("  mode  (a | b; default: a; fingerprint; journal key)"))
    }

    @Test func aRegeneratedPageKeepsWhatLiesOutsideTheMarkers() {
        let page = "intro\n" + StageReference.beginMarker("k") + "\nold\n" + StageReference.endMarker + "\n\n## Examples\nkept\n"
        let updated = StageReference.updatedPage(page, name: "k", generated: "new\n")
        #expect(updated == "intro\n" + StageReference.beginMarker("k") + "\nnew\n" + StageReference.endMarker + "\n\n## Examples\nkept\n")
        #expect(StageReference.generatedPart(of: updated) == "new\n")
        #expect(StageReference.generatedPart(of: StageReference.updatedPage(nil, name: "k", generated: "x\n")) == "x\n")
    }

    @Test func diagnosticsKeepOneCopyOfARepeatedProblem() {
        let diagnostics = Diagnostics(file: "f")
        diagnostics.error(line: 1, column: 2, keyPath: "k", "bad")
        diagnostics.error(line: 1, column: 2, keyPath: "k", "bad")
        diagnostics.error(line: 1, column: 3, keyPath: "k", "bad")
        #expect(diagnostics.all.count == 2)
    }
}
