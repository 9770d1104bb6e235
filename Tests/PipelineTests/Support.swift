import Foundation
import Logging
import Testing
import TestSupport
@testable import Lake
@testable import Pipeline

/// A logger that drops everything: the runner's behaviour is checked through its manifest.
let quietLogger = Logger(label: "pipeline-tests") { _ in SwiftLogNoOpLogHandler() }

/// What the fake stages did, shared between a test and the stages its registry configures.
final class FakeWorld: @unchecked Sendable {
    private let lock = NSLock()
    private var started: [String] = []
    private var finished: [String] = []
    private var running = 0
    private var mostAtOnce = 0

    func began(_ stage: String) {
        lock.withLock {
            started.append(stage)
            running += 1
            mostAtOnce = max(mostAtOnce, running)
        }
    }
    func ended(_ stage: String) { lock.withLock { finished.append(stage); running -= 1 } }
    /// The most stages that were running at the same time.
    var maxConcurrent: Int { lock.withLock { mostAtOnce } }
    /// Stages that started, in order, over every run so far.
    var runs: [String] { lock.withLock { started } }
    var completed: [String] { lock.withLock { finished } }
    func hasStarted(_ stage: String) -> Bool { lock.withLock { started.contains(stage) } }
    func reset() { lock.withLock { started = []; finished = [] } }
}

/// `emit`: writes its input files' text followed by `text` to each output.
struct EmitStage: StageDefinition {
    let world: FakeWorld
    let inputs: [StageInput]
    let text: String
    let times: Int
    let fail: Bool
    let skipWrite: Bool
    let extra: String
    let hold: Double

    func fingerprintExtra(lake: Lake) throws -> String { extra }

    /// A shared cache outside `out:`, as an enrich stage has.
    func sideFolders(lake: Lake) -> [String] { [lake.root + "/external_apis/emit_cache"] }

    func run(_ context: StageContext) async throws -> StageReport {
        world.began(context.stage)
        var content = ""
        for file in context.allInputFiles {
            content += String(decoding: try FileInput.readAll(path: file.absolute), as: UTF8.self)
        }
        content += String(repeating: text, count: times)
        if hold > 0 { try await Task.sleep(nanoseconds: UInt64(hold * 1e9)) }
        if fail {
            for output in context.outputs {
                let file = try AtomicFile(path: output.absolute)
                try file.output.write("partial output of a failing stage")
                try file.output.flush()
                // Dropped without commit, as a stage that throws half-way would.
            }
            throw StageError("fake failure in \(context.stage)")
        }
        if !skipWrite {
            for output in context.outputs { try AtomicFile.write(content, to: output.absolute) }
        }
        world.ended(context.stage)
        return StageReport(counts: ["files_in": context.allInputFiles.count],
                           recordsPerOutput: Dictionary(uniqueKeysWithValues: context.outputs.map { ($0.relative, 1) }))
    }
}

/// `meet`: starts, then waits for its partner stage to have started too (or fails after `wait`).
struct MeetStage: StageDefinition {
    let world: FakeWorld
    let partners: [String]
    let wait: Double
    var inputs: [StageInput] { [] }

    func run(_ context: StageContext) async throws -> StageReport {
        world.began(context.stage)
        let deadline = Date().addingTimeInterval(wait)
        while let missing = partners.first(where: { !world.hasStarted($0) }) {
            if Date() >= deadline { throw StageError("partner '\(missing)' did not start within \(wait)s") }
            try await Task.sleep(nanoseconds: 5_000_000)
        }
        for output in context.outputs { try AtomicFile.write("met \(partners)\n", to: output.absolute) }
        world.ended(context.stage)
        return StageReport()
    }
}

/// `notify`: writes no files.
struct NotifyStage: StageDefinition {
    let world: FakeWorld
    let inputs: [StageInput]
    func run(_ context: StageContext) async throws -> StageReport {
        world.began(context.stage)
        world.ended(context.stage)
        return StageReport(counts: ["sent": 1])
    }
}

/// A registry holding only fakes.
func fakeRegistry(_ world: FakeWorld = FakeWorld()) -> StageRegistry {
    StageRegistry([
        StageKind(name: "emit", summary: "writes text", outputs: .required) { config, context in
            guard config.expectMapping() else { return nil }
            let textValue = config.value("text", required: true)
            let text = textValue?.asString()
            if text == "" { textValue?.warning("empty text") }
            let inputs = config.value("from").map { context.inputs($0) } ?? []
            let times = config.int("times", min: 1, max: 10) ?? 1
            let fail = config.bool("fail") ?? false
            let skipWrite = config.bool("skip_write") ?? false
            let extra = config.string("extra") ?? ""
            let hold = config.duration("hold") ?? 0
            config.rejectUnknownKeys()
            guard let text, let inputs else { return nil }
            return EmitStage(world: world, inputs: inputs, text: text, times: times, fail: fail, skipWrite: skipWrite,
                             extra: extra, hold: hold)
        },
        StageKind(name: "meet", summary: "waits for a partner", outputs: .required) { config, _ in
            guard config.expectMapping() else { return nil }
            let partners = config.strings("partner", required: true)
            let wait = config.duration("wait") ?? 5
            config.rejectUnknownKeys()
            guard let partners else { return nil }
            return MeetStage(world: world, partners: partners, wait: wait)
        },
        StageKind(name: "notify", summary: "writes no files", outputs: .none) { config, context in
            guard config.expectMapping() else { return nil }
            _ = config.string("message", required: true)
            let inputs = config.value("from").map { context.inputs($0) } ?? []
            config.rejectUnknownKeys()
            guard let inputs else { return nil }
            return NotifyStage(world: world, inputs: inputs)
        },
    ])
}

/// A project folder with `pipelines/p.yaml` and a lake beside it.
final class Project: @unchecked Sendable {
    let tmp: TemporaryDirectory
    let lake: Lake
    let world = FakeWorld()
    var environment = PipelineEnvironment(variables: [:])

    init(_ function: String = #function) throws {
        tmp = try TemporaryDirectory(function)
        lake = Lake(root: tmp.file("lake"))
        // A bare folder: the layout's READMEs cost two dozen fsyncs per test, and the engine needs none of them.
        try FileManager.default.createDirectory(atPath: lake.root, withIntermediateDirectories: true)
    }

    var pipelineFile: String { tmp.file("project/pipelines/p.yaml") }

    func writePipeline(_ yaml: String) throws { try tmp.write("project/pipelines/p.yaml", yaml) }

    /// Writes a file into the lake.
    func put(_ relative: String, _ text: String) throws { try tmp.write("lake/" + relative, text) }
    func read(_ relative: String) throws -> String { try tmp.readText("lake/" + relative) }
    func exists(_ relative: String) -> Bool { tmp.exists("lake/" + relative) }

    func load(checkLake: Bool = true) throws -> PipelineSpec {
        let loader = PipelineLoader(registry: fakeRegistry(world), environment: environment, lake: checkLake ? lake : nil)
        return try loader.load(file: pipelineFile).0
    }

    func run(_ configure: (inout RunOptions) -> Void = { _ in }, checkLake: Bool = true,
             onEvent: @escaping @Sendable (RunEvent) -> Void = { _ in }) async throws -> RunManifest {
        var options = RunOptions()
        options.runDate = "2026-01-02"
        configure(&options)
        let runner = PipelineRunner(spec: try load(checkLake: checkLake), lake: lake, environment: environment,
                                    logger: quietLogger, options: options, onEvent: onEvent)
        return await runner.run()
    }

    /// Every file under the lake with its digest, to show that nothing changed.
    func snapshot() throws -> [String: String] {
        var out: [String: String] = [:]
        let root = lake.root
        guard let walker = FileManager.default.enumerator(atPath: root) else { return out }
        while let relative = walker.nextObject() as? String {
            var isDir: ObjCBool = false
            _ = FileManager.default.fileExists(atPath: root + "/" + relative, isDirectory: &isDir)
            out[relative] = isDir.boolValue ? "dir" : try FileDigest.sha256(path: root + "/" + relative)
        }
        return out
    }
}

extension RunManifest {
    func status(of stage: String) -> RunManifest.StageRun.Status? { stages.first { $0.name == stage }?.status }
    func stage(_ name: String) -> RunManifest.StageRun? { stages.first { $0.name == name } }
    var statuses: [String: RunManifest.StageRun.Status] {
        Dictionary(uniqueKeysWithValues: stages.map { ($0.name, $0.status) })
    }
}

/// Collects run events from any thread.
final class EventLog: @unchecked Sendable {
    private let lock = NSLock()
    private var events: [RunEvent] = []
    func add(_ event: RunEvent) { lock.withLock { events.append(event) } }
    var all: [RunEvent] { lock.withLock { events } }
}
