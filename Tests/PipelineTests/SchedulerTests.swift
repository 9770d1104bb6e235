import Foundation
import Logging
import Testing
import TestSupport
@testable import Lake
@testable import Pipeline

/// A clock moved by hand; sleeping moves it to the deadline at once, so retries need no waiting.
final class ManualClock: SchedulerClock, @unchecked Sendable {
    private let lock = NSLock()
    private var current: Date

    init(_ start: Date) { current = start }

    func now() -> Date { lock.withLock { current } }
    func set(_ date: Date) { lock.withLock { current = date } }
    func sleep(until deadline: Date) async { lock.withLock { current = max(current, deadline) } }
}

/// Runs nothing: answers from a script per pipeline, and can hold runs open until released.
final class FakeLauncher: ScheduledRunLauncher, @unchecked Sendable {
    private let lock = NSLock()
    private var scripts: [String: [ScheduledRunOutcome]]
    private var holding = false
    private var active = 0
    private(set) var mostAtOnce = 0
    private(set) var calls: [(String, Int)] = []
    private(set) var abandoned: [(String, Int)] = []

    init(_ scripts: [String: [ScheduledRunOutcome]] = [:], hold: Bool = false) {
        self.scripts = scripts
        holding = hold
    }

    func release() { lock.withLock { holding = false } }

    func retryAbandoned(_ job: ScheduledJob, afterAttempt attempt: Int) async {
        lock.withLock { abandoned.append((job.pipeline, attempt)) }
    }

    func run(_ job: ScheduledJob, attempt: Int) async -> ScheduledRunOutcome {
        let outcome: ScheduledRunOutcome = lock.withLock {
            calls.append((job.pipeline, attempt))
            active += 1
            mostAtOnce = max(mostAtOnce, active)
            return scripts[job.pipeline]?.isEmpty == false ? scripts[job.pipeline]!.removeFirst() : .succeeded
        }
        defer { lock.withLock { active -= 1 } }
        while lock.withLock({ holding }) {
            if Task.isCancelled { return .stopped }
            try? await Task.sleep(nanoseconds: 2_000_000)
        }
        return outcome
    }
}

@Suite struct SchedulerTests {
    static func date(_ text: String) -> Date { ISO8601DateFormatter().date(from: text)! }

    static func job(_ name: String, _ cron: String, missed: SchedulePolicy.Missed = .skip,
                    retries: Int = 0, retryDelay: Double = 60) throws -> ScheduledJob {
        ScheduledJob(pipeline: name, file: "/p/\(name).yaml", schedule: try Schedule(cron),
                     policy: SchedulePolicy(retries: retries, retryDelay: retryDelay), defaultMissed: missed)
    }

    @Test func duePipelinesRunAndOthersDoNot() async throws {
        let clock = ManualClock(Self.date("2026-11-25T03:00:10Z"))
        let launcher = FakeLauncher()
        let scheduler = Scheduler(jobs: [try Self.job("three", "0 3 * * *"), try Self.job("four", "0 4 * * *")],
                                  stateFile: nil, clock: clock, launcher: launcher, logger: quietLogger)
        #expect(await scheduler.tick() == ["three"])
        await scheduler.waitUntilIdle()
        clock.set(Self.date("2026-11-25T03:30:00Z"))
        #expect(await scheduler.tick() == [])
        clock.set(Self.date("2026-11-25T04:00:30Z"))
        #expect(await scheduler.tick() == ["four"])
        await scheduler.waitUntilIdle()
        #expect(launcher.calls.map(\.0) == ["three", "four"])
        #expect(await scheduler.state(of: "three")?.lastOutcome == "succeeded")
        #expect(await scheduler.nextWake() == Self.date("2026-11-26T03:00:00Z"))
    }

    @Test func aPipelineNeverRunsTwiceAtOnce() async throws {
        let clock = ManualClock(Self.date("2026-11-25T03:00:05Z"))
        let launcher = FakeLauncher(hold: true)
        let scheduler = Scheduler(jobs: [try Self.job("minutely", "* * * * *", missed: .runOnce)], stateFile: nil,
                                  clock: clock, launcher: launcher, logger: quietLogger)
        #expect(await scheduler.tick() == ["minutely"])
        for minute in 1...3 {
            clock.set(Self.date("2026-11-25T03:0\(minute):05Z"))
            #expect(await scheduler.tick() == [])
        }
        #expect(await scheduler.runningPipelines == ["minutely"])
        launcher.release()
        await scheduler.waitUntilIdle()
        // The minutes that passed during the run are late now: run_once runs them once.
        #expect(await scheduler.tick() == ["minutely"])
        await scheduler.waitUntilIdle()
        #expect(launcher.calls.count == 2)
        #expect(launcher.mostAtOnce == 1)
    }

    @Test(arguments: [SchedulePolicy.Missed.skip, .runOnce])
    func missedRunsAfterADowntime(policy: SchedulePolicy.Missed) async throws {
        let tmp = try TemporaryDirectory()
        let state = tmp.file("scheduler.json")
        let clock = ManualClock(Self.date("2026-11-25T03:00:10Z"))
        let job = try Self.job("nightly", "0 3 * * *", missed: policy)
        let first = Scheduler(jobs: [job], stateFile: state, clock: clock, launcher: FakeLauncher(), logger: quietLogger)
        #expect(await first.tick() == ["nightly"])
        await first.waitUntilIdle()

        // Down for two nights; a new scheduler reads the state file.
        clock.set(Self.date("2026-11-27T05:00:00Z"))
        let launcher = FakeLauncher()
        let second = Scheduler(jobs: [job], stateFile: state, clock: clock, launcher: launcher, logger: quietLogger)
        #expect(await second.state(of: "nightly")?.lastOutcome == "succeeded")
        #expect(await second.tick() == (policy == .runOnce ? ["nightly"] : []))
        await second.waitUntilIdle()
        clock.set(Self.date("2026-11-27T05:01:00Z"))
        #expect(await second.tick() == [])  // once, not once per missed night
        #expect(launcher.calls.count == (policy == .runOnce ? 1 : 0))
        clock.set(Self.date("2026-11-28T03:00:20Z"))
        #expect(await second.tick() == ["nightly"])
        await second.waitUntilIdle()
    }

    @Test func aRestartDoesNotRepeatARunItAlreadyMade() async throws {
        let tmp = try TemporaryDirectory()
        let state = tmp.file("scheduler.json")
        let clock = ManualClock(Self.date("2026-11-25T03:00:10Z"))
        let job = try Self.job("nightly", "0 3 * * *")
        let first = Scheduler(jobs: [job], stateFile: state, clock: clock, launcher: FakeLauncher(), logger: quietLogger)
        #expect(await first.tick() == ["nightly"])
        await first.waitUntilIdle()
        clock.set(Self.date("2026-11-25T03:00:40Z"))
        let second = Scheduler(jobs: [job], stateFile: state, clock: clock, launcher: FakeLauncher(), logger: quietLogger)
        #expect(await second.tick() == [])
    }

    @Test func anUnreadableStateFileStartsAfresh() async throws {
        let tmp = try TemporaryDirectory()
        let state = try tmp.write("scheduler.json", "{ not json")
        let clock = ManualClock(Self.date("2026-11-25T03:00:10Z"))
        let scheduler = Scheduler(jobs: [try Self.job("nightly", "0 3 * * *")], stateFile: state, clock: clock,
                                  launcher: FakeLauncher(), logger: quietLogger)
        #expect(await scheduler.tick() == ["nightly"])
        await scheduler.waitUntilIdle()
        #expect(try tmp.readText("scheduler.json").contains("\"last_outcome\" : \"succeeded\""))
    }

    @Test func failedRunsAreRetriedWithBackoff() async throws {
        let start = Self.date("2026-11-25T03:00:00Z")
        let clock = ManualClock(start.addingTimeInterval(5))
        let launcher = FakeLauncher(["flaky": [.failed("exit 1"), .timedOut, .succeeded]])
        let scheduler = Scheduler(jobs: [try Self.job("flaky", "0 3 * * *", retries: 3, retryDelay: 10)], stateFile: nil,
                                  clock: clock, launcher: launcher, logger: quietLogger)
        #expect(await scheduler.tick() == ["flaky"])
        await scheduler.waitUntilIdle()
        let firstRetry = try #require(await scheduler.state(of: "flaky")?.retryAt)
        #expect(firstRetry == start.addingTimeInterval(15))
        clock.set(start.addingTimeInterval(14))
        #expect(await scheduler.tick() == [])
        clock.set(start.addingTimeInterval(15))
        #expect(await scheduler.tick() == ["flaky"])
        await scheduler.waitUntilIdle()
        // Doubled: 20 s after the second attempt ended.
        #expect(await scheduler.state(of: "flaky")?.retryAt == start.addingTimeInterval(35))
        clock.set(start.addingTimeInterval(35))
        #expect(await scheduler.tick() == ["flaky"])
        await scheduler.waitUntilIdle()
        #expect(launcher.calls.map(\.1) == [1, 2, 3])
        #expect(await scheduler.state(of: "flaky")?.retryAt == nil)
        #expect(await scheduler.finalFailures == 0)
    }

    @Test func runDueWaitsForRetriesAndCountsWhatStillFailed() async throws {
        let clock = ManualClock(Self.date("2026-11-25T03:00:05Z"))
        let launcher = FakeLauncher(["bad": [.failed("exit 1"), .failed("exit 1"), .failed("exit 1")],
                                     "busy": [.busy]])
        let scheduler = Scheduler(jobs: [try Self.job("bad", "0 3 * * *", retries: 2, retryDelay: 30),
                                         try Self.job("busy", "0 3 * * *", retries: 2)],
                                  stateFile: nil, clock: clock, launcher: launcher, logger: quietLogger)
        await scheduler.runDue()
        #expect(launcher.calls.filter { $0.0 == "bad" }.map(\.1) == [1, 2, 3])
        #expect(launcher.calls.filter { $0.0 == "busy" }.count == 1)  // a run by hand held the lock: not a failure
        #expect(await scheduler.finalFailures == 1)
        // 30 s, then 60 s: the manual clock moved through both waits.
        #expect(clock.now() >= Self.date("2026-11-25T03:01:35Z"))
    }

    @Test func stoppingCancelsRunsInProgress() async throws {
        let clock = ManualClock(Self.date("2026-11-25T03:00:05Z"))
        let launcher = FakeLauncher(hold: true)
        let scheduler = Scheduler(jobs: [try Self.job("long", "0 3 * * *", retries: 2)], stateFile: nil, clock: clock,
                                  launcher: launcher, logger: quietLogger)
        let loop = Task { await scheduler.run(poll: 0.01) }
        while await scheduler.runningPipelines.isEmpty { try await Task.sleep(nanoseconds: 1_000_000) }
        loop.cancel()
        await loop.value
        #expect(await scheduler.runningPipelines.isEmpty)
        #expect(await scheduler.state(of: "long")?.lastOutcome == "stopped")
        #expect(await scheduler.state(of: "long")?.retryAt == nil)  // a stop is not a failure to retry
    }

    /// A fixed-time job in New York's repeated hour runs once; an hourly one runs in both hours.
    @Test func theAutumnChangeRunsAFixedTimeJobOnce() async throws {
        let clock = ManualClock(Self.date("2026-11-01T05:30:10Z"))  // 01:30 EDT
        let launcher = FakeLauncher()
        func zoned(_ name: String, _ cron: String) throws -> ScheduledJob {
            ScheduledJob(pipeline: name, file: "/p/\(name).yaml", schedule: try Schedule(cron, timeZone: "America/New_York"),
                         policy: SchedulePolicy(), defaultMissed: .skip)
        }
        let scheduler = Scheduler(jobs: [try zoned("fixed", "30 1 * * *"), try zoned("hourly", "30 * * * *")], stateFile: nil,
                                  clock: clock, launcher: launcher, logger: quietLogger)
        #expect(await scheduler.tick() == ["fixed", "hourly"])
        await scheduler.waitUntilIdle()
        clock.set(Self.date("2026-11-01T06:30:10Z"))  // 01:30 EST, the same wall-clock time an hour later
        #expect(await scheduler.tick() == ["hourly"])
        await scheduler.waitUntilIdle()
        #expect(await scheduler.nextWake() == Self.date("2026-11-01T07:30:00Z"))
    }

    /// `scheduler --once` stopped by a signal stops its runs rather than waiting for them to end.
    @Test func cancellingRunDueStopsItsRuns() async throws {
        let clock = ManualClock(Self.date("2026-11-25T03:00:05Z"))
        let launcher = FakeLauncher(hold: true)
        let scheduler = Scheduler(jobs: [try Self.job("long", "0 3 * * *")], stateFile: nil, clock: clock,
                                  launcher: launcher, logger: quietLogger)
        let once = Task { await scheduler.runDue() }
        while await scheduler.runningPipelines.isEmpty { try await Task.sleep(nanoseconds: 1_000_000) }
        once.cancel()
        await once.value
        #expect(await scheduler.state(of: "long")?.lastOutcome == "stopped")
    }

    /// A retry that the next scheduled run supersedes makes the failure final: told once, through the launcher.
    @Test func aSupersededRetryIsAFinalFailure() async throws {
        let clock = ManualClock(Self.date("2026-11-25T03:00:05Z"))
        let launcher = FakeLauncher(["often": [.failed("exit 1")]])
        let scheduler = Scheduler(jobs: [try Self.job("often", "*/5 * * * *", retries: 1, retryDelay: 3600)], stateFile: nil,
                                  clock: clock, launcher: launcher, logger: quietLogger)
        #expect(await scheduler.tick() == ["often"])
        await scheduler.waitUntilIdle()
        #expect(await scheduler.state(of: "often")?.retryAt != nil)
        clock.set(Self.date("2026-11-25T03:05:05Z"))
        #expect(await scheduler.tick() == ["often"])
        await scheduler.stop()
        #expect(launcher.abandoned.map(\.0) == ["often"] && launcher.abandoned.map(\.1) == [1])
        #expect(await scheduler.finalFailures == 1)
    }
}
