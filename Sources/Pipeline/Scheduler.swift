import Foundation
import Lake
import Logging

/// Where the scheduler gets the time from: the system clock in production, a hand-moved one in tests.
public protocol SchedulerClock: Sendable {
    func now() -> Date
    /// Returns at `deadline` or when cancelled.
    func sleep(until deadline: Date) async
}

/// The system clock, optionally shifted (`agentshop scheduler --at`, to rehearse a day's schedule).
public struct SystemClock: SchedulerClock {
    public let offset: TimeInterval

    public init(offset: TimeInterval = 0) { self.offset = offset }

    public func now() -> Date { Date().addingTimeInterval(offset) }

    public func sleep(until deadline: Date) async {
        let seconds = deadline.timeIntervalSince(now())
        if seconds > 0 { try? await Task.sleep(nanoseconds: UInt64(seconds * 1_000_000_000)) }
    }
}

/// A scheduled pipeline, as the scheduler sees it.
public struct ScheduledJob: Sendable {
    public let pipeline: String
    /// The pipeline file, absolute.
    public let file: String
    public let schedule: Schedule
    public let policy: SchedulePolicy
    /// The pipeline's `missed:`, else the scheduler's default.
    public let missed: SchedulePolicy.Missed

    public init(pipeline: String, file: String, schedule: Schedule, policy: SchedulePolicy,
                defaultMissed: SchedulePolicy.Missed) {
        self.pipeline = pipeline
        self.file = file
        self.schedule = schedule
        self.policy = policy
        missed = policy.missed ?? defaultMissed
    }
}

/// How one scheduled run ended.
public enum ScheduledRunOutcome: Sendable, Equatable {
    case succeeded
    /// The run failed (exit code, or why it could not start).
    case failed(String)
    /// It ran past its timeout and was stopped.
    case timedOut
    /// Another process (a run by hand) held the pipeline's lock.
    case busy
    /// The scheduler is stopping and stopped it.
    case stopped

    public var text: String {
        switch self {
        case .succeeded: return "succeeded"
        case .failed(let why): return "failed: \(why)"
        case .timedOut: return "timed out"
        case .busy: return "busy"
        case .stopped: return "stopped"
        }
    }

    var isFailure: Bool {
        switch self {
        case .failed, .timedOut: return true
        default: return false
        }
    }
}

/// Starts one run of a job and waits for its end. Cancellation must stop the run (gracefully) and return.
public protocol ScheduledRunLauncher: Sendable {
    func run(_ job: ScheduledJob, attempt: Int) async -> ScheduledRunOutcome
    /// A failed attempt whose retry will not happen (the next scheduled run came first): its failure is
    /// the final outcome, to be told now, since the attempt itself left it to a retry.
    func retryAbandoned(_ job: ScheduledJob, afterAttempt attempt: Int) async
}

extension ScheduledRunLauncher {
    public func retryAbandoned(_ job: ScheduledJob, afterAttempt attempt: Int) async {}
}

/// What the scheduler remembers per pipeline across restarts (`.agentshop/scheduler.json`).
public struct ScheduledPipelineState: Codable, Sendable, Equatable {
    /// Every scheduled time up to this one has been handled (run, skipped or coalesced).
    public var handledThrough: Date?
    public var lastStarted: Date?
    public var lastFinished: Date?
    public var lastOutcome: String?
    /// The attempt number of the last or current run (1 for the scheduled run, 2+ for retries).
    public var attempt: Int = 0
    /// When the next retry of a failed run is due.
    public var retryAt: Date?

    public init() {}

    // Keys are snake_case; a state file of an earlier version (camelCase) still reads.
    enum CodingKeys: String, CodingKey {
        case handledThrough = "handled_through", lastStarted = "last_started", lastFinished = "last_finished"
        case lastOutcome = "last_outcome", attempt, retryAt = "retry_at"
    }

    public init(from decoder: any Decoder) throws {
        let c = try RenamedKeysContainer(decoder, keyedBy: CodingKeys.self)
        handledThrough = try c.decodeIfPresent(Date.self, forKey: .handledThrough, orLegacy: "handledThrough")
        lastStarted = try c.decodeIfPresent(Date.self, forKey: .lastStarted, orLegacy: "lastStarted")
        lastFinished = try c.decodeIfPresent(Date.self, forKey: .lastFinished, orLegacy: "lastFinished")
        lastOutcome = try c.decodeIfPresent(String.self, forKey: .lastOutcome, orLegacy: "lastOutcome")
        attempt = try c.decode(Int.self, forKey: .attempt)
        retryAt = try c.decodeIfPresent(Date.self, forKey: .retryAt, orLegacy: "retryAt")
    }
}

/// Runs scheduled pipelines when they are due: `agentshop scheduler`.
///
/// - One run per pipeline at a time: a pipeline whose run is still going is not started again
///   (the run lock would refuse it anyway; the scheduler does not even try).
/// - A scheduled time more than `lateness` seconds in the past was missed (the scheduler was down,
///   or the previous run was still going): `skip` forgets it, `run_once` runs once for all of them.
/// - A failed or timed-out run is retried `policy.retries` times, after `retryDelay`, doubled each time.
/// - The state file is rewritten (atomically) after every change, so a restart knows what ran.
public actor Scheduler {
    public private(set) var jobs: [ScheduledJob]
    public let stateFile: String?
    public let lateness: TimeInterval
    /// No retry waits longer than this.
    public let maxRetryDelay: TimeInterval
    private let clock: any SchedulerClock
    private let launcher: any ScheduledRunLauncher
    private let logger: Logger
    private var states: [String: ScheduledPipelineState]
    private var running: [String: Task<Void, Never>] = [:]
    /// Failure notices for superseded retries still being sent; `stop` waits for them.
    private var notices: [Task<Void, Never>] = []
    /// Every run started, in order: (pipeline, attempt, when).
    public private(set) var started: [(pipeline: String, attempt: Int, at: Date)] = []
    /// Runs whose final outcome (after retries) was a failure, since the scheduler started.
    public private(set) var finalFailures = 0

    public init(jobs: [ScheduledJob], stateFile: String?, clock: any SchedulerClock, launcher: any ScheduledRunLauncher,
                logger: Logger, lateness: TimeInterval = 60, maxRetryDelay: TimeInterval = 6 * 3600) {
        self.jobs = jobs
        self.stateFile = stateFile
        self.clock = clock
        self.launcher = launcher
        self.logger = logger
        self.lateness = lateness
        self.maxRetryDelay = maxRetryDelay
        states = [:]
        if let stateFile, FileManager.default.fileExists(atPath: stateFile) {
            do {
                let decoder = JSONDecoder()
                decoder.dateDecodingStrategy = .iso8601
                states = try decoder.decode([String: ScheduledPipelineState].self, from: Data(try FileInput.readAll(path: stateFile)))
            } catch {
                // Starting afresh loses only the missed-run catch-up, never a run.
                logger.warning("scheduler state unreadable; starting afresh", metadata: ["file": "\(stateFile)", "error": "\(error)"])
            }
        }
    }

    public func state(of pipeline: String) -> ScheduledPipelineState? { states[pipeline] }

    /// Replaces the jobs (pipeline files edited: SIGHUP). Runs in progress go on; what the scheduler
    /// remembers of a pipeline is kept by name, so an edited schedule is not a first start.
    public func reload(_ jobs: [ScheduledJob]) {
        self.jobs = jobs
        logger.info("pipelines reloaded", metadata: ["pipelines": "\(jobs.map(\.pipeline).joined(separator: ","))"])
    }
    public var runningPipelines: [String] { running.keys.sorted() }

    /// One pass: starts every job that is due and not running. Returns the pipelines started.
    @discardableResult
    public func tick() -> [String] {
        let now = clock.now()
        var launched: [String] = []
        for job in jobs where running[job.pipeline] == nil {
            var state = states[job.pipeline] ?? ScheduledPipelineState()
            // The first time a pipeline is seen, a time that passed just now still counts as on time.
            let cursor = state.handledThrough ?? now.addingTimeInterval(-lateness)
            if let first = job.schedule.nextRun(after: cursor), first <= now {
                state.handledThrough = now
                let onTime = job.schedule.nextRun(after: max(cursor, now.addingTimeInterval(-lateness - 0.001)))
                    .flatMap { $0 <= now ? $0 : nil }
                let missedSome = onTime == nil || first < onTime!
                if state.retryAt != nil {
                    // A new scheduled run supersedes a pending retry: the failure before it is final.
                    logger.warning("pending retry superseded by the next scheduled run",
                                   metadata: ["pipeline": "\(job.pipeline)", "attempt": "\(state.attempt)"])
                    finalFailures += 1
                    let launcher = self.launcher, attempt = state.attempt
                    notices.append(Task { await launcher.retryAbandoned(job, afterAttempt: attempt) })
                }
                state.retryAt = nil
                if let onTime {
                    if missedSome {
                        logger.notice("missed runs skipped", metadata: ["pipeline": "\(job.pipeline)", "since": "\(Timestamp.iso(first))"])
                    }
                    states[job.pipeline] = state
                    launch(job, attempt: 1, reason: "scheduled for \(Timestamp.iso(onTime))")
                    launched.append(job.pipeline)
                } else if job.missed == .runOnce {
                    states[job.pipeline] = state
                    launch(job, attempt: 1, reason: "once for missed runs since \(Timestamp.iso(first))")
                    launched.append(job.pipeline)
                } else {
                    logger.notice("missed run skipped (missed: skip)", metadata: ["pipeline": "\(job.pipeline)", "since": "\(Timestamp.iso(first))"])
                    states[job.pipeline] = state
                }
                continue
            }
            if let retryAt = state.retryAt, retryAt <= now {
                state.retryAt = nil
                states[job.pipeline] = state
                launch(job, attempt: state.attempt + 1, reason: "retry")
                launched.append(job.pipeline)
                continue
            }
            states[job.pipeline] = state
        }
        save()
        return launched
    }

    /// The next moment something may become due: a scheduled time or a retry.
    public func nextWake() -> Date? {
        let now = clock.now()
        var wake: Date?
        for job in jobs where running[job.pipeline] == nil {
            let state = states[job.pipeline]
            let cursor = state?.handledThrough ?? now
            for candidate in [job.schedule.nextRun(after: cursor), state?.retryAt].compactMap({ $0 }) {
                wake = min(wake ?? candidate, candidate)
            }
        }
        return wake
    }

    /// Runs until cancelled; then stops every run it started (SIGTERM, then SIGKILL after a grace
    /// period, through the launcher), waits for them, and saves its state.
    public func run(poll: TimeInterval = 1) async {
        logger.info("scheduler started", metadata: ["pipelines": "\(jobs.map(\.pipeline).joined(separator: ","))"])
        while !Task.isCancelled {
            tick()
            // Wake at the next due time, but at least every `poll` seconds: a run that ends may let a
            // missed run go (run_once), and the clock may jump.
            let now = clock.now()
            let deadline = min(nextWake() ?? now.addingTimeInterval(poll), now.addingTimeInterval(poll))
            await clock.sleep(until: deadline)
        }
        await stop()
    }

    /// Runs what is due now, its retries included, and returns when all of it has ended
    /// (`agentshop scheduler --once`).
    public func runDue() async {
        tick()
        while true {
            await waitUntilIdle()
            if Task.isCancelled { await stop(); return }
            let pending = jobs.compactMap { states[$0.pipeline]?.retryAt }.min()
            guard let pending else {
                for notice in notices { await notice.value }
                notices = []
                return
            }
            await clock.sleep(until: pending)
            if Task.isCancelled { await stop(); return }
            retryDue()
        }
    }

    /// Starts the retries that are due (and nothing newly scheduled).
    private func retryDue() {
        let now = clock.now()
        for job in jobs where running[job.pipeline] == nil {
            guard var state = states[job.pipeline], let retryAt = state.retryAt, retryAt <= now else { continue }
            state.retryAt = nil
            states[job.pipeline] = state
            launch(job, attempt: state.attempt + 1, reason: "retry")
        }
        save()
    }

    /// Waits until no run is going. Cancelled (SIGTERM, SIGINT), it stops the runs instead of waiting for
    /// them to end on their own: the runs are tasks of their own, which cancelling the waiter alone
    /// would not reach.
    public func waitUntilIdle() async {
        await withTaskCancellationHandler {
            while let task = running.values.first {
                await task.value
            }
        } onCancel: {
            Task { await self.cancelRuns() }
        }
    }

    private func cancelRuns() {
        for task in running.values { task.cancel() }
    }

    /// Stops every run and waits for them.
    public func stop() async {
        let tasks = Array(running.values)
        if !tasks.isEmpty {
            logger.notice("stopping runs", metadata: ["pipelines": "\(runningPipelines.joined(separator: ","))"])
        }
        for task in tasks { task.cancel() }
        for task in tasks { await task.value }
        for notice in notices { await notice.value }
        notices = []
        save()
        logger.info("scheduler stopped")
    }

    private func launch(_ job: ScheduledJob, attempt: Int, reason: String) {
        let now = clock.now()
        var state = states[job.pipeline] ?? ScheduledPipelineState()
        state.lastStarted = now
        state.attempt = attempt
        states[job.pipeline] = state
        started.append((job.pipeline, attempt, now))
        logger.info("run started", metadata: ["pipeline": "\(job.pipeline)", "attempt": "\(attempt)", "why": "\(reason)"])
        let launcher = self.launcher
        running[job.pipeline] = Task {
            let outcome = await launcher.run(job, attempt: attempt)
            self.finished(job, attempt: attempt, outcome: outcome)
        }
    }

    private func finished(_ job: ScheduledJob, attempt: Int, outcome: ScheduledRunOutcome) {
        running[job.pipeline] = nil
        let now = clock.now()
        var state = states[job.pipeline] ?? ScheduledPipelineState()
        state.lastFinished = now
        state.lastOutcome = outcome.text
        var metadata: Logger.Metadata = ["pipeline": "\(job.pipeline)", "attempt": "\(attempt)", "outcome": "\(outcome.text)"]
        if outcome.isFailure && attempt <= job.policy.retries {
            let delay = retryDelay(job, afterAttempt: attempt)
            state.retryAt = now.addingTimeInterval(delay)
            metadata["retry_in"] = "\(delay)s"
            logger.warning("run failed; will retry", metadata: metadata)
        } else {
            if outcome.isFailure {
                finalFailures += 1
                logger.error("run failed", metadata: metadata)
            } else {
                logger.info("run ended", metadata: metadata)
            }
        }
        states[job.pipeline] = state
        save()
    }

    /// `retryDelay * 2^(attempt-1)`, capped. No jitter: one scheduler, one run per pipeline, nothing to spread.
    public func retryDelay(_ job: ScheduledJob, afterAttempt attempt: Int) -> TimeInterval {
        min(maxRetryDelay, job.policy.retryDelay * pow(2, Double(max(0, attempt - 1))))
    }

    private func save() {
        guard let stateFile else { return }
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.prettyPrinted, .sortedKeys]
        encoder.dateEncodingStrategy = .iso8601
        do {
            let data = try encoder.encode(states)
            try AtomicFile.write(Array(data) + [0x0A], to: stateFile)
        } catch {
            logger.error("cannot save the scheduler state", metadata: ["file": "\(stateFile)", "error": "\(error)"])
        }
    }
}
