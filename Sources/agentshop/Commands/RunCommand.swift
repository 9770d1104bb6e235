import ArgumentParser
import Dispatch
import Foundation
import Lake
import Logging
import Pipeline
import Store

struct RunCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "run",
        abstract: "Run a pipeline: stages whose fingerprint and outputs are unchanged are skipped.",
        discussion: """
        One run per pipeline at a time: a second run waits up to --wait seconds for the first, then \
        exits 75. A lock left by a killed run is taken over. On a terminal the run shows progress; \
        otherwise (cron) it prints one summary line. The log and the run manifest go to \
        raw_data/logs/<pipeline>/.

        Examples:
          agentshop run demo
          agentshop run demo --stage enriched --force -v
          agentshop run pipelines/demo.yaml --dry-run
        """
    )

    @OptionGroup var global: GlobalOptions
    @OptionGroup var selection: StageSelection

    @Flag(help: "Show what would run, and why, without running anything.")
    var dryRun = false

    @Option(help: ArgumentHelp("Seconds to wait for another run of this pipeline to finish (default 0).", valueName: "seconds"))
    var wait: Double = 0

    @Flag(name: .customLong("no-cache"), help: "Ask providers again instead of reusing cached answers (the cache is refreshed).")
    var noCache = false

    @Flag(name: .shortAndLong, help: "Echo the run log to stderr.")
    var verbose = false

    @Option(help: ArgumentHelp("Spread enrich stages over `agentshop worker` processes through this PostgreSQL queue.", valueName: "postgres-url"))
    var queue: String?

    @Argument(help: ArgumentHelp("A pipeline file, or a name in ./pipelines.", valueName: "pipeline"), completion: Completions.pipelines)
    var pipeline: String

    func run() async throws {
        if dryRun {
            var plan = PlanCommand()
            plan.global = global
            plan.selection = selection
            plan.pipeline = pipeline
            try await plan.run()
            return
        }
        let lake = try global.openLake()
        let spec = try global.loadPipeline(pipeline, lake: lake)
        var options = try selection.options(spec: spec)
        options.runID = Timestamp.runID(Date())
        options.refreshCaches = noCache

        let lock: RunLock
        do {
            lock = try RunLock(lake: lake, pipeline: spec.name, wait: wait,
                               owner: "pid \(getpid()), run \(options.runID!)")
        } catch .busy(let holder) {
            Console.error("\(spec.name): another run is in progress (\(holder)); try again later or pass --wait SECONDS")
            throw ExitStatus.lockBusy
        } catch .io(let message) {
            Console.error("\(spec.name): \(message)")
            throw ExitStatus.internalError
        }

        let logPath = lake.root + "/raw_data/logs/\(spec.name)/\(options.runID!).log"
        let sink = try RunLogHandler.Sink(path: logPath, echo: verbose)
        let logger = Logger(label: "agentshop.run", factory: { _ in RunLogHandler(sink: sink) })
        // A run killed before it finished left its manifest saying "running": with the lock held, it is
        // settled as interrupted and recorded, so its work (stages it ran, LLM calls it paid for) is not
        // lost from the store's history when this run skips what that one already did.
        for abandoned in (try? ManifestStore(lake: lake).settleAbandoned(pipeline: spec.name)) ?? [] {
            logger.warning("settled an interrupted run", metadata: ["run_id": "\(abandoned.runID)"])
            Self.recordInStore(abandoned, lake: lake, schedule: spec.schedule?.source, logger: logger)
        }
        let progress = ProgressView(mode: ProgressView.mode(terminal: Console.isTerminal, quiet: global.quiet, json: global.json,
                                                            verbose: verbose), stageCount: spec.stages.count)
        let runner = PipelineRunner(spec: spec, lake: lake, environment: try queueEnvironment(global.environment(forPipelineFile: spec.file), spec: spec),
                                    logger: logger, options: options, onEvent: { progress.handle($0) })

        let interruption = Interruption()
        let task = Task { await runner.run() }
        interruption.install { signal in
            logger.warning("interrupted", metadata: ["signal": "\(signal)"])
            task.cancel()
        }
        let manifest = await task.value
        interruption.remove()
        progress.finish()
        if !options.dryRun { Self.recordInStore(manifest, lake: lake, schedule: spec.schedule?.source, logger: logger) }
        if !options.dryRun { ReportCommand.writeFinalReport(spec: spec, manifest: manifest, lake: lake) }
        withExtendedLifetime(lock) {}
        // After the lock's last use: a slow webhook does not hold up the pipeline's next run.
        if !options.dryRun {
            await RunNotifications.send(spec: spec, manifest: manifest, lake: lake,
                                        environment: global.environment(forPipelineFile: spec.file), logger: logger)
        }

        if global.json {
            Console.json(manifest)
        } else {
            Console.error(Self.summary(manifest))
        }
        switch manifest.status {
        case .succeeded: return
        case .interrupted: throw interruption.signal == SIGTERM ? ExitStatus.interruptedBySIGTERM : ExitStatus.interruptedBySIGINT
        case .failed, .running: throw ExitStatus.runFailed
        }
    }

    /// Keeps the store's run tables (processing tasks, crawl jobs and pages, LLM calls) in step
    /// with the lake, while the run still holds its lock. The lake is the truth: when the store is
    /// missing or busy the run still counts, and `db sync-runs` or `db rebuild` catch up later.
    static func recordInStore(_ manifest: RunManifest, lake: Lake, schedule: String? = nil, logger: Logger) {
        if let postgres = try? StoreLocation.resolve(nil, defaultPath: lake.storePath), let url = postgres.postgresURL {
            do {
                let store = try PostgresStore.openMigrated(url: url, logger: logger)
                try PostgresRunRecords.record(manifest, lake: lake, schedule: schedule, into: store)
            } catch {
                logger.warning("run not recorded in the store", metadata: ["error": "\(error)", "store": "\(postgres)"])
                Console.error("warning: run not recorded in the store \(postgres) (\(error))")
            }
            return
        }
        guard FileManager.default.fileExists(atPath: lake.storePath) else { return }
        do {
            let store = try Store.openMigrated(path: lake.storePath, busyTimeout: .seconds(60), logger: logger)
            try RunRecords.record(manifest, lake: lake, schedule: schedule, in: store.database)
        } catch {
            logger.warning("run not recorded in the store", metadata: ["error": "\(error)"])
            Console.error("warning: run not recorded in the store (\(error)); `agentshop db sync-runs` records it later")
        }
    }

    /// `demo 20261125T…: succeeded: 3 ran, 2 skipped in 1.2s (log raw_data/logs/demo/….log)`
    static func summary(_ manifest: RunManifest) -> String {
        let count = { (status: RunManifest.StageRun.Status) in manifest.stages.filter { $0.status == status }.count }
        var parts = ["\(count(.ran)) ran", "\(count(.skipped)) skipped"]
        if count(.failed) > 0 { parts.append("\(count(.failed)) failed") }
        if count(.blocked) > 0 { parts.append("\(count(.blocked)) not run") }
        let started = Timestamp.parse(manifest.startedAt) ?? Date()
        let finished = manifest.finishedAt.flatMap(Timestamp.parse) ?? Date()
        let seconds = String(format: "%.1fs", finished.timeIntervalSince(started))
        var line = "\(manifest.pipeline) \(manifest.runID): \(manifest.status.rawValue): \(parts.joined(separator: ", ")) in \(seconds) (log \(manifest.logFile))"
        if let error = manifest.error { line += "\n  error: \(error)" }
        return line
    }
}

/// Progress on a terminal: one line per finished stage, a live line for running ones with
/// done/total, rate and ETA. Without a terminal, in `-v` mode: one line per stage start and end
/// (as dbt prints), so a log reader sees what ran when.
final class ProgressView: @unchecked Sendable {
    enum Mode { case off, live, lines }
    private let mode: Mode
    private let stageCount: Int
    private let lock = NSLock()
    private var running: [String: (started: Date, reason: String, done: Int, total: Int?)] = [:]
    private var startedCount = 0
    private var order: [String: Int] = [:]
    private let clock: @Sendable () -> Date

    init(mode: Mode, stageCount: Int = 0, clock: @escaping @Sendable () -> Date = { Date() }) {
        self.mode = mode
        self.stageCount = stageCount
        self.clock = clock
    }

    convenience init(enabled: Bool) { self.init(mode: enabled ? .live : .off) }

    /// The mode a run's flags and stderr call for.
    static func mode(terminal: Bool, quiet: Bool, json: Bool, verbose: Bool) -> Mode {
        if quiet || json { return .off }
        if terminal && !verbose { return .live }
        return verbose ? .lines : .off
    }

    /// `3/8 · 0.4/s · ETA 12s` (the total, rate and ETA when known).
    static func progressText(done: Int, total: Int?, elapsed: Double) -> String {
        var text = total.map { "\(done)/\($0)" } ?? "\(done)"
        guard elapsed > 0.5, done > 0 else { return text }
        let rate = Double(done) / elapsed
        text += rate >= 10 ? String(format: " · %.0f/s", rate) : String(format: " · %.1f/s", rate)
        if let total, total > done { text += " · ETA " + Console.duration(ms: Int(Double(total - done) / rate * 1000)) }
        return text
    }

    func handle(_ event: RunEvent) {
        guard mode != .off else { return }
        lock.lock()
        defer { lock.unlock() }
        let now = clock()
        let counter = { (name: String) in "\(self.order[name] ?? 0) of \(max(self.stageCount, self.startedCount))" }
        switch event {
        case .stageStarted(let name, let reason):
            startedCount += 1
            order[name] = startedCount
            running[name] = (now, reason, 0, nil)
            if mode == .lines { Console.error("\(Self.clockText(now))  \(counter(name)) START \(name) (\(reason))") }
        case .stageProgress(let name, let done, let total):
            if var entry = running[name] { entry.done = done; entry.total = total; running[name] = entry }
        case .stageFinished(let stage):
            running[stage.name] = nil
            let mark: String
            var detail: String
            switch stage.status {
            case .ran: mark = "✓"; detail = "ran in \(Console.duration(ms: stage.durationMs))"
            case .skipped: mark = "·"; detail = "skipped (\(stage.reason))"
            case .failed: mark = "✗"; detail = "failed: \(stage.error ?? "")"
            case .blocked: mark = "-"; detail = stage.reason
            case .planned: mark = "?"; detail = stage.reason
            }
            if let records = stage.counts["records_out"] { detail += " · \(records) records" }
            if mode == .lines {
                if order[stage.name] == nil { startedCount += 1; order[stage.name] = startedCount }
                let text = stage.status == .skipped ? " (\(stage.reason))" : ": " + detail
                Console.error("\(Self.clockText(now))  \(counter(stage.name)) \(stage.status.rawValue.uppercased()) \(stage.name)\(text)")
                return
            }
            Console.clearStatus()
            Console.error("\(mark) \(stage.name.padding(toLength: 16, withPad: " ", startingAt: 0)) \(detail)")
        }
        guard mode == .live else { return }
        let live = running.sorted { $0.key < $1.key }.map { name, entry in
            entry.done == 0 && entry.total == nil ? "\(name): running (\(entry.reason))"
                : "\(name): " + Self.progressText(done: entry.done, total: entry.total, elapsed: now.timeIntervalSince(entry.started))
        }.joined(separator: "  ")
        if !live.isEmpty { Console.status("▸ " + live) }
    }

    static func clockText(_ date: Date) -> String { String(Timestamp.iso(date).dropFirst(11).prefix(8)) }

    func finish() {
        guard mode == .live else { return }
        Console.clearStatus()
    }
}

/// SIGINT and SIGTERM stop the run cleanly instead of killing the process mid-write.
final class Interruption: @unchecked Sendable {
    private var sources: [DispatchSourceSignal] = []
    private(set) var signal: Int32 = 0

    func install(_ handler: @escaping @Sendable (Int32) -> Void) {
        for sig in [SIGINT, SIGTERM] {
            Foundation.signal(sig, SIG_IGN)
            let source = DispatchSource.makeSignalSource(signal: sig, queue: .global())
            source.setEventHandler { [weak self] in
                guard let self else { return }
                if self.signal == 0 { self.signal = sig }
                handler(sig)
            }
            source.resume()
            sources.append(source)
        }
    }

    func remove() {
        for source in sources { source.cancel() }
        sources.removeAll()
    }
}
