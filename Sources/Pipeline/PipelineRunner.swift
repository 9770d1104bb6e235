import Foundation
import Lake
import Logging

/// How a run should go: which stages, whether to force, and the run's date and id.
public struct RunOptions: Sendable {
    /// Rerun stages even when up to date (the selected ones, or all).
    public var force = false
    /// Run only these stages and what they need; empty runs all.
    public var stages: [String] = []
    /// Decide and report, write nothing.
    public var dryRun = false
    /// The date for `{run_date}`; today (UTC) when nil.
    public var runDate: String?
    public var runID: String?
    /// Stages run at once; the pipeline's `max_parallel` when nil.
    public var maxParallel: Int?
    /// Stages ask again instead of reusing answers they cached in earlier runs (`--no-cache`);
    /// they still write what they get back to their caches.
    public var refreshCaches = false

    public init() {}

    /// The options as words, for the manifest.
    var summary: [String] {
        var out: [String] = []
        if force { out.append("--force") }
        for stage in stages { out.append("--stage=\(stage)") }
        if dryRun { out.append("--dry-run") }
        if let runDate { out.append("--date=\(runDate)") }
        if refreshCaches { out.append("--no-cache") }
        return out
    }
}

/// What a runner tells its caller while it works (progress on a terminal, mostly).
public enum RunEvent: Sendable {
    case stageStarted(String, reason: String)
    case stageProgress(String, done: Int, total: Int?)
    case stageFinished(RunManifest.StageRun)
}

/// Runs a pipeline: decides per stage whether to run or skip, runs independent stages
/// concurrently, records everything in a manifest, and keeps earlier outputs intact on failure.
public struct PipelineRunner: Sendable {
    public let spec: PipelineSpec
    public let lake: Lake
    public let environment: PipelineEnvironment
    public let logger: Logger
    public let options: RunOptions
    public let runID: String
    public let runDate: String
    public let startedAt: Date
    private let onEvent: @Sendable (RunEvent) -> Void

    public init(spec: PipelineSpec, lake: Lake, environment: PipelineEnvironment, logger: Logger,
                options: RunOptions, onEvent: @escaping @Sendable (RunEvent) -> Void = { _ in }) {
        self.spec = spec
        self.lake = lake
        self.environment = environment
        self.logger = logger
        self.options = options
        startedAt = Date()
        runID = options.runID ?? Timestamp.runID(startedAt)
        runDate = options.runDate ?? Timestamp.day(startedAt)
        self.onEvent = onEvent
    }

    /// The log file of this run, lake-relative.
    public var logFile: String { "raw_data/logs/\(spec.name)/\(runID).log" }

    /// Stages in the order they will be considered, limited to the selection.
    public var selectedStages: [StageSpec] {
        let ordered = PipelineGraph.topologicalOrder(spec.stages)
        guard !options.stages.isEmpty else { return ordered }
        let wanted = PipelineGraph.withUpstream(options.stages, in: spec.stages)
        return ordered.filter { wanted.contains($0.name) }
    }

    /// Runs the pipeline and returns its manifest (also written to the lake unless dry-run).
    /// Never throws for a stage failure: that is in the manifest's status and errors.
    public func run() async -> RunManifest {
        var manifest = RunManifest(runID: runID, pipeline: spec.name, pipelineFile: spec.file, startedAt: startedAt,
                                   runDate: runDate, toolVersion: ToolVersion.current, options: options.summary,
                                   logFile: logFile)
        let manifests = ManifestStore(lake: lake)
        if !options.dryRun { persist(manifest, manifests) }
        logger.info("run started", metadata: ["run_id": "\(runID)", "pipeline": "\(spec.name)", "run_date": "\(runDate)"])

        if !options.dryRun { cleanUpAfterDeadRuns() }
        let hashes = HashCache(path: hashCachePath)
        var state = PipelineState.load(lake: lake, pipeline: spec.name)
        let stages = selectedStages
        let forced = Set(options.force ? (options.stages.isEmpty ? stages.map(\.name) : options.stages) : [])
        var finished: [String: RunManifest.StageRun] = [:]
        var started = Set<String>()
        var failure: String?
        let limit = max(1, options.maxParallel ?? spec.maxParallel)
        let scans = SharedScans()

        await withTaskGroup(of: (String, Result<Completed, Error>).self) { group in
            var running = 0
            while true {
                // Launch every stage whose upstream is done, while there is room.
                var launch: [StageWork] = []
                if failure == nil && !Task.isCancelled {
                    for stage in stages where !started.contains(stage.name) && running < limit {
                        let upstream = stage.upstream.filter { name in stages.contains { $0.name == name } }
                        guard upstream.allSatisfy({ finished[$0] != nil }) else { continue }
                        started.insert(stage.name)
                        if let blocker = upstream.first(where: { ![.ran, .skipped, .planned].contains(finished[$0]!.status) }) {
                            finished[stage.name] = blocked(stage, "not run: upstream stage '\(blocker)' did not succeed")
                            continue
                        }
                        let decision = decide(stage, finished: finished, state: state, hashes: hashes, forced: forced.contains(stage.name))
                        switch decision {
                        case .failed(let record):
                            finished[stage.name] = record
                            failure = failure ?? "stage '\(stage.name)' failed: \(record.error ?? "")"
                            onEvent(.stageFinished(record))
                        case .skip(let record), .plan(let record):
                            finished[stage.name] = record
                            onEvent(.stageFinished(record))
                        case .run(let record, let parts, let inputs):
                            onEvent(.stageStarted(stage.name, reason: record.reason))
                            logger.info("stage started", metadata: ["stage": "\(stage.name)", "reason": "\(record.reason)"])
                            running += 1
                            launch.append(StageWork(stage: stage, record: record, parts: parts, inputs: inputs))
                        }
                    }
                }
                // Every stage of the batch says which files it will scan before any starts, so that they scan them together.
                for work in launch {
                    scans.expect(work.stage.name, files: work.stage.definition.sharedScanFiles(work.inputs).map(\.absolute))
                }
                for work in launch {
                    group.addTask { (work.stage.name, await execute(work, hashes: hashes, scans: scans)) }
                }
                if failure != nil || Task.isCancelled {
                    if running == 0 { break }
                } else if running == 0 && !stages.contains(where: { !started.contains($0.name) }) {
                    break
                } else if running == 0 {
                    continue  // stages became ready through skips or blocks: look again
                }
                guard let (name, result) = await group.next() else { break }
                running -= 1
                switch result {
                case .success(let completed):
                    finished[name] = completed.record
                    state.stages[name] = completed.state
                    do {
                        try state.save(lake: lake, pipeline: spec.name)
                    } catch {
                        failure = failure ?? "cannot save pipeline state: \(error)"
                    }
                    logger.info("stage finished", metadata: ["stage": "\(name)", "ms": "\(completed.record.durationMs ?? 0)"])
                case .failure(let error):
                    var record = (error as? StageFailure)?.record ?? blocked(spec.stage(named: name)!, "")
                    record.status = .failed
                    let message = (error as? StageFailure)?.message ?? "\(error)"
                    record.error = message
                    finished[name] = record
                    if Task.isCancelled {
                        failure = failure ?? "interrupted"
                    } else {
                        failure = failure ?? "stage '\(name)' failed: \(message)"
                    }
                    logger.error("stage failed", metadata: ["stage": "\(name)", "error": "\(message)"])
                }
                onEvent(.stageFinished(finished[name]!))
                manifest.stages = stages.compactMap { finished[$0.name] }
                if !options.dryRun { persist(manifest, manifests) }
            }
        }

        let interrupted = Task.isCancelled
        for stage in stages where finished[stage.name] == nil {
            let why = interrupted ? "not run: the run was interrupted"
                : failure.map { _ in "not run: the run stopped after a failure" } ?? "not run"
            finished[stage.name] = blocked(stage, why)
        }
        manifest.stages = stages.map { finished[$0.name]! }
        manifest.finishedAt = Timestamp.iso(Date())
        if interrupted {
            manifest.status = .interrupted
            manifest.error = failure ?? "interrupted"
        } else if let failure {
            manifest.status = .failed
            manifest.error = failure
        } else {
            manifest.status = .succeeded
        }
        if !options.dryRun {
            do { try hashes.save(lake: lake) } catch { logger.warning("cannot save the hash cache: \(error)") }
            persist(manifest, manifests)
        }
        let digests = hashes.statistics
        logger.info("run finished", metadata: ["status": "\(manifest.status.rawValue)",
                                               "digests_cached": "\(digests.fromCache)", "files_hashed": "\(digests.read)",
                                               "scans_shared": "\(scans.scansShared)"])
        return manifest
    }

    /// Holding the lock means no other run of this pipeline is alive: stop what a killed run left
    /// running and remove the temporaries it left wherever a run writes atomically (the stages'
    /// output folders, the run manifests' folder, the pipeline's state and the store's folder).
    private func cleanUpAfterDeadRuns() {
        let folderOf = { (path: String) in (path as NSString).deletingLastPathComponent }
        var folders: Set<String> = [ManifestStore(lake: lake).folder(pipeline: spec.name), folderOf(hashCachePath),
                                    folderOf(PipelineState.path(lake: lake, pipeline: spec.name)), folderOf(lake.storePath)]
        // A stage's own state (a crawl's stored pages) and its side folders (a shared cache) may
        // have folders of their own below them.
        var stateFolders: [String] = []
        for stage in spec.stages {
            if let pid = OrphanGuard(path: stateFolder(of: stage.name) + "/child.pid").reap() {
                logger.warning("stopped a process left running by a killed run", metadata: ["stage": "\(stage.name)", "pid": "\(pid)"])
            }
            stateFolders.append(stateFolder(of: stage.name))
            stateFolders += stage.definition.sideFolders(lake: lake)
            guard let outputs = try? stage.outputs(in: lake, runID: runID, runDate: runDate, pipeline: spec.name) else { continue }
            folders.formUnion(outputs.map(\.folder))
        }
        let removed = folders.sorted().flatMap { AtomicFile.removeStaleTemporaries(in: $0) }
            + stateFolders.flatMap { AtomicFile.removeStaleTemporaries(under: $0) }
        for name in removed {
            logger.info("removed a temporary file left by a killed run", metadata: ["file": "\(name)"])
        }
    }

    private var hashCachePath: String { lake.stateFolder + "/hashes/" + spec.name + ".txt" }

    private func stateFolder(of stage: String) -> String { StageContext.stateFolder(lake: lake, pipeline: spec.name, stage: stage) }

    private func persist(_ manifest: RunManifest, _ store: ManifestStore) {
        do { try store.write(manifest) } catch { logger.error("cannot write the run manifest: \(error)") }
    }

    private func blocked(_ stage: StageSpec, _ reason: String) -> RunManifest.StageRun {
        RunManifest.StageRun(name: stage.name, kind: stage.kind, status: .blocked, reason: reason, fingerprint: "")
    }

    /// An empty output never silently replaces one that held data (`allow_empty: true` says it may).
    private func checkNotEmptied(_ stage: StageSpec, outputs: [LakePath], previous: PreviousOutputs) throws {
        guard !stage.allowEmpty else { return }
        for output in outputs {
            guard let earlier = previous.previous(of: output), output.exists,
                  !PreviousOutputs.hasData(output.absolute, name: output.fileName),
                  PreviousOutputs.hasData(earlier, name: output.fileName) else { continue }
            throw StageError("the stage wrote an empty \(output.relative) over one that held data from an earlier run; "
                             + "the previous file is kept (set allow_empty: true on the stage if an empty result is expected)")
        }
    }

    // MARK: Deciding

    enum Decision {
        case skip(RunManifest.StageRun)
        case plan(RunManifest.StageRun)
        case run(RunManifest.StageRun, FingerprintParts, [ResolvedInput])
        case failed(RunManifest.StageRun)
    }

    /// Works out the stage's fingerprint and whether it must run.
    func decide(_ stage: StageSpec, finished: [String: RunManifest.StageRun], state: PipelineState,
                hashes: HashCache, forced: Bool) -> Decision {
        var record = RunManifest.StageRun(name: stage.name, kind: stage.kind, status: .planned, reason: "", fingerprint: "")
        if options.dryRun, let pending = stage.upstream.first(where: { finished[$0]?.status == .planned }) {
            record.reason = "upstream stage '\(pending)' will run"
            record.note = stage.definition.planNote(lake: lake, inputs: lastKnownInputs(of: stage, state: state))
            return .plan(record)
        }
        do {
            let outputs = try stage.outputs(in: lake, runID: runID, runDate: runDate, pipeline: spec.name)
            var resolved: [ResolvedInput] = []
            var inputHashes: [String: String] = [:]
            for input in stage.definition.inputs {
                var files: [LakePath] = []
                switch input {
                case .stage(let name):
                    for entry in finished[name]?.outputs ?? [] {
                        files.append(try lake.resolve(entry.path))
                        record.inputs.append(entry)
                        // What the stage does not read cannot make it stale (a parse stage and the crawl log).
                        if stage.definition.fingerprints(input: entry.path) { inputHashes[entry.path] = entry.sha256 }
                    }
                case .files(let template):
                    // An input may name a partition of this run: raw_data/imports/dt={run_date}/*.csv
                    let pattern = OutputTemplate.expand(template, runID: runID, runDate: runDate, pipeline: spec.name, stage: stage.name)
                    files = try lake.glob(pattern)
                    if files.isEmpty { throw StageError("no file in the lake matches input '\(pattern)'") }
                    for file in files {
                        let (sha, size) = try hashes.digest(of: file)
                        inputHashes[file.relative] = sha
                        record.inputs.append(RunManifest.FileEntry(path: file.relative, sha256: sha, bytes: size))
                    }
                }
                resolved.append(ResolvedInput(input: input, files: files))
            }
            let extra = SHA256.hex(of: try stage.definition.fingerprintExtra(lake: lake))
            let parts = FingerprintParts(toolVersion: ToolVersion.current, kind: stage.kind,
                                         config: SHA256.hex(of: stage.canonicalConfig), inputs: inputHashes,
                                         outputs: outputs.map(\.relative), extra: extra)
            record.fingerprint = parts.fingerprint
            record.reason = reasonToRun(stage, parts, previous: state.stages[stage.name], hashes: hashes, forced: forced)
                ?? "up to date"
            if record.reason == "up to date", let previous = state.stages[stage.name] {
                record.status = .skipped
                record.outputs = previous.outputs
                return .skip(record)
            }
            if options.dryRun {
                record.note = stage.definition.planNote(lake: lake, inputs: resolved)
                return .plan(record)
            }
            record.status = .ran
            return .run(record, parts, resolved)
        } catch {
            record.status = .failed
            record.error = "\(error)"
            record.reason = "could not check inputs"
            return .failed(record)
        }
    }

    /// A stage's inputs as the last runs left them, for plan notes when upstream stages will run first.
    private func lastKnownInputs(of stage: StageSpec, state: PipelineState) -> [ResolvedInput] {
        stage.definition.inputs.map { input in
            switch input {
            case .stage(let name):
                let files = (state.stages[name]?.outputs ?? []).compactMap { try? lake.resolve($0.path) }.filter(\.exists)
                return ResolvedInput(input: input, files: files)
            case .files(let template):
                let pattern = OutputTemplate.expand(template, runID: runID, runDate: runDate, pipeline: spec.name, stage: stage.name)
                return ResolvedInput(input: input, files: (try? lake.glob(pattern)) ?? [])
            }
        }
    }

    private func reasonToRun(_ stage: StageSpec, _ parts: FingerprintParts, previous: PipelineState.StageState?,
                             hashes: HashCache, forced: Bool) -> String? {
        if forced { return "forced" }
        guard let previous else { return "never run" }
        if previous.fingerprint != parts.fingerprint { return parts.differences(from: previous.parts) }
        for output in previous.outputs {
            guard let path = try? lake.resolve(output.path), path.exists else { return "output missing: \(output.path)" }
            guard let digest = try? hashes.digest(of: path), digest.sha256 == output.sha256 else {
                return "output changed since it was written: \(output.path)"
            }
        }
        return stage.definition.staleReason(previous: previous, now: Date())
    }

    // MARK: Running

    struct StageWork: Sendable {
        let stage: StageSpec
        let record: RunManifest.StageRun
        let parts: FingerprintParts
        let inputs: [ResolvedInput]
    }

    struct Completed: Sendable {
        let record: RunManifest.StageRun
        let state: PipelineState.StageState
    }

    struct StageFailure: Error {
        let record: RunManifest.StageRun
        let message: String
    }

    private func execute(_ work: StageWork, hashes: HashCache, scans: SharedScans) async -> Result<Completed, Error> {
        let stage = work.stage
        defer { scans.release(stage.name) }
        var record = work.record
        let began = Date()
        record.startedAt = Timestamp.iso(began)
        do {
            let outputs = try stage.outputs(in: lake, runID: runID, runDate: runDate, pipeline: spec.name)
            let rejects = try lake.resolve("raw_data/logs/\(spec.name)/\(runID).\(stage.name).rejects.jsonl")
            let stageFolder = stateFolder(of: stage.name)
            let name = stage.name
            let events = onEvent
            var stageLogger = logger
            stageLogger[metadataKey: "stage"] = "\(name)"
            let context = StageContext(lake: lake, pipeline: spec.name, stage: name, runID: runID, runDate: runDate,
                                       logger: stageLogger, environment: environment, inputs: work.inputs,
                                       outputs: outputs, rejectsPath: rejects, stateFolder: stageFolder,
                                       refreshCaches: options.refreshCaches, csvCells: stage.csvCells,
                                       readers: selectedStages.filter { $0.definition.inputs.contains(.stage(name)) }
                                           .map { StageReader(stage: $0.name, definition: $0.definition) },
                                       scans: scans,
                                       onProgress: { done, total in events(.stageProgress(name, done: done, total: total)) })
            try Task.checkCancellation()
            let previous = try PreviousOutputs(outputs)
            let report: StageReport
            do {
                report = try await stage.definition.run(context)
                try Task.checkCancellation()
                try checkNotEmptied(stage, outputs: outputs, previous: previous)
            } catch {
                // A failed stage leaves the previous outputs as they were, even those it had published.
                for output in previous.restore() {
                    stageLogger.warning("previous output restored", metadata: ["file": "\(output.relative)"])
                }
                throw error
            }
            previous.discard()
            var entries: [RunManifest.FileEntry] = []
            for output in outputs {
                guard output.exists else { throw StageError("the stage finished without writing its output \(output.relative)") }
                let (sha, size) = try hashes.digest(of: output)
                entries.append(RunManifest.FileEntry(path: output.relative, sha256: sha, bytes: size,
                                                     records: report.recordsPerOutput[output.relative]))
            }
            record.outputs = entries
            record.counts = report.counts
            record.details = report.details
            record.durationMs = Int(Date().timeIntervalSince(began) * 1000)
            let state = PipelineState.StageState(fingerprint: work.parts.fingerprint, parts: work.parts, outputs: entries,
                                                 runID: runID, startedAt: Timestamp.iso(began),
                                                 finishedAt: Timestamp.iso(Date()))
            return .success(Completed(record: record, state: state))
        } catch {
            record.durationMs = Int(Date().timeIntervalSince(began) * 1000)
            let message = (error as? StageError)?.message ?? (error is CancellationError ? "interrupted" : "\(error)")
            return .failure(StageFailure(record: record, message: message))
        }
    }
}
