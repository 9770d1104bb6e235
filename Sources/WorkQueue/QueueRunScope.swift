import Foundation

/// A queued stage's coordinator's hold on its run in the queue: opening it marks the run `running` (and
/// settles as `interrupted` the runs of the same pipeline and lake a killed coordinator left `running`);
/// `end()`, from a `defer`, records how it ended on every path: `succeeded` when the coordinator said so
/// (`succeeded()` just before returning), `interrupted` when its task was cancelled (SIGINT, SIGTERM), else
/// `failed`. Several queued stages of one pipeline run can coordinate at once in one process: the run's
/// end is recorded when the last of them ends, the worst outcome of them all (interrupted, then failed).
/// Once a run has ended, workers claim none of its items (`WorkQueue.claim`).
public final class QueueRunScope {
    public enum Outcome: String, Sendable, Comparable {
        case succeeded, failed, interrupted

        var rank: Int { self == .succeeded ? 0 : self == .failed ? 1 : 2 }
        public static func < (a: Outcome, b: Outcome) -> Bool { a.rank < b.rank }
    }

    public let queue: WorkQueue
    public let runID: String
    /// The runs settled as `interrupted` when this one started.
    public private(set) var settled: [String] = []
    private var outcome: Outcome?
    private var ended = false

    /// Registers the run as `running` (again, for a resumed run). A coordinator holding the pipeline's
    /// lock on `lake` calls it, so the other `running` runs of that pipeline and lake are abandoned.
    public init(queue: WorkQueue, runID: String, pipeline: String, lake: String) throws {
        self.queue = queue
        self.runID = runID
        Self.active.begin(runID)
        do {
            try queue.createRun(runID, pipeline: pipeline, lake: lake)
            settled = try queue.settleAbandonedRuns(pipeline: pipeline, lake: lake, except: runID)
        } catch {
            ended = true
            if let status = Self.active.end(runID, .failed) { try? queue.finishRun(runID, status: status.rawValue) }
            throw error
        }
    }

    /// The coordinator finished its stage: `end()` records `succeeded` (unless a sibling stage did worse).
    public func succeeded() { outcome = .succeeded }

    /// Records the end of this coordinator (once; later calls do nothing) and, when it is the run's last one
    /// in this process, the run's status. Returns that status (nil while another coordinator of the run works);
    /// `warn` hears why it could not be recorded (the run then stays `running` until the next run of the
    /// pipeline settles it).
    @discardableResult
    public func end(warn: (String) -> Void = { _ in }) -> Outcome? {
        guard !ended else { return nil }
        ended = true
        let mine = outcome ?? (Task.isCancelled ? .interrupted : .failed)
        guard let status = Self.active.end(runID, mine) else { return nil }
        do {
            try queue.finishRun(runID, status: status.rawValue)
        } catch {
            warn("could not record the queue run's end (\(status.rawValue)): \(error)")
        }
        return status
    }

    /// The runs being coordinated in this process: how many coordinators each has, and their worst outcome so far.
    static let active = ActiveRuns()

    final class ActiveRuns: @unchecked Sendable {
        private let lock = NSLock()
        private var runs: [String: (count: Int, worst: Outcome)] = [:]

        func begin(_ runID: String) {
            lock.withLock {
                let current = runs[runID] ?? (0, .succeeded)
                runs[runID] = (current.count + 1, current.worst)
            }
        }

        /// The run's outcome when `runID`'s last coordinator ends, else nil.
        func end(_ runID: String, _ outcome: Outcome) -> Outcome? {
            lock.withLock {
                let current = runs[runID] ?? (1, .succeeded)
                let worst = max(current.worst, outcome)
                if current.count <= 1 {
                    runs[runID] = nil
                    return worst
                }
                runs[runID] = (current.count - 1, worst)
                return nil
            }
        }
    }
}
