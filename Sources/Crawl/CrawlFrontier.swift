import Foundation
import Lake

/// One URL a crawl will fetch: its canonical form and how many links away from a seed it is.
public struct CrawlItem: Sendable, Equatable {
    public var url: String
    public var depth: Int

    public init(url: String, depth: Int) {
        self.url = url
        self.depth = depth
    }
}

/// Which URLs a crawl may visit: a `HostPolicy` for http(s), and for `file://` only paths under the
/// folders of the file seeds (a saved site links to its own pages, never to `/etc`).
public struct CrawlScope: Sendable {
    public var hostPolicy: HostPolicy
    /// `file:///abs/folder/` prefixes that file URLs must start with.
    public var fileRoots: [String]
    /// When set, a `file://` URL must also name a file inside this lake once decoded and its symbolic
    /// links resolved (`Lake.file(atURL:)`): a saved page's link to a symlink out of the lake is refused.
    public var lake: Lake?

    public init(hostPolicy: HostPolicy, fileRoots: [String] = [], lake: Lake? = nil) {
        self.hostPolicy = hostPolicy
        self.fileRoots = fileRoots
        self.lake = lake
    }

    /// nil when `url` (normalised) may be visited, else why not.
    public func refusal(_ url: String) -> String? {
        if url.lowercased().hasPrefix("file:") {
            guard fileRoots.contains(where: { url.hasPrefix($0) }) else { return "file URL outside the seeds' folders" }
            if let lake {
                do { _ = try lake.file(atURL: url) } catch { return "file URL outside the lake: \((error as? LakeError)?.reason ?? "\(error)")" }
            }
            return nil
        }
        switch hostPolicy.decide(url) {
        case .allowed: return nil
        case .invalidURL: return "not an absolute URL"
        case .scheme(let scheme): return "scheme \(scheme) is not crawled"
        case .offSite(let host): return "host \(host) is outside the crawl"
        case .excluded(let pattern): return "excluded by \(pattern)"
        case .notIncluded: return "matches no include pattern"
        case .internalAddress(let host, let kind):
            return "\(host) is a \(kind.rawValue) address (set allow_private_addresses to crawl it)"
        }
    }

    /// The folder of a `file://` URL, with its trailing slash: the root its links may stay under.
    public static func fileRoot(of url: String) -> String {
        guard let slash = url.lastIndex(of: "/") else { return url }
        return String(url[...slash])
    }
}

/// The URLs a breadth-first crawl has still to fetch, level by level (`CrawlSchedule` replays a
/// crawl with it to decide its outputs).
///
/// URLs are normalised and de-duplicated; a link is admitted when it is in scope, no deeper than
/// `maxDepth`, and fewer than `maxPages` URLs were admitted before it. Offers are made in a fixed
/// order (seeds in order; then each fetched page's links in document order, pages in level order),
/// so which URLs are crawled, and in which order, never depends on how fast responses arrive.
public struct CrawlFrontier: Sendable {
    public enum Offer: Sendable, Equatable {
        case queued(String)
        case duplicate
        case refused(String)
        case tooDeep
        case limitReached
    }

    public let normalizer: URLNormalizer
    public let scope: CrawlScope
    public let maxDepth: Int
    public let maxPages: Int
    private var seen = Set<String>()
    private var queued: [CrawlItem] = []
    public private(set) var admitted = 0

    public init(normalizer: URLNormalizer = URLNormalizer(), scope: CrawlScope, maxDepth: Int = .max, maxPages: Int = .max) {
        self.normalizer = normalizer
        self.scope = scope
        self.maxDepth = maxDepth
        self.maxPages = maxPages
    }

    /// Offers a URL found at `depth` links from a seed.
    @discardableResult
    public mutating func offer(_ url: String, depth: Int) -> Offer {
        guard let canonical = normalizer.normalize(url) else { return .refused("not an absolute URL") }
        if seen.contains(canonical) { return .duplicate }
        guard depth <= maxDepth else { return .tooDeep }
        if let reason = scope.refusal(canonical) { return .refused(reason) }
        guard admitted < maxPages else { return .limitReached }
        seen.insert(canonical)
        admitted += 1
        queued.append(CrawlItem(url: canonical, depth: depth))
        return .queued(canonical)
    }

    /// Marks a URL as visited without queueing it (where a redirect landed).
    public mutating func markSeen(_ url: String) {
        if let canonical = normalizer.normalize(url) { seen.insert(canonical) }
    }

    public func hasSeen(_ url: String) -> Bool { normalizer.normalize(url).map(seen.contains) ?? false }

    /// The URLs queued since the last call, in the order they were offered.
    public mutating func takeLevel() -> [CrawlItem] {
        defer { queued.removeAll() }
        return queued
    }

    public var isEmpty: Bool { queued.isEmpty }
}
