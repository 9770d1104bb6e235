import Foundation

/// Which URL a crawl fetches next, while responses arrive in any order; and afterwards, the order
/// the crawl's outputs are written in.
///
/// A breadth-first crawl that waits for each level to finish keeps few transfers in flight when
/// pages link onwards one at a time (pagination: every listing page holds the link to the next).
/// This schedule instead hands out any URL known so far, as soon as a slot is free. What it fetches
/// is still decided by the responses, never by their timing, because `canonicalOrder()` replays the
/// breadth-first crawl (a `CrawlFrontier`, the same rules a level-by-level crawl follows) over the
/// links the pages had, and lists what that crawl would have fetched, in its order, with any of those
/// URLs not fetched yet (`missing`): the caller fetches them (`require`) and asks again until none is.
///
/// Without `maxPages` nothing is missing in practice: a URL's depth here only ever comes down to its
/// breadth-first depth (found by a shorter path later, it is lowered, and so are the links of a page
/// already fetched), so the URLs fetched within `maxDepth` are exactly the breadth-first crawl's.
/// With `maxPages`, at most that many URLs are handed out before the replay, and the replay names
/// the few a breadth-first crawl would have taken instead (none when one transfer runs at a time).
public struct CrawlSchedule: Sendable {
    public let normalizer: URLNormalizer
    public let scope: CrawlScope
    public let maxDepth: Int
    public let maxPages: Int
    /// At most this many URLs of one host are handed out and not yet completed.
    public let perHostLimit: Int
    private let hostKey: @Sendable (String) -> String

    private enum Status { case held, queued, inFlight, done, landing }
    private struct Node {
        var depth: Int
        var status: Status
        /// The links a completed page had, as found (raw), for lowering depths and for the replay.
        var links: [String] = []
        var finalURL: String?
    }
    private var nodes: [String: Node] = [:]
    private var seeds: [String] = []
    /// Per host, its queued URLs in the order they were queued (oldest first from `head`).
    private var queues: [String: HostQueue] = [:]
    private var inFlightByHost: [String: Int] = [:]
    /// The hosts that can start a URL now (queued URLs, below `perHostLimit`), by their oldest URL:
    /// so that handing out a URL costs log(hosts), not a scan of them, in a crawl of many hosts.
    private var ready = MinHeap()
    private var sequence = 0
    private var handedOut = 0
    public private(set) var inFlight = 0

    private struct HostQueue {
        var items: [(sequence: Int, url: String)] = []
        var head = 0
        var isEmpty: Bool { head == items.count }
        var first: Int { items[head].sequence }
        mutating func pop() -> String {
            defer {
                head += 1
                if head > 1024 && head * 2 > items.count { items.removeFirst(head); head = 0 }
            }
            return items[head].url
        }
    }

    public init(normalizer: URLNormalizer = URLNormalizer(), scope: CrawlScope, maxDepth: Int = .max, maxPages: Int = .max,
                perHostLimit: Int = .max, hostKey: @escaping @Sendable (String) -> String = { HostPolicy.host(of: $0) ?? "" }) {
        self.normalizer = normalizer
        self.scope = scope
        self.maxDepth = maxDepth
        self.maxPages = maxPages
        self.perHostLimit = max(1, perHostLimit)
        self.hostKey = hostKey
    }

    /// Adds a seed (depth 0). The answer is the breadth-first crawl's for the same offer.
    @discardableResult
    public mutating func seed(_ url: String) -> CrawlFrontier.Offer {
        seeds.append(url)
        guard let canonical = normalizer.normalize(url) else { return .refused("not an absolute URL") }
        if let reason = scope.refusal(canonical) { return .refused(reason) }
        offer(canonical, depth: 0)
        return .queued(canonical)
    }

    /// The oldest queued URL of a host below `perHostLimit`, marked in flight; nil when none is.
    public mutating func next() -> CrawlItem? {
        guard let host = ready.popMin()?.host else { return nil }
        let url = queues[host]!.pop()
        let running = inFlightByHost[host, default: 0] + 1
        inFlightByHost[host] = running
        inFlight += 1
        if queues[host]!.isEmpty {
            queues[host] = nil
        } else if running < perHostLimit {
            ready.push(queues[host]!.first, host)
        }
        nodes[url]!.status = .inFlight
        return CrawlItem(url: url, depth: nodes[url]!.depth)
    }

    /// Whether nothing is queued or in flight: the crawl is over until `require` adds URLs.
    public var isIdle: Bool { inFlight == 0 && queues.isEmpty }

    /// The depth a URL has now (it may have come down since it was handed out).
    public func depth(of url: String) -> Int? { nodes[url]?.depth }

    /// Records a page handed out by `next()`: where it landed (after redirects) and the links it has,
    /// which are queued (or lower the depths of URLs known already).
    public mutating func completed(_ url: String, finalURL: String?, links: [String]) {
        guard var node = nodes[url], node.status == .inFlight else { return }
        let host = hostKey(url)
        let running = inFlightByHost[host, default: 1]
        inFlightByHost[host] = running == 1 ? nil : running - 1
        inFlight -= 1
        if running == perHostLimit, let queue = queues[host] { ready.push(queue.first, host) }  // below the limit again
        node.status = .done
        node.links = links
        node.finalURL = finalURL
        nodes[url] = node
        if let finalURL, finalURL != url, let landed = normalizer.normalize(finalURL), nodes[landed] == nil {
            // As in the breadth-first crawl: a page's redirect target is not fetched again under its own name.
            nodes[landed] = Node(depth: node.depth, status: .landing)
        }
        guard node.depth < maxDepth else { return }
        for link in links { offerLink(link, depth: node.depth + 1) }
    }

    /// Queues URLs the replay found missing, whatever `maxPages` says (the replay is within it).
    public mutating func require(_ items: [CrawlItem]) {
        for item in items {
            if var node = nodes[item.url] {
                guard node.status == .held || node.status == .landing else { continue }
                node.depth = min(node.depth, item.depth)
                nodes[item.url] = node
                enqueue(item.url)
            } else {
                nodes[item.url] = Node(depth: item.depth, status: .held)
                enqueue(item.url)
            }
        }
    }

    /// What a breadth-first crawl of these seeds, over the links the completed pages had, would have
    /// fetched, in its order (each with its breadth-first depth), and which of those are not completed.
    public func canonicalOrder() -> (order: [CrawlItem], missing: [CrawlItem]) {
        var frontier = CrawlFrontier(normalizer: normalizer, scope: scope, maxDepth: maxDepth, maxPages: maxPages)
        for seed in seeds { frontier.offer(seed, depth: 0) }
        var order: [CrawlItem] = []
        var missing: [CrawlItem] = []
        while !frontier.isEmpty {
            for item in frontier.takeLevel() {
                order.append(item)
                guard let node = nodes[item.url], node.status == .done else {
                    missing.append(item)
                    continue
                }
                if let final = node.finalURL, final != item.url { frontier.markSeen(final) }
                guard item.depth < maxDepth else { continue }
                for link in node.links { frontier.offer(link, depth: item.depth + 1) }
            }
        }
        return (order, missing)
    }

    // MARK: Admitting and lowering

    private mutating func offerLink(_ url: String, depth: Int) {
        guard let canonical = normalizer.normalize(url), scope.refusal(canonical) == nil else { return }
        offer(canonical, depth: depth)
    }

    /// A URL found `depth` links from a seed: new, it is queued (or held past the limits); known at a
    /// greater depth, it and whatever it links to come down (a worklist, not recursion: a long chain
    /// of pages must not exhaust the stack).
    private mutating func offer(_ canonical: String, depth: Int) {
        var work = [(canonical, depth)]
        while let (url, depth) = work.popLast() {
            guard var node = nodes[url] else {
                nodes[url] = Node(depth: depth, status: .held)
                admit(url)
                continue
            }
            guard depth < node.depth else { continue }
            node.depth = depth
            nodes[url] = node
            switch node.status {
            case .held: admit(url)
            case .done where depth < maxDepth:
                for link in node.links {
                    if let c = normalizer.normalize(link), scope.refusal(c) == nil { work.append((c, depth + 1)) }
                }
            default: break
            }
        }
    }

    private mutating func admit(_ url: String) {
        guard nodes[url]!.depth <= maxDepth, handedOut < maxPages else { return }
        enqueue(url)
    }

    private mutating func enqueue(_ url: String) {
        nodes[url]!.status = .queued
        handedOut += 1
        sequence += 1
        let host = hostKey(url)
        let wasEmpty = queues[host] == nil
        queues[host, default: HostQueue()].items.append((sequence, url))
        if wasEmpty && inFlightByHost[host, default: 0] < perHostLimit { ready.push(sequence, host) }
    }
}

/// A binary min-heap of (sequence, host).
private struct MinHeap: Sendable {
    private var items: [(sequence: Int, host: String)] = []

    mutating func push(_ sequence: Int, _ host: String) {
        items.append((sequence, host))
        var child = items.count - 1
        while child > 0 {
            let parent = (child - 1) / 2
            guard items[child].sequence < items[parent].sequence else { break }
            items.swapAt(child, parent)
            child = parent
        }
    }

    mutating func popMin() -> (sequence: Int, host: String)? {
        guard !items.isEmpty else { return nil }
        items.swapAt(0, items.count - 1)
        let min = items.removeLast()
        var parent = 0
        while true {
            let left = 2 * parent + 1, right = left + 1
            var smallest = parent
            if left < items.count && items[left].sequence < items[smallest].sequence { smallest = left }
            if right < items.count && items[right].sequence < items[smallest].sequence { smallest = right }
            guard smallest != parent else { return min }
            items.swapAt(parent, smallest)
            parent = smallest
        }
    }
}
