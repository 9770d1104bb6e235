import Foundation
import Logging
import Testing
import Lake
import Pipeline
import Stages
import TestSupport

/// A lake in a fresh temporary folder, with a pipeline file beside it, run with the real stage kinds.
final class TestLake: @unchecked Sendable {
    let folder: TemporaryDirectory
    let lake: Lake
    var root: String { folder.path }

    init(_ function: String = #function) throws {
        folder = try TemporaryDirectory(function)
        lake = Lake(root: folder.path + "/lake")
        try FileManager.default.createDirectory(atPath: lake.root, withIntermediateDirectories: true)
    }

    var pipelineFile: String { root + "/project/pipelines/p.yaml" }

    func put(_ relative: String, _ text: String) throws { try write(lake.root + "/" + relative, Array(text.utf8)) }
    func exists(_ relative: String) -> Bool { FileManager.default.fileExists(atPath: lake.root + "/" + relative) }
    func path(_ relative: String) throws -> LakePath { try lake.resolve(relative) }

    func write(_ path: String, _ bytes: [UInt8]) throws {
        try FileManager.default.createDirectory(atPath: (path as NSString).deletingLastPathComponent, withIntermediateDirectories: true)
        try Data(bytes).write(to: URL(fileURLWithPath: path))
    }

    /// Writes records through RecordWriter (JSONL or CSV by name, gzip when it ends in .gz).
    func putRecords(_ relative: String, _ records: [JSONObject], columns: [String]? = nil) throws {
        let absolute = lake.root + "/" + relative
        try FileManager.default.createDirectory(atPath: (absolute as NSString).deletingLastPathComponent, withIntermediateDirectories: true)
        let writer = try RecordWriter(path: absolute, columns: columns ?? records.first?.keys)
        for record in records { try writer.write(record) }
        try writer.commit()
    }

    /// Sets a file's modification time this many days back.
    func age(_ relative: String, days: Double) {
        let when = Date().addingTimeInterval(-days * 86_400)
        try? FileManager.default.setAttributes([.modificationDate: when], ofItemAtPath: lake.root + "/" + relative)
    }

    func run(_ yaml: String, date: String = "2026-01-02", force: Bool = false) async throws -> RunManifest {
        try write(pipelineFile, Array(yaml.utf8))
        let (spec, _) = try PipelineLoader(registry: BuiltinStages.registry, environment: PipelineEnvironment(variables: [:]), lake: lake)
            .load(file: pipelineFile)
        var options = RunOptions()
        options.runDate = date
        options.force = force
        let runner = PipelineRunner(spec: spec, lake: lake, environment: PipelineEnvironment(variables: [:]),
                                    logger: Logger(label: "inspect-tests") { _ in SwiftLogNoOpLogHandler() }, options: options)
        return await runner.run()
    }
}

extension JSONObject {
    /// `["a": 1]`-style literals for tests.
    static func of(_ pairs: KeyValuePairs<String, JSONValue>) -> JSONObject { JSONObject(pairs.map { ($0.key, $0.value) }) }
}
