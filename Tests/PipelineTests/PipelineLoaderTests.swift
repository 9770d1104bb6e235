import Foundation
import Testing
import TestSupport
@testable import Lake
@testable import Pipeline

struct PipelineLoaderTests {
    /// Loads `yaml` from a temporary `pipelines/p.yaml`; returns the spec or the problems, each
    /// as `line:col: key.path: message` (the file name checked and removed).
    private func load(_ yaml: String, variables: [String: String] = [:], lake: Lake? = nil,
                      sourceLocation: SourceLocation = #_sourceLocation)
        throws -> (spec: PipelineSpec?, problems: [String], warnings: [String]) {
        let tmp = try TemporaryDirectory()
        let file = try tmp.write("pipelines/p.yaml", yaml)
        let loader = PipelineLoader(registry: fakeRegistry(), environment: PipelineEnvironment(variables: variables),
                                    lake: lake)
        func strip(_ d: Diagnostic) -> String {
            #expect(d.file == file, sourceLocation: sourceLocation)
            let text = d.description
            #expect(text.hasPrefix(file + ":"), sourceLocation: sourceLocation)
            return String(text.dropFirst(file.count + 1))
        }
        do {
            let (spec, warnings) = try loader.load(file: file)
            return (spec, [], warnings.map(strip))
        } catch {
            return (nil, error.diagnostics.map(strip), [])
        }
    }

    private func problems(_ yaml: String, variables: [String: String] = [:],
                          sourceLocation: SourceLocation = #_sourceLocation) throws -> [String] {
        let result = try load(yaml, variables: variables, sourceLocation: sourceLocation)
        #expect(result.spec == nil, "expected the file to be refused", sourceLocation: sourceLocation)
        return result.problems
    }

    private func expectProblems(_ yaml: String, _ expected: [String],
                                sourceLocation: SourceLocation = #_sourceLocation) throws {
        let found = try problems(yaml, sourceLocation: sourceLocation)
        #expect(found == expected, sourceLocation: sourceLocation)
    }

    // MARK: A valid file

    @Test func validPipeline() throws {
        let result = try load("""
            pipeline: demo
            description: A demo
            schedule: "0 3 * * *"
            max_parallel: 4
            notify: { on: failure, webhook: "https://hooks.example.com/t/abc" }
            stages:
              first:
                emit: { text: one }
                out: processed_data/first.txt
              second:
                description: reads first
                emit: { text: two, from: first, times: 2 }
                out: [processed_data/second.txt, "processed_data/{run_date}/copy.txt"]
              ping:
                notify: { message: done }
                after: second
            """)
        let spec = try #require(result.spec)
        #expect(result.warnings.isEmpty)
        #expect(spec.name == "demo")
        #expect(spec.description == "A demo")
        #expect(spec.schedule?.cron == "0 3 * * *")
        #expect(spec.maxParallel == 4)
        #expect(spec.notify == NotifySpec(events: [.failure], webhook: "https://hooks.example.com/t/abc"))
        #expect(spec.stages.map(\.name) == ["first", "second", "ping"])
        #expect(spec.stages.map(\.kind) == ["emit", "emit", "notify"])
        let second = try #require(spec.stage(named: "second"))
        #expect(second.upstream == ["first"])
        #expect(second.outputTemplates == ["processed_data/second.txt", "processed_data/{run_date}/copy.txt"])
        #expect(second.line == 11 && second.column == 5)
        #expect(spec.stage(named: "ping")?.upstream == ["second"])
        #expect(spec.stage(named: "ping")?.outputTemplates == [])
        let emit = try #require(second.definition as? EmitStage)
        #expect(emit.text == "two" && emit.times == 2 && emit.inputs == [.stage("first")])
        let lake = Lake(root: "/lake")
        #expect(try second.outputs(in: lake, runID: "r", runDate: "2026-01-02", pipeline: "demo").map(\.relative)
                == ["processed_data/second.txt", "processed_data/2026-01-02/copy.txt"])
    }

    // MARK: notify and the scheduler's policy

    @Test func notifyBlock() throws {
        let result = try load("""
            notify:
              on: [failure, success, budget]
              webhook: "${HOOK}"
              webhook_secret: "${SECRET}"
              slack: https://hooks.slack.com/services/T0/B0/xyz
              email: [ops@example.com, "dev@example.org"]
            stages:
              a: { emit: { text: x }, out: processed_data/a.txt }
            """, variables: ["HOOK": "https://example.com/hook?token=t", "SECRET": "s3cret"])
        let notify = try #require(result.spec?.notify)
        #expect(notify.events == [.failure, .success, .budget])
        #expect(notify.webhook == "https://example.com/hook?token=t" && notify.webhookSecret == "s3cret")
        #expect(notify.slack == "https://hooks.slack.com/services/T0/B0/xyz")
        #expect(notify.email == ["ops@example.com", "dev@example.org"])
        #expect(Set(notify.secrets) == ["s3cret", "https://example.com/hook?token=t", "https://hooks.slack.com/services/T0/B0/xyz"])
        // `on` defaults to failure; one address may stand alone.
        let single = try load("notify: { email: ops@example.com }\nstages:\n  a: { emit: { text: x }, out: processed_data/a.txt }\n")
        #expect(single.spec?.notify == NotifySpec(events: [.failure], email: ["ops@example.com"]))
    }

    @Test func notifyProblemsPointAtTheirKeys() throws {
        try expectProblems("""
            notify:
              on: [failure, sucess]
              webhook: ftp://example.com/x
              webhook_secret: ""
              slack: [a]
              email: [ops@example.com, not an address]
              sms: "+33"
            stages:
              a: { emit: { text: x }, out: processed_data/a.txt }
            """, [
                "2:17: notify.on.1: expected one of failure, success, budget, found 'sucess' (did you mean 'success'?)",
                "3:12: notify.webhook: expected an http:// or https:// URL",
                "4:19: notify.webhook_secret: the webhook secret is empty",
                "5:10: notify.slack: expected a string, found a list",
                "6:28: notify.email.1: expected an e-mail address like ops@example.com, found 'not an address'",
                "7:3: notify.sms: unknown key 'sms'",
            ])
        try expectProblems("notify: { on: [success] }\nstages:\n  a: { emit: { text: x }, out: processed_data/a.txt }\n",
                           ["1:9: notify: notify needs at least one of webhook, slack or email"])
    }

    @Test func schedulePolicy() throws {
        let result = try load("""
            schedule: { cron: "*/5 * * * *", missed: run_once, timeout: 90m, retries: 2, retry_delay: 30s }
            stages:
              a: { emit: { text: x }, out: processed_data/a.txt }
            """)
        let spec = try #require(result.spec)
        #expect(spec.schedule?.cron == "*/5 * * * *")
        #expect(spec.schedulePolicy == SchedulePolicy(missed: .runOnce, timeout: 5400, retries: 2, retryDelay: 30))
        let plain = try #require(try load("schedule: daily\nstages:\n  a: { emit: { text: x }, out: processed_data/a.txt }\n").spec)
        #expect(plain.schedulePolicy == SchedulePolicy())
        try expectProblems("""
            schedule: { cron: daily, missed: later, timeout: 0s, retries: -1, retry_delay: soon }
            stages:
              a: { emit: { text: x }, out: processed_data/a.txt }
            """, [
                "1:34: schedule.missed: expected one of skip, run_once, found 'later'",
                "1:50: schedule.timeout: the timeout must be longer than 0s",
                "1:63: schedule.retries: must be at least 0, found -1",
                "1:80: schedule.retry_delay: expected a duration like 30s, 15m, 24h or 7d, found 'soon'",
            ])
    }

    @Test func defaultsAndNameFromTheFile() throws {
        let spec = try #require(try load("stages:\n  a:\n    emit: {text: x}\n    out: processed_data/a.txt\n").spec)
        #expect(spec.name == "p")
        #expect(spec.maxParallel == 2)
        #expect(spec.description == nil && spec.schedule == nil && spec.notify == nil)
    }

    @Test func warningsDoNotStopTheLoad() throws {
        let result = try load("stages:\n  a:\n    emit: {text: \"\"}\n    out: processed_data/a.txt\n")
        #expect(result.spec != nil)
        #expect(result.warnings == ["3:18: warning: stages.a.emit.text: empty text"])
    }

    // MARK: Every error at its place

    @Test func unknownKeyWithSuggestion() throws {
        try expectProblems("""
            stages:
              a:
                emit: { text: x, times: 2, tmes: 3 }
                out: processed_data/a.txt
            """, ["3:32: stages.a.emit.tmes: unknown key 'tmes' (did you mean 'times'?)"])
    }

    @Test func unknownTopLevelKey() throws {
        try expectProblems("""
            pipeline: p
            max_paralel: 3
            stages:
              a:
                emit: { text: x }
                out: processed_data/a.txt
            """, ["2:1: max_paralel: unknown key 'max_paralel' (did you mean 'max_parallel'?)"])
    }

    @Test func misspeltStagesKey() throws {
        try expectProblems("""
            pipeline: p
            stage:
              a: {}
            """, [
                "1:1: missing required key 'stages'",
                "2:1: stage: unknown key 'stage' (did you mean 'stages'?)",
            ])
    }

    @Test func unknownStageLevelKey() throws {
        let found = try load("""
            stages:
              a:
                emit: { text: x }
                out: processed_data/a.txt
              b:
                emit: { text: y }
                out: processed_data/b.txt
                aftr: a
            """).problems
        #expect(found == ["8:5: stages.b.aftr: unknown key 'aftr' (did you mean 'after'?)"])
    }

    @Test(arguments: [
        ("times: many", "3:29: stages.a.emit.times: expected an integer, found 'many'"),
        ("times: \"3\"", "3:29: stages.a.emit.times: expected an integer, found '3'"),
        ("times: 2.5", "3:29: stages.a.emit.times: expected an integer, found '2.5'"),
        ("times: [1]", "3:29: stages.a.emit.times: expected an integer, found a list"),
        ("times: 0", "3:29: stages.a.emit.times: must be at least 1, found 0"),
        ("times: 11", "3:29: stages.a.emit.times: must be at most 10, found 11"),
        ("fail: maybe", "3:28: stages.a.emit.fail: expected true or false, found 'maybe'"),
        ("extra: {k: v}", "3:29: stages.a.emit.extra: expected a string, found a mapping"),
    ])
    func wrongTypes(setting: String, expected: String) throws {
        try expectProblems("""
            stages:
              a:
                emit: { text: x, \(setting) }
                out: processed_data/a.txt
            """, [expected])
    }

    @Test func listItemsAreReportedWithTheirIndex() throws {
        try expectProblems("""
            stages:
              a:
                emit: { text: x }
                out: processed_data/a.txt
              b:
                emit: { text: y, from: [a, {k: v}] }
                out: processed_data/b.txt
            """, ["6:32: stages.b.emit.from.1: expected a string, found a mapping"])
    }

    @Test func wrongDuration() throws {
        try expectProblems("""
            stages:
              a:
                meet: { partner: b, wait: soon }
                out: processed_data/a.txt
            """, ["3:31: stages.a.meet.wait: expected a duration like 30s, 15m, 24h or 7d, found 'soon'"])
    }

    @Test func missingRequiredKeys() throws {
        try expectProblems("""
            stages:
              a:
                emit: { times: 2 }
              b:
                notify: { message: hi }
                out: processed_data/b.txt
            """, [
                "3:5: stages.a: missing required key 'out' (the file this stage writes)",
                "3:11: stages.a.emit: missing required key 'text'",
                "6:10: stages.b.out: 'notify' stages write no files; remove 'out'",
            ])
    }

    @Test func unknownStageKind() throws {
        try expectProblems("""
            stages:
              a:
                emitt: { text: x }
                out: processed_data/a.txt
            """, ["3:5: stages.a: no stage kind: add one of emit, meet, notify (did you mean 'emit'?)"])
    }

    @Test func twoKindsInOneStage() throws {
        try expectProblems("""
            stages:
              a:
                emit: { text: x }
                notify: { message: y }
                out: processed_data/a.txt
            """, ["4:13: stages.a.notify: a stage has one kind; found 'emit' and 'notify'"])
    }

    @Test func fromNamesAnUnknownStage() throws {
        try expectProblems("""
            stages:
              prices:
                emit: { text: x }
                out: processed_data/prices.txt
              report:
                emit: { text: y, from: price }
                out: processed_data/report.txt
            """, ["6:28: stages.report.emit.from: no stage named 'price' (did you mean 'prices'?); a lake path needs a folder, e.g. raw_data/imports/price"])
    }

    @Test func afterNamesAnUnknownStageOrItself() throws {
        try expectProblems("""
            stages:
              prices:
                emit: { text: x }
                out: processed_data/prices.txt
                after: [prices, pricse]
            """, [
                "5:12: stages.prices.after: a stage cannot run after itself",
                "5:12: stages.prices.after: no stage named 'pricse' (did you mean 'prices'?)",
            ])
    }

    @Test func readingItsOwnOutputByName() throws {
        try expectProblems("""
            stages:
              a:
                emit: { text: x, from: a }
                out: processed_data/a.txt
            """, ["3:28: stages.a.emit.from: a stage cannot read its own output"])
    }

    @Test func twoStageCycle() throws {
        try expectProblems("""
            stages:
              a:
                emit: { text: x, from: b }
                out: processed_data/a.txt
              b:
                emit: { text: y, from: a }
                out: processed_data/b.txt
            """, ["3:5: stages.a: cycle: a -> b -> a"])
    }

    @Test func threeStageCycleThroughAfterAndFiles() throws {
        // c reads b's file by path, b runs after a, a reads c by name: a -> b -> c -> a.
        try expectProblems("""
            stages:
              a:
                emit: { text: x, from: c }
                out: processed_data/a.txt
              b:
                emit: { text: y }
                out: processed_data/b.txt
                after: a
              c:
                emit: { text: z, from: processed_data/b.txt }
                out: processed_data/c.txt
            """, ["3:5: stages.a: cycle: a -> b -> c -> a"])
    }

    @Test func outputWrittenByTwoStages() throws {
        try expectProblems("""
            stages:
              a:
                emit: { text: x }
                out: processed_data/same.txt
              b:
                emit: { text: y }
                out: [processed_data/other.txt, processed_data/same.txt]
            """, ["7:37: stages.b.out.1: 'processed_data/same.txt' is also written by stage 'a' (line 4); each file has one writer"])
    }

    @Test(arguments: [
        ("processed_data/{rundate}/a.txt", "unknown placeholder {rundate}; known: {run_date}, {run_id}, {pipeline}, {stage}"),
        ("processed_data/{run_date/a.txt", "unknown placeholder {{run_date/a.txt}; known: {run_date}, {run_id}, {pipeline}, {stage}"),
        ("processed_data/../a.txt", "'..' is not allowed in lake paths"),
        ("../outside.txt", "'..' is not allowed in lake paths"),
        ("/etc/outside.txt", "absolute paths are not allowed; name a path inside the lake"),
        ("processed_data/*.txt", "an output path cannot be a glob"),
        (".", "path names the lake root itself"),
    ])
    func badOutputPaths(out: String, message: String) throws {
        try expectProblems("""
            stages:
              a:
                emit: { text: x }
                out: "\(out)"
            """, ["4:10: stages.a.out: \(message)"])
    }

    @Test func outputInsideTheStateFolderIsRefused() throws {
        // .agentshop holds the engine's state, locks and hash cache; a stage must not write there.
        let result = try load("""
            stages:
              a:
                emit: { text: x }
                out: .agentshop/state/p.json
            """)
        #expect(result.spec == nil)
    }

    @Test func placeholdersThatAreKnown() throws {
        let spec = try #require(try load("""
            stages:
              a:
                emit: { text: x }
                out: processed_data/{pipeline}/{stage}/dt={run_date}/{run_id}.txt
            """).spec)
        #expect(try spec.stages[0].outputs(in: Lake(root: "/lake"), runID: "R1", runDate: "2026-02-03", pipeline: "p")
                .map(\.relative) == ["processed_data/p/a/dt=2026-02-03/R1.txt"])
    }

    @Test func invalidYAMLReportsItsPosition() throws {
        let found = try problems("""
            stages:
              a:
                emit: { text: x
                out: processed_data/a.txt
            """)
        #expect(found.count == 1)
        let first = try #require(found.first)
        #expect(first.contains("invalid YAML"))
        #expect(first.hasPrefix("4:") || first.hasPrefix("3:") || first.hasPrefix("5:"), "\(first)")
    }

    @Test func tabIndentationIsInvalidYAML() throws {
        let found = try problems("stages:\n\ta:\n")
        #expect(found.count == 1)
        #expect(found.first?.hasPrefix("2:") == true, "\(found)")
        #expect(found.first?.contains("invalid YAML") == true)
    }

    @Test func duplicateKeys() throws {
        let found = try problems("""
            stages:
              a:
                emit: { text: x }
                out: processed_data/a.txt
              a:
                emit: { text: y }
                out: processed_data/b.txt
            """)
        #expect(found.count == 1)
        #expect(found.first?.contains("duplicate key 'a'") == true, "\(found)")
        #expect(found.first?.hasPrefix("1:") == false, "points into the file, not at its start: \(found)")
    }

    @Test(arguments: [
        ("", "1:1: the pipeline file is empty"),
        ("# only a comment\n", "1:1: the pipeline file is empty"),
        ("- a\n- b\n", "1:1: expected a mapping, found a list"),
        ("just text", "1:1: expected a mapping, found 'just text'"),
        ("stages: {}", "1:9: stages: a pipeline needs at least one stage"),
        ("stages: [a, b]", "1:9: stages: expected a mapping, found a list"),
    ])
    func fileLevelProblems(yaml: String, expected: String) throws {
        try expectProblems(yaml, [expected])
    }

    @Test func unreadableAndNonUTF8Files() throws {
        let tmp = try TemporaryDirectory()
        let loader = PipelineLoader(registry: fakeRegistry(), environment: PipelineEnvironment(variables: [:]), lake: nil)
        let missing = #expect(throws: PipelineValidationError.self) { try loader.load(file: tmp.file("missing.yaml")) }
        #expect(missing?.description == tmp.file("missing.yaml") + ":1:1: cannot read the pipeline file")
        try Data([0x73, 0x3A, 0x20, 0xFF, 0xFE]).write(to: URL(fileURLWithPath: tmp.file("bad.yaml")))
        let bad = #expect(throws: PipelineValidationError.self) { try loader.load(file: tmp.file("bad.yaml")) }
        #expect(bad?.description == tmp.file("bad.yaml") + ":1:1: the pipeline file is not valid UTF-8")
    }

    @Test func invalidNames() throws {
        try expectProblems("""
            pipeline: my pipeline
            stages:
              bad.name:
                emit: { text: x }
                out: processed_data/a.txt
            """, [
                "1:11: pipeline: pipeline names may hold letters, digits, '_' and '-' only, found 'my pipeline'",
                "4:5: stages.bad.name: stage names may hold letters, digits, '_' and '-' only",
            ])
    }

    @Test func maxParallelRange() throws {
        try expectProblems("max_parallel: 0\nstages:\n  a:\n    emit: {text: x}\n    out: processed_data/a.txt\n",
                           ["1:15: max_parallel: must be at least 1, found 0"])
    }

    @Test func severalProblemsAtOnceInFileOrder() throws {
        let found = try problems("""
            pipeline: p
            max_parallel: lots
            stages:
              a:
                emit: { text: x, times: "2" }
                out: /abs.txt
              b:
                emitt: { text: y }
                out: processed_data/b.txt
              c:
                emit: { text: z, from: nowhere }
                out: processed_data/{day}.txt
            """)
        #expect(found == [
            "2:15: max_parallel: expected an integer, found 'lots'",
            "5:29: stages.a.emit.times: expected an integer, found '2'",
            "6:10: stages.a.out: absolute paths are not allowed; name a path inside the lake",
            "8:5: stages.b: no stage kind: add one of emit, meet, notify (did you mean 'emit'?)",
            "11:28: stages.c.emit.from: no stage named 'nowhere'; a lake path needs a folder, e.g. raw_data/imports/nowhere",
            "12:10: stages.c.out: unknown placeholder {day}; known: {run_date}, {run_id}, {pipeline}, {stage}",
        ])
    }

    // MARK: Variables

    @Test func variablesAreExpanded() throws {
        let spec = try #require(try load("""
            stages:
              a:
                emit: { text: "${GREETING}, ${NAME:-world}${EMPTY:-!} $$5 ${EMPTY}." }
                out: processed_data/a.txt
            """, variables: ["GREETING": "hello", "EMPTY": ""]).spec)
        let emit = try #require(spec.stages[0].definition as? EmitStage)
        #expect(emit.text == "hello, world! $5 .")
        #expect(spec.stages[0].canonicalConfig.contains("hello, world! $5 ."), "the fingerprint sees the expanded value")
    }

    @Test func unsetVariableIsAnErrorAtItsValue() throws {
        try expectProblems("""
            stages:
              a:
                emit: { text: "${API_KEY}" }
                out: processed_data/a.txt
            """, ["3:19: stages.a.emit.text: environment variable API_KEY is not set (set it, add it to .env, or write ${API_KEY:-default})"])
    }

    @Test func variableInAnIntegerSetting() throws {
        let spec = try #require(try load("""
            stages:
              a:
                emit:
                  text: x
                  times: ${TIMES}
                out: processed_data/a.txt
            """, variables: ["TIMES": "3"]).spec)
        #expect((spec.stages[0].definition as? EmitStage)?.times == 3)
    }

    @Test func unsetVariableInAnIntegerSettingIsOneProblem() throws {
        let found = try problems("""
            stages:
              a:
                emit:
                  text: x
                  times: ${TIMES}
                out: processed_data/a.txt
            """)
        #expect(found.first == "5:14: stages.a.emit.times: environment variable TIMES is not set (set it, add it to .env, or write ${TIMES:-default})")
        #expect(found.count == 1, "\(found)")
    }

    @Test func quotedVariableInAFlowStyleIntegerSetting() throws {
        // Flow style needs the quotes around ${VAR}; the expanded text must still read as a number.
        let result = try load("""
            stages:
              a:
                emit: { text: x, times: "${TIMES}" }
                out: processed_data/a.txt
            """, variables: ["TIMES": "3"])
        #expect(result.problems == [])
        let quotedNumber = try problems("""
            stages:
              a:
                emit: { text: x, times: "3" }
                out: processed_data/a.txt
            """)
        #expect(quotedNumber == ["3:29: stages.a.emit.times: expected an integer, found '3'"])
    }

    @Test func sameOutputSpelledTwoWaysIsStillTwoWriters() throws {
        let result = try load("""
            stages:
              a:
                emit: { text: x }
                out: processed_data/same.txt
              b:
                emit: { text: y }
                out: processed_data//same.txt
            """)
        #expect(result.spec == nil)
        #expect(result.problems.count == 1)
        #expect(result.problems.first?.contains("is also written by stage 'a'") == true, "\(result.problems)")
    }

    @Test func outputWithALeadingDotSlashIsNotHidden() throws {
        // `./processed_data/a.txt` names processed_data/a.txt, as LakePath reads it.
        let result = try load("""
            stages:
              a:
                emit: { text: x }
                out: ./processed_data/a.txt
            """)
        #expect(result.problems == [])
        #expect(result.spec?.stages.first.map { try? $0.outputs(in: Lake(root: "/l"), runID: "r", runDate: "d", pipeline: "p") }??
                    .map(\.relative) == ["processed_data/a.txt"])
    }

    // MARK: Inputs and the graph

    @Test func fileInputWrittenByAnotherStageMakesAnEdge() throws {
        let spec = try #require(try load("""
            stages:
              report:
                emit: { text: r, from: "processed_data/*/daily.txt" }
                out: processed_data/report.txt
              daily:
                emit: { text: d }
                out: processed_data/{run_date}/daily.txt
            """, lake: Lake(root: "/nonexistent-lake")).spec)
        #expect(spec.stage(named: "report")?.upstream == ["daily"])
        #expect(PipelineGraph.topologicalOrder(spec.stages).map(\.name) == ["daily", "report"])
    }

    @Test func fileInputsMustExistInTheLake() throws {
        let tmp = try TemporaryDirectory()
        try tmp.write("lake/raw_data/imports/here.csv", "a\n1\n")
        let lake = Lake(root: tmp.file("lake"))
        let ok = try load("""
            stages:
              a:
                emit: { text: x, from: ["raw_data/imports/here.csv", "raw_data/imports/*.csv"] }
                out: processed_data/a.txt
            """, lake: lake)
        #expect(ok.spec?.stages.first?.upstream == [])
        let missing = try load("""
            stages:
              a:
                emit: { text: x, from: raw_data/imports/missing.csv }
                out: processed_data/a.txt
            """, lake: lake)
        #expect(missing.problems == ["3:5: stages.a: no file in the lake (\(lake.root)) matches 'raw_data/imports/missing.csv', and no stage writes it"])
        let outside = try load("""
            stages:
              a:
                emit: { text: x, from: ../secrets/x.csv }
                out: processed_data/a.txt
            """, lake: lake)
        #expect(outside.problems == ["3:5: stages.a: input '../secrets/x.csv': '..' is not allowed in lake paths"])
    }

    // MARK: Canonical configuration (part of the fingerprint)

    @Test func canonicalConfigIgnoresKeyOrderAndDescription() throws {
        let one = try #require(try load("""
            stages:
              a:
                description: first words
                emit: { text: x, times: 2 }
                out: processed_data/a.txt
            """).spec)
        let two = try #require(try load("""
            stages:
              a:
                out: processed_data/a.txt
                emit: { times: 2, text: x }
                description: other words
            """).spec)
        let three = try #require(try load("""
            stages:
              a:
                emit: { text: x, times: 3 }
                out: processed_data/a.txt
            """).spec)
        #expect(one.stages[0].canonicalConfig == two.stages[0].canonicalConfig)
        #expect(one.stages[0].canonicalConfig != three.stages[0].canonicalConfig)
        #expect(!one.stages[0].canonicalConfig.contains("first words"))
    }

    @Test func projectFolder() {
        #expect(PipelineLoader.projectFolder(ofPipelineFile: "/x/project/pipelines/a.yaml") == "/x/project")
        #expect(PipelineLoader.projectFolder(ofPipelineFile: "/x/elsewhere/a.yaml") == "/x/elsewhere")
        #expect(PipelineLoader.projectFolder(ofPipelineFile: "/x/project/pipelines/../pipelines/a.yaml") == "/x/project")
    }
}

struct PipelineLoaderYAMLFeatureTests {
    @Test func anchorsAndAliasesShareConfiguration() throws {
        let tmp = try TemporaryDirectory()
        let file = try tmp.write("p.yaml", """
            stages:
              a:
                emit: &shared { text: same, times: 2 }
                out: processed_data/a.txt
              b:
                emit: *shared
                out: processed_data/b.txt
            """)
        let loader = PipelineLoader(registry: fakeRegistry(), environment: PipelineEnvironment(variables: [:]), lake: nil)
        let spec = try loader.load(file: file).0
        #expect((spec.stage(named: "b")?.definition as? EmitStage)?.times == 2)
    }
}
