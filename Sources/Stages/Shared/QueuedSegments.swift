import Foundation
import Lake
import Logging
import Pipeline
import Postgres
import WorkQueue

/// What a worker reports for an item of a queued stage: the segment it wrote and its rejects file
/// (lake-relative, named after the lease), and its counts.
protocol QueuedSegmentReport: Decodable {
    var segment: String { get }
    var rejects: String? { get }
    var counts: [String: Int] { get }
}

/// What every queued stage that writes segments (enrich, parse) does alike around its own engine: the
/// worker finds the item's stage in its pipeline file; the coordinator waits for the stage's items and
/// publishes their accepted segments in item order, so the output is a one-process run's.
enum QueuedSegments {
    /// The stage `item` belongs to, as its pipeline file defines it now, and the environment of its
    /// project (the `.env` beside `pipelines/`), as a one-process run would see them.
    static func stage<Definition>(_ type: Definition.Type, kind: String, of item: WorkItem, pipelineFile: String,
                                  lake: Lake) throws -> (Definition, PipelineEnvironment) {
        let projectFolder = PipelineLoader.projectFolder(ofPipelineFile: pipelineFile)
        let environment = PipelineEnvironment.load(dotEnvFiles: [projectFolder + "/.env"])
        let spec = try loadedPipelines.spec(file: pipelineFile, lake: lake, environment: environment)
        guard let definition = spec.stage(named: item.stage)?.definition as? Definition else {
            throw StageError("\(pipelineFile) has no \(kind) stage '\(item.stage)'")
        }
        return (definition, environment)
    }

    /// The context a worker runs `item` in: the stage's engine reads the item's `input` and writes a segment
    /// and a rejects file named after the lease (worker and attempt), so two leases of one item never write one file.
    static func segmentContext(for item: WorkItem, lake: Lake, pipeline: String, runDate: String, input: String,
                               environment: PipelineEnvironment, logger: Logger, refreshCaches: Bool = false) throws -> StageContext {
        let folder = QueuedEnrich.folder(pipeline: pipeline, stage: item.stage, runID: item.runID)
        let name = "\(item.key).\(QueuedEnrich.safe(item.lease.owner)).\(item.lease.attempt)"
        var itemLogger = logger
        itemLogger[metadataKey: "item"] = "\(item.key)"
        return StageContext.segment(lake: lake, pipeline: pipeline, stage: item.stage, runID: item.runID, runDate: runDate,
                                    logger: itemLogger, environment: environment, inputs: [try lake.resolve(input)],
                                    output: try lake.resolve(folder + "/seg/\(name).jsonl"),
                                    rejectsPath: try lake.resolve(folder + "/seg/\(name).rejects.jsonl"), refreshCaches: refreshCaches)
    }

    /// The segment and rejects file a worker's `context` wrote (the rejects file only if there is one).
    static func written(by context: StageContext) -> (segment: String, rejects: String?) {
        (context.outputs[0].relative, context.rejectsPath.exists ? context.rejectsPath.relative : nil)
    }

    /// Waits until every item of the stage is done or failed for good, showing progress; after a minute
    /// without progress it warns when no worker has a heartbeat. Throws when an item failed.
    static func awaitItems(_ queue: WorkQueue, queueURL: PostgresURL, context: StageContext) async throws -> [ItemResult] {
        var last = StageProgress()
        var lastMove = Date()
        while true {
            try Task.checkCancellation()
            let progress = try queue.progress(runID: context.runID, stage: context.stage)
            if progress != last {
                context.progress(progress.done, of: progress.total)
                last = progress
                lastMove = Date()
            }
            if progress.finished { break }
            if Date().timeIntervalSince(lastMove) > 60 {
                lastMove = Date()
                if try queue.liveWorkers(within: 120).isEmpty {
                    context.logger.warning("waiting for workers: none has a heartbeat in the last 2 minutes; start `agentshop worker URL` on a machine that mounts this lake",
                                           metadata: ["pending": "\(progress.pending)", "queue": "\(queueURL.redacted)"])
                }
            }
            try await Task.sleep(nanoseconds: 200_000_000)
        }
        let results = try queue.results(runID: context.runID, stage: context.stage)
        let failed = results.filter { $0.state != "done" }
        if let first = failed.first {
            throw StageError("\(failed.count) of \(results.count) queue items failed; first: \(first.key): \(first.error ?? "unknown error")")
        }
        return results
    }

    /// Opens the coordinator's hold on its run in the queue (`QueueRunScope`), warning of each run a killed
    /// coordinator left `running` that this settled. The caller ends it from a `defer`.
    static func openRun(_ queue: WorkQueue, _ context: StageContext) throws -> QueueRunScope {
        let run = try QueueRunScope(queue: queue, runID: context.runID, pipeline: context.pipeline, lake: context.lake.root)
        for settled in run.settled { context.logger.warning("settled an interrupted queue run", metadata: ["run_id": "\(settled)"]) }
        return run
    }

    /// Removes the stage's queue folder of this run (its items' inputs, the workers' segments and page
    /// packs) once its outputs are published: nothing reads them after that. Kept when the stage
    /// failed, to look into.
    static func removeRunFolder(_ context: StageContext) {
        let folder = context.lake.root + "/" + QueuedEnrich.folder(pipeline: context.pipeline, stage: context.stage, runID: context.runID)
        do {
            try FileManager.default.removeItem(atPath: folder)
        } catch {
            context.logger.warning("could not remove the queue folder", metadata: ["folder": "\(folder)", "error": "\(error)"])
        }
    }

    /// Who did what, for the manifest.
    struct Published {
        var recordsOut = 0
        var rejectsWritten = false
        var byWorker: [String: [String]] = [:]
        var takenOver: [String] = []

        /// The manifest's `details.queue`.
        func details(queueURL: PostgresURL, items: Int, perItem: (key: String, value: Int)) -> JSONValue {
            .object(JSONObject([
                ("url", .string(queueURL.redacted)),
                ("items", .int(Int64(items))),
                (perItem.key, .int(Int64(perItem.value))),
                ("workers", .object(JSONObject(byWorker.sorted { $0.key < $1.key }.map { ($0.key, .array($0.value.map(JSONValue.string))) }))),
                ("taken_over", .array(takenOver.map(JSONValue.string))),
            ]))
        }
    }

    /// Concatenates the accepted segments (and rejects) of `results` in item order into `output`; `each`
    /// sees every item's report (to sum its counts), `check` runs before anything is committed (a
    /// limit over all items). Nothing is published when either throws.
    static func publish<Report: QueuedSegmentReport>(_ results: [ItemResult], as _: Report.Type, context: StageContext,
                                                     output: LakePath, outputType: RecordFileType,
                                                     each: (Report) throws -> Void, check: () throws -> Void = {}) throws -> Published {
        let out = try RecordWriter(path: output.absolute, type: outputType)
        var rejects: RecordWriter?
        var published = Published()
        let decoder = JSONDecoder()
        do {
            for result in results {
                guard let text = result.result, let report = try? decoder.decode(Report.self, from: Data(text.utf8)) else {
                    throw StageError("queue item \(result.key) is done without a segment")
                }
                let reader = try RecordReader(path: try context.lake.resolve(report.segment).absolute, displayPath: report.segment)
                while let record = try reader.next() { try out.write(record) }
                if let path = report.rejects, let file = try? context.lake.resolve(path), file.exists {
                    if rejects == nil {
                        rejects = try RecordWriter(path: context.rejectsPath.absolute, type: RecordFileType(format: .jsonl, gzip: false))
                    }
                    let reader = try RecordReader(path: file.absolute, displayPath: path)
                    while let record = try reader.next() { try rejects!.write(record) }
                }
                try each(report)
                published.byWorker[result.worker ?? "?", default: []].append(result.key)
                if result.attempts > 1 { published.takenOver.append(result.key) }
            }
            try check()
            try rejects?.commit()
            try out.commit()
        } catch {
            out.abandon()
            rejects?.abandon()
            throw error
        }
        published.recordsOut = out.recordCount
        published.rejectsWritten = rejects != nil
        return published
    }
}
