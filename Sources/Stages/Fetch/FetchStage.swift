import Crawl
import Foundation
import HTML
import Lake
import Pipeline
import Transport

/// `fetch`: crawls pages into a WARC file, directly (libcurl) or through the Scoup service.
///
/// ```yaml
/// crawl:
///   fetch:
///     via: direct                       # or scoup (SCOUP_BASE_URL, SCOUP_API_KEY)
///     scoup:                            # via: scoup only: Scoup's page options (docs/stages/fetch.md#scoup)
///       preset: ecommerce_product       # or blog_article, competitor_analysis, social_media
///       custom_selectors: { price: .price }   # over the preset's; answered in customData
///       wait_for: 500                   # or a CSS selector; also javascript, mobile, screenshot, cookies,
///                                       # proxy, headers, user_agent, extract_links/images/text
///     seeds: [https://shop.example/]    # URLs; a seed list in the lake (raw_data/imports/urls.txt);
///                                       # {sitemap: URL}; file:raw_data/… for a saved site in the lake
///     base_url: https://shop.example/   # file: seeds only: the URL the saved site had (pages are recorded
///                                       # as base_url + their path under the first file seed's folder)
///     follow: "a.next, a.product"       # CSS, {xpath: …}, or a list of them; none: seeds only
///     allow_domains: [shop.example]     # default: the seeds' hosts
///     include: ["*/products/*"]         # globs, or {regex: …}
///     exclude: ["*/cart/*"]
///     max_depth: 3
///     max_pages: 5000
///     concurrency: 8
///     per_host: { concurrency: 1, delay: 1s }
///     politeness: on                    # off: no per-host limit or delay (benchmarks on your own server)
///     robots: obey                      # or ignore
///     retries: 3
///     retry_backoff: 1s                 # first backoff, doubled per retry (with jitter), at most 60s
///     timeout: 30s
///     max_page_bytes: 10MB
///     refresh: 24h                      # pages fetched within this window are reused without a request
///     user_agent: "AgentShop/0.1 (+https://…)"
///     allow_private_addresses: false
///     ca_file: raw_data/imports/certs/shop-ca.pem  # PEM CA bundle verifying the sites (a private CA), in
///                                       # place of the system's; a lake path; verification stays on
///     min_pages: 1                      # fewer pages fetched fails the stage (0: an empty crawl is fine)
///     warc_gzip_level: 1                # 1 (fast) … 9 (small): the WARC's gzip members
///     max_error_rate: 20%               # more URLs failing fails the stage (default: no limit)
///   out:
///     - scraped_data/products/dt={run_date}/pages.warc.gz
///     - raw_data/logs/crawl/dt={run_date}/crawl.jsonl.gz
///     - scraped_data/products/dt={run_date}/products.jsonl.gz   # via: scoup: the records Scoup extracted
/// ```
public enum FetchStage {
    public static let kind = StageKind(spec: spec) { config, context in configure(config, context) }

    /// Chosen by measurement (bench/CRAWL_RESULTS.md): on 20 KB shop pages level 1 deflates at 0.38 of
    /// level 6's CPU (0.20 against 0.53 ms a page) for a file 24% larger.
    static let defaultWARCGzipLevel = 1

    /// A seed as written in the pipeline file.
    enum Seed: Sendable, Equatable {
        case url(String)
        /// A lake-relative file of URLs, one per line.
        case list(String)
        case sitemap(String)
    }

    /// A follow rule: which links of a page to crawl.
    enum LinkRule: Sendable, Equatable {
        case css(String)
        case xpath(String)
    }

    enum Via: String, Sendable { case direct, scoup }

    struct Definition: StageDefinition {
        var via: Via = .direct
        var seeds: [Seed] = []
        var follow: [LinkRule] = []
        var allowDomains: [String]?
        var include: [String] = []
        var exclude: [String] = []
        var includeRegex: [String] = []
        var excludeRegex: [String] = []
        var maxDepth = 10
        var maxPages = 10_000
        var concurrency = 8
        var politeness = Politeness()
        var retries = 3
        var retryBackoff: Double = 1
        var timeout: Double = 30
        var maxPageBytes = 10 * 1024 * 1024
        var refresh: Double?
        var userAgent = HTTPRequest.defaultUserAgent
        var allowPrivateAddresses = false
        /// A lake path to a PEM bundle of CAs that verify HTTPS servers, in place of the system's.
        var caFile: String?
        /// For a saved site crawled over file://: the URL its first seed's folder had.
        var baseURL: String?
        /// Fewer pages than this (or every seed failing) fails the stage; 0 accepts an empty crawl.
        var minPages = 1
        /// `via: scoup`: the page options of `scoup:` (its preset's, with its own keys over them).
        var scoup = ScrapeOptions()
        /// A larger share of failed URLs fails the stage.
        var maxErrorRate: RejectLimit?
        /// The deflate level of the WARC's gzip members.
        var warcGzipLevel = FetchStage.defaultWARCGzipLevel

        var inputs: [StageInput] {
            seeds.compactMap { if case .list(let path) = $0 { return .files(path) } else { return nil } }
                + (caFile.map { [.files($0)] } ?? [])
        }

        func fingerprintExtra(lake: Lake) throws -> String {
            "fetch-stage/2" + (caFile.map { " ca_file=\($0)" } ?? "")
        }

        /// The web changes between runs: without `refresh` a fetch stage runs every time (its state keeps
        /// the rerun cheap with conditional requests). With it, a crawl begun within the window is up to
        /// date: every page it holds would be reused without a request.
        func staleReason(previous: PipelineState.StageState, now: Date) -> String? {
            guard let refresh else { return "a fetch stage without 'refresh' reads the web on every run" }
            guard let began = Timestamp.parse(previous.startedAt ?? previous.finishedAt) else {
                return "the last crawl's time is unknown"
            }
            let age = now.timeIntervalSince(began)
            guard age >= 0 && age < refresh else { return "the last crawl is older than refresh: \(Self.duration(refresh))" }
            return nil
        }

        static func duration(_ seconds: Double) -> String {
            let whole = Int(seconds)
            guard Double(whole) == seconds, whole > 0 else { return "\(seconds)s" }
            for (unit, size) in [("d", 86_400), ("h", 3_600), ("m", 60)] where whole % size == 0 { return "\(whole / size)\(unit)" }
            return "\(whole)s"
        }

        func run(_ context: StageContext) async throws -> StageReport {
            let warcs = context.outputs.filter { PageFiles.isWARC($0.relative) }
            let logs = context.outputs.filter { RecordFileType(path: $0.relative)?.format == .jsonl }
            let jsonLimit = via == .scoup ? 2 : 1
            guard warcs.count == 1, logs.count <= jsonLimit, warcs.count + logs.count == context.outputs.count else {
                throw StageError("a fetch stage writes one WARC file (.warc.gz), optionally a crawl log (.jsonl.gz) and, "
                                 + "with via: scoup, after it the records Scoup extracted (.jsonl.gz); "
                                 + "'out' names: \(context.outputs.map(\.relative).joined(separator: ", "))")
            }
            var target = CrawlTarget(lake: context.lake, warc: warcs[0], log: logs.first, records: logs.dropFirst().first,
                                     stateFolder: context.stateFolder,
                                     environment: context.environment.variables, isPartOf: "\(context.pipeline)/\(context.stage)",
                                     logger: context.logger, progress: { context.progress($0) })
            // Parse once: the parse stages of this run that read this crawl get their fields extracted
            // from the tree parsed here for links, as pages arrive. Not over a queue: there the workers
            // fetch, and the parse stage parses the WARC.
            let queue = context.environment.variables[QueuedEnrich.queueVariable].flatMap { $0.isEmpty ? nil : $0 }
            let extractions = queue == nil ? try sharedExtractions(context) : []
            // With the extractions, an index of the WARC's pages lets those stages skip reading it.
            if !extractions.isEmpty { target.pageIndex = SharedExtraction.pageIndexPath(fetchState: context.stateFolder) }
            do {
                let report: CrawlReport
                if let queue {
                    let crawl = try FetchRun(settings: settings(context), target: target, reader: FollowRules(follow))
                    report = try await QueuedFetch.coordinate(crawl, context: context, url: queue)  // spread over workers
                } else {
                    let reader = FollowRules(follow, extractions: extractions)
                    report = try await FetchRun(settings: settings(context), target: target, reader: reader).run()
                    for writer in extractions { try writer.commit() }
                    SharedExtractionWriter.removeOthers(in: context.stateFolder,
                                                        keeping: Set(extractions.map(\.extractionKey)))
                }
                return StageReport(counts: report.counts, recordsPerOutput: report.recordsPerOutput, details: report.details)
            } catch let error as CrawlError {
                for writer in extractions { writer.abandon() }
                throw StageError(error.message)
            } catch {
                for writer in extractions { writer.abandon() }
                throw error
            }
        }

        /// One writer per parse stage of this run reading this one (one per set of fields).
        func sharedExtractions(_ context: StageContext) throws -> [SharedExtractionWriter] {
            _ = AtomicFile.removeStaleTemporaries(in: context.stateFolder + "/" + SharedExtraction.folderName)
            var keys = Set<String>()
            return try context.readers.compactMap { $0.definition as? ParseStage.Definition }
                .filter { keys.insert($0.extractionKey).inserted }
                .map { try SharedExtractionWriter(definition: $0, fetchState: context.stateFolder) }
        }

        /// The crawler's settings: this definition, its seed lists resolved to this run's files.
        func settings(_ context: StageContext) -> CrawlSettings {
            var s = CrawlSettings()
            s.via = via == .scoup ? .scoup : .direct
            s.seeds = seeds.map { seed in
                switch seed {
                case .url(let url): return .url(url)
                case .list(let path): return .list(path, files: context.files(for: .files(path)).map(\.absolute))
                case .sitemap(let url): return .sitemap(url)
                }
            }
            s.allowDomains = allowDomains
            s.include = include.map(URLPattern.glob) + includeRegex.compactMap { try? URLPattern.regex($0) }
            s.exclude = exclude.map(URLPattern.glob) + excludeRegex.compactMap { try? URLPattern.regex($0) }
            s.maxDepth = maxDepth
            s.maxPages = maxPages
            s.concurrency = concurrency
            s.politeness = politeness
            s.retries = retries
            s.retryBackoff = retryBackoff
            s.timeout = timeout
            s.maxPageBytes = maxPageBytes
            s.refresh = refresh
            s.userAgent = userAgent
            s.allowPrivateAddresses = allowPrivateAddresses
            s.caFile = caFile
            s.baseURL = baseURL
            s.scoupOptions = scoup
            s.crawlKey = crawlKey
            s.warcGzipLevel = Int32(warcGzipLevel)
            let (minPages, maxErrorRate) = (minPages, maxErrorRate)
            s.refusal = { Self.refusal($0, minPages: minPages, maxErrorRate: maxErrorRate) }
            return s
        }

        /// A crawl that could not do its work is not published: every seed failed, fewer pages than
        /// `min_pages`, or more failures than `max_error_rate` allows.
        static func refusal(_ tally: CrawlTally, minPages: Int, maxErrorRate: RejectLimit?) -> String? {
            let (seeds, failed, fetched) = (tally.seeds, tally.failed, tally.fetched)
            if minPages > 0, seeds > 0, tally.seedFailures.count == seeds {
                let listed = tally.seedFailures.prefix(5).joined(separator: "; ") + (seeds > 5 ? "; and \(seeds - 5) more" : "")
                return "every seed failed, so nothing was crawled: \(listed)"
            }
            if fetched < minPages {
                var message = "\(fetched) page\(fetched == 1 ? "" : "s") fetched, fewer than min_pages (\(minPages))"
                message += ": \(failed) URL\(failed == 1 ? "" : "s") failed, \(tally.robotsDisallowed) refused by robots.txt"
                if !tally.firstErrors.isEmpty { message += "; first errors: " + tally.firstErrors.joined(separator: "; ") }
                return message
            }
            if let limit = maxErrorRate, limit.isExceeded(bad: failed, of: fetched + failed) {
                return "\(RejectLimit.share(failed, of: fetched + failed)) URLs failed, more than "
                    + "max_error_rate (\(limit)) allows; first errors: " + tally.firstErrors.joined(separator: "; ")
            }
            return nil
        }

        /// The settings that decide which URLs are fetched (`journal: true` in `FetchStage.spec`), as
        /// canonical JSON: a journal written under other such settings is not resumed.
        var journalSettings = ""

        /// What decides which URLs are fetched: a journal written under another key is not resumed.
        var crawlKey: String { SHA256.hex(of: "fetch-journal/2\n" + journalSettings) }
    }

    static func configure(_ config: ConfigValue, _ context: StageConfigContext) -> (any StageDefinition)? {
        guard config.expectMapping() else { return nil }
        var d = Definition()
        d.journalSettings = spec.canonicalText(of: config) { $0.journal == true }
        var ok = true
        if let via = config.choice("via", ["direct", "scoup"]) { d.via = Via(rawValue: via)! }
        if let block = config.value("scoup") {
            if let options = readScoup(block) {
                if d.via == .scoup {
                    d.scoup = options
                } else {
                    block.error("Scoup's page options need via: scoup (this stage fetches directly)")
                    ok = false
                }
            } else {
                ok = false
            }
        }

        if let seeds = config.value("seeds", required: true) {
            if let read = readSeeds(seeds) { d.seeds = read } else { ok = false }
        } else {
            ok = false
        }
        if let follow = config.value("follow") {
            if let rules = readFollow(follow) { d.follow = rules } else { ok = false }
        }
        if let domains = config.value("allow_domains") {
            d.allowDomains = domains.asStrings()?.map { $0.lowercased() }
            if d.allowDomains?.isEmpty == true { domains.error("list at least one domain, or leave the key out for the seeds' hosts") }
        }
        for key in ["include", "exclude"] {
            guard let value = config.value(key) else { continue }
            let items = value.isSequence ? value.asList() ?? [] : [value]
            for item in items {
                if item.isMapping {
                    guard let pattern = item.string("regex", required: true) else { ok = false; continue }
                    item.rejectUnknownKeys()
                    do { _ = try URLPattern.regex(pattern) } catch { item.error("\(error)"); ok = false; continue }
                    if key == "include" { d.includeRegex.append(pattern) } else { d.excludeRegex.append(pattern) }
                } else if let glob = item.asString() {
                    if key == "include" { d.include.append(glob) } else { d.exclude.append(glob) }
                } else {
                    ok = false
                }
            }
        }
        d.maxDepth = config.int("max_depth", min: 0, max: 1000) ?? d.maxDepth
        d.maxPages = config.int("max_pages", min: 1, max: 100_000_000) ?? d.maxPages
        d.concurrency = config.int("concurrency", min: 1, max: 1024) ?? d.concurrency
        var perHostConcurrency = 1
        var delay: Double = 1
        if let perHost = config.value("per_host"), perHost.expectMapping() {
            perHostConcurrency = perHost.int("concurrency", min: 1, max: 1024) ?? perHostConcurrency
            delay = perHost.duration("delay") ?? delay
            perHost.rejectUnknownKeys()
        }
        var obeyRobots = true
        if let robots = config.choice("robots", ["obey", "ignore"]) { obeyRobots = robots == "obey" }
        let politenessOn = config.value("politeness").map { $0.asBool() ?? true } ?? true
        if politenessOn {
            d.politeness = Politeness(perHostConcurrency: perHostConcurrency, delay: delay, obeyRobots: obeyRobots)
        } else {
            d.politeness = .off(concurrency: d.concurrency)
            d.politeness.obeyRobots = obeyRobots
            if let perHost = config.value("per_host") { perHost.warning("ignored: politeness is off") }
        }
        d.retries = config.int("retries", min: 0, max: 20) ?? d.retries
        d.retryBackoff = config.duration("retry_backoff") ?? d.retryBackoff
        if let timeout = config.duration("timeout") {
            if timeout <= 0 { config.value("timeout")?.error("expected a duration above 0") } else { d.timeout = timeout }
        }
        if let size = config.value("max_page_bytes") {
            if let bytes = readSize(size) { d.maxPageBytes = bytes } else { ok = false }
        }
        if let refresh = config.duration("refresh") { d.refresh = refresh }
        if let agent = config.string("user_agent") {
            if agent.isEmpty || agent.contains(where: { $0 == "\r" || $0 == "\n" }) {
                config.value("user_agent")?.error("expected one line of text")
            } else {
                d.userAgent = agent
            }
        }
        d.allowPrivateAddresses = config.bool("allow_private_addresses") ?? false
        d.warcGzipLevel = config.int("warc_gzip_level", min: 1, max: 9) ?? d.warcGzipLevel
        if let value = config.value("ca_file"), let path = value.asString() {
            if let problem = caFileProblem(path) {
                value.error(problem)
                ok = false
            } else if d.via == .scoup {
                value.error("ca_file verifies the sites this stage connects to; with via: scoup, Scoup connects")
                ok = false
            } else {
                d.caFile = path
            }
        }
        d.minPages = config.int("min_pages", min: 0, max: 100_000_000) ?? d.minPages
        if d.minPages > d.maxPages {
            config.value("min_pages")?.error("min_pages (\(d.minPages)) is more than max_pages (\(d.maxPages)) lets the crawl fetch")
        }
        if let rate = config.value("max_error_rate") {
            if let limit = RejectLimit.read(rate, countAllowed: false) { d.maxErrorRate = limit } else { ok = false }
        }
        if let value = config.value("base_url"), let base = value.asString() {
            let scheme = URLReference(base).scheme?.lowercased()
            if scheme != "http" && scheme != "https" {
                value.error("expected an absolute http(s) URL such as https://shop.example/, found '\(base)'")
                ok = false
            } else if !d.seeds.contains(where: { if case .url(let u) = $0 { return u.lowercased().hasPrefix("file:") } else { return false } }) {
                value.error("base_url names what a saved site's file: seeds stand for; there is no file: seed")
                ok = false
            } else {
                d.baseURL = base.hasSuffix("/") ? base : base + "/"
            }
        }
        if d.via == .scoup, d.seeds.contains(where: { if case .url(let u) = $0 { return u.lowercased().hasPrefix("file:") } else { return false } }) {
            config.value("seeds")?.error("Scoup fetches over the network: file: seeds need via: direct")
            ok = false
        }
        return ok ? d : nil
    }

    /// `scoup:` — a preset and page options, as Scoup's `options` (the preset's with the keys given over them).
    static func readScoup(_ block: ConfigValue) -> ScrapeOptions? {
        guard block.expectMapping() else { return nil }
        var ok = true
        var options = ScrapeOptions()
        func oneLine(_ text: String) -> Bool { !text.contains(where: { $0 == "\r" || $0 == "\n" || $0 == "\0" }) }
        /// A mapping of non-empty one-line strings, each checked by `check` (nil: fine, else the problem).
        func strings(_ key: String, _ check: (String, String) -> String?) -> [String: String]? {
            guard let value = block.value(key) else { return nil }
            guard value.expectMapping() else { ok = false; return nil }
            var out: [String: String] = [:]
            for name in value.keys {
                guard let item = value.value(name), let text = item.asString() else { ok = false; continue }
                if let problem = check(name, text) { item.error(problem); ok = false; continue }
                out[name] = text
            }
            if out.isEmpty && ok { value.error("list at least one entry, or leave '\(key)' out") }
            return out
        }
        let preset = block.choice("preset", ScoupPreset.allCases.map(\.rawValue)).flatMap(ScoupPreset.init(rawValue:))
        options.customSelectors = strings("custom_selectors") { name, css in
            if name.isEmpty { return "a field name is empty" }
            return css.trimmingCharacters(in: .whitespaces).isEmpty || !oneLine(css) ? "expected a CSS selector on one line" : nil
        }
        options.headers = strings("headers") { name, value in
            if name.isEmpty || name.contains(where: { $0 == ":" || $0.isWhitespace || !$0.isASCII }) {
                return "'\(name)' is not a header name"
            }
            return oneLine(value) ? nil : "a header value is one line"
        }
        if let value = block.value("wait_for"), let text = value.asString() {
            if let ms = Int(text) {
                if ms < 0 || ms > 600_000 { value.error("expected milliseconds from 0 to 600000, or a CSS selector"); ok = false }
                options.waitFor = .number(Double(ms))
            } else if text.trimmingCharacters(in: .whitespaces).isEmpty || !oneLine(text) {
                value.error("expected milliseconds or a CSS selector to wait for")
                ok = false
            } else {
                options.waitFor = .string(text)
            }
        }
        options.javascript = block.bool("javascript")
        options.mobile = block.bool("mobile")
        options.screenshot = block.bool("screenshot")
        options.extractLinks = block.bool("extract_links")
        options.extractImages = block.bool("extract_images")
        options.extractText = block.bool("extract_text")
        if let value = block.value("cookies") {
            if value.isMapping {
                if let cookies = strings("cookies", { _, _ in nil }) { options.cookies = .object(cookies.mapValues(Crawl.JSONValue.string)) }
            } else if value.isSequence, let items = value.asList() {
                var cookies: [Crawl.JSONValue] = []
                for item in items {
                    guard item.isMapping else { item.error("expected a cookie as a mapping ({name: …, value: …})"); ok = false; continue }
                    if item.string("name", required: true) == nil || item.value("value", required: true) == nil { ok = false }
                    cookies.append(scoupJSON(item.jsonValue()))
                }
                options.cookies = .array(cookies)
            } else {
                value.error("expected a mapping of cookie name to value, or a list of cookies")
                ok = false
            }
        }
        if let value = block.value("proxy"), let proxy = value.asString() {
            let scheme = URLReference(proxy).scheme?.lowercased()
            if !["http", "https", "socks4", "socks5"].contains(scheme ?? "") || !oneLine(proxy) {
                value.error("expected a proxy URL such as http://proxy.example:8080, found '\(proxy)'")
                ok = false
            } else {
                options.proxy = proxy
            }
        }
        if let value = block.value("user_agent"), let agent = value.asString() {
            if agent.isEmpty || !oneLine(agent) { value.error("expected one line of text"); ok = false } else { options.userAgent = agent }
        }
        guard ok else { return nil }
        return preset.map { options.over($0.options) } ?? options
    }

    /// A configuration value (Lake's JSON) as Scoup's JSON.
    static func scoupJSON(_ value: LakeJSONValue) -> Crawl.JSONValue {
        switch value {
        case .null: return .null
        case .bool(let b): return .bool(b)
        case .int(let i): return .number(Double(i))
        case .bigInteger(let digits): return .string(digits)
        case .double(let d): return .number(d)
        case .string(let s): return .string(s)
        case .array(let items): return .array(items.map(scoupJSON))
        case .object(let object): return .object(Dictionary(object.entries.map { ($0.key, scoupJSON($0.value)) }, uniquingKeysWith: { _, b in b }))
        }
    }

    /// What can be told of a `file:` seed leaving the lake before the run (which checks again, symlinks
    /// resolved): `..` once percent-decoded, and the kernel's pseudo file systems.
    static func fileSeedProblem(_ text: String) -> String? {
        var path = String(text.dropFirst(5))
        if path.hasPrefix("///") { path = String(path.dropFirst(2)) }
        guard let decoded = path.removingPercentEncoding else { return "the file URL has an invalid percent-encoding: '\(text)'" }
        let parts = decoded.split(separator: "/")
        if parts.contains("..") { return "file: seeds stay inside the lake: '..' is not allowed, found '\(text)'" }
        if decoded.hasPrefix("/"), let first = parts.first, ["proc", "sys", "dev", "etc"].contains(first) {
            return "file: seeds stay inside the lake: /\(first) is not in it, found '\(text)'"
        }
        return nil
    }

    /// What can be told of a `ca_file:` path before the run (which resolves it in the lake, symlinks
    /// included, and checks that the file is there): it must be a lake-relative path.
    static func caFileProblem(_ path: String) -> String? {
        if path.isEmpty { return "expected a lake path to a PEM file of CA certificates" }
        if path.hasPrefix("/") || path.hasPrefix("~") {
            return "ca_file is a lake path (raw_data/imports/certs/ca.pem): absolute paths are not allowed, found '\(path)'"
        }
        if path.split(separator: "/").contains("..") { return "ca_file stays inside the lake: '..' is not allowed, found '\(path)'" }
        if path.utf8.contains(0) { return "ca_file contains a NUL byte" }
        return nil
    }

    /// `seeds:` — a string or a list; each a URL, a lake path to a URL list, or `{sitemap: URL}`.
    static func readSeeds(_ value: ConfigValue) -> [Seed]? {
        let items = value.isSequence ? value.asList() ?? [] : [value]
        if items.isEmpty { value.error("list at least one seed"); return nil }
        var seeds: [Seed] = []
        var ok = true
        for item in items {
            if item.isMapping {
                guard let url = item.string("sitemap", required: true) else { ok = false; continue }
                item.rejectUnknownKeys()
                if URLReference(url).scheme == nil {
                    item.error("expected an absolute sitemap URL, found '\(url)'")
                    ok = false
                }
                seeds.append(.sitemap(url))
                continue
            }
            guard let text = item.asString()?.trimmingCharacters(in: .whitespaces) else { ok = false; continue }
            let scheme = URLReference(text).scheme?.lowercased()
            if scheme == "http" || scheme == "https" {
                seeds.append(.url(text))
            } else if scheme == "file" {
                if text.hasPrefix("file://") && !text.hasPrefix("file:///") {
                    item.error("a file URL is file:///absolute/path or file:lake/relative/path, found '\(text)'")
                    ok = false
                } else if let problem = Self.fileSeedProblem(text) {
                    item.error(problem)
                    ok = false
                }
                seeds.append(.url(text))
            } else if scheme == nil && text.contains("/") {
                seeds.append(.list(text))
            } else {
                item.error("expected an http(s) URL, file:path, a lake path to a URL list or {sitemap: URL}, found '\(text)'")
                ok = false
            }
        }
        return ok ? seeds : nil
    }

    static func readFollow(_ value: ConfigValue) -> [LinkRule]? {
        let items = value.isSequence ? value.asList() ?? [] : [value]
        var rules: [LinkRule] = []
        var ok = true
        for item in items {
            if item.isMapping {
                let keys = item.keys
                guard keys.count == 1, let key = keys.first, key == "css" || key == "xpath", let text = item.string(key) else {
                    item.error("expected a CSS selector string, {css: …} or {xpath: …}")
                    ok = false
                    continue
                }
                ok = check(key == "css" ? .css(text) : .xpath(text), at: item.value(key)!) && ok
                rules.append(key == "css" ? .css(text) : .xpath(text))
            } else if let text = item.asString() {
                ok = check(.css(text), at: item) && ok
                rules.append(.css(text))
            } else {
                ok = false
            }
        }
        return ok ? rules : nil
    }

    /// Compiles a follow rule now so that `validate` reports a bad one at its place in the file.
    static func check(_ rule: LinkRule, at value: ConfigValue) -> Bool {
        do {
            switch rule {
            case .css(let s): _ = try CSSSelector(s).xpath
            case .xpath(let s): _ = try XPathExpression(s)
            }
            return true
        } catch {
            value.error("\(error)")
            return false
        }
    }

    /// `10MB`, `512KB`, `1GB` (powers of 1024) or a plain number of bytes.
    static func readSize(_ value: ConfigValue) -> Int? { value.asByteSize() }
}

/// The fetch stage's page reader for the crawler: a page's title, and its links chosen by the
/// `follow:` rules, from one libxml2 parse (the HTML module's).
struct FollowRules: LinkReader {
    let rules: [FetchStage.LinkRule]
    /// The CSS rules parsed once, by index in `rules` (nil: an XPath rule, or a selector that does not parse,
    /// which finds nothing as before).
    private let selectors: [CSSSelector?]
    /// The parse stages reading this crawl, whose fields are extracted from the same tree (parse once).
    let extractions: [SharedExtractionWriter]

    init(_ rules: [FetchStage.LinkRule], extractions: [SharedExtractionWriter] = []) {
        self.rules = rules
        self.selectors = rules.map { rule in
            if case .css(let source) = rule { return try? CSSSelector(source) }
            return nil
        }
        self.extractions = extractions
    }

    func read(_ page: [UInt8], url: String, contentType: String?, schemes: Set<String>) -> PageLinks? {
        read(page, url: url, contentType: contentType, schemes: schemes, sha256: nil)
    }

    func read(_ page: [UInt8], url: String, contentType: String?, schemes: Set<String>, sha256: String?) -> PageLinks? {
        guard let document = try? HTMLDocument(bytes: page, url: url, contentType: contentType) else {
            // No rules: nothing to follow (not even the links Scoup found).
            return rules.isEmpty ? PageLinks(links: []) : nil
        }
        for writer in extractions { writer.add(document, page: page, url: url, contentType: contentType, sha256: sha256) }
        var out: [String] = []
        var seen = Set<String>()
        for (rule, selector) in zip(rules, selectors) {
            let found: [String]
            switch rule {
            case .css: found = selector.flatMap { try? document.links($0, schemes: schemes) } ?? []
            case .xpath(let expression):
                found = (try? XPathExpression(expression)).flatMap { try? document.links(xpath: $0, schemes: schemes) } ?? []
            }
            for link in found where seen.insert(link).inserted { out.append(link) }
        }
        return PageLinks(links: out, title: Self.title(document))
    }

    /// The first `<title>`, whitespace collapsed, at most 1,000 characters; nil when there is none or it is empty.
    static func title(_ document: HTMLDocument) -> String? {
        // libxml2 puts the title in the head; a walk of the whole tree only for a page without one there.
        let head = document.root?.elementChildren.first { $0.name == "head" }
        guard let title = head?.elementChildren.first(where: { $0.name == "title" }) ?? document.elements(named: ["title"]).first
        else { return nil }
        let text = title.rawText.split(whereSeparator: \.isWhitespace).joined(separator: " ")
        return text.isEmpty ? nil : String(text.prefix(1000))
    }
}
