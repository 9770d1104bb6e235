import Foundation
import Testing
@testable import Lake
@testable import Pipeline

/// The runner with fake stage kinds writing real files into a temporary lake.
// One test at a time: each run fsyncs outputs, state and manifests, and on a 2-core machine the
// cooperative pool has two threads that other suites' time-limited tests need too.
@Suite(.serialized) struct PipelineRunnerTests {
    /// source -> a -> b -> c, and `other` beside them.
    private let chain = """
        pipeline: p
        stages:
          a:
            emit: { text: "A", from: raw_data/imports/source.txt }
            out: processed_data/a.txt
          b:
            emit: { text: "B", from: a }
            out: processed_data/b.txt
          c:
            emit: { text: "C", from: b }
            out: processed_data/c.txt
          other:
            emit: { text: "O", from: raw_data/imports/other.txt }
            out: processed_data/other.txt
        """

    private func chainProject(_ function: String = #function) throws -> Project {
        let project = try Project(function)
        try project.put("raw_data/imports/source.txt", "s1 ")
        try project.put("raw_data/imports/other.txt", "o1 ")
        try project.writePipeline(chain)
        return project
    }

    @Test func firstRunRunsEveryStage() async throws {
        let project = try chainProject()
        let manifest = try await project.run { $0.runID = "R1" }
        #expect(manifest.status == .succeeded)
        #expect(manifest.error == nil)
        #expect(manifest.stages.map(\.name) == ["a", "b", "c", "other"])
        #expect(manifest.stages.allSatisfy { $0.status == .ran && $0.reason == "never run" })
        #expect(try project.read("processed_data/a.txt") == "s1 A")
        #expect(try project.read("processed_data/b.txt") == "s1 AB")
        #expect(try project.read("processed_data/c.txt") == "s1 ABC")
        #expect(try project.read("processed_data/other.txt") == "o1 O")
        #expect(project.world.runs.sorted() == ["a", "b", "c", "other"])

        let b = try #require(manifest.stage("b"))
        #expect(b.inputs.map(\.path) == ["processed_data/a.txt"])
        #expect(b.outputs == [RunManifest.FileEntry(path: "processed_data/b.txt", sha256: SHA256.hex(of: "s1 AB"),
                                                    bytes: 5, records: 1)])
        #expect(b.counts == ["files_in": 1])
        #expect(b.fingerprint.count == 64)
        #expect(b.startedAt != nil && b.durationMs != nil)
        #expect(manifest.stage("a")?.inputs.map(\.path) == ["raw_data/imports/source.txt"])

        // The manifest on disk is the one returned.
        let stored = try ManifestStore(lake: project.lake).find(runID: "R1")
        #expect(stored == manifest)
        #expect(manifest.runDate == "2026-01-02")
        #expect(manifest.finishedAt != nil)
    }

    /// A run killed midway leaves temporaries wherever it writes atomically: outputs, its manifest,
    /// the pipeline's state, the hash cache, a stage's state folder, a stage's side folder (a
    /// shared cache), the store's folder.
    @Test func aRunRemovesTheTemporariesOfDeadRuns() async throws {
        let project = try chainProject()
        let lake = project.lake
        let dead: Int32 = 999_999  // no such process
        let folders = [lake.root + "/processed_data", lake.root + "/raw_data/logs/p", lake.stateFolder + "/state",
                       lake.stateFolder + "/hashes", lake.stateFolder + "/stages/p/a", lake.stateFolder + "/stages/p/a/pages/ab",
                       lake.root + "/store", lake.root + "/external_apis/emit_cache/ab"]
        var planted: [String] = []
        for folder in folders {
            try FileManager.default.createDirectory(atPath: folder, withIntermediateDirectories: true)
            let path = folder + "/.x.json" + AtomicFile.temporaryMarker + "\(dead)-42"
            #expect(FileManager.default.createFile(atPath: path, contents: Data("half".utf8)))
            planted.append(path)
        }
        let alive = lake.root + "/processed_data/.y" + AtomicFile.temporaryMarker + "\(getpid())-7"
        #expect(FileManager.default.createFile(atPath: alive, contents: Data()))

        #expect(try await project.run { $0.runID = "R1" }.status == .succeeded)
        for path in planted { #expect(!FileManager.default.fileExists(atPath: path), "\(path) left behind") }
        // A temporary of a live process (another run, writing now) is not touched.
        #expect(FileManager.default.fileExists(atPath: alive))
    }

    @Test func secondRunSkipsEveryStage() async throws {
        let project = try chainProject()
        let first = try await project.run()
        let second = try await project.run()
        #expect(second.status == .succeeded)
        #expect(second.stages.allSatisfy { $0.status == .skipped && $0.reason == "up to date" })
        #expect(project.world.runs.count == 4, "nothing ran the second time")
        #expect(second.stage("c")?.outputs == first.stage("c")?.outputs)
        #expect(second.stage("b")?.fingerprint == first.stage("b")?.fingerprint)
    }

    @Test func changedSourceRerunsOnlyWhatIsDownstream() async throws {
        let project = try chainProject()
        _ = try await project.run()
        project.world.reset()
        try project.put("raw_data/imports/source.txt", "s2 ")
        let manifest = try await project.run()
        #expect(manifest.statuses == ["a": .ran, "b": .ran, "c": .ran, "other": .skipped])
        #expect(manifest.stage("a")?.reason == "input changed: raw_data/imports/source.txt")
        #expect(manifest.stage("b")?.reason == "input changed: processed_data/a.txt")
        #expect(project.world.runs.sorted() == ["a", "b", "c"])
        #expect(try project.read("processed_data/c.txt") == "s2 ABC")
    }

    @Test func unchangedOutputStopsTheRerunEarly() async throws {
        // b's config changes but its output does not: c, reading b, need not run.
        let project = try chainProject()
        _ = try await project.run()
        try project.writePipeline(chain.replacingOccurrences(of: "emit: { text: \"B\", from: a }",
                                                             with: "emit: { text: \"B\", from: a, extra: v2 }"))
        project.world.reset()
        let manifest = try await project.run()
        #expect(manifest.stage("b")?.status == .ran)
        #expect(manifest.stage("b")?.reason == "configuration changed")
        #expect(manifest.stage("c")?.status == .skipped)
        #expect(project.world.runs == ["b"])
    }

    @Test func failingStageFailsTheRunBlocksDownstreamAndKeepsEarlierOutputs() async throws {
        let project = try chainProject()
        _ = try await project.run()
        let before = try project.snapshot()
        try project.writePipeline(chain.replacingOccurrences(of: "emit: { text: \"B\", from: a }",
                                                             with: "emit: { text: \"B\", from: a, fail: true }"))
        let manifest = try await project.run { $0.runID = "R2" }
        #expect(manifest.status == .failed)
        #expect(manifest.error == "stage 'b' failed: fake failure in b")
        let b = try #require(manifest.stage("b"))
        #expect(b.status == .failed)
        #expect(b.reason == "configuration changed")
        #expect(b.error == "fake failure in b")
        #expect(b.outputs.isEmpty)
        let c = try #require(manifest.stage("c"))
        #expect(c.status == .blocked)
        #expect(c.reason.hasPrefix("not run"))
        // Earlier outputs are intact and no temporary file is left behind.
        for name in ["a.txt", "b.txt", "c.txt", "other.txt"] {
            let path = "processed_data/" + name
            #expect(try FileDigest.sha256(path: project.lake.root + "/" + path) == before[path], "\(path)")
        }
        #expect(try project.read("processed_data/b.txt") == "s1 AB")
        let names = try FileManager.default.contentsOfDirectory(atPath: project.lake.root + "/processed_data")
        #expect(!names.contains { $0.contains(AtomicFile.temporaryMarker) }, "\(names)")
        #expect(try ManifestStore(lake: project.lake).find(runID: "R2").status == .failed)

        // The failed stage's state is untouched: fixing the config makes it up to date again.
        try project.writePipeline(chain)
        let fixed = try await project.run()
        #expect(fixed.status == .succeeded)
        #expect(fixed.stages.allSatisfy { $0.status == .skipped })
    }

    private func single(_ text: String, allowEmpty: String? = nil) -> String {
        """
        pipeline: p
        stages:
          a:
            emit: { text: "\(text)" }
            out: processed_data/a.txt\(allowEmpty.map { "\n    allow_empty: \($0)" } ?? "")
        """
    }

    /// The engine's guard: an empty output over one holding data fails the stage and the earlier file
    /// is put back, unless the stage says `allow_empty: true`.
    @Test func anEmptyOutputNeverSilentlyReplacesOneWithData() async throws {
        let project = try Project()
        try project.writePipeline(single("A"))
        #expect(try await project.run().status == .succeeded)

        try project.writePipeline(single(""))
        let manifest = try await project.run { $0.runID = "R2" }
        #expect(manifest.status == .failed)
        let a = try #require(manifest.stage("a"))
        #expect(a.status == .failed)
        #expect(a.error?.contains("wrote an empty processed_data/a.txt over one that held data") == true, "\(a.error ?? "")")
        #expect(a.error?.contains("allow_empty: true") == true)
        #expect(try project.read("processed_data/a.txt") == "A")
        let names = try FileManager.default.contentsOfDirectory(atPath: project.lake.root + "/processed_data")
        #expect(names == ["a.txt"], "\(names)")

        try project.writePipeline(single("", allowEmpty: "true"))
        let allowed = try await project.run { $0.runID = "R3" }
        #expect(allowed.status == .succeeded)
        #expect(try project.read("processed_data/a.txt") == "")
        // `allow_empty` is not part of the fingerprint: taking it away again changes nothing to run.
        try project.writePipeline(single(""))
        #expect(try await project.run().stage("a")?.status == .skipped)
    }

    /// A stage that publishes its output and then fails (a second output it could not write, say).
    struct PublishThenFail: StageDefinition {
        var inputs: [StageInput] { [] }
        func run(_ context: StageContext) async throws -> StageReport {
            for output in context.outputs { try AtomicFile.write("half", to: output.absolute) }
            throw StageError("failed after publishing")
        }
    }

    @Test func aStageThatFailsAfterPublishingGetsItsPreviousOutputBack() async throws {
        let project = try Project()
        try project.writePipeline(single("A"))
        #expect(try await project.run().status == .succeeded)

        try project.writePipeline("""
            pipeline: p
            stages:
              a:
                publish_then_fail: {}
                out: processed_data/a.txt
            """)
        let kind = StageKind(name: "publish_then_fail", summary: "fails after publishing", outputs: .required) { config, _ in
            config.rejectUnknownKeys()
            return PublishThenFail()
        }
        let registry = StageRegistry(Array(fakeRegistry(project.world).kinds.values) + [kind])
        let spec = try PipelineLoader(registry: registry, environment: project.environment, lake: project.lake)
            .load(file: project.pipelineFile).0
        var options = RunOptions()
        options.runDate = "2026-01-02"
        let manifest = await PipelineRunner(spec: spec, lake: project.lake, environment: project.environment,
                                            logger: quietLogger, options: options).run()
        #expect(manifest.status == .failed)
        #expect(manifest.stage("a")?.error == "failed after publishing")
        #expect(try project.read("processed_data/a.txt") == "A")
        let names = try FileManager.default.contentsOfDirectory(atPath: project.lake.root + "/processed_data")
        #expect(names == ["a.txt"], "\(names)")
    }

    @Test func anEmptyOutputOnAFreshPathIsNotTheGuardsBusiness() async throws {
        let project = try Project()
        try project.writePipeline(single(""))
        #expect(try await project.run().status == .succeeded)
    }

    @Test func allowEmptyIsValidatedAtItsPosition() async throws {
        let project = try Project()
        try project.writePipeline(single("A", allowEmpty: "sometimes"))
        #expect {
            try project.load()
        } throws: { error in
            let text = "\(error)"
            return text.contains("p.yaml:6:18: stages.a.allow_empty: expected true or false")
        }
    }

    @Test func failureOnTheFirstRunLeavesUpstreamOutputs() async throws {
        let project = try chainProject()
        try project.writePipeline(chain.replacingOccurrences(of: "emit: { text: \"B\", from: a }",
                                                             with: "emit: { text: \"B\", from: a, fail: true }"))
        let manifest = try await project.run()
        #expect(manifest.status == .failed)
        #expect(manifest.stage("a")?.status == .ran)
        #expect(manifest.stage("c")?.status == .blocked)
        #expect(try project.read("processed_data/a.txt") == "s1 A")
        #expect(!project.exists("processed_data/b.txt"))
        #expect(!project.exists("processed_data/c.txt"))
        // Next time a is up to date and b runs again (it never succeeded).
        try project.writePipeline(chain)
        let next = try await project.run()
        #expect(next.statuses == ["a": .skipped, "b": .ran, "c": .ran, "other": .skipped])
        #expect(next.stage("b")?.reason == "never run")
    }

    @Test func forceRerunsEverything() async throws {
        let project = try chainProject()
        _ = try await project.run()
        let manifest = try await project.run { $0.force = true }
        #expect(manifest.stages.allSatisfy { $0.status == .ran && $0.reason == "forced" })
        #expect(manifest.options == ["--force", "--date=2026-01-02"])
    }

    @Test func selectedStagesRunWithTheirUpstreamOnly() async throws {
        let project = try chainProject()
        let manifest = try await project.run { $0.stages = ["b"] }
        #expect(manifest.stages.map(\.name) == ["a", "b"])
        #expect(manifest.statuses == ["a": .ran, "b": .ran])
        #expect(!project.exists("processed_data/c.txt"))
        #expect(!project.exists("processed_data/other.txt"))
        #expect(manifest.options.contains("--stage=b"))
    }

    @Test func forceWithSelectedStagesForcesOnlyThose() async throws {
        let project = try chainProject()
        _ = try await project.run()
        let manifest = try await project.run { $0.force = true; $0.stages = ["b"] }
        #expect(manifest.statuses == ["a": .skipped, "b": .ran])
        #expect(manifest.stage("b")?.reason == "forced")
    }

    @Test func dryRunWritesNothing() async throws {
        let project = try chainProject()
        let before = try project.snapshot()
        let planned = try await project.run { $0.dryRun = true }
        #expect(try project.snapshot() == before, "no output, manifest, state or cache written")
        #expect(project.world.runs.isEmpty)
        #expect(planned.status == .succeeded)
        #expect(planned.stages.allSatisfy { $0.status == .planned })
        #expect(planned.stage("a")?.reason == "never run")
        #expect(planned.stage("b")?.reason == "upstream stage 'a' will run")
        #expect(planned.stage("c")?.reason == "upstream stage 'b' will run")

        _ = try await project.run()
        try project.put("raw_data/imports/other.txt", "o2 ")
        let afterRun = try project.snapshot()
        let again = try await project.run { $0.dryRun = true }
        #expect(try project.snapshot() == afterRun)
        #expect(again.statuses == ["a": .skipped, "b": .skipped, "c": .skipped, "other": .planned])
        #expect(again.stage("other")?.reason == "input changed: raw_data/imports/other.txt")
    }

    @Test func changedVariableInTheConfigurationRerunsTheStage() async throws {
        let project = try Project()
        try project.writePipeline("""
            stages:
              greet:
                emit: { text: "${GREETING}" }
                out: processed_data/greet.txt
            """)
        project.environment = PipelineEnvironment(variables: ["GREETING": "hello"])
        _ = try await project.run()
        #expect(try await project.run().stage("greet")?.status == .skipped)
        project.environment = PipelineEnvironment(variables: ["GREETING": "bonjour"])
        let manifest = try await project.run()
        #expect(manifest.stage("greet")?.reason == "configuration changed")
        #expect(try project.read("processed_data/greet.txt") == "bonjour")
    }

    @Test func outputDeletedByHandIsRemade() async throws {
        let project = try chainProject()
        _ = try await project.run()
        try FileManager.default.removeItem(atPath: project.lake.root + "/processed_data/b.txt")
        project.world.reset()
        let manifest = try await project.run()
        #expect(manifest.stage("b")?.status == .ran)
        #expect(manifest.stage("b")?.reason == "output missing: processed_data/b.txt")
        #expect(manifest.stage("c")?.status == .skipped, "b's new output is the same as before")
        #expect(project.world.runs == ["b"])
        #expect(try project.read("processed_data/b.txt") == "s1 AB")
    }

    @Test func outputEditedByHandIsRemade() async throws {
        let project = try chainProject()
        _ = try await project.run()
        try project.put("processed_data/c.txt", "tampered")
        let manifest = try await project.run()
        #expect(manifest.stage("c")?.status == .ran)
        #expect(manifest.stage("c")?.reason == "output changed since it was written: processed_data/c.txt")
        #expect(try project.read("processed_data/c.txt") == "s1 ABC")
    }

    @Test func temporariesOfDeadRunsAreRemoved() async throws {
        let project = try chainProject()
        _ = try await project.run()
        let marker = AtomicFile.temporaryMarker
        try project.put("processed_data/.b.txt\(marker)4194000-1", "left by a killed run")
        try project.put("processed_data/.c.txt\(marker)\(getpid())-2", "being written by this process")
        let manifest = try await project.run()
        #expect(manifest.stages.allSatisfy { $0.status == .skipped })
        #expect(!project.exists("processed_data/.b.txt\(marker)4194000-1"))
        #expect(project.exists("processed_data/.c.txt\(marker)\(getpid())-2"))
    }

    @Test func runDateInOutputPaths() async throws {
        let project = try Project()
        try project.writePipeline("""
            stages:
              daily:
                emit: { text: d }
                out: processed_data/dt={run_date}/daily.txt
            """)
        _ = try await project.run { $0.runDate = "2026-03-01" }
        #expect(try project.read("processed_data/dt=2026-03-01/daily.txt") == "d")
        let same = try await project.run { $0.runDate = "2026-03-01" }
        #expect(same.stage("daily")?.status == .skipped)
        let next = try await project.run { $0.runDate = "2026-03-02" }
        #expect(next.stage("daily")?.status == .ran)
        #expect(next.stage("daily")?.reason == "output paths changed (processed_data/dt=2026-03-02/daily.txt)")
        #expect(project.exists("processed_data/dt=2026-03-01/daily.txt"), "the earlier partition stays")
    }

    @Test func fileInputNamingAnotherStagesDatedOutput() async throws {
        // The loader links b to a (same template), so the file validates; at run time the input
        // pattern is globbed with its {run_date} unexpanded and matches nothing.
        let project = try Project()
        try project.writePipeline("""
            stages:
              a:
                emit: { text: "A" }
                out: processed_data/dt={run_date}/a.txt
              b:
                emit: { text: "B", from: "processed_data/dt={run_date}/a.txt" }
                out: processed_data/dt={run_date}/b.txt
            """)
        #expect(try project.load().stage(named: "b")?.upstream == ["a"])
        let manifest = try await project.run { $0.runDate = "2026-03-01" }
        #expect(manifest.stage("a")?.status == .ran)
        #expect(manifest.stage("b")?.status == .ran, "\(manifest.stage("b")?.error ?? "")")
        let text = try project.read("processed_data/dt=2026-03-01/b.txt")
        #expect(text == "AB")
    }

    @Test func independentStagesRunConcurrently() async throws {
        // Each stage waits for the other to start: they succeed only when run at the same time.
        let project = try Project()
        try project.writePipeline("""
            max_parallel: 2
            stages:
              left:
                meet: { partner: right, wait: 30s }
                out: processed_data/left.txt
              right:
                meet: { partner: left, wait: 30s }
                out: processed_data/right.txt
            """)
        let manifest = try await project.run()
        #expect(manifest.status == .succeeded, "\(manifest.error ?? "")")
        #expect(manifest.statuses == ["left": .ran, "right": .ran])
    }

    @Test func maxParallelOneRunsStagesOneAtATime() async throws {
        // The control for the test above: with one slot the first stage waits in vain.
        let project = try Project()
        try project.writePipeline("""
            stages:
              left:
                meet: { partner: right, wait: 200ms }
                out: processed_data/left.txt
              right:
                meet: { partner: left, wait: 200ms }
                out: processed_data/right.txt
            """)
        let manifest = try await project.run { $0.maxParallel = 1 }
        #expect(manifest.status == .failed)
        #expect(manifest.stage("left")?.error == "partner 'right' did not start within 0.2s")
        #expect(manifest.stage("right")?.status == .blocked)
    }

    @Test func maxParallelCapsStagesRunningAtOnce() async throws {
        let project = try Project()
        try project.writePipeline("""
            max_parallel: 2
            stages:
              s1: { emit: { text: "1", hold: 250ms }, out: processed_data/1.txt }
              s2: { emit: { text: "2", hold: 250ms }, out: processed_data/2.txt }
              s3: { emit: { text: "3", hold: 250ms }, out: processed_data/3.txt }
              s4: { emit: { text: "4", hold: 250ms }, out: processed_data/4.txt }
            """)
        let manifest = try await project.run()
        #expect(manifest.status == .succeeded)
        #expect(project.world.runs.count == 4)
        #expect(project.world.maxConcurrent <= 2)
    }

    @Test func maxParallelOptionOverridesTheFile() async throws {
        // Three stages that each wait for the other two: they succeed only if three run at once.
        let project = try Project()
        try project.writePipeline("""
            max_parallel: 2
            stages:
              x: { meet: { partner: [y, z], wait: 30s }, out: processed_data/x.txt }
              y: { meet: { partner: [x, z], wait: 30s }, out: processed_data/y.txt }
              z: { meet: { partner: [x, y], wait: 30s }, out: processed_data/z.txt }
            """)
        let manifest = try await project.run { $0.maxParallel = 3 }
        #expect(manifest.status == .succeeded, "\(manifest.error ?? "")")
    }

    @Test func cancellingTheRunInterruptsIt() async throws {
        let project = try Project()
        try project.writePipeline("""
            stages:
              waiter:
                meet: { partner: nobody, wait: 30s }
                out: processed_data/waiter.txt
              later:
                emit: { text: x }
                out: processed_data/later.txt
            """)
        let task = Task { try await project.run { $0.maxParallel = 1; $0.runID = "R1" } }
        for _ in 0..<1000 where !project.world.hasStarted("waiter") { try await Task.sleep(nanoseconds: 5_000_000) }
        #expect(project.world.hasStarted("waiter"))
        let began = Date()
        task.cancel()
        let manifest = try await task.value
        #expect(Date().timeIntervalSince(began) < 29, "well before the stage's own 30s wait ends")
        #expect(manifest.status == .interrupted)
        #expect(manifest.stage("waiter")?.status == .failed)
        #expect(manifest.stage("waiter")?.error == "interrupted")
        #expect(manifest.stage("later")?.status == .blocked)
        #expect(manifest.stage("later")?.reason == "not run: the run was interrupted")
        #expect(try ManifestStore(lake: project.lake).find(runID: "R1").status == .interrupted)
        #expect(!project.exists("processed_data/later.txt"))
    }

    @Test func afterOrdersStagesWithoutData() async throws {
        let project = try Project()
        try project.writePipeline("""
            stages:
              first:
                emit: { text: "1", hold: 100ms }
                out: processed_data/first.txt
              second:
                emit: { text: "2" }
                out: processed_data/second.txt
                after: first
            """)
        let manifest = try await project.run()
        #expect(manifest.status == .succeeded)
        let first = try #require(manifest.stage("first"))
        let second = try #require(manifest.stage("second"))
        let firstStart = try #require(first.startedAt.flatMap(Timestamp.parse))
        let secondStart = try #require(second.startedAt.flatMap(Timestamp.parse))
        let firstDuration = try #require(first.durationMs, "the manifest records how long the first stage took")
        #expect(secondStart.timeIntervalSince(firstStart) * 1000 >= Double(firstDuration) - 1)
        #expect(second.inputs.isEmpty, "after: orders, it does not feed")
    }

    @Test func stageWithTwoOutputs() async throws {
        let project = try Project()
        try project.writePipeline("""
            stages:
              pair:
                emit: { text: "both" }
                out: [processed_data/one.txt, processed_data/two.txt]
            """)
        let manifest = try await project.run()
        #expect(manifest.stage("pair")?.outputs.map(\.path) == ["processed_data/one.txt", "processed_data/two.txt"])
        #expect(manifest.stage("pair")?.outputs.map(\.records) == [1, 1])
        try FileManager.default.removeItem(atPath: project.lake.root + "/processed_data/two.txt")
        let again = try await project.run()
        #expect(again.stage("pair")?.reason == "output missing: processed_data/two.txt")
        #expect(try project.read("processed_data/two.txt") == "both")
    }

    @Test func dryRunOptionsInTheManifest() async throws {
        let project = try chainProject()
        let manifest = try await project.run { $0.dryRun = true; $0.force = true; $0.stages = ["a"] }
        #expect(manifest.options == ["--force", "--stage=a", "--dry-run", "--date=2026-01-02"])
        #expect(manifest.stages.map(\.name) == ["a"])
        #expect(manifest.stage("a")?.reason == "forced")
        #expect(manifest.stage("a")?.status == .planned)
    }

    @Test func stageThatWritesNoOutputFails() async throws {
        let project = try Project()
        try project.writePipeline("""
            stages:
              lazy:
                emit: { text: x, skip_write: true }
                out: processed_data/lazy.txt
            """)
        let manifest = try await project.run()
        #expect(manifest.status == .failed)
        #expect(manifest.stage("lazy")?.error == "the stage finished without writing its output processed_data/lazy.txt")
    }

    @Test func missingInputAtRunTimeFailsTheStage() async throws {
        let project = try Project()
        try project.writePipeline("""
            stages:
              a:
                emit: { text: x, from: "raw_data/imports/*.csv" }
                out: processed_data/a.txt
            """)
        let manifest = try await project.run(checkLake: false)
        #expect(manifest.status == .failed)
        let a = try #require(manifest.stage("a"))
        #expect(a.status == .failed)
        #expect(a.reason == "could not check inputs")
        #expect(a.error == "no file in the lake matches input 'raw_data/imports/*.csv'")
    }

    @Test func stageWithoutOutputsSkipsWhenNothingChanged() async throws {
        let project = try chainProject()
        try project.writePipeline(chain + """

              ping:
                notify: { message: done, from: c }
            """)
        let first = try await project.run()
        #expect(first.stage("ping")?.status == .ran)
        #expect(first.stage("ping")?.counts == ["sent": 1])
        let second = try await project.run()
        #expect(second.stage("ping")?.status == .skipped)
    }

    @Test func eventsReportStartsAndEnds() async throws {
        let project = try chainProject()
        let log = EventLog()
        _ = try await project.run(onEvent: log.add)
        var started: [String] = []
        var finished: [String] = []
        for event in log.all {
            switch event {
            case .stageStarted(let name, let reason):
                started.append(name)
                #expect(reason == "never run")
            case .stageFinished(let record): finished.append(record.name)
            case .stageProgress: break
            }
        }
        #expect(started.sorted() == ["a", "b", "c", "other"])
        #expect(finished.sorted() == ["a", "b", "c", "other"])
        #expect(started.firstIndex(of: "a")! < started.firstIndex(of: "b")!)
        #expect(started.firstIndex(of: "b")! < started.firstIndex(of: "c")!)
    }

    @Test func stateRecordsEachStage() async throws {
        let project = try chainProject()
        let manifest = try await project.run { $0.runID = "R9" }
        let state = PipelineState.load(lake: project.lake, pipeline: "p")
        #expect(Set(state.stages.keys) == ["a", "b", "c", "other"])
        #expect(state.stages["b"]?.runID == "R9")
        #expect(state.stages["b"]?.fingerprint == manifest.stage("b")?.fingerprint)
        #expect(state.stages["b"]?.outputs == manifest.stage("b")?.outputs)
    }

    @Test func selectedStagesInTopologicalOrder() throws {
        let project = try chainProject()
        var options = RunOptions()
        options.stages = ["c"]
        let runner = PipelineRunner(spec: try project.load(), lake: project.lake, environment: project.environment,
                                    logger: quietLogger, options: options)
        #expect(runner.selectedStages.map(\.name) == ["a", "b", "c"])
        #expect(runner.logFile == "raw_data/logs/p/\(runner.runID).log")
    }
}
