import Foundation
import Logging
import Pipeline
import TestSupport
@testable import Lake

/// A project folder with `pipelines/p.yaml` and a lake beside it, removed when the test lets go of it.
final class RunsProject: @unchecked Sendable {
    let folder: TemporaryDirectory
    let lake: Lake
    var variables: [String: String] = [:]
    var path: String { folder.path }

    init(_ function: String = #function) throws {
        folder = try TemporaryDirectory(function)
        lake = Lake(root: folder.path + "/lake")
        try FileManager.default.createDirectory(atPath: lake.root, withIntermediateDirectories: true)
    }

    var pipelineFile: String { path + "/project/pipelines/p.yaml" }

    func writePipeline(_ yaml: String) throws {
        try FileManager.default.createDirectory(atPath: path + "/project/pipelines", withIntermediateDirectories: true)
        try Data(yaml.utf8).write(to: URL(fileURLWithPath: pipelineFile))
    }

    var environment: PipelineEnvironment { PipelineEnvironment(variables: variables) }

    func load() throws -> PipelineSpec {
        try PipelineLoader(registry: Self.registry, environment: environment, lake: lake).load(file: pipelineFile).0
    }

    func read(_ relative: String) throws -> String {
        String(decoding: try FileInput.readAll(path: lake.root + "/" + relative), as: UTF8.self)
    }

    /// `work: { fail: bool, text: … }`: writes its text to its output, or fails.
    static let registry = StageRegistry([
        StageKind(name: "work", summary: "writes text or fails", outputs: .required) { config, _ in
            guard config.expectMapping() else { return nil }
            let fail = config.bool("fail") ?? false
            let text = config.string("text") ?? "done\n"
            config.rejectUnknownKeys()
            return WorkStage(fail: fail, text: text)
        },
    ])
}

struct WorkStage: StageDefinition {
    let fail: Bool
    let text: String
    var inputs: [StageInput] { [] }

    func run(_ context: StageContext) async throws -> StageReport {
        if fail { throw StageError("the work broke") }
        for output in context.outputs { try AtomicFile.write(text, to: output.absolute) }
        return StageReport(counts: ["records_out": 3])
    }
}
