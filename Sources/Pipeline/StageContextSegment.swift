import Foundation
import Lake
import Logging

extension StageContext {
    /// A context for running a stage's engine on a part of its input outside the runner: a queue
    /// worker enriching one work item reads `inputs` and writes the item's segment file as `output`.
    public static func segment(lake: Lake, pipeline: String, stage: String, runID: String, runDate: String, logger: Logger,
                               environment: PipelineEnvironment, inputs: [LakePath], output: LakePath,
                               rejectsPath: LakePath, refreshCaches: Bool = false) -> StageContext {
        StageContext(lake: lake, pipeline: pipeline, stage: stage, runID: runID, runDate: runDate, logger: logger,
                     environment: environment, inputs: [ResolvedInput(input: .files("queue-item"), files: inputs)],
                     outputs: [output], rejectsPath: rejectsPath,
                     stateFolder: stateFolder(lake: lake, pipeline: pipeline, stage: stage),
                     refreshCaches: refreshCaches, onProgress: { _, _ in })
    }
}
