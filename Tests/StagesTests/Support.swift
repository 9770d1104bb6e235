import Foundation
import Logging
import Testing
import Lake
import Pipeline
import Stages
import TestSupport

/// A project folder (`pipelines/p.yaml`, `scripts/`) and a lake beside it, run with the real stage kinds.
final class Project: @unchecked Sendable {
    let folder: TemporaryDirectory
    let lake: Lake
    /// Variables the pipeline sees (SCOUP_BASE_URL…).
    var environment: [String: String] = [:]
    var root: String { folder.path }

    init(_ function: String = #function) throws {
        folder = try TemporaryDirectory(function)
        lake = Lake(root: folder.path + "/lake")
        // A bare folder: the layout's READMEs cost two dozen fsyncs per test, and the engine needs none of them.
        try FileManager.default.createDirectory(atPath: lake.root, withIntermediateDirectories: true)
    }

    var projectFolder: String { root + "/project" }
    var pipelineFile: String { projectFolder + "/pipelines/p.yaml" }

    func writePipeline(_ yaml: String) throws { try write(pipelineFile, yaml) }
    /// Writes a file in the project folder (scripts, configs).
    func writeProjectFile(_ relative: String, _ text: String) throws { try write(projectFolder + "/" + relative, text) }
    /// Writes a file into the lake.
    func put(_ relative: String, _ text: String) throws { try write(lake.root + "/" + relative, text) }
    func read(_ relative: String) throws -> String {
        String(decoding: try FileInput.readAll(path: lake.root + "/" + relative), as: UTF8.self)
    }
    func exists(_ relative: String) -> Bool { FileManager.default.fileExists(atPath: lake.root + "/" + relative) }
    func listing(_ relative: String) -> [String] {
        ((try? FileManager.default.contentsOfDirectory(atPath: lake.root + "/" + relative)) ?? []).sorted()
    }

    private func write(_ path: String, _ text: String) throws {
        try FileManager.default.createDirectory(atPath: (path as NSString).deletingLastPathComponent,
                                                withIntermediateDirectories: true)
        try Data(text.utf8).write(to: URL(fileURLWithPath: path))
    }

    func load() throws -> (PipelineSpec, [Diagnostic]) {
        try PipelineLoader(registry: BuiltinStages.registry, environment: PipelineEnvironment(variables: environment), lake: lake)
            .load(file: pipelineFile)
    }

    /// The problems a pipeline file has, as `line:col: key.path: message`.
    func problems() throws -> [String] {
        do {
            _ = try load()
            return []
        } catch let error as PipelineValidationError {
            return error.diagnostics.map { String($0.description.dropFirst(pipelineFile.count + 1)) }
        }
    }

    func run(_ configure: (inout RunOptions) -> Void = { _ in }) async throws -> RunManifest {
        var options = RunOptions()
        options.runDate = "2026-01-02"
        configure(&options)
        let runner = PipelineRunner(spec: try load().0, lake: lake, environment: PipelineEnvironment(variables: environment),
                                    logger: Logger(label: "stages-tests") { _ in SwiftLogNoOpLogHandler() },
                                    options: options)
        return await runner.run()
    }

    /// Every record of a lake file, through RecordReader.
    func records(_ relative: String, inferTypes: Bool = false) throws -> [JSONObject] {
        let reader = try RecordReader(path: lake.root + "/" + relative, inferTypes: inferTypes)
        var out: [JSONObject] = []
        while let record = try reader.next() { out.append(record) }
        return out
    }

    /// Names in a lake folder that are AgentShop temporaries.
    func temporaries(in relative: String) -> [String] {
        listing(relative).filter { $0.contains(AtomicFile.temporaryMarker) }
    }
}

extension RunManifest {
    func stage(_ name: String) -> RunManifest.StageRun? { stages.first { $0.name == name } }
}
