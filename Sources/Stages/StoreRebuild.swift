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
/// `created_at` / `updated_at` clocks.
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

    public func rebuild() throws -> Report {
        var report = Report()
        let (manifests, unreadable) = ManifestStore(lake: lake).all()
        for path in unreadable { report.warnings.append("skipped unreadable manifest \(path)") }
        let ordered = manifests.filter { $0.status != .running }
            .sorted { ($0.startedAt, $0.runID) < ($1.startedAt, $1.runID) }
        report.manifests = ordered.count

        var replays: [String: [Replay]] = [:]  // by run id
        var loadedTables: [String] = []
        var pipelines: [String: PipelineSpec?] = [:]
        for manifest in ordered {
            for stage in manifest.stages where stage.kind == MaterializeStage.kind.name && stage.status == .ran {
                let spec = pipelines[manifest.pipelineFile] ?? loadPipeline(manifest.pipelineFile, warnings: &report.warnings)
                pipelines[manifest.pipelineFile] = spec
                guard let definition = spec?.stage(named: stage.name)?.definition as? MaterializeDefinition else {
                    report.warnings.append("run \(manifest.runID): stage '\(stage.name)' is no longer a materialize stage "
                                           + "of \(manifest.pipelineFile); its load is not replayed")
                    continue
                }
                var files: [LakePath] = []
                for input in stage.inputs {
                    guard let file = try? lake.resolve(input.path), FileManager.default.fileExists(atPath: file.absolute) else {
                        report.warnings.append("run \(manifest.runID): \(stage.name) read \(input.path), which is gone")
                        continue
                    }
                    files.append(file)
                }
                replays[manifest.runID, default: []].append(Replay(manifest: manifest, stage: stage.name,
                                                                   definition: definition, files: files))
                if !loadedTables.contains(definition.table) { loadedTables.append(definition.table) }
            }
        }
        // Each pipeline's schedule, for the stage rows (a pipeline file that is gone has none).
        var schedules: [String: String?] = [:]
        for manifest in ordered where schedules[manifest.pipelineFile] == nil {
            var ignored: [String] = []
            let spec = pipelines[manifest.pipelineFile] ?? loadPipeline(manifest.pipelineFile, warnings: &ignored)
            pipelines[manifest.pipelineFile] = spec
            schedules[manifest.pipelineFile] = .some(spec?.schedule?.source)
        }
        report.tables = loadedTables + Self.runTables
        report.warnings.forEach(onWarning)

        report.previousPath = try StoreFile.rewrite(lake.storePath, clearing: report.tables, keepingPreviousAs: ".pre-rebuild",
                                                    logger: logger) { database in
            // The schema seeds categories that loads then refer to (a breadcrumb's 'Electronics'):
            // emptied with the rest, they come back first, as they were before the first run.
            if report.tables.contains("product_categories") { try database.execute(MarketplaceSchema.categorySeeds) }
            for manifest in ordered {
                for replay in replays[manifest.runID] ?? [] {
                    let load = try replay.definition.load(replay.files, into: database, rejectsPath: nil)
                    report.loads += 1
                    report.records += load.recordsIn
                }
                try RunRecords.record(manifest, lake: lake, schedule: schedules[manifest.pipelineFile] ?? nil, in: database)
            }
        }
        logger.info("store rebuilt", metadata: ["manifests": "\(report.manifests)", "loads": "\(report.loads)"])
        return report
    }

    /// A manifest names its pipeline file as it was given to `run`: relative to where the run was
    /// started, which is usually the project folder holding the lake.
    private func loadPipeline(_ recorded: String, warnings: inout [String]) -> PipelineSpec? {
        let projectFolder = (lake.root as NSString).deletingLastPathComponent
        let candidates = recorded.hasPrefix("/") ? [recorded] : [recorded, projectFolder + "/" + recorded]
        guard let file = candidates.first(where: { FileManager.default.fileExists(atPath: $0) }) else {
            warnings.append("pipeline file \(recorded) is gone; its loads are not replayed")
            return nil
        }
        let loader = PipelineLoader(registry: BuiltinStages.registry, environment: environment(file), lake: lake)
        do {
            return try loader.load(file: file).0
        } catch {
            warnings.append("pipeline file \(recorded) no longer validates; its loads are not replayed")
            return nil
        }
    }
}
