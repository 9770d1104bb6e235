import Foundation
import Lake

/// Where a crawl's URLs go when worker processes fetch them (`FetchRun.run(queue:)`): a shared
/// frontier (PostgreSQL's, bound in the fetch stage) that de-duplicates URLs across workers,
/// honours `max_depth` and `max_pages` over all of them, and hands each URL to one worker.
public protocol CrawlQueue: Sendable {
    /// Starts the crawl: its seeds (normalised, in scope, in order, depth 0) and what every worker
    /// needs to know of it (`setup`, which `FetchRun.join` takes).
    func start(seeds: [String], setup: QueuedCrawlSetup, maxDepth: Int, maxPages: Int) async throws
    /// Waits until no URL is waiting or being fetched, handing the report of every page done
    /// meanwhile (`QueuedPage.report`) to `ingest`, each once.
    func drain(_ ingest: (String) throws -> Void) async throws
    /// Queues URLs whatever `max_pages` says: those a breadth-first replay found missing.
    func require(_ items: [CrawlItem]) async throws
}

/// What the coordinator of a queued crawl tells its workers.
public struct QueuedCrawlSetup: Codable, Sendable, Equatable {
    /// The seeds as expanded (lists read, sitemaps fetched): they decide the crawl's scope.
    public var seeds: [String]
    /// The stage's WARC file (lake-relative): how pages are encoded depends on its name.
    public var warc: String

    public init(seeds: [String], warc: String) {
        self.seeds = seeds
        self.warc = warc
    }
}

/// One URL of a queued crawl as a worker did it.
public struct QueuedPage: Sendable {
    public var url: String
    /// The report the coordinator ingests (JSON): the URL's entry, where its WARC records are, its links.
    public var report: String
    /// The links to offer the frontier: normalised, in scope, each once, in document order.
    public var links: [String]
    /// Where the page's redirects landed, normalised, when elsewhere: not to be fetched under its own name.
    public var landing: String?
}

/// The report of a URL a worker fetched.
struct QueuedPageReport: Codable {
    var entry: FetchEntry
    /// Whether the entry is journalled (a robots.txt refusal is not: decided again next time).
    var journalled: Bool
    /// The lake path of the worker's pack holding `entry.stored`.
    var pack: String?
    /// The page's links as the crawler read them.
    var links: [String]
}

extension FetchRun {
    // MARK: The coordinator

    /// Crawls through `queue`: the seeds go into the shared frontier, workers fetch the URLs (each
    /// writing its pages into its own pack in the lake), and every page done is copied into this
    /// stage's state and journal as in a one-process crawl. Once no URL is left, the crawl is replayed
    /// breadth-first (`CrawlSchedule.canonicalOrder`) over the links the pages had: URLs that replay
    /// needs and no worker fetched (`max_pages` cut the crawl elsewhere, a depth that came down) are
    /// required, until none is. The outputs are then written in the replay's order, as `run()` writes
    /// them: the same URLs, in the same order, with the same records as a one-process crawl.
    public func run(queue: any CrawlQueue) async throws -> CrawlReport {
        try await checkScoup()
        let seeds = try await expandSeeds()
        join(QueuedCrawlSetup(seeds: seeds, warc: target.warc.relative))
        var schedule = CrawlSchedule(normalizer: URLNormalizer(), scope: scope.scope, maxDepth: settings.maxDepth,
                                     maxPages: settings.maxPages, perHostLimit: settings.politeness.perHostConcurrency,
                                     hostKey: Self.hostKey)
        var refused: [FetchEntry] = []
        var admitted: [String] = []
        for seed in seeds {
            switch schedule.seed(seed) {
            case .refused(let reason):
                refused.append(FetchEntry(url: seed, depth: 0, error: "seed refused: \(reason)",
                                          fetchedAt: WARCRecord.formatDate(Date()), via: settings.via.rawValue))
            case .queued(let canonical): admitted.append(canonical)
            default: break
            }
        }
        try await queue.start(seeds: admitted, setup: QueuedCrawlSetup(seeds: seeds, warc: target.warc.relative),
                              maxDepth: settings.maxDepth, maxPages: settings.maxPages)
        var results: [String: Visited] = [:]
        var packs: [String: AppendOnlyFile] = [:]
        var buffer: [UInt8] = []
        var order: [CrawlItem]
        var lastMissing = Set<String>()
        while true {
            try await queue.drain { report in
                try ingest(report, schedule: &schedule, results: &results, packs: &packs, buffer: &buffer)
            }
            let replay = schedule.canonicalOrder()
            order = replay.order
            if replay.missing.isEmpty { break }
            let missing = Set(replay.missing.map(\.url))
            // Required once already and still not done: the queue cannot fetch them (never loop on it).
            guard missing != lastMissing else {
                throw CrawlError("queued crawl: \(missing.count) URLs the crawl needs were required and never fetched, "
                                 + "first: \(replay.missing[0].url)")
            }
            lastMissing = missing
            target.logger.info("queued crawl: the breadth-first replay needs URLs no worker fetched",
                               metadata: ["missing": "\(replay.missing.count)"])
            try await queue.require(replay.missing)
        }
        return try publish(refused: refused, order: order, results: results)
    }

    /// A page a worker did: its records copied from the worker's pack into this stage's pack, its
    /// entry journalled, its links recorded for the replay.
    private func ingest(_ text: String, schedule: inout CrawlSchedule, results: inout [String: Visited],
                        packs: inout [String: AppendOnlyFile], buffer: inout [UInt8]) throws {
        let report: QueuedPageReport
        do {
            report = try JSONDecoder().decode(QueuedPageReport.self, from: Data(text.utf8))
        } catch {
            throw CrawlError("queued crawl: a worker's page report does not read: \(error)")
        }
        var entry = report.entry
        guard results[entry.url] == nil else { return }
        if report.journalled {
            if let page = entry.stored {
                guard let relative = report.pack else { throw CrawlError("queued crawl: \(entry.url) has records but no pack") }
                let path: LakePath
                do { path = try target.lake.resolve(relative) } catch let error as LakeError {
                    throw CrawlError("queued crawl: pack \(relative) of \(entry.url): \(error.reason)")
                }
                let file = try packs[path.absolute] ?? AppendOnlyFile(path: path.absolute, opening: .existing)
                packs[path.absolute] = file
                try file.read(offset: page.offset, count: page.length, into: &buffer)
                guard buffer.count == page.length else { throw CrawlError("queued crawl: the records of \(entry.url) in \(relative) are cut short") }
                entry.stored = try state.store(EncodedRecords(bytes: buffer, responseOffset: page.responseOffset, count: page.records,
                                                              pages: page.pages))
            }
            results[entry.url] = .journalled(try state.journal(entry), fetchedAt: entry.fetchedAt)
        } else {
            results[entry.url] = .notJournalled(entry)
        }
        schedule.recordVisit(entry.url, finalURL: entry.finalURL, links: report.links)
        target.progress(results.count)
    }

    // MARK: A worker

    /// Takes the coordinator's setup: the crawl's scope (from its seeds) and how its pages are recorded.
    public func join(_ setup: QueuedCrawlSetup) {
        scope.scope = makeScope(seeds: setup.seeds)
        output = FetchOutputWriter(warcPath: target.warc, logPath: target.log, recordsPath: target.records, settings: settings,
                                   isPartOf: target.isPartOf, publicURL: publicURL())
    }

    /// Fetches one URL of a queued crawl (after `join`), as a one-process crawl visits it (robots.txt,
    /// politeness, retries, redirects), its records in this worker's pack (synced to disk before this
    /// returns), and reports it.
    public func fetch(queued url: String, depth: Int) async throws -> QueuedPage {
        let result = try await visit(CrawlItem(url: url, depth: depth))
        try state.syncPages()
        let root = target.lake.root.hasSuffix("/") ? target.lake.root : target.lake.root + "/"
        let folder = state.folder.hasPrefix(root) ? String(state.folder.dropFirst(root.count)) : state.folder
        let report = QueuedPageReport(entry: result.entry, journalled: result.line != nil,
                                      pack: result.entry.stored.map { folder + "/" + $0.pack }, links: result.links)
        let followed = CrawlSchedule(scope: scope.scope).followed(result.links)
        let landing = result.entry.finalURL.flatMap { URLNormalizer().normalize($0) }.flatMap { $0 == url ? nil : $0 }
        return QueuedPage(url: url, report: String(decoding: FetchState.encode(report), as: UTF8.self), links: followed,
                          landing: landing)
    }
}
