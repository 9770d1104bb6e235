import ArgumentParser
import Foundation
import Lake
import Pipeline
import Runs

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

    @Option(help: ArgumentHelp("The store: a PostgreSQL URL (postgres://…); default $AGENTSHOP_STORE_URL, then the pipeline's store:, then the lake's SQLite store.", valueName: "url"))
    var store: String?

    @Option(help: ArgumentHelp("Spread fetch, parse and enrich stages over `agentshop worker` processes through this PostgreSQL queue.", valueName: "postgres-url"))
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
        try DBCommand.chooseStore(store, pipeline: spec, environment: global.environment(forPipelineFile: spec.file).variables)
        var options = try selection.options(spec: spec)
        options.runID = Timestamp.runID(Date())
        options.refreshCaches = noCache

        let environment = try queueEnvironment(global.environment(forPipelineFile: spec.file), spec: spec)
        let session: RunSession
        do {
            session = try RunSession(lake: lake, spec: spec, environment: environment,
                                     options: options, wait: wait, echoLog: verbose,
                                     escape: { Console.escaped($0, keepingLines: true) }, warn: { Console.error($0) })
        } catch .busy(let holder) {
            Console.error("\(spec.name): another run is in progress (\(holder)); try again later or pass --wait SECONDS")
            throw ExitStatus.lockBusy
        } catch .io(let message) {
            Console.error("\(spec.name): \(message)")
            throw ExitStatus.internalError
        }
        let progress = ProgressView(mode: ProgressView.mode(terminal: Console.isTerminal, quiet: global.quiet, json: global.json,
                                                            verbose: verbose), stageCount: spec.stages.count)
        let manifest = await session.run(onEvent: { progress.handle($0) }) { manifest in
            progress.finish()
            if !session.options.dryRun { ReportCommand.writeFinalReport(spec: spec, manifest: manifest, lake: lake) }
        }

        if !session.options.dryRun { ProviderStatusSync.update(lake: lake, environment: session.environment.variables) }
        if global.json {
            Console.json(manifest)
        } else {
            Console.error(Self.summary(manifest))
        }
        switch manifest.status {
        case .succeeded: return
        case .interrupted: throw session.signal == SIGTERM ? ExitStatus.interruptedBySIGTERM : ExitStatus.interruptedBySIGINT
        case .failed, .running: throw ExitStatus.runFailed
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
