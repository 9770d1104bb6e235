import Crawl
import LLM
import Foundation
import Lake
import Logging
import Pipeline
import Postgres
import WorkQueue

/// A fetch stage spread over `agentshop worker` processes: the crawler's queue (`CrawlQueue`) and
/// its shared hosts (`SharedCrawlHosts`) bound to the PostgreSQL work queue (`WorkQueue`'s crawl
/// tables). The crawl itself is `FetchRun`'s, in the coordinator and in every worker.
///
/// Each URL of the frontier is a work item keyed by the URL. A worker claims URLs in batches,
/// fetches each as a one-process crawl would (robots.txt answered once for all workers; each host's
/// next start, pause and requests in flight in one row for all), writes its pages into its own pack
/// under `.agentshop/queue/<pipeline>/<stage>/<run>/workers/<worker>/`, offers the page's links to the
/// frontier, then completes the item with the page's report. The coordinator copies every page done
/// into the stage's state and publishes the crawl in its breadth-first order.
public enum QueuedFetch {
    /// What a fetch item tells a worker (its key is the URL).
    struct Payload: Codable, Sendable {
        var kind = "fetch"
        var pipelineFile: String
        var lake: String
        var pipeline: String
        var runDate: String
        var depth: Int
    }

    static func isFetchItem(_ item: WorkItem) -> Bool {
        struct Kind: Decodable { var kind: String? }
        return (try? JSONDecoder().decode(Kind.self, from: Data(item.payload.utf8)))?.kind == "fetch"
    }

    static func encode<T: Encodable>(_ value: T) -> String {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.sortedKeys, .withoutEscapingSlashes]
        return String(decoding: (try? encoder.encode(value)) ?? Data(), as: UTF8.self)
    }

    // MARK: Coordinator

    /// Runs `crawl` through the queue at `url`, and adds to its report who fetched what.
    static func coordinate(_ crawl: FetchRun, context: StageContext, url: String) async throws -> CrawlReport {
        guard let pipelineFile = context.environment.variables[QueuedEnrich.pipelineFileVariable] else {
            throw StageError("a queued fetch stage needs the pipeline file (run it with `agentshop run PIPELINE --queue URL`)")
        }
        let queueURL = try PostgresURL(url)
        let queue = try WorkQueue(url: queueURL)
        try queue.prepareCrawlTables()
        // The run is `running` while this coordinator waits for it; its end (succeeded, failed, interrupted) is
        // recorded on every way out, so workers stop claiming the items of a run nobody waits for.
        let run = try QueuedSegments.openRun(queue, context)
        defer { run.end { context.logger.warning("\($0)") } }
        let base = Payload(pipelineFile: pipelineFile, lake: context.lake.root, pipeline: context.pipeline, runDate: context.runDate, depth: 0)
        let frontier = QueueCrawl(queue: queue, url: queueURL, runID: context.runID, stage: context.stage, base: base, context: context)
        var report = try await crawl.run(queue: frontier)

        let results = try queue.results(runID: context.runID, stage: context.stage)
        var byWorker: [String: Int] = [:]
        var takenOver: [String] = []
        for result in results {
            byWorker[result.worker ?? "?", default: 0] += 1
            if result.attempts > 1 { takenOver.append(result.key) }
        }
        var states: [String: Int] = [:]
        for row in try queue.frontier(runID: context.runID, stage: context.stage) { states[row.state, default: 0] += 1 }
        var details = report.details.objectValue ?? JSONObject()
        details["queue"] = .object(JSONObject([
            ("url", .string(queueURL.redacted)),
            ("items", .int(Int64(results.count))),
            ("workers", .object(JSONObject(byWorker.sorted { $0.key < $1.key }.map { ($0.key, .int(Int64($0.value))) }))),
            ("taken_over", .array(takenOver.map(LakeJSONValue.string))),
            ("frontier", .object(JSONObject(states.sorted { $0.key < $1.key }.map { ($0.key, .int(Int64($0.value))) }))),
        ]))
        report.details = .object(details)
        context.logger.info("queued fetch published", metadata: ["items": "\(results.count)", "workers": "\(byWorker.keys.sorted())"])
        QueuedSegments.removeRunFolder(context)
        run.succeeded()
        return report
    }

    // MARK: Worker

    /// Fetches one claimed URL and offers its links to the frontier; returns the page's report for
    /// `WorkQueue.complete` (the links are offered first, so the crawl never looks finished while a
    /// page's links are still to come).
    public static func perform(_ item: WorkItem, queueURL: PostgresURL, logger: Logger) async throws -> String {
        let payload = try JSONDecoder().decode(Payload.self, from: Data(item.payload.utf8))
        let crawl = try workerCrawls.crawl(for: item, payload: payload, queueURL: queueURL, logger: logger)
        let page = try await crawl.run.fetch(queued: item.key, depth: payload.depth)
        try crawl.offer(page: page, worker: item.lease.owner, base: payload)
        return page.report
    }
}

/// What a worker process keeps per crawl it works on: the crawler (its robots.txt answers, host
/// turnstiles, pack) and a queue connection for offering links.
final class WorkerCrawl: @unchecked Sendable {
    let run: FetchRun
    let runID: String
    let stage: String
    private let lock = NSLock()
    private let queue: WorkQueue

    init(run: FetchRun, queue: WorkQueue, runID: String, stage: String) {
        self.run = run
        self.queue = queue
        self.runID = runID
        self.stage = stage
    }

    func offer(page: QueuedPage, worker: String, base: QueuedFetch.Payload) throws {
        try lock.withLock {
            _ = try queue.offerLinks(runID: runID, stage: stage, page: page.url, links: page.links, landing: page.landing,
                                     worker: worker) { _, depth in
                var payload = base
                payload.depth = depth
                return QueuedFetch.encode(payload)
            }
        }
    }
}

let workerCrawls = WorkerCrawls()

final class WorkerCrawls: @unchecked Sendable {
    private let lock = NSLock()
    private var crawls: [String: WorkerCrawl] = [:]
    private var order: [String] = []

    /// The crawl of `item`'s run and stage for this worker, made once (under the lock: two crawlers
    /// on one state folder would write each other's journal).
    func crawl(for item: WorkItem, payload: QueuedFetch.Payload, queueURL: PostgresURL, logger: Logger) throws -> WorkerCrawl {
        try lock.withLock { try crawlLocked(for: item, payload: payload, queueURL: queueURL, logger: logger) }
    }

    private func crawlLocked(for item: WorkItem, payload: QueuedFetch.Payload, queueURL: PostgresURL, logger: Logger) throws -> WorkerCrawl {
        let key = "\(item.runID)\n\(item.stage)\n\(item.lease.owner)"
        if let crawl = crawls[key] { return crawl }
        let lake = Lake(root: payload.lake)
        let (definition, environment) = try QueuedSegments.stage(FetchStage.Definition.self, kind: "fetch", of: item,
                                                                 pipelineFile: payload.pipelineFile, lake: lake)
        let queue = try WorkQueue(url: queueURL, applicationName: "agentshop-worker-crawl")
        try queue.prepareCrawlTables()
        guard let text = try queue.crawlSetup(runID: item.runID, stage: item.stage),
              let setup = try? JSONDecoder().decode(QueuedCrawlSetup.self, from: Data(text.utf8)) else {
            throw StageError("the queue has no crawl \(item.stage) for run \(item.runID)")
        }
        let warc = try lake.resolve(setup.warc)
        let folder = QueuedEnrich.folder(pipeline: payload.pipeline, stage: item.stage, runID: item.runID)
        var itemLogger = logger
        itemLogger[metadataKey: "stage"] = "\(item.stage)"
        let context = StageContext.segment(lake: lake, pipeline: payload.pipeline, stage: item.stage, runID: item.runID,
                                           runDate: payload.runDate, logger: itemLogger, environment: environment,
                                           inputs: [], output: warc, rejectsPath: warc)
        let settings = definition.settings(context)
        var target = CrawlTarget(lake: lake, warc: warc, log: nil, stateFolder: lake.root + "/" + folder + "/workers/"
                                 + QueuedEnrich.safe(item.lease.owner), environment: environment.variables,
                                 isPartOf: "\(payload.pipeline)/\(item.stage)", logger: itemLogger)
        // The last good fetch of each URL is in the stage's state, where the coordinator keeps it between runs
        // (replaced only when the crawl completes): conditional requests and the refresh window read it there,
        // as a one-process crawl does.
        target.knownStateFolder = context.stateFolder
        let hosts = try QueueHosts(url: queueURL, runID: item.runID, stage: item.stage, worker: item.lease.owner,
                                   slotLease: settings.timeout + 30, robotsLease: settings.timeout * Double(settings.retries + 1) + 60)
        let run: FetchRun
        do {
            run = try FetchRun(settings: settings, target: target, reader: FollowRules(definition.follow), sharedHosts: hosts)
        } catch let error as CrawlError {
            throw StageError(error.message)
        }
        run.join(setup)
        let crawl = WorkerCrawl(run: run, queue: queue, runID: item.runID, stage: item.stage)
        crawls[key] = crawl
        order.append(key)
        // A worker lives across runs: keep the crawls of the last few.
        while order.count > 4 { crawls[order.removeFirst()] = nil }
        return crawl
    }
}

/// Work items of any kind: a fetch item (a URL), a parse item (pages) or an enrich item (records).
public enum QueuedWork {
    /// Does one claimed item and returns its result for `WorkQueue.complete`.
    public static func perform(_ item: WorkItem, queueURL: PostgresURL, logger: Logger) async throws -> String {
        if QueuedFetch.isFetchItem(item) { return try await QueuedFetch.perform(item, queueURL: queueURL, logger: logger) }
        if QueuedParse.isParseItem(item) { return try await QueuedParse.perform(item, queueURL: queueURL, logger: logger) }
        return try await QueuedEnrich.perform(item, queueURL: queueURL, logger: logger)
    }

    /// Does a claimed batch, handing each item's outcome to `done` (on the caller's task) as it
    /// finishes: the fetch items of the batch at once (each host's turnstile still spaces their
    /// requests, and the stage's `concurrency` bounds them), the others one after the other.
    /// `stop` is asked before each item starts.
    public static func perform(batch items: [WorkItem], queueURL: PostgresURL, logger: Logger, stop: () -> Bool,
                               done: (WorkItem, Result<String, any Error>) throws -> Void) async throws {
        let fetches = items.filter(QueuedFetch.isFetchItem)
        let together = fetches.count > 1
        if together {
            try await withThrowingTaskGroup(of: (WorkItem, Result<String, any Error>).self) { group in
                for item in fetches where !stop() {
                    group.addTask {
                        do { return (item, .success(try await QueuedFetch.perform(item, queueURL: queueURL, logger: logger))) } catch {
                            return (item, .failure(error))
                        }
                    }
                }
                for try await (item, outcome) in group { try done(item, outcome) }
            }
        }
        for item in items where !(together && QueuedFetch.isFetchItem(item)) && !stop() {
            let outcome: Result<String, any Error>
            do { outcome = .success(try await perform(item, queueURL: queueURL, logger: logger)) } catch { outcome = .failure(error) }
            try done(item, outcome)
        }
    }
}

// MARK: The crawler's queue, in PostgreSQL

/// The coordinator's side of a queued crawl: the seeds into the frontier, pages done out of it.
final class QueueCrawl: CrawlQueue, @unchecked Sendable {
    private let queue: WorkQueue
    private let url: PostgresURL
    private let runID: String
    private let stage: String
    private let base: QueuedFetch.Payload
    private let context: StageContext
    private var seen = Set<Int64>()

    init(queue: WorkQueue, url: PostgresURL, runID: String, stage: String, base: QueuedFetch.Payload, context: StageContext) {
        self.queue = queue
        self.url = url
        self.runID = runID
        self.stage = stage
        self.base = base
        self.context = context
    }

    private func payload(_ url: String, _ depth: Int) -> String {
        var payload = base
        payload.depth = depth
        return QueuedFetch.encode(payload)
    }

    func start(seeds: [String], setup: QueuedCrawlSetup, maxDepth: Int, maxPages: Int) async throws {
        try queue.startCrawl(runID: runID, stage: stage, maxDepth: maxDepth, maxPages: maxPages, setup: QueuedFetch.encode(setup))
        let queued = try queue.offerLinks(runID: runID, stage: stage, page: nil, links: seeds, worker: "coordinator", payload: payload)
        context.logger.info("queued crawl", metadata: ["seeds": "\(queued.count)", "queue": "\(url.redacted)"])
    }

    func drain(_ ingest: (String) throws -> Void) async throws {
        var since: String?
        var last = StageProgress()
        var lastMove = Date()
        func take(_ items: [(id: Int64, result: String?)]) throws {
            for item in items where seen.insert(item.id).inserted {
                guard let result = item.result else { throw StageError("queue item \(item.id) is done without a page report") }
                try ingest(result)
            }
        }
        while true {
            try Task.checkCancellation()
            let progress = try queue.progress(runID: runID, stage: stage)
            let (items, now) = try queue.completed(runID: runID, stage: stage, since: since)
            try take(items)
            since = now
            if progress != last {
                context.progress(progress.done, of: progress.total)
                last = progress
                lastMove = Date()
            }
            if progress.finished {
                // Every item is done or failed: a last full pass takes any completion that committed late.
                try take(try queue.completed(runID: runID, stage: stage, since: nil).items)
                if progress.failed > 0 {
                    let failed = try queue.results(runID: runID, stage: stage).filter { $0.state == "failed" }
                    let first = failed.first
                    throw StageError("\(failed.count) URLs of the queued crawl failed for good; first: \(first?.key ?? "?"): \(first?.error ?? "unknown error")")
                }
                return
            }
            if Date().timeIntervalSince(lastMove) > 60 {
                lastMove = Date()
                if try queue.liveWorkers(within: 120).isEmpty {
                    context.logger.warning("waiting for workers: none has a heartbeat in the last 2 minutes; start `agentshop worker URL` on a machine that mounts this lake",
                                           metadata: ["pending": "\(progress.pending)", "queue": "\(url.redacted)"])
                }
            }
            try await Task.sleep(nanoseconds: 200_000_000)
        }
    }

    func require(_ items: [CrawlItem]) async throws {
        try queue.requireURLs(runID: runID, stage: stage, items.map { ($0.url, $0.depth) }, payload: payload)
    }
}

// MARK: Hosts shared through PostgreSQL

/// A worker's side of the crawl's shared hosts: one connection, used under a lock.
final class QueueHosts: SharedCrawlHosts, @unchecked Sendable {
    private let lock = NSLock()
    private let queue: WorkQueue
    let runID: String
    let stage: String
    let worker: String
    /// How long a host slot holds when its worker dies while fetching.
    let slotLease: Double
    /// How long a robots.txt claim holds when its worker dies while fetching it.
    let robotsLease: Double

    init(url: PostgresURL, runID: String, stage: String, worker: String, slotLease: Double, robotsLease: Double) throws {
        queue = try WorkQueue(url: url, applicationName: "agentshop-worker-hosts")
        try queue.prepareCrawlTables()
        self.runID = runID
        self.stage = stage
        self.worker = worker
        self.slotLease = slotLease
        self.robotsLease = robotsLease
    }

    func locked<T>(_ body: (WorkQueue) throws -> T) throws -> T { try lock.withLock { try body(queue) } }

    func gate(host: String, concurrency: Int, delay: Double) -> any HostTurnstile {
        try? locked { try $0.addHost(runID: runID, stage: stage, host: host, concurrency: concurrency, delay: delay) }
        return QueueHostGate(hosts: self, host: host)
    }

    func robots(_ robotsURL: String, fetch: @escaping @Sendable () async -> RobotsAnswer) async -> RobotsAnswer {
        while true {
            let claim = try? locked { try $0.claimRobots(runID: runID, stage: stage, robotsURL: robotsURL, worker: worker, lease: robotsLease) }
            switch claim {
            case .ready(let text)?:
                if let answer = try? JSONDecoder().decode(RobotsAnswer.self, from: Data(text.utf8)) { return answer }
                return await fetch()
            case .fetch?:
                let answer = await fetch()
                try? locked { try $0.storeRobots(runID: runID, stage: stage, robotsURL: robotsURL, answer: QueuedFetch.encode(answer)) }
                return answer
            case .wait?:
                if Task.isCancelled { return await fetch() }
                try? await Task.sleep(nanoseconds: 100_000_000)
            case nil:
                // The queue cannot be reached: this worker asks for itself rather than stop.
                return await fetch()
            }
        }
    }
}

/// One host's turnstile in the queue: a slot and a start from the host's row, whichever worker asks.
final class QueueHostGate: HostTurnstile, @unchecked Sendable {
    private let hosts: QueueHosts
    private let host: String
    private let lock = NSLock()
    private var slots: [Int64] = []

    init(hosts: QueueHosts, host: String) {
        self.hosts = hosts
        self.host = host
    }

    func acquire() async {
        let (runID, stage, host, worker, lease) = (hosts.runID, hosts.stage, self.host, hosts.worker, hosts.slotLease)
        while !Task.isCancelled {
            let slot: WorkQueue.HostSlot
            do {
                slot = try hosts.locked { try $0.acquireHostSlot(runID: runID, stage: stage, host: host, holder: worker, lease: lease) }
            } catch {
                try? await Task.sleep(nanoseconds: 1_000_000_000)  // the queue is away: try again, never run ahead
                continue
            }
            switch slot {
            case .granted(let id, let wait):
                lock.withLock { slots.append(id) }
                guard wait > 0 else { return }  // the start included any pause set before it
                try? await Task.sleep(nanoseconds: UInt64(wait * 1e9))
                // Another worker may have paused the host (Retry-After) meanwhile.
                if let paused = try? hosts.locked({ try $0.hostPause(runID: runID, stage: stage, host: host) }), paused > 0 {
                    try? await Task.sleep(nanoseconds: UInt64(paused * 1e9))
                }
                return
            case .busy:
                try? await Task.sleep(nanoseconds: 50_000_000)
            }
        }
    }

    func release() async {
        guard let id = lock.withLock({ slots.popLast() }) else { return }
        try? hosts.locked { try $0.releaseHostSlot(id) }
    }

    func pause(for seconds: Double) async {
        try? hosts.locked { try $0.pauseHost(runID: hosts.runID, stage: hosts.stage, host: host, seconds: seconds) }
    }

    func setDelay(_ seconds: Double) async {
        try? hosts.locked { try $0.setHostDelay(runID: hosts.runID, stage: hosts.stage, host: host, seconds: seconds) }
    }
}

// MARK: Providers' rate limits shared through PostgreSQL

/// A worker's side of the shared rate limits: the queue's bucket rows, on a connection of its own.
final class QueueRateLimit: SharedRateLimit, @unchecked Sendable {
    private let lock = NSLock()
    private let queue: WorkQueue

    init(url: PostgresURL) throws {
        queue = try WorkQueue(url: url, applicationName: "agentshop-worker-rates")
        try queue.prepareRateTables()
    }

    private static let cacheLock = NSLock()
    nonisolated(unsafe) private static var cache: [String: QueueRateLimit] = [:]

    /// One per queue in a worker process (a connection, not one per item).
    static func shared(url: PostgresURL) throws -> QueueRateLimit {
        try cacheLock.withLock {
            if let known = cache[url.redacted] { return known }
            let made = try QueueRateLimit(url: url)
            cache[url.redacted] = made
            return made
        }
    }

    /// The wait for one request of `tokens`: the longer of its two buckets'. A queue that cannot be
    /// reached is an error: sending blind could pass the provider's limit.
    func take(key: String, limits: SharedRateLimits, tokens: Int) async throws -> Double {
        try lock.withLock {
            var wait = 0.0
            if let rpm = limits.requestsPerMinute {
                wait = try queue.takeRate(provider: key, kind: "requests", perMinute: Double(rpm), capacity: limits.requestBurst, amount: 1)
            }
            if let tpm = limits.tokensPerMinute, tokens > 0 {
                wait = max(wait, try queue.takeRate(provider: key, kind: "tokens", perMinute: Double(tpm), capacity: limits.tokenBurst,
                                                    amount: Double(tokens)))
            }
            return wait
        }
    }

    func settle(key: String, limits: SharedRateLimits, tokens difference: Int) {
        guard let tpm = limits.tokensPerMinute, difference != 0 else { return }
        lock.withLock {
            _ = try? queue.takeRate(provider: key, kind: "tokens", perMinute: Double(tpm), capacity: limits.tokenBurst, amount: Double(difference))
        }
    }
}
