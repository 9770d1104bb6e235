import Foundation
import Lake
import Logging
import Pipeline
import Store

/// `agentshop db rebuild`: recreates the store's lake-derived tables from the lake alone.
///
/// The derived tables are those the lake fills: every table a `materialize` stage loaded, and
/// the run tables (`data_processing_tasks`, the crawl tables, the LLM tables). The rebuild
/// replays history in run order, as the runs themselves did: for each run manifest, oldest
/// first, each materialize stage that ran is loaded again from the files the manifest says it
/// read (with the stage's configuration from its pipeline file), then the manifest itself is
/// recorded. So the result equals the incrementally built store, row for row, apart from the
/// `created_at` / `updated_at` clocks. Loads and run records are replayed in the order they were
/// written (a load when its stage finished, a run's records when it finished), so every row gets the
/// id it had; and every input must still be there with the SHA-256 its manifest recorded, or the
/// rebuild stops and lists what is missing (a same-day partition overwritten since, a deleted file).
///
/// Tables the lake does not fill (customers, orders, settings…) are kept. The work happens on a
/// copy (`StoreFile.rewrite`) that must pass `integrity_check` and `foreign_key_check` before it
/// replaces the live store (the old one is kept as `.pre-rebuild`), so a failed or killed rebuild
/// changes nothing.
public struct StoreRebuild {
    public static let runTables = ["data_processing_tasks", "webcrawler_jobs", "scraped_data",
                                   "llm_requests", "llm_responses", "llm_usage_stats"]

    public struct Report: Sendable {
        /// Tables emptied and refilled, in order.
        public var tables: [String] = []
        public var manifests = 0
        /// Materialize loads replayed.
        public var loads = 0
        public var records = 0
        /// What could not be replayed (a missing pipeline file or input), in words.
        public var warnings: [String] = []
        public var previousPath: String?
    }

    public let lake: Lake
    /// The environment `${VAR}`s of a pipeline file expand from (its project's `.env` included).
    public let environment: (_ pipelineFile: String) -> PipelineEnvironment
    public let logger: Logger
    /// Told each warning as it is found, so that a rebuild that is refused still says what was missing.
    public let onWarning: (String) -> Void

    public init(lake: Lake, environment: @escaping (_ pipelineFile: String) -> PipelineEnvironment,
                logger: Logger = Logger(label: "agentshop.store.rebuild"), onWarning: @escaping (String) -> Void = { _ in }) {
        self.lake = lake
        self.environment = environment
        self.logger = logger
        self.onWarning = onWarning
    }

    /// One recorded materialize load: which stage definition, over which files.
    struct Replay {
        let manifest: RunManifest
        let stage: String
        let definition: MaterializeDefinition
        let files: [LakePath]
    }

    /// Why a rebuild stopped before touching the store: the inputs it would replay are not those
    /// the runs read, so the rebuilt tables could not equal the store they replace.
    public struct Refused: Error, CustomStringConvertible, Sendable {
        /// Each missing or changed input (or pipeline file, or manifest), in words, in run order.
        public let problems: [String]

        public var description: String {
            "cannot rebuild the store: \(problems.count) of the inputs the runs read \(problems.count == 1 ? "is" : "are") "
                + "missing or changed, so the rebuilt tables would lose rows or shift ids; the live store is unchanged "
                + "(put them back, or pass --allow-missing to rebuild from what is there):\n"
                + problems.map { "  " + $0 }.joined(separator: "\n")
        }
    }

    /// Replays the runs. Unless `allowMissing`, every file a replayed load read must be there with
    /// the SHA-256 its manifest recorded (and every pipeline file and manifest readable): otherwise
    /// nothing is changed and `Refused` lists what is missing.
    public func rebuild(allowMissing: Bool = false) throws -> Report {
        let (planned, events, schedules) = try plan(allowMissing: allowMissing)
        var report = planned
        report.previousPath = try StoreFile.rewrite(lake.storePath, clearing: report.tables, keepingPreviousAs: ".pre-rebuild",
                                                    logger: logger) { database in
            // The schema seeds categories that loads then refer to (a breadcrumb's 'Electronics'):
            // emptied with the rest, they come back first, as they were before the first run.
            if report.tables.contains("product_categories") { try database.execute(MarketplaceSchema.categorySeeds) }
            for item in events {
                switch item.event {
                case .load(let replay):
                    let load = try replay.definition.load(replay.files, into: database, rejects: nil)
                    report.loads += 1
                    report.records += load.recordsIn
                case .record(let manifest):
                    try RunRecords.record(manifest, lake: lake, schedule: schedules[manifest.pipelineFile] ?? nil, in: database)
                }
            }
        }
        logger.info("store rebuilt", metadata: ["manifests": "\(report.manifests)", "loads": "\(report.loads)"])
        return report
    }

    /// `rebuild` for a PostgreSQL store: the same replay, in one transaction on the live database (a
    /// failure rolls everything back), after emptying the derived tables and restarting their ids. Kept
    /// tables (orders, …) that refer to derived rows keep their references, checked as SQLite's rebuild
    /// checks them: each must point at the row with the same natural key afterwards, or nothing changes
    /// (`PostgresKeptReferences`).
    public func rebuild(into store: PostgresStore, allowMissing: Bool = false) throws -> Report {
        let (planned, events, schedules) = try plan(allowMissing: allowMissing)
        var report = planned
        let db = store.connection
        try store.transaction {
            let tables = try report.tables.map { try SQLIdentifier($0).name }
            let kept = try PostgresKeptReferences.release(into: tables, in: store)
            try db.execute("TRUNCATE " + tables.map(SQLLiteral.quoteName).joined(separator: ", "))
            for name in tables {
                // The ids start again at 1, as in the new store the runs first wrote (a table of the user's own may have none).
                if let sequence = try db.scalar("""
                    SELECT pg_get_serial_sequence($1, a.attname) FROM pg_attribute a
                    WHERE a.attrelid = $1::regclass AND a.attname = 'id' AND NOT a.attisdropped
                    """, [SQLLiteral.quoteName(name)]) {
                    _ = try db.query("SELECT setval($1::regclass, 1, false)", [sequence])
                }
            }
            if report.tables.contains("product_categories") { try db.execute(MarketplaceSchema.categorySeeds) }
            for item in events {
                switch item.event {
                case .load(let replay):
                    let load = try replay.definition.loadPostgres(replay.files, into: store, rejects: nil)
                    report.loads += 1
                    report.records += load.recordsIn
                case .record(let manifest):
                    try PostgresRunRecords.record(manifest, lake: lake, schedule: schedules[manifest.pipelineFile] ?? nil, into: store)
                }
            }
            try kept.restore()
        }
        logger.info("store rebuilt", metadata: ["manifests": "\(report.manifests)", "loads": "\(report.loads)",
                                                "store": "\(store.url.redacted)"])
        return report
    }

    /// What a rebuild replays, in order, and each pipeline's schedule; refused when inputs are missing.
    private func plan(allowMissing: Bool) throws -> (Report, [(at: Date, runID: String, order: Int, event: Event)], [String: String?]) {
        var report = Report()
        var problems: [String] = []
        let (manifests, unreadable) = ManifestStore(lake: lake).all()
        for path in unreadable { problems.append("manifest \(path) cannot be read") }
        // A run still marked running was killed (or is alive): the loads it recorded as done were committed.
        let all = manifests.sorted { ($0.startedAt, $0.runID) < ($1.startedAt, $1.runID) }
        let finished = all.filter { $0.status != .running }
        report.manifests = finished.count

        // The store was written in time order: each load when its stage finished, each run's records
        // when the run finished. Replaying in that order gives every row the id it had, even when
        // runs of several pipelines overlapped.
        var events: [(at: Date, runID: String, order: Int, event: Event)] = []
        var loadedTables: [String] = []
        var pipelines: [String: PipelineSpec?] = [:]
        var digests: [String: String] = [:]
        for manifest in all {
            let started = Timestamp.parse(manifest.startedAt) ?? .distantPast
            for (index, stage) in manifest.stages.enumerated() where stage.kind == MaterializeStage.kind.name && stage.status == .ran {
                let spec = pipelines[manifest.pipelineFile] ?? loadPipeline(manifest.pipelineFile, warnings: &problems)
                pipelines[manifest.pipelineFile] = spec
                guard let definition = spec?.stage(named: stage.name)?.definition as? MaterializeDefinition else {
                    if spec != nil {
                        problems.append("run \(manifest.runID): stage '\(stage.name)' is no longer a materialize stage "
                                        + "of \(manifest.pipelineFile); its load cannot be replayed")
                    }
                    continue
                }
                var files: [LakePath] = []
                for input in stage.inputs {
                    guard let file = try? lake.resolve(input.path), FileManager.default.fileExists(atPath: file.absolute) else {
                        problems.append("run \(manifest.runID), stage \(stage.name): \(input.path) is missing")
                        continue
                    }
                    if !input.sha256.isEmpty {
                        let now = digests[file.absolute] ?? (try? FileDigest.sha256(path: file.absolute)) ?? ""
                        digests[file.absolute] = now
                        if now != input.sha256 {
                            problems.append("run \(manifest.runID), stage \(stage.name): \(input.path) has changed since "
                                            + "the run read it (sha256 \(input.sha256.prefix(12))… recorded, "
                                            + "\(now.prefix(12))… now)")
                            continue
                        }
                    }
                    files.append(file)
                }
                let begun = stage.startedAt.flatMap(Timestamp.parse) ?? started
                let at = begun.addingTimeInterval(Double(stage.durationMs ?? 0) / 1000)
                events.append((at, manifest.runID, index, .load(Replay(manifest: manifest, stage: stage.name,
                                                                       definition: definition, files: files))))
                if !loadedTables.contains(definition.table) { loadedTables.append(definition.table) }
            }
            if manifest.status != .running {
                let at = manifest.finishedAt.flatMap(Timestamp.parse) ?? started
                events.append((at, manifest.runID, Int.max, .record(manifest)))
            }
        }
        if !problems.isEmpty && !allowMissing { throw Refused(problems: problems) }
        report.warnings = problems
        // Each pipeline's schedule, for the stage rows (a pipeline file that is gone has none).
        var schedules: [String: String?] = [:]
        for manifest in all where schedules[manifest.pipelineFile] == nil {
            var ignored: [String] = []
            let spec = pipelines[manifest.pipelineFile] ?? loadPipeline(manifest.pipelineFile, warnings: &ignored)
            pipelines[manifest.pipelineFile] = spec
            schedules[manifest.pipelineFile] = .some(spec?.schedule?.source)
        }
        report.tables = loadedTables + Self.runTables
        report.warnings.forEach(onWarning)
        events.sort { ($0.at, $0.runID, $0.order) < ($1.at, $1.runID, $1.order) }
        return (report, events, schedules)
    }

    enum Event {
        case load(Replay)
        case record(RunManifest)
    }

    /// A manifest names its pipeline file as it was given to `run`: relative to where the run was
    /// started, which is usually the project folder holding the lake.
    private func loadPipeline(_ recorded: String, warnings: inout [String]) -> PipelineSpec? {
        let projectFolder = (lake.root as NSString).deletingLastPathComponent
        let candidates = recorded.hasPrefix("/") ? [recorded] : [recorded, projectFolder + "/" + recorded]
        guard let file = candidates.first(where: { FileManager.default.fileExists(atPath: $0) }) else {
            warnings.append("pipeline file \(recorded) is missing; its loads cannot be replayed")
            return nil
        }
        let loader = PipelineLoader(registry: BuiltinStages.registry, environment: environment(file), lake: lake)
        do {
            return try loader.load(file: file).0
        } catch {
            warnings.append("pipeline file \(recorded) no longer validates; its loads cannot be replayed")
            return nil
        }
    }
}
