import Foundation
import Lake
import Logging
import Pipeline
import Postgres
import WorkQueue

/// A parse stage spread over `agentshop worker` processes: the coordinator cuts its WARC input, in
/// order, into items of `AGENTSHOP_QUEUE_ITEM_PAGES` pages (each a small WARC file under the stage's
/// queue folder), workers parse each item with the stage's own engine (`ParseRun`) into a segment,
/// and the coordinator concatenates the accepted segments in item order: the records of a
/// one-process parse, in its order. Inputs that are HTML files (not WARC) are parsed in the
/// coordinating process, as without a queue.
public enum QueuedParse {
    /// Pages per work item.
    public static let pagesPerItemVariable = "AGENTSHOP_QUEUE_ITEM_PAGES"

    struct Payload: Codable, Sendable {
        var kind = "parse"
        var pipelineFile: String
        var lake: String
        var pipeline: String
        var runDate: String
        var input: String
    }

    struct ItemReport: Codable, Sendable, QueuedSegmentReport {
        var segment: String
        var rejects: String?
        var counts: [String: Int]
    }

    static func isParseItem(_ item: WorkItem) -> Bool {
        struct Kind: Decodable { var kind: String? }
        return (try? JSONDecoder().decode(Kind.self, from: Data(item.payload.utf8)))?.kind == "parse"
    }

    /// Whether the stage's inputs are WARC files only (what the queue cuts into items).
    static func canQueue(_ context: StageContext) -> Bool {
        let files = context.inputs.flatMap { input in
            input.files.filter { file in
                if case .stage = input.input { return PageFiles.isWARC(file.relative) || PageFiles.isHTML(file.relative) }
                return true
            }
        }
        return !files.isEmpty && files.allSatisfy { PageFiles.isWARC($0.relative) }
    }

    // MARK: Coordinator

    static func coordinate(_ definition: ParseStage.Definition, context: StageContext, url: String) async throws -> StageReport {
        let variables = context.environment.variables
        guard let pipelineFile = variables[QueuedEnrich.pipelineFileVariable] else {
            throw StageError("a queued parse stage needs the pipeline file (run it with `agentshop run PIPELINE --queue URL`)")
        }
        let (output, outputType) = try context.singleRecordOutput(kind: "parse")
        guard outputType.format == .jsonl else {
            throw StageError("\(output.relative): parse writes JSON Lines; name the output .jsonl or .jsonl.gz")
        }
        let perItem = max(1, Int(variables[pagesPerItemVariable] ?? "") ?? 50)
        let queueURL = try PostgresURL(url)
        let queue = try WorkQueue(url: queueURL)
        // The run is `running` while this coordinator waits for it; its end (succeeded, failed, interrupted) is
        // recorded on every way out, so workers stop claiming the items of a run nobody waits for.
        let run = try QueuedSegments.openRun(queue, context)
        defer { run.end { context.logger.warning("\($0)") } }
        let folder = QueuedEnrich.folder(pipeline: context.pipeline, stage: context.stage, runID: context.runID)
        for sub in ["/in", "/seg"] {
            try FileManager.default.createDirectory(atPath: context.lake.root + "/" + folder + sub, withIntermediateDirectories: true)
        }

        // Cut the pages, in input order, into items (request and metadata records hold no page: left out).
        var items: [(key: String, payload: String)] = []
        var writer: WARCWriter?
        var inItem = 0
        func close() throws {
            guard let current = writer else { return }
            try current.commit()
            writer = nil
            let key = String(format: "part-%06d", items.count)
            let payload = Payload(pipelineFile: pipelineFile, lake: context.lake.root, pipeline: context.pipeline,
                                  runDate: context.runDate, input: folder + "/in/\(key).warc.gz")
            items.append((key, QueuedFetch.encode(payload)))
            inItem = 0
        }
        for input in context.inputs {
            for file in input.files where PageFiles.isWARC(file.relative) {
                let reader = try WARCReader(path: file.absolute)
                while let record = try reader.next() {
                    guard record.type == .response || record.type == .resource else { continue }
                    if writer == nil {
                        writer = try WARCWriter(path: context.lake.root + "/" + folder + "/in/" + String(format: "part-%06d", items.count) + ".warc.gz")
                    }
                    _ = try writer!.write(record)
                    inItem += 1
                    if inItem == perItem { try close() }
                }
            }
        }
        try close()
        try queue.enqueue(runID: context.runID, stage: context.stage, items: items)
        context.logger.info("queued", metadata: ["items": "\(items.count)", "queue": "\(queueURL.redacted)"])

        let results = try await QueuedSegments.awaitItems(queue, queueURL: queueURL, context: context)
        // Publish: the accepted segments in item order; counts summed; the rejects limit over them all.
        var counts: [String: Int] = [:]
        let published = try QueuedSegments.publish(results, as: ItemReport.self, context: context, output: output,
                                                   outputType: outputType, each: { report in
            for (name, value) in report.counts { counts[name, default: 0] += value }
        }, check: {
            let rejected = counts["rejected", default: 0]
            try RejectLimit.check(definition.maxRejects, key: "max_rejects", bad: rejected,
                                  of: counts["records_out", default: 0] + rejected, what: "pages or records rejected",
                                  rejects: rejected > 0 ? context.rejectsPath.relative : nil)
        })
        var details = JSONObject()
        if published.rejectsWritten { details["rejects"] = .string(context.rejectsPath.relative) }
        details["queue"] = published.details(queueURL: queueURL, items: results.count, perItem: ("pages_per_item", perItem))
        counts["queue_items"] = results.count
        QueuedSegments.removeRunFolder(context)
        run.succeeded()
        return StageReport(counts: counts, recordsPerOutput: [output.relative: published.recordsOut], details: .object(details))
    }

    // MARK: Worker

    /// Parses one claimed item with the stage's engine into a segment named after this lease.
    public static func perform(_ item: WorkItem, queueURL: PostgresURL, logger: Logger) async throws -> String {
        let payload = try JSONDecoder().decode(Payload.self, from: Data(item.payload.utf8))
        let lake = Lake(root: payload.lake)
        let (definition, environment) = try QueuedSegments.stage(ParseStage.Definition.self, kind: "parse", of: item,
                                                                 pipelineFile: payload.pipelineFile, lake: lake)
        let context = try QueuedSegments.segmentContext(for: item, lake: lake, pipeline: payload.pipeline, runDate: payload.runDate,
                                                        input: payload.input, environment: environment, logger: logger)
        // The limit on rejects is the stage's, checked over every item by the coordinator.
        var unlimited = definition
        unlimited.maxRejects = nil
        let report = try await ParseRun(definition: unlimited, context: context).run()
        let written = QueuedSegments.written(by: context)
        return QueuedFetch.encode(ItemReport(segment: written.segment, rejects: written.rejects, counts: report.counts))
    }
}
