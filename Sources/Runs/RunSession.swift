import Foundation
import Lake
import Logging
import Notify
import Pipeline
import Store

/// One run of a pipeline, whole: the pipeline's lock, the run's log, the runner, the store's record of the
/// manifest, runs a killed predecessor left "running" settled, and the notifications. `agentshop run` is
/// flags → `RunSession` → render; the scheduler starts `agentshop run` processes, so its runs go through
/// here too, and it sends the notices of runs it stopped through the same `RunNotices`.
///
/// ```swift
/// let session = try RunSession(lake: lake, spec: spec, environment: environment, options: options)
/// let manifest = await session.run(onEvent: { … }, whileLocked: { manifest in … })
/// ```
public final class RunSession: @unchecked Sendable {
    /// Why a session could not start.
    public enum StartError: Error, CustomStringConvertible, Sendable {
        /// Another run of the pipeline holds its lock (after waiting `wait` seconds): exit 75.
        case busy(holder: String)
        /// The lock or the log could not be opened.
        case io(String)

        public var description: String {
            switch self {
            case .busy(let holder): return "another run is in progress (\(holder))"
            case .io(let message): return message
            }
        }
    }

    public let lake: Lake
    public let spec: PipelineSpec
    public let environment: PipelineEnvironment
    public let options: RunOptions
    public let runID: String
    /// The run's log: `raw_data/logs/<pipeline>/<run id>.log`.
    public let logPath: String
    public let logger: Logger
    /// The signal that stopped the run (SIGINT, SIGTERM), 0 when none.
    public var signal: Int32 { interruption.signal }
    /// What the notifications of the last `run` came to, per channel and event.
    public private(set) var deliveries: [NotificationSender.Delivery] = []

    private var lock: RunLock?
    private let interruption = Interruption()
    private let warn: @Sendable (String) -> Void
    private let attempt: ScheduledAttempt?

    /// Takes the pipeline's lock (waiting up to `wait` seconds; a lock left by a dead process is taken over),
    /// opens the run's log, and settles the runs a killed predecessor left "running".
    /// - Parameters:
    ///   - echoLog: also write the log to stderr (`-v`).
    ///   - escape: makes log lines safe for a terminal (the executable's `Console.escaped`).
    ///   - warn: tells the person at the terminal what the log alone would hide (the store could not record the run).
    ///   - attempt: which attempt of a scheduled run this is (`AGENTSHOP_SCHEDULED_ATTEMPT` by default).
    public init(lake: Lake, spec: PipelineSpec, environment: PipelineEnvironment, options: RunOptions, wait: Double = 0,
                echoLog: Bool = false, escape: @escaping @Sendable (String) -> String = { $0 },
                warn: @escaping @Sendable (String) -> Void = { _ in },
                attempt: ScheduledAttempt? = ScheduledAttempt.fromEnvironment()) throws(StartError) {
        var options = options
        let runID = options.runID ?? Timestamp.runID(Date())
        options.runID = runID
        self.lake = lake
        self.spec = spec
        self.environment = environment
        self.options = options
        self.runID = runID
        self.warn = warn
        self.attempt = attempt
        do {
            lock = try RunLock(lake: lake, pipeline: spec.name, wait: wait, owner: "pid \(getpid()), run \(runID)")
        } catch {
            switch error {
            case .busy(let holder): throw .busy(holder: holder.description)
            case .io(let message): throw .io(message)
            }
        }
        logPath = lake.root + "/raw_data/logs/\(spec.name)/\(runID).log"
        do {
            let sink = try RunLogHandler.Sink(path: logPath, echo: echoLog, escape: escape)
            logger = RunLogHandler.logger(label: "agentshop.run", sink: sink)
        } catch {
            throw .io("cannot open the run's log \(logPath): \(error)")
        }
        // A run killed before it finished left its manifest saying "running": with the lock held, it is
        // settled as interrupted and recorded, so its work (stages it ran, LLM calls it paid for) is not
        // lost from the store's history when this run skips what that one already did.
        for abandoned in (try? ManifestStore(lake: lake).settleAbandoned(pipeline: spec.name)) ?? [] {
            logger.warning("settled an interrupted run", metadata: ["run_id": "\(abandoned.runID)"])
            record(abandoned)
        }
    }

    /// Runs the pipeline (SIGINT and SIGTERM stop it cleanly), then, unless it is a dry run: calls `whileLocked`
    /// (the executable's progress line and final report), records the manifest in the store, releases the lock,
    /// and sends the notifications (after the lock: a slow webhook does not hold up the pipeline's next run).
    public func run(onEvent: @escaping @Sendable (RunEvent) -> Void = { _ in },
                    whileLocked: (RunManifest) -> Void = { _ in }) async -> RunManifest {
        let runner = PipelineRunner(spec: spec, lake: lake, environment: environment, logger: logger, options: options,
                                    onEvent: onEvent)
        let task = Task { await runner.run() }
        let logger = self.logger
        interruption.install { signal in
            logger.warning("interrupted", metadata: ["signal": "\(signal)"])
            task.cancel()
        }
        let manifest = await task.value
        interruption.remove()
        whileLocked(manifest)
        if !options.dryRun { record(manifest) }
        lock = nil
        if !options.dryRun { deliveries = await notify(manifest) }
        return manifest
    }

    /// Sends the pipeline's notifications for `manifest` (as the run does when it ends).
    @discardableResult
    public func notify(_ manifest: RunManifest) async -> [NotificationSender.Delivery] {
        await RunNotices.send(spec: spec, manifest: manifest, lake: lake, environment: environment, logger: logger,
                              attempt: attempt)
    }

    /// Keeps the store's run tables in step with the lake (`RunSession.record(_:lake:schedule:logger:)`).
    func record(_ manifest: RunManifest) {
        if let problem = Self.record(manifest, lake: lake, schedule: spec.schedule?.source, logger: logger) {
            warn("warning: run not recorded in the store (\(problem)); `agentshop db sync-runs` records it later")
        }
    }

    /// Keeps the store's run tables (processing tasks, crawl jobs and pages, LLM calls) in step with the lake,
    /// while the run still holds its lock. The lake is the truth: when the store is missing or busy the run
    /// still counts, and `db sync-runs` or `db rebuild` catch up later.
    /// - Returns: the problem, when the store is there but did not take the record.
    @discardableResult
    public static func record(_ manifest: RunManifest, lake: Lake, schedule: String? = nil, logger: Logger) -> String? {
        // A PostgreSQL store (AGENTSHOP_STORE_URL, set from --store or the pipeline's store:) takes the record instead.
        if let location = try? StoreLocation.resolve(nil, defaultPath: lake.storePath), let url = location.postgresURL {
            do {
                let store = try PostgresStore.openMigrated(url: url, logger: logger)
                try PostgresRunRecords.record(manifest, lake: lake, schedule: schedule, into: store)
                return nil
            } catch {
                logger.warning("run not recorded in the store", metadata: ["error": "\(error)", "store": "\(location)"])
                return "\(location): \(error)"
            }
        }
        guard FileManager.default.fileExists(atPath: lake.storePath) else { return nil }
        do {
            let store = try Store.openMigrated(path: lake.storePath, busyTimeout: .seconds(60), logger: logger)
            try RunRecords.record(manifest, lake: lake, schedule: schedule, in: store.database)
            return nil
        } catch {
            logger.warning("run not recorded in the store", metadata: ["error": "\(error)"])
            return "\(error)"
        }
    }
}
