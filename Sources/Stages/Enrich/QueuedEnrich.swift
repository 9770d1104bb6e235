import Foundation
import Inspect
import Lake
import LLM
import Logging
import Pipeline
import Postgres
import WorkQueue

/// An enrich stage spread over `agentshop worker` processes through the PostgreSQL work queue.
///
/// The coordinator (the `run --queue` process) cuts the stage's input, in order, into items of
/// `recordsPerItem` records, each written as an input file under the stage's queue folder in the
/// lake, and enqueues them. Workers claim items, run the same enrichment engine on each item's
/// records and write its output as a segment file named after the lease (worker and attempt), so
/// two leases of one item never write the same file; only the completion of the item's current
/// lease is accepted. When every item is done the coordinator concatenates the accepted segments
/// in item order into the stage's output: the same records in the same order as a one-process run.
public enum QueuedEnrich {
    /// The variable that sends enrich stages to the queue (`run --queue` sets it).
    public static let queueVariable = "AGENTSHOP_QUEUE_URL"
    /// The pipeline file the workers load the stage's settings from (`run --queue` sets it).
    public static let pipelineFileVariable = "AGENTSHOP_QUEUE_PIPELINE_FILE"
    /// Records per work item.
    public static let recordsPerItemVariable = "AGENTSHOP_QUEUE_ITEM_RECORDS"

    /// The folder of a run's items and segments for one stage (lake-relative).
    static func folder(pipeline: String, stage: String, runID: String) -> String {
        "\(RunFiles.queueRoot)/\(pipeline)/\(stage)/\(runID)"
    }

    /// What an item tells a worker.
    struct Payload: Codable, Sendable {
        var pipelineFile: String
        var lake: String
        var pipeline: String
        var runDate: String
        var input: String
        var refreshCaches: Bool

        enum CodingKeys: String, CodingKey {
            case pipelineFile = "pipeline_file", lake, pipeline, runDate = "run_date", input, refreshCaches = "refresh_caches"
        }
    }

    /// What a worker reports for an item it completed.
    struct ItemReport: Codable, Sendable, QueuedSegmentReport {
        var segment: String
        var rejects: String?
        var counts: [String: Int]
        var calls: Int
        /// The engine's report details for the item (its LLM call records), as JSON text.
        var details: String?
    }

    // MARK: Coordinator

    static func coordinate(settings: EnrichmentSettings, context: StageContext, url: String) async throws -> StageReport {
        let variables = context.environment.variables
        guard let pipelineFile = variables[pipelineFileVariable] else {
            throw StageError("a queued enrich stage needs the pipeline file (run it with `agentshop run PIPELINE --queue URL`)")
        }
        let (output, outputType) = try context.singleRecordOutput(kind: "enrich")
        guard outputType.format == .jsonl else {
            throw StageError("an enrich stage writes JSON Lines (name its output .jsonl or .jsonl.gz): answers are nested objects")
        }
        let perItem = max(1, Int(variables[recordsPerItemVariable] ?? "") ?? 25)
        let queueURL = try PostgresURL(url)
        let queue = try WorkQueue(url: queueURL)
        // The run is `running` while this coordinator waits for it; its end (succeeded, failed, interrupted) is
        // recorded on every way out, so workers stop claiming the items of a run nobody waits for.
        let run = try QueuedSegments.openRun(queue, context)
        defer { run.end { context.logger.warning("\($0)") } }
        let folder = folder(pipeline: context.pipeline, stage: context.stage, runID: context.runID)
        try FileManager.default.createDirectory(atPath: context.lake.root + "/" + folder + "/in",
                                                withIntermediateDirectories: true)
        try FileManager.default.createDirectory(atPath: context.lake.root + "/" + folder + "/seg",
                                                withIntermediateDirectories: true)

        // Cut the input into items, in input order.
        var items: [(key: String, payload: String)] = []
        var writer: RecordWriter?
        var inItem = 0
        var recordsIn = 0
        let encoder = JSONEncoder()
        encoder.outputFormatting = .sortedKeys
        func close() throws {
            guard let current = writer else { return }
            try current.commit()
            writer = nil
            let key = String(format: "part-%06d", items.count)
            let payload = Payload(pipelineFile: pipelineFile, lake: context.lake.root, pipeline: context.pipeline, runDate: context.runDate,
                                  input: folder + "/in/\(key).jsonl", refreshCaches: context.refreshCaches)
            items.append((key, String(decoding: try encoder.encode(payload), as: UTF8.self)))
            inItem = 0
        }
        for file in context.allInputFiles {
            let reader = try RecordReader(path: file.absolute, displayPath: file.relative)
            while let record = try reader.next() {
                if writer == nil {
                    let key = String(format: "part-%06d", items.count)
                    writer = try RecordWriter(path: context.lake.root + "/" + folder + "/in/\(key).jsonl",
                                              type: RecordFileType(format: .jsonl, gzip: false))
                }
                try writer!.write(record)
                inItem += 1
                recordsIn += 1
                if inItem == perItem { try close() }
            }
        }
        try close()
        try queue.enqueue(runID: context.runID, stage: context.stage, items: items)
        if let budget = settings.budgetUSD { try queue.setBudget(runID: context.runID, stage: context.stage, usd: budget) }
        context.logger.info("queued", metadata: ["items": "\(items.count)", "records": "\(recordsIn)",
                                                 "queue": "\(queueURL.redacted)"])

        // Wait until every item is done (or failed for good), then publish the accepted segments in item order.
        let results = try await QueuedSegments.awaitItems(queue, queueURL: queueURL, context: context)
        var counts: [String: Int] = [:]
        var calls: [LLMCallRecord] = []
        var llmExtra: [String: JSONValue] = [:]
        let published = try QueuedSegments.publish(results, as: ItemReport.self, context: context, output: output,
                                                   outputType: outputType) { report in
            for (name, value) in report.counts where name != "budget_reached" { counts[name, default: 0] += value }
            if report.counts["budget_reached"] == 1 { counts["budget_reached"] = 1 }
            if let text = report.details, let llm = (try? JSONValue.parse(text))?.objectValue?["llm"]?.objectValue {
                calls += (llm["calls"]?.arrayValue ?? []).compactMap(LLMCallRecord.init(json:))
                for entry in llm["totals"]?.objectValue ?? JSONObject() where ["provider", "model", "task", "budget_stopped"].contains(entry.key) {
                    if llmExtra[entry.key] == nil { llmExtra[entry.key] = entry.value }
                }
            }
        }
        counts["records_in"] = recordsIn
        counts["records_out"] = published.recordsOut
        counts["queue_items"] = results.count
        counts["queue_workers"] = published.byWorker.count
        // The LLM calls of every item, in item order, as a one-process run reports them; then the queue.
        var details = JSONObject()
        if !calls.isEmpty || !llmExtra.isEmpty {
            var extra = ["provider", "model", "task"].compactMap { key in llmExtra[key].map { (key, $0) } }
            extra.append(("records_pending", .int(Int64(counts["pending_budget"] ?? 0))))
            if let stopped = llmExtra["budget_stopped"] { extra.append(("budget_stopped", stopped)) }
            details = LLMCallRecord.details(calls, extra: extra).objectValue ?? JSONObject()
        }
        details["queue"] = published.details(queueURL: queueURL, items: results.count, perItem: ("records_per_item", perItem))
        context.logger.info("queued enrich published", metadata: ["items": "\(results.count)", "workers": "\(published.byWorker.keys.sorted())"])
        QueuedSegments.removeRunFolder(context)
        run.succeeded()
        return StageReport(counts: counts, recordsPerOutput: [output.relative: published.recordsOut], details: .object(details))
    }

    // MARK: Worker

    /// Does one claimed enrich item: loads the stage from the pipeline file, runs the enrichment
    /// engine on the item's input and writes the segment under a name of this lease. Returns the
    /// item's report, as JSON, for `WorkQueue.complete`.
    public static func perform(_ item: WorkItem, queueURL: PostgresURL, logger: Logger) async throws -> String {
        let payload = try JSONDecoder().decode(Payload.self, from: Data(item.payload.utf8))
        let lake = Lake(root: payload.lake)
        let (definition, environment) = try QueuedSegments.stage(EnrichStage.Definition.self, kind: "enrich", of: item,
                                                                 pipelineFile: payload.pipelineFile, lake: lake)
        let context = try QueuedSegments.segmentContext(for: item, lake: lake, pipeline: payload.pipeline, runDate: payload.runDate,
                                                        input: payload.input, environment: environment, logger: logger,
                                                        refreshCaches: payload.refreshCaches)
        // budget_usd is the run's, over every worker: each call reserves from the queue's budget row.
        let shared: (any SharedBudget)? = definition.settings.budgetUSD == nil ? nil
            : try QueueBudget(url: queueURL, runID: item.runID, stage: item.stage)
        // RPM/TPM limits are the provider's, over every worker: each request takes from the queue's bucket rows.
        let rates = try QueueRateLimit.shared(url: queueURL)
        // A provider's daily cap (LLM_<P>_COST_LIMIT_DAILY) is every worker's: calls reserve from the queue's row of the day.
        let daily = QueueDailyCaps(url: queueURL)
        let report = try await RateLimiter.$shared.withValue(rates) {
            try await Budget.$sharedDailyCaps.withValue(daily) {
                try await Budget.$shared.withValue(shared) { try await definition.runHere(context) }
            }
        }
        let calls = report.counts["calls_sent"] ?? 0
        let written = QueuedSegments.written(by: context)
        let itemReport = ItemReport(segment: written.segment, rejects: written.rejects, counts: report.counts, calls: calls,
                                    details: report.details?.serialized())
        let encoder = JSONEncoder()
        encoder.outputFormatting = .sortedKeys
        return String(decoding: try encoder.encode(itemReport), as: UTF8.self)
    }

    static func safe(_ name: String) -> String {
        String(name.map { $0.isLetter || $0.isNumber || $0 == "-" || $0 == "_" ? $0 : "_" })
    }
}

/// The queue's budget row of a run's stage, as the enrichment engine's shared budget: one
/// connection of its own, used under a lock (the engine reserves from several tasks).
final class QueueBudget: SharedBudget, @unchecked Sendable {
    private let lock = NSLock()
    private let queue: WorkQueue
    let runID: String
    let stage: String

    init(url: PostgresURL, runID: String, stage: String) throws {
        queue = try WorkQueue(url: url, applicationName: "agentshop-worker-budget")
        self.runID = runID
        self.stage = stage
    }

    /// A reservation that cannot reach the queue is refused: spending blind could pass the budget.
    func reserve(_ estimate: Double) -> Bool {
        lock.withLock { (try? queue.reserve(runID: runID, stage: stage, usd: estimate)) ?? false }
    }

    func settle(reserved estimate: Double, actual: Double) {
        lock.withLock { _ = try? queue.settle(runID: runID, stage: stage, reserved: estimate, actual: actual) }
    }
}

/// The providers' daily caps in the queue: one row per provider and UTC day, seeded with the day's
/// spend the lake records, which every worker's calls reserve from. The connection is opened for the
/// first provider with a cap and used under a lock.
final class QueueDailyCaps: SharedDailyCaps, @unchecked Sendable {
    private let lock = NSLock()
    private let url: PostgresURL
    private var queue: WorkQueue?

    init(url: PostgresURL) {
        self.url = url
    }

    func withQueue<T>(_ body: (WorkQueue) throws -> T) throws -> T {
        try lock.withLock {
            if queue == nil { queue = try WorkQueue(url: url, applicationName: "agentshop-worker-daily-cap") }
            return try body(queue!)
        }
    }

    func ledger(provider: ProviderKind, day: String, cap: Double, spentBefore: Double) throws -> any SharedBudget {
        try withQueue { try $0.seedDailySpend(provider: provider.rawValue, day: day, spent: spentBefore) }
        return Ledger(caps: self, provider: provider.rawValue, day: day, cap: cap)
    }

    struct Ledger: SharedBudget {
        let caps: QueueDailyCaps
        let provider: String
        let day: String
        let cap: Double

        /// A reservation that cannot reach the queue is refused: spending blind could pass the cap.
        func reserve(_ estimate: Double) -> Bool {
            (try? caps.withQueue { try $0.reserveDaily(provider: provider, day: day, cap: cap, usd: estimate) }) ?? false
        }

        func settle(reserved estimate: Double, actual: Double) {
            _ = try? caps.withQueue { try $0.settleDaily(provider: provider, day: day, reserved: estimate, actual: actual) }
        }
    }
}

/// Pipelines a worker has loaded, by file, until the file or its .env changes: an item does not
/// pay for reading and validating the pipeline again.
let loadedPipelines = LoadedPipelines()

final class LoadedPipelines: @unchecked Sendable {
    private let lock = NSLock()
    private var loaded: [String: (stamp: String, spec: PipelineSpec)] = [:]

    func spec(file: String, lake: Lake, environment: PipelineEnvironment) throws -> PipelineSpec {
        let envFile = PipelineLoader.projectFolder(ofPipelineFile: file) + "/.env"
        let stamp = [file, envFile].map { path in
            let attributes = try? FileManager.default.attributesOfItem(atPath: path)
            return "\((attributes?[.modificationDate] as? Date)?.timeIntervalSince1970 ?? 0):\(attributes?[.size] ?? 0)"
        }.joined(separator: "|") + "|" + lake.root
        if let hit = lock.withLock({ loaded[file] }), hit.stamp == stamp { return hit.spec }
        let loader = PipelineLoader(registry: BuiltinStages.registry, environment: environment, lake: lake)
        let spec: PipelineSpec
        do { spec = try loader.load(file: file).0 } catch {
            throw StageError("\(file): \(error.diagnostics.map(\.description).joined(separator: "; "))")
        }
        lock.withLock { loaded[file] = (stamp, spec) }
        return spec
    }
}

// Items queued by a coordinator of an earlier version (camelCase keys) are still worked.
extension QueuedEnrich.Payload {
    init(from decoder: any Decoder) throws {
        let c = try RenamedKeysContainer(decoder, keyedBy: CodingKeys.self)
        pipelineFile = try c.decode(String.self, forKey: .pipelineFile, orLegacy: "pipelineFile")
        lake = try c.decode(String.self, forKey: .lake)
        pipeline = try c.decode(String.self, forKey: .pipeline)
        runDate = try c.decode(String.self, forKey: .runDate, orLegacy: "runDate")
        input = try c.decode(String.self, forKey: .input)
        refreshCaches = try c.decode(Bool.self, forKey: .refreshCaches, orLegacy: "refreshCaches")
    }
}
