import Foundation
import Lake
import Logging
import Transport

/// One run of a fetch stage: seeds, then the crawl, then the WARC and the crawl log.
///
/// Up to `concurrency` URLs are fetched at once (per-host limits and gates keep it polite), each
/// handed out as soon as a slot is free from all the URLs known so far, so a crawl whose pages link
/// onwards one at a time still keeps every slot busy. Which URLs are fetched, and the order of the
/// outputs, are still those of a breadth-first crawl over the pages' links (`CrawlSchedule`): they
/// depend on the responses, never on their timing, and a run resumed from the journal writes what
/// an uninterrupted run would. Workers encode each page's WARC records as it arrives, into the
/// stage's pack (`FetchState`); the WARC is then written in the crawl's order with one copy per page.
public final class FetchRun: @unchecked Sendable {
    let settings: CrawlSettings
    let target: CrawlTarget
    let reader: any LinkReader
    /// Checks the address of every connection (pages, redirects, robots.txt, sitemaps) unless the stage allows private ones.
    let client: HTTPClient
    let state: FetchState
    /// What a journal must have been written under to be resumed: the crawl's configuration.
    let journalKey: String
    let fetcher: PageFetcher
    let robots: RobotsCache
    let global: ConcurrencyLimit
    let scope: CrawlScopeBox
    let scoup: ScoupClient?
    private let gatesLock = NSLock()
    private var gates: [String: any HostTurnstile] = [:]
    /// The hosts' turnstiles and robots.txt answers shared with other processes (a queued crawl's workers).
    let sharedHosts: (any SharedCrawlHosts)?
    private let robotsSeenLock = NSLock()
    private var robotsApplied = Set<String>()
    /// Set once the seeds (and so the scope) are known, before any page is fetched.
    var output: FetchOutputWriter!

    /// The scope is known only once the seeds are; the fetcher's redirect check reads it from here.
    final class CrawlScopeBox: @unchecked Sendable {
        var scope = CrawlScope(hostPolicy: HostPolicy())
    }

    /// A crawl of `settings` into `target`, reading pages' links with `reader`.
    public init(settings: CrawlSettings, target: CrawlTarget, reader: any LinkReader, sharedHosts: (any SharedCrawlHosts)? = nil) throws {
        self.settings = settings
        self.sharedHosts = sharedHosts
        self.target = target
        self.reader = reader
        var caFile: String?
        if let relative = settings.caFile {
            let path: LakePath
            do { path = try target.lake.resolve(relative) } catch let error as LakeError {
                throw CrawlError("ca_file \(relative): \(error.reason)")
            }
            guard FileManager.default.isReadableFile(atPath: path.absolute) else {
                throw CrawlError("ca_file \(relative): no readable file in the lake (\(target.lake.root))")
            }
            caFile = path.absolute
        }
        client = HTTPClient(addressPolicy: settings.allowPrivateAddresses ? .any : .publicOnly, caFile: caFile)
        // A resumed crawl reuses its pages' records as encoded, so how the WARC is compressed must match too.
        let plainWARC = !WARCWriter.isGzip(path: target.warc.relative)
        journalKey = settings.crawlKey + (plainWARC ? "+plain-warc" : "+gzip-\(settings.warcGzipLevel)")
        state = try FetchState(folder: target.stateFolder, crawlKey: journalKey, knownFolder: target.knownStateFolder)
        let retry = RetryPolicy(maxAttempts: settings.retries + 1, initialDelay: settings.retryBackoff, maxDelay: 60)
        let fetchSettings = FetchSettings(timeout: settings.timeout, maxBodyBytes: settings.maxPageBytes,
                                          userAgent: settings.userAgent, retry: retry)
        let box = CrawlScopeBox()
        scope = box
        let allowInternal = settings.allowPrivateAddresses
        fetcher = PageFetcher(client: client, settings: fetchSettings, redirectRefusal: { url in
            if url.lowercased().hasPrefix("file:") { return box.scope.refusal(url) }
            // A redirect may leave the crawl's hosts (the page is still the one linked), but never for
            // another scheme or an internal address.
            let policy = HostPolicy(scope: .anyHost, allowInternalAddresses: allowInternal)
            return CrawlScope(hostPolicy: policy).refusal(url)
        })
        robots = RobotsCache(client: client, userAgent: settings.userAgent, timeout: settings.timeout, retry: retry, shared: sharedHosts)
        global = ConcurrencyLimit(settings.concurrency)
        if settings.via == .scoup {
            var configuration = ScoupConfiguration.fromEnvironment(target.environment)
            configuration.timeout = max(configuration.timeout, settings.timeout)
            configuration.retry = retry
            configuration.maxConcurrentRequests = settings.concurrency
            configuration.userAgent = settings.userAgent
            // The Scoup server is the operator's (often localhost): it may be internal when its URL says so.
            scoup = ScoupClient(configuration: configuration,
                                client: HTTPClient(addressPolicy: settings.allowPrivateAddresses ? .any : .publicOrNamedInternal))
        } else {
            scoup = nil
        }
    }

    // MARK: The run

    /// With `via: scoup`, that the service answers and takes the key, before anything is fetched.
    func checkScoup() async throws {
        guard let scoup else { return }
        do {
            _ = try await scoup.health()
        } catch let error as ScoupError where error.kind == .unauthorized {
            throw Self.refusedKey(error, scoup)
        } catch {
            throw CrawlError("Scoup is not available at \(scoup.configuration.baseURL) (\(error)); start it, or set "
                             + "SCOUP_BASE_URL to where it runs, or use via: direct")
        }
    }

    /// Crawls, then writes the WARC and the crawl log (published only when `settings.refusal` accepts the crawl).
    public func run() async throws -> CrawlReport {
        try await checkScoup()
        let seeds = try await expandSeeds()
        scope.scope = makeScope(seeds: seeds)
        output = FetchOutputWriter(warcPath: target.warc, logPath: target.log, recordsPath: target.records, settings: settings,
                                   isPartOf: target.isPartOf,
                                   publicURL: publicURL())
        var schedule = CrawlSchedule(normalizer: URLNormalizer(), scope: scope.scope, maxDepth: settings.maxDepth,
                                     maxPages: settings.maxPages, perHostLimit: settings.politeness.perHostConcurrency,
                                     hostKey: Self.hostKey)
        var refused: [FetchEntry] = []
        for seed in seeds {
            if case .refused(let reason) = schedule.seed(seed) {
                refused.append(FetchEntry(url: seed, depth: 0, error: "seed refused: \(reason)",
                                          fetchedAt: WARCRecord.formatDate(Date()), via: settings.via.rawValue))
            }
        }
        if !state.resumed.isEmpty {
            target.logger.info("resuming an interrupted crawl", metadata: ["completed": "\(state.resumed.count)"])
        }
        var results: [String: Visited] = [:]
        var order: [CrawlItem]
        while true {
            try await crawl(&schedule, into: &results)
            let replay = schedule.canonicalOrder()
            order = replay.order
            if replay.missing.isEmpty { break }
            // Responses came in an order that made this crawl differ from a breadth-first one (`max_pages`).
            schedule.require(replay.missing)
        }
        return try publish(refused: refused, order: order, results: results)
    }

    /// Publishes the crawl in `order` (its breadth-first replay): entry by entry from the journal, into the
    /// outputs and the per-URL state. Shared by a one-process crawl and one over the work queue.
    func publish(refused: [FetchEntry], order: [CrawlItem], results: [String: Visited]) throws -> CrawlReport {
        try state.syncJournal()
        let update = try state.update()
        let dates = refused.map(\.fetchedAt) + order.map { results[$0.url]!.fetchedAt }
        let report: CrawlReport
        do {
            report = try writeOutputs(refused: refused, order: order, results: results, dates: dates, update: update)
        } catch let shortfall as CrawlShortfall {
            // The crawl is over and its result refused: the next run starts afresh rather than resuming it.
            try AtomicFile.write(FetchState.encode(["crawl": journalKey]) + [UInt8(ascii: "\n")],
                                 to: state.folder + "/journal.jsonl")
            throw CrawlError(shortfall.message + "; nothing was published, the previous outputs are kept")
        }
        try update.commit(crawlKey: journalKey)
        return report
    }

    func writeOutputs(refused: [FetchEntry], order: [CrawlItem], results: [String: Visited], dates: [String],
                              update: FetchState.Update) throws -> CrawlReport {
        try output.write(count: refused.count + order.count, latestFetch: dates.max(), state: state,
                         pageIndex: target.pageIndex) { index in
            if index < refused.count { return refused[index] }
            let item = order[index - refused.count]
            var entry: FetchEntry
            switch results[item.url]! {
            case .journalled(let ref, _): entry = try state.entry(at: ref)
            case .notJournalled(let kept): entry = kept
            }
            entry.depth = item.depth
            try update.keep(entry)
            return entry
        }
    }

    /// A URL visited in this run: where its entry is (and when it was fetched, which dates the WARC).
    enum Visited: Sendable {
        case journalled(LineRef, fetchedAt: String)
        /// Refused by robots.txt: decided again next time, so never journalled.
        case notJournalled(FetchEntry)

        var fetchedAt: String {
            switch self {
            case .journalled(_, let fetchedAt): return fetchedAt
            case .notJournalled(let entry): return entry.fetchedAt
            }
        }
    }

    /// Fetches what the schedule hands out until it is idle, `concurrency` at a time.
    func crawl(_ schedule: inout CrawlSchedule, into results: inout [String: Visited]) async throws {
        try await withThrowingTaskGroup(of: (String, Result).self) { group in
            while true {
                // One task per URL handed out and not yet completed: the schedule's `inFlight`.
                while schedule.inFlight < settings.concurrency, let item = schedule.next() {
                    group.addTask { (item.url, try await self.visit(item)) }
                }
                guard let (url, result) = try await group.next() else { break }
                try Task.checkCancellation()
                // The entry stays in the journal and its links in the schedule; here, only where it is.
                results[url] = result.line.map { .journalled($0, fetchedAt: result.entry.fetchedAt) } ?? .notJournalled(result.entry)
                schedule.completed(url, finalURL: result.entry.finalURL, links: result.links)
                target.progress(results.count)
            }
        }
    }

    /// A saved site's pages are recorded under the URL it had, so outputs do not depend on where the lake is.
    func publicURL() -> @Sendable (String) -> String {
        guard let base = settings.baseURL, let root = scope.scope.fileRoots.first else { return { $0 } }
        return { $0.hasPrefix(root) ? base + $0.dropFirst(root.count) : $0 }
    }

    // MARK: Seeds and scope

    func expandSeeds() async throws -> [String] {
        var urls: [String] = []
        for seed in settings.seeds {
            switch seed {
            case .url(let url):
                urls.append(try confinedFileURL(url))
            case .list(_, let files):
                for file in files {
                    let text = String(decoding: try FileInput.readAll(path: file), as: UTF8.self)
                    for line in text.split(whereSeparator: \.isNewline) {
                        let trimmed = line.trimmingCharacters(in: .whitespaces)
                        if trimmed.isEmpty || trimmed.hasPrefix("#") { continue }
                        urls.append(try confinedFileURL(trimmed))
                    }
                }
            case .sitemap(let url):
                urls += try await sitemapURLs(url)
            }
        }
        return urls
    }

    /// `fileURL`, refusing a `file:` seed that leads out of the lake (`..`, `%2e%2e`, a symlink, `/proc`).
    func confinedFileURL(_ url: String) throws -> String {
        guard url.lowercased().hasPrefix("file:") else { return url }
        do {
            _ = try target.lake.file(atURL: url)
        } catch let error as LakeError {
            throw CrawlError("seed \(url): \(error.reason); file: seeds name files inside the lake (\(target.lake.root))")
        }
        return fileURL(url)
    }

    /// `file:relative/path` is taken relative to the lake folder; other URLs pass unchanged.
    func fileURL(_ url: String) -> String {
        guard url.lowercased().hasPrefix("file:"), !url.hasPrefix("file:/") else { return url }
        let root = URL(fileURLWithPath: target.lake.root).standardizedFileURL.path
        return URLResolver.encode("file://" + root + "/" + url.dropFirst(5))
    }

    /// The page URLs of a sitemap, following a sitemap index one level (and at most 1,000 sitemaps).
    func sitemapURLs(_ url: String) async throws -> [String] {
        if let scoup {
            do {
                return try await scoup.sitemap(url).urls
            } catch {
                throw CrawlError("sitemap \(url) through Scoup: \(error)")
            }
        }
        var pending = [url]
        var seen = Set<String>()
        var out: [String] = []
        var depth = 0
        while !pending.isEmpty && depth < 2 {
            var next: [String] = []
            for sitemapURL in pending where seen.insert(sitemapURL).inserted && seen.count <= 1000 {
                let fetched = await fetcher.fetch(sitemapURL, gate: gate(for: sitemapURL), global: global)
                guard let status = fetched.status, (200..<300).contains(status) else {
                    throw CrawlError("sitemap \(sitemapURL): \(fetched.error ?? "HTTP \(fetched.status ?? 0)")")
                }
                let sitemap = try Sitemap.parse(fetched.body, url: sitemapURL)
                switch sitemap.kind {
                case .urlset: out += sitemap.locations
                case .index: next += sitemap.locations
                }
            }
            pending = next
            depth += 1
        }
        return out
    }

    func makeScope(seeds: [String]) -> CrawlScope {
        let hosts: HostPolicy.Scope = settings.allowDomains.map { .domains($0) } ?? HostPolicy.sameHost(as: seeds)
        let policy = HostPolicy(scope: hosts, include: settings.include, exclude: settings.exclude,
                                allowInternalAddresses: settings.allowPrivateAddresses)
        let normalizer = URLNormalizer()
        let roots = seeds.filter { $0.lowercased().hasPrefix("file:") }.compactMap(normalizer.normalize).map(CrawlScope.fileRoot)
        return CrawlScope(hostPolicy: policy, fileRoots: roots, lake: target.lake)
    }

    // MARK: Fetching a URL

    /// A URL visited: what is known about it (its page stored), where that is in the journal, and
    /// the links to follow from it.
    struct Result: Sendable {
        var entry: FetchEntry
        var line: LineRef?
        var links: [String]
    }

    @Sendable static func hostKey(_ url: String) -> String { HostPolicy.host(of: url) ?? "file" }
    func hostKey(_ url: String) -> String { Self.hostKey(url) }

    func gate(for url: String) -> any HostTurnstile {
        let key = hostKey(url)
        return gatesLock.withLock {
            if let gate = gates[key] { return gate }
            let politeness = settings.politeness
            let delay = key == "file" ? 0 : politeness.delay
            let gate: any HostTurnstile = sharedHosts.map { $0.gate(host: key, concurrency: politeness.perHostConcurrency, delay: delay) }
                ?? HostGate(concurrency: politeness.perHostConcurrency, delay: delay)
            gates[key] = gate
            return gate
        }
    }

    /// One URL: from the journal (resumed run), from the refresh window, or fetched (conditionally
    /// when its ETag or Last-Modified is known).
    func visit(_ item: CrawlItem) async throws -> Result {
        if let line = state.resumed[item.url] {
            // Its page is in the pack already, encoded as this run would.
            let entry = try state.entry(at: line)
            return Result(entry: entry, line: line, links: try state.body(of: entry).map { links(of: entry, read: read(entry, body: $0)) } ?? [])
        }
        let via = settings.via.rawValue
        if let refresh = settings.refresh, var known = state.known(item.url),
           let fetched = Self.parseDate(known.fetchedAt), Date().timeIntervalSince(fetched) < refresh,
           let body = try? state.body(of: known) {
            known.depth = item.depth
            known.fromCache = true
            known.ms = 0
            known.attempt = 0
            known.via = via
            return try complete(known, body: body)
        }
        let gate = gate(for: item.url)
        if settings.politeness.obeyRobots, scoup == nil, let policy = await robots.policy(for: item.url, gate: gate) {
            await applyCrawlDelay(policy, gate: gate, host: hostKey(item.url))
            if !policy.isAllowed(item.url, userAgent: settings.userAgent) {
                var reason = "disallowed by robots.txt"
                if case .unreachable(let why) = policy.source { reason = "robots.txt unreachable, host skipped: \(why)" }
                // Not journaled: deciding again is free, and an unreachable robots.txt may be back next run.
                return Result(entry: FetchEntry(url: item.url, depth: item.depth, error: reason,
                                                fetchedAt: WARCRecord.formatDate(Date()), via: via, robotsDisallowed: true),
                              line: nil, links: [])
            }
        }
        let entry: FetchEntry
        let body: [UInt8]?
        if let scoup {
            (entry, body) = try await scrape(item, scoup: scoup, gate: gate)
        } else {
            (entry, body) = try await fetchDirect(item, gate: gate)
        }
        try Task.checkCancellation()
        return try complete(entry, body: body)
    }

    /// Stores a visited URL's page (its WARC records, encoded here, in the worker, as pages arrive),
    /// then journals it (with its title); returns the links to follow from it.
    func complete(_ entry: FetchEntry, body: [UInt8]?) throws -> Result {
        var entry = entry
        entry.stored = nil
        guard let body, let status = entry.status else {
            return Result(entry: entry, line: try state.journal(entry), links: [])
        }
        entry.bodySHA256 = FetchState.sha256(body)
        entry.bytes = body.count
        entry.stored = try state.store(output.encode(entry, status: status, body: body))
        let read = self.read(entry, body: body)
        entry.title = read?.title
        return Result(entry: entry, line: try state.journal(entry), links: links(of: entry, read: read))
    }

    func applyCrawlDelay(_ policy: RobotsPolicy, gate: any HostTurnstile, host: String) async {
        let first = robotsSeenLock.withLock { robotsApplied.insert(host).inserted }
        guard first else { return }
        let delay = settings.politeness.delay(crawlDelay: policy.crawlDelay(for: settings.userAgent))
        await gate.setDelay(delay)
    }

    /// The entry, and its body: received, or the stored copy on 304.
    func fetchDirect(_ item: CrawlItem, gate: any HostTurnstile, conditionally: Bool = true) async throws -> (FetchEntry, [UInt8]?) {
        let known = conditionally ? state.known(item.url) : nil
        var conditional: [Header] = []
        if let known, known.stored != nil {
            if let etag = known.header("ETag") { conditional.append(Header("If-None-Match", etag)) }
            if let modified = known.header("Last-Modified") { conditional.append(Header("If-Modified-Since", modified)) }
        }
        let fetched = await fetcher.fetch(item.url, headers: conditional, gate: gate, global: global)
        try Task.checkCancellation()
        let via = settings.via.rawValue
        if fetched.status == 304, var kept = known {
            // The stored copy is gone or damaged after all: ask for the page itself.
            guard let body = try? state.body(of: kept) else { return try await fetchDirect(item, gate: gate, conditionally: false) }
            kept.depth = item.depth
            kept.wireStatus = 304
            kept.fromCache = true
            kept.notModified = true
            kept.ms = Int(fetched.seconds * 1000)
            kept.attempt = fetched.attempts
            kept.fetchedAt = WARCRecord.formatDate(fetched.fetchedAt)
            kept.via = via
            return (kept, body)
        }
        var entry = FetchEntry(url: item.url, depth: item.depth, finalURL: fetched.status == nil && fetched.redirects.isEmpty ? nil : fetched.finalURL,
                               status: fetched.status, fetchedAt: WARCRecord.formatDate(fetched.fetchedAt), via: via)
        entry.headers = fetched.headers
        entry.requestHeaders = fetched.requestHeaders
        entry.redirects = fetched.redirects.map { FetchEntry.Hop(url: $0.url, status: $0.status, headers: $0.headers) }
        entry.ms = Int(fetched.seconds * 1000)
        entry.attempt = fetched.attempts
        entry.error = fetched.error
        entry.isFile = item.url.lowercased().hasPrefix("file:")
        entry.contentType = fetched.header("Content-Type") ?? (entry.isFile ? Self.guessType(item.url) : nil)
        if fetched.status != nil {
            return (entry, fetched.body)
        }
        return (entry, nil)
    }

    func scrape(_ item: CrawlItem, scoup: ScoupClient, gate: any HostTurnstile) async throws -> (FetchEntry, [UInt8]?) {
        let started = Date()
        var entry = FetchEntry(url: item.url, depth: item.depth, fetchedAt: WARCRecord.formatDate(started), via: "scoup")
        // Scoup connects, not us: resolve and check, so a name cannot lead it into a private network.
        if !settings.allowPrivateAddresses, let host = HostPolicy.host(of: item.url),
           let hit = AddressPolicy.internalAddresses(ofHost: host).first {
            entry.error = "refused: \(host) resolves to \(hit.address), a \(hit.kind.rawValue) address (set allow_private_addresses to crawl it)"
            return (entry, nil)
        }
        await gate.acquire()
        let outcome: Swift.Result<ScrapeResult, Error>
        entry.attempt = 1
        do {
            let options = settings.scoupOptions.over(ScrapeOptions(userAgent: settings.userAgent, extractLinks: true))
            let request = ScrapeRequest(url: item.url, options: options)
            let answer = try await scoup.scrapeCountingAttempts(request)
            outcome = .success(answer.result)
            entry.attempt = answer.attempts
        } catch {
            outcome = .failure(error)
        }
        await gate.release()
        try Task.checkCancellation()
        entry.ms = Int(Date().timeIntervalSince(started) * 1000)
        switch outcome {
        case .failure(let error as ScoupError) where error.kind == .unauthorized:
            // Every other page would be refused the same way: the crawl cannot do its work.
            throw Self.refusedKey(error, scoup)
        case .failure(let error as ScoupError):
            entry.error = "\(error)"
            entry.attempt = error.attempts
        case .failure(let error):
            entry.error = "\(error)"
        case .success(let result):
            let html = result.html ?? result.content ?? ""
            let body = Array(html.utf8)
            entry.finalURL = item.url
            entry.status = result.statusCode ?? 200
            entry.contentType = "text/html; charset=utf-8"
            entry.headers = [Header("Content-Type", "text/html; charset=utf-8")]
            entry.fetchedAt = WARCRecord.formatDate(Date())
            var fields: [Header] = []
            func add(_ name: String, _ value: JSONValue?) {
                guard let value else { return }
                switch value {
                case .null: return
                case .string(let s): fields.append(Header(name, s))
                default:
                    let data = (try? JSONEncoder().encode(value)).map { String(decoding: $0, as: UTF8.self) } ?? ""
                    fields.append(Header(name, data))
                }
            }
            if let title = result.title { fields.append(Header("title", title)) }
            add("meta", result.meta)
            add("links", result.links.map(JSONValue.array))
            add("images", result.images.map(JSONValue.array))
            add("customData", result.customData)
            if let shot = result.screenshotUrl { fields.append(Header("screenshotUrl", shot)) }
            if let status = result.statusCode { fields.append(Header("statusCode", String(status))) }
            // warc-fields values are one line each.
            entry.scoup = fields.map { Header($0.name, $0.value.replacingOccurrences(of: "\r", with: " ").replacingOccurrences(of: "\n", with: " ")) }
            entry.links = result.linkURLs
            entry.extracted = Self.extracted(result, options: settings.scoupOptions)
            return (entry, body)
        }
        return (entry, nil)
    }

    /// The record fields of a Scoup answer: customData's fields (a customData that is not an object
    /// as `custom_data`), then `text`, `links`, `images`, `screenshot_url` when `options` asked for them.
    static func extracted(_ result: ScrapeResult, options: ScrapeOptions) -> JSONValue {
        var fields: [String: JSONValue] = [:]
        switch result.customData {
        case .object(let custom)?: fields = custom
        case nil, .null?: break
        case let other?: fields["custom_data"] = other
        }
        if options.extractText == true { fields["text"] = result.text.map(JSONValue.string) ?? .null }
        if options.extractLinks == true { fields["links"] = .array(result.linkURLs.map(JSONValue.string)) }
        if options.extractImages == true { fields["images"] = .array(result.images ?? []) }
        if options.screenshot == true { fields["screenshot_url"] = result.screenshotUrl.map(JSONValue.string) ?? .null }
        return .object(fields)
    }

    static func refusedKey(_ error: ScoupError, _ scoup: ScoupClient) -> CrawlError {
        CrawlError("Scoup at \(scoup.configuration.baseURL) refused the API key (HTTP \(error.status.map(String.init) ?? "401/403")"
                   + " from \(error.url)): set SCOUP_API_KEY to a key it accepts; nothing was published, the previous outputs are kept")
    }

    /// A fetched HTML page read by the stage's reader (any status: an error page has a title too);
    /// nil when it is not HTML or does not parse.
    func read(_ entry: FetchEntry, body: [UInt8]) -> PageLinks? {
        guard entry.contentType.map(WARCRecord.isHTMLType) ?? true else { return nil }
        let base = entry.finalURL ?? entry.url
        let schemes: Set<String> = base.lowercased().hasPrefix("file:") ? ["file"] : ["http", "https"]
        return reader.read(body, url: base, contentType: entry.contentType, schemes: schemes, sha256: entry.bodySHA256)
    }

    /// The links to follow from a fetched page (none when it is not an HTML page or not 2xx).
    func links(of entry: FetchEntry, read: PageLinks?) -> [String] {
        guard let status = entry.status, (200..<300).contains(status),
              entry.contentType.map(WARCRecord.isHTMLType) ?? true else { return [] }
        return read?.links ?? entry.links ?? []
    }


    static func guessType(_ url: String) -> String? {
        let lower = url.lowercased()
        if lower.hasSuffix(".html") || lower.hasSuffix(".htm") || lower.hasSuffix("/") { return "text/html" }
        if lower.hasSuffix(".xml") { return "application/xml" }
        if lower.hasSuffix(".txt") { return "text/plain" }
        if lower.hasSuffix(".json") { return "application/json" }
        return nil
    }

    static func parseDate(_ text: String) -> Date? {
        let formatter = ISO8601DateFormatter()
        return formatter.date(from: text)
    }
}
