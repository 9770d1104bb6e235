import ArgumentParser
import Foundation
import Logging
import Pipeline
import Postgres
import Runs
import Stages
import Transport
import WorkQueue

struct WorkerCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "worker",
        abstract: "Claim and do work items of distributed runs from a PostgreSQL queue.",
        discussion: """
        Start one or more workers (on this machine or others that mount the same lake), then \
        `agentshop run PIPELINE --queue URL`: its fetch, parse and enrich stages become work items that the workers \
        claim in batches under a lease, which a heartbeat extends. A worker that dies loses its lease \
        and another takes its items over; only the completion of an item's current lease counts.

        Examples:
          agentshop worker postgres://agentshop@db.internal/agentshop --id node-1
          agentshop worker "${QUEUE_URL}" --batch 2 --lease 60s --idle-exit 300
        """
    )

    @Argument(help: ArgumentHelp("The queue's PostgreSQL URL (${VAR} expanded; a password is never printed).", valueName: "postgres-url"))
    var url: String

    @Option(help: "This worker's name in the queue and the run manifests (default HOST-PID).")
    var id: String?

    @Option(help: "Items claimed at once.")
    var batch: Int = 2

    @Option(help: ArgumentHelp("How long a claim holds without a heartbeat (30s, 2m, or seconds).", valueName: "duration"))
    var lease: String = "30s"

    @Option(name: .customLong("idle-exit"), help: ArgumentHelp("Exit after this many seconds without work (default: run until stopped).", valueName: "seconds"))
    var idleExit: Double?

    @Option(help: "Only claim items of this run.")
    var run: String?

    func run() async throws {
        guard batch >= 1 else { throw ValidationError("--batch must be at least 1") }
        guard let leaseSeconds = Self.seconds(lease), leaseSeconds >= 1 else {
            throw ValidationError("--lease: expected a duration of at least 1s (30s, 2m, 90)")
        }
        let queueURL: PostgresURL
        let queue: WorkQueue
        do {
            queueURL = try PostgresURL(url)
            if let password = queueURL.password { Secret.register(password) }
            queue = try WorkQueue(url: queueURL, applicationName: "agentshop-worker")
        } catch {
            Console.error("worker: \(error)")
            throw ExitStatus.invalidInput
        }
        let host = ProcessInfo.processInfo.hostName
        let name = id ?? "\(host)-\(getpid())"
        try queue.registerWorker(name, host: host, pid: Int(getpid()))
        let heartbeat = Heartbeat(url: queueURL, worker: name, lease: leaseSeconds)
        heartbeat.start()
        defer { heartbeat.stop() }
        Console.error("worker \(name): waiting for work on \(queueURL.redacted)")
        let logger = Logger(label: "agentshop.worker")
        var idleSince = Date()
        var done = 0
        // SIGTERM or SIGINT: finish the item in hand, give back the others, leave the queue, exit 0.
        let interruption = Interruption()
        interruption.install { _ in }
        defer { interruption.remove() }
        while !Task.isCancelled && interruption.signal == 0 {
            let items = try queue.claim(worker: name, limit: batch, lease: leaseSeconds, runID: run)
            if items.isEmpty {
                if let idleExit, Date().timeIntervalSince(idleSince) >= idleExit { break }
                try await Task.sleep(nanoseconds: 250_000_000)
                continue
            }
            // A batch's fetch items run at once, the others one by one. Stopping: the items not started yet
            // go back to the queue at once (not when the lease expires).
            let released = try await queue.work(items) { finished in
                try await QueuedWork.perform(batch: items, queueURL: queueURL, logger: logger, stop: { interruption.signal != 0 }) { item, outcome in
                    do {
                        let result = try outcome.get()
                        let completion = try queue.complete(item, result: result)
                        done += completion == .accepted ? 1 : 0
                        Console.error("worker \(name): \(item.runID) \(item.stage) \(item.key) attempt \(item.lease.attempt): \(completion)")
                    } catch {
                        let message = (error as? StageError)?.message ?? "\(error)"
                        _ = try queue.fail(item, error: message)
                        Console.error("worker \(name): \(item.runID) \(item.stage) \(item.key) failed: \(message)")
                    }
                    finished(item)
                }
            }
            if !released.isEmpty { Console.error("worker \(name): released \(released.count) items it had not started") }
            idleSince = Date()
        }
        try? queue.stopWorker(name)
        Console.error("worker \(name): stopped after \(done) items")
    }

    /// `30s`, `2m`, `1h` or plain seconds.
    static func seconds(_ text: String) -> Double? {
        let units: [Character: Double] = ["s": 1, "m": 60, "h": 3600]
        if let last = text.last, let unit = units[last] { return Double(text.dropLast()).map { $0 * unit } }
        return Double(text)
    }
}

/// Extends a worker's leases every third of the lease, on its own connection and thread, so a long
/// item does not lose its lease while the worker is alive.
final class Heartbeat: @unchecked Sendable {
    let url: PostgresURL
    let worker: String
    let lease: Double
    private let stopped = NSCondition()
    private var stopping = false

    init(url: PostgresURL, worker: String, lease: Double) {
        self.url = url
        self.worker = worker
        self.lease = lease
    }

    func start() {
        let thread = Thread { [self] in
            var queue: WorkQueue?
            while true {
                stopped.lock()
                if !stopping { _ = stopped.wait(until: Date().addingTimeInterval(lease / 3)) }
                let stop = stopping
                stopped.unlock()
                if stop { return }
                do {
                    if queue == nil { queue = try WorkQueue(url: url, applicationName: "agentshop-worker-heartbeat") }
                    try queue!.heartbeat(worker: worker, lease: lease)
                } catch {
                    queue = nil  // reconnect on the next beat
                    Console.error("worker \(worker): heartbeat failed: \(error)")
                }
            }
        }
        thread.start()
    }

    func stop() {
        stopped.lock()
        stopping = true
        stopped.signal()
        stopped.unlock()
    }
}

extension RunCommand {
    /// The run's environment; with `--queue`, it sends enrich stages to that queue.
    func queueEnvironment(_ environment: PipelineEnvironment, spec: PipelineSpec) throws -> PipelineEnvironment {
        guard let queue else { return environment }
        do {
            if let password = try PostgresURL(queue).password { Secret.register(password) }
        } catch {
            Console.error("--queue: \(error)")
            throw ExitStatus.invalidInput
        }
        let file = URL(fileURLWithPath: spec.file).standardizedFileURL.path
        return PipelineEnvironment(variables: environment.variables.merging(
            [QueuedEnrich.queueVariable: queue, QueuedEnrich.pipelineFileVariable: file], uniquingKeysWith: { $1 }))
    }
}
