import ArgumentParser
import Foundation
import Lake
import Logging
import Pipeline
import Runs
import Stages

struct SchedulerCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "scheduler",
        abstract: "Run scheduled pipelines when they are due, in the foreground, until stopped (SIGTERM or Ctrl-C).",
        discussion: """
        Every pipeline in ./pipelines with a `schedule:` (or those named) runs as its own `agentshop run` \
        process, so that a crash of one run never takes the scheduler down. A pipeline never runs twice at \
        once. Per pipeline, `schedule: { cron: …, missed: skip | run_once, timeout: 2h, retries: 2, \
        retry_delay: 5m }` sets what happens to runs missed while the scheduler was down or the previous run \
        was still going, how long a run may take (then SIGTERM, then SIGKILL), and how often a failed run is \
        retried (the delay doubles each time). The state (last runs, pending retries) is kept in \
        .agentshop/scheduler.json, so a restart knows what ran. SIGTERM or SIGINT stops the runs in progress \
        gracefully (they record themselves as interrupted; their earlier outputs stay intact) and exits 0. \
        The log goes to raw_data/logs/scheduler.log and stderr; each run's output to \
        raw_data/logs/<pipeline>/scheduler.log. Pipeline files are read at start and again on SIGHUP.

        Examples:
          agentshop scheduler
          agentshop scheduler --once --at 2026-11-25T03:00:00Z
        """
    )

    @OptionGroup var global: GlobalOptions

    @Flag(help: "Run what is due now (and its retries), then exit: 1 when a run still failed.")
    var once = false

    @Option(help: ArgumentHelp("Pretend the time is now this ISO 8601 date (2026-11-25T03:00:00Z), to rehearse a schedule.",
                               valueName: "date"))
    var at: String?

    @Option(help: ArgumentHelp("For pipelines without `missed:`: skip missed runs, or run once for them (skip, run_once).",
                               valueName: "policy"))
    var missed: String = "skip"

    @Option(help: ArgumentHelp("Seconds a stopped run gets between SIGTERM and SIGKILL.", valueName: "seconds"))
    var grace: Double = 30

    @Option(help: ArgumentHelp("Seconds a run waits for the lock when a run by hand holds it.", valueName: "seconds"))
    var wait: Int = 60

    @Argument(help: ArgumentHelp("Pipelines (default: every file in ./pipelines).", valueName: "pipeline"))
    var pipelines: [String] = []

    func run() async throws {
        let lake = try global.openLake()
        guard let defaultMissed = SchedulePolicy.Missed(rawValue: missed) else {
            Console.error("--missed takes skip or run_once, found '\(missed)'")
            throw ExitStatus.invalidInput
        }
        // The same reading of --at as `schedule list --at`, so the two agree on what is due.
        let offset: TimeInterval = at == nil ? 0 : try ScheduleCommand.instant(at).timeIntervalSinceNow

        let folder = FileManager.default.currentDirectoryPath
        let jobs = loadJobs(lake: lake, defaultMissed: defaultMissed)
        guard !jobs.isEmpty else {
            Console.error("no valid pipeline with a schedule: in \(pipelines.isEmpty ? "./pipelines" : pipelines.joined(separator: ", "))")
            throw ExitStatus.invalidInput
        }

        // One scheduler per lake: a second one would start every run twice.
        let lock: RunLock
        do {
            lock = try RunLock(lake: lake, pipeline: ".scheduler", wait: 0, owner: "scheduler pid \(getpid())")
        } catch .busy(let holder) {
            Console.error("another scheduler is running on this lake (\(holder))")
            throw ExitStatus.lockBusy
        } catch .io(let message) {
            Console.error(message)
            throw ExitStatus.internalError
        }

        let sink = try RunLogHandler.Sink(path: lake.root + "/raw_data/logs/scheduler.log", echo: !global.quiet,
                                          escape: { Console.escaped($0, keepingLines: true) })
        let logger = RunLogHandler.logger(label: "agentshop.scheduler", sink: sink)
        let global = self.global
        // A run stopped at its timeout recorded itself as interrupted, which notifies no one: the
        // scheduler sends its pipeline's failure notification instead.
        let notifyFailure: @Sendable (ScheduledJob, RunManifest) async -> Void = { job, manifest in
            guard let spec = global.checkPipeline(job.file, lake: lake).spec, spec.notify != nil else { return }
            // The final outcome: no attempt number, so the failure is told.
            await RunNotices.send(spec: spec, manifest: manifest, lake: lake,
                                  environment: global.environment(forPipelineFile: job.file), logger: logger, attempt: nil)
        }
        let launcher = ProcessRunLauncher(binary: ScheduleCommand.Print.executablePath(), lake: lake, projectFolder: folder,
                                          lockWait: wait, grace: grace, onRetryAbandoned: { job in
            // The last attempt failed (or timed out: it recorded itself as interrupted) and left its notice to
            // a retry that will not come.
            guard var manifest = ManifestStore(lake: lake).all(pipeline: job.pipeline).manifests.last,
                  manifest.status == .failed || manifest.status == .interrupted else { return }
            if manifest.status == .interrupted {
                manifest.status = .failed
                manifest.error = "timed out; stopped by the scheduler"
            }
            await notifyFailure(job, manifest)
        }) { job, pid in
            guard var manifest = ManifestStore(lake: lake).all(pipeline: job.pipeline).manifests.last(where: { $0.pid == pid }) else { return }
            manifest.status = .failed
            manifest.error = "timed out after \(Console.duration(ms: Int((job.policy.timeout ?? 0) * 1000))); stopped by the scheduler"
            await notifyFailure(job, manifest)
        }
        let scheduler = Scheduler(jobs: jobs, stateFile: lake.stateFolder + "/scheduler.json", clock: SystemClock(offset: offset),
                                  launcher: launcher, logger: logger)

        // SIGHUP reads the pipeline files again.
        signal(SIGHUP, SIG_IGN)
        let hangup = DispatchSource.makeSignalSource(signal: SIGHUP, queue: .global())
        let command = self
        hangup.setEventHandler {
            let reloaded = command.loadJobs(lake: lake, defaultMissed: defaultMissed)
            Task { await scheduler.reload(reloaded) }
        }
        hangup.resume()
        defer { hangup.cancel() }

        let interruption = Interruption()
        let once = self.once
        let task = Task {
            if once { await scheduler.runDue() } else { await scheduler.run() }
        }
        interruption.install { signal in
            logger.notice("stopping", metadata: ["signal": "\(signal)"])
            task.cancel()
        }
        await task.value
        interruption.remove()
        withExtendedLifetime(lock) {}
        if once, await scheduler.finalFailures > 0 { throw ExitStatus.runFailed }
    }
}

extension SchedulerCommand {
    /// The scheduled pipelines among those named (or all in ./pipelines); invalid files are reported and left out.
    func loadJobs(lake: Lake, defaultMissed: SchedulePolicy.Missed) -> [ScheduledJob] {
        var jobs: [ScheduledJob] = []
        let folder = FileManager.default.currentDirectoryPath
        for file in ScheduleCommand.pipelineFiles(pipelines) {
            let (_, spec, diagnostics) = global.checkPipeline(file, lake: lake)
            guard let spec else {
                for diagnostic in diagnostics where diagnostic.severity == .error { Console.error(diagnostic.description) }
                Console.error("\(file): not scheduled (invalid)")
                continue
            }
            guard let schedule = spec.schedule else { continue }
            let absolute = URL(fileURLWithPath: spec.file, relativeTo: URL(fileURLWithPath: folder + "/")).standardizedFileURL.path
            jobs.append(ScheduledJob(pipeline: spec.name, file: absolute, schedule: schedule, policy: spec.schedulePolicy,
                                     defaultMissed: defaultMissed))
        }
        return jobs
    }
}

/// Starts each scheduled run as `agentshop run … --quiet` in its own process group.
struct ProcessRunLauncher: ScheduledRunLauncher {
    let binary: String
    let lake: Lake
    let projectFolder: String
    let lockWait: Int
    let grace: Double
    /// Called when a failed attempt's retry is superseded by the next scheduled run.
    let onRetryAbandoned: @Sendable (ScheduledJob) async -> Void
    /// Called after a run was stopped at its timeout, with the run's pid.
    let onTimeout: @Sendable (ScheduledJob, pid_t) async -> Void

    func retryAbandoned(_ job: ScheduledJob, afterAttempt attempt: Int) async { await onRetryAbandoned(job) }

    func run(_ job: ScheduledJob, attempt: Int) async -> ScheduledRunOutcome {
        let log = lake.root + "/raw_data/logs/\(job.pipeline)/scheduler.log"
        try? FileManager.default.createDirectory(atPath: (log as NSString).deletingLastPathComponent, withIntermediateDirectories: true)
        let command = "exec \(shellQuote(binary)) run \(shellQuote(job.file)) --lake \(shellQuote(lake.root))"
            + " --wait \(lockWait) --quiet >> \(shellQuote(log)) 2>&1"
        var environment = ProcessInfo.processInfo.environment
        environment[ScheduledAttempt.variable] = ScheduledAttempt(number: attempt, total: job.policy.retries + 1).text
        let child = ChildProcess(command: command, workingDirectory: projectFolder, environment: environment,
                                 stdoutPath: "/dev/null", stderrPath: "/dev/null", timeout: job.policy.timeout, grace: grace)
        do {
            let started = PIDBox()
            let outcome = try await child.run { started.pid = $0 }
            if outcome.timedOut {
                // Told once, for the final outcome: a timed-out attempt that will be retried is not.
                if attempt > job.policy.retries { await onTimeout(job, started.pid) }
                return .timedOut
            }
            if let signal = outcome.signal { return .failed("killed by signal \(signal)") }
            switch outcome.exitCode {
            case 0: return .succeeded
            case 75: return .busy
            default: return .failed("exit \(outcome.exitCode)")
            }
        } catch is CancellationError {
            return .stopped
        } catch {
            return .failed("\(error)")
        }
    }
}

/// The child's pid, handed out of ChildProcess's start callback.
private final class PIDBox: @unchecked Sendable {
    var pid: pid_t = 0
}
