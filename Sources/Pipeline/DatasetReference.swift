import Foundation
import Lake

/// A dataset as people name it on the command line: a lake path or glob
/// (`processed_data/aggregations/by_category/*.csv`), or `pipeline:stage`, the files that stage
/// wrote in its latest successful run.
public enum DatasetReference {
    /// Why a name did not lead to files.
    public struct NotFound: Error, CustomStringConvertible, Sendable {
        public let description: String
    }

    /// Whether `text` reads as `pipeline:stage` rather than a path.
    public static func stageReference(_ text: String) -> (pipeline: String, stage: String)? {
        let parts = text.split(separator: ":", omittingEmptySubsequences: false)
        guard parts.count == 2, !text.contains("/") else { return nil }
        let valid = { (s: Substring) in !s.isEmpty && s.allSatisfy { $0.isLetter || $0.isNumber || $0 == "_" || $0 == "-" } }
        guard valid(parts[0]), valid(parts[1]) else { return nil }
        return (String(parts[0]), String(parts[1]))
    }

    /// The files a name stands for, in order; throws `NotFound` when there are none.
    public static func resolve(_ text: String, in lake: Lake) throws -> [LakePath] {
        if let (pipeline, stage) = stageReference(text) {
            return try stageOutputs(pipeline: pipeline, stage: stage, in: lake)
        }
        let files = try lake.glob(text)
        if files.isEmpty { throw NotFound(description: "no file in the lake matches '\(text)' (lake: \(lake.root))") }
        return files
    }

    /// The outputs of the stage's latest successful run: from the pipeline state, or else from
    /// the newest manifest that lists outputs for it.
    public static func stageOutputs(pipeline: String, stage: String, in lake: Lake) throws -> [LakePath] {
        var paths = PipelineState.load(lake: lake, pipeline: pipeline).stages[stage]?.outputs.map(\.path) ?? []
        if paths.isEmpty {
            let manifests = ManifestStore(lake: lake).all(pipeline: pipeline).manifests
            for manifest in manifests.reversed() {
                if let run = manifest.stages.first(where: { $0.name == stage && [.ran, .skipped].contains($0.status) }),
                   !run.outputs.isEmpty {
                    paths = run.outputs.map(\.path)
                    break
                }
            }
        }
        guard !paths.isEmpty else {
            throw NotFound(description: "no successful run of pipeline '\(pipeline)' has written outputs for stage '\(stage)'")
        }
        let files = try paths.map { try lake.resolve($0) }
        if let missing = files.first(where: { !$0.exists }) {
            throw NotFound(description: "\(pipeline):\(stage): its output \(missing.relative) is gone; run the pipeline again")
        }
        return files
    }
}
