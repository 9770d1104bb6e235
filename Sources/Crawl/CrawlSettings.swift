import Foundation
import Lake
import Logging
import Transport

/// What a crawl fetches and how: the fetch stage's settings, as the crawler (`FetchRun`) takes them.
public struct CrawlSettings: Sendable {
    public enum Seed: Sendable, Equatable {
        case url(String)
        /// A lake file of URLs, one per line: the path as written (for the manifest) and the files it
        /// stands for in this run (absolute paths).
        case list(String, files: [String])
        case sitemap(String)
    }

    public enum Via: String, Sendable { case direct, scoup }

    public var via: Via = .direct
    public var seeds: [Seed] = []
    public var allowDomains: [String]?
    public var include: [URLPattern] = []
    public var exclude: [URLPattern] = []
    public var maxDepth = 10
    public var maxPages = 10_000
    public var concurrency = 8
    public var politeness = Politeness()
    public var retries = 3
    public var retryBackoff: Double = 1
    public var timeout: Double = 30
    public var maxPageBytes = 10 * 1024 * 1024
    /// Pages fetched less than this many seconds ago are taken from the state, not fetched.
    public var refresh: Double?
    public var userAgent = HTTPRequest.defaultUserAgent
    public var allowPrivateAddresses = false
    /// A lake path to a PEM bundle of CAs that verify HTTPS servers, in place of the system's.
    public var caFile: String?
    /// For a saved site crawled over file://: the URL its first seed's folder had.
    public var baseURL: String?
    /// `via: scoup`: the page options sent in every `POST /scrape` (a preset's, with the stage's own
    /// over them). Links are asked for unless `extractLinks` is false; the records hold the text,
    /// links, images and screenshot only when these options ask for them.
    public var scoupOptions = ScrapeOptions()
    /// What decides which URLs are fetched: a journal written under another key is not resumed.
    public var crawlKey = ""
    /// The deflate level of a `.warc.gz` file's gzip members (1 fast … 9 small).
    public var warcGzipLevel: Int32 = 1
    /// Whether the crawl's result is published: nil to publish, or why not (`min_pages`,
    /// `max_error_rate`). Asked once every URL is done, before the outputs are committed.
    public var refusal: @Sendable (CrawlTally) -> String? = { _ in nil }

    public init() {}
}

/// What a finished crawl did, for deciding whether to publish it.
public struct CrawlTally: Sendable {
    /// URLs at depth 0, and those of them that failed or were refused by robots.txt ("url (why)").
    public var seeds = 0
    public var seedFailures: [String] = []
    public var fetched = 0
    public var failed = 0
    public var robotsDisallowed = 0
    /// The first three failures ("url (why)").
    public var firstErrors: [String] = []
}

/// Where a crawl writes its outputs and state, and what it reports to.
public struct CrawlTarget: Sendable {
    public var lake: Lake
    /// The WARC file (`.warc.gz`, or `.warc` uncompressed).
    public var warc: LakePath
    /// The crawl log (JSON Lines, one `CrawlLogEntry` per URL), when one is written.
    public var log: LakePath?
    /// `via: scoup`: the records Scoup extracted (JSON Lines, one per page answered 2xx), when written.
    public var records: LakePath?
    /// The folder of the crawl's journal, pack and per-URL state, kept between runs.
    public var stateFolder: String
    /// Read only: the stage's state folder, whose per-URL state and packs hold the last good fetches, when
    /// `stateFolder` is a queue worker's own (conditional requests and the refresh window read them there).
    public var knownStateFolder: String?
    /// Environment variables (SCOUP_BASE_URL, SCOUP_API_KEY…).
    public var environment: [String: String]
    /// What the WARC's `warcinfo` record says the file is part of (`pipeline/stage`).
    public var isPartOf: String
    public var logger: Logger
    /// Called with the number of URLs done so far.
    public var progress: @Sendable (Int) -> Void
    /// Where to write the WARC's page index (`WARCPageIndex`), when a parse stage will read it; none by default.
    public var pageIndex: String?

    public init(lake: Lake, warc: LakePath, log: LakePath?, records: LakePath? = nil, stateFolder: String,
                environment: [String: String], isPartOf: String, logger: Logger,
                progress: @escaping @Sendable (Int) -> Void = { _ in }) {
        self.lake = lake
        self.warc = warc
        self.log = log
        self.records = records
        self.stateFolder = stateFolder
        self.environment = environment
        self.isPartOf = isPartOf
        self.logger = logger
        self.progress = progress
    }
}

/// What the crawler reads in a fetched HTML page. The crawler parses no markup itself: the fetch
/// stage hands in a reader built from its follow rules and the HTML module.
public protocol LinkReader: Sendable {
    /// The links to follow from a page (absolute URLs of the given schemes) and its title; nil when
    /// the page cannot be parsed (then the links Scoup found, if any, are followed).
    func read(_ page: [UInt8], url: String, contentType: String?, schemes: Set<String>) -> PageLinks?
    /// The same, for a page whose SHA-256 (hex) the crawl has already computed.
    func read(_ page: [UInt8], url: String, contentType: String?, schemes: Set<String>, sha256: String?) -> PageLinks?
}

extension LinkReader {
    public func read(_ page: [UInt8], url: String, contentType: String?, schemes: Set<String>, sha256: String?) -> PageLinks? {
        read(page, url: url, contentType: contentType, schemes: schemes)
    }
}

/// The links and title of a page.
public struct PageLinks: Sendable, Equatable {
    public var links: [String]
    public var title: String?

    public init(links: [String], title: String? = nil) {
        self.links = links
        self.title = title
    }
}

/// What a completed crawl reports: counts and details for the manifest.
public struct CrawlReport: Sendable {
    public var counts: [String: Int]
    public var recordsPerOutput: [String: Int]
    public var details: LakeJSONValue
}

/// Why a crawl failed, in words the user can act on.
public struct CrawlError: Error, CustomStringConvertible, Sendable {
    public let message: String
    public init(_ message: String) { self.message = message }
    public var description: String { message }
}
