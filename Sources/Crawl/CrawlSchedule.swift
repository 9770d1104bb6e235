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
        /// The in-scope links a completed page had, as node numbers: for lowering depths and for the
        /// replay. A number, not the URL again, since a page's links are most of what a crawl keeps.
        var links: [Int32] = []
        var finalURL: String?
    }
    /// Every URL known (in scope, normalised), numbered in the order it became known.
    private var urls: [String] = []
    private var ids: [String: Int32] = [:]
    private var nodes: [Node] = []
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
        var items: [(sequence: Int, id: Int32)] = []
        var head = 0
        var isEmpty: Bool { head == items.count }
        var first: Int { items[head].sequence }
        mutating func pop() -> Int32 {
            defer {
                head += 1
                if head > 1024 && head * 2 > items.count { items.removeFirst(head); head = 0 }
            }
            return items[head].id
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
        let id = queues[host]!.pop()
        let running = inFlightByHost[host, default: 0] + 1
        inFlightByHost[host] = running
        inFlight += 1
        if queues[host]!.isEmpty {
            queues[host] = nil
        } else if running < perHostLimit {
            ready.push(queues[host]!.first, host)
        }
        nodes[Int(id)].status = .inFlight
        return CrawlItem(url: urls[Int(id)], depth: nodes[Int(id)].depth)
    }

    /// Whether nothing is queued or in flight: the crawl is over until `require` adds URLs.
    public var isIdle: Bool { inFlight == 0 && queues.isEmpty }

    /// The depth a URL has now (it may have come down since it was handed out).
    public func depth(of url: String) -> Int? { ids[url].map { nodes[Int($0)].depth } }

    /// Records a page handed out by `next()`: where it landed (after redirects) and the links it has,
    /// which are queued (or lower the depths of URLs known already).
    public mutating func completed(_ url: String, finalURL: String?, links: [String]) {
        guard let id = ids[url].map(Int.init), nodes[id].status == .inFlight else { return }
        let host = hostKey(url)
        let running = inFlightByHost[host, default: 1]
        inFlightByHost[host] = running == 1 ? nil : running - 1
        inFlight -= 1
        if running == perHostLimit, let queue = queues[host] { ready.push(queue.first, host) }  // below the limit again
        if let finalURL, finalURL != url, let landed = normalizer.normalize(finalURL), ids[landed] == nil {
            // As in the breadth-first crawl: a page's redirect target is not fetched again under its own name.
            add(landed, Node(depth: nodes[id].depth, status: .landing))
        }
        // Links past `maxDepth` are known (held) too: a shorter path found later may bring them within it.
        let depth = nodes[id].depth
        var linked: [Int32] = []
        linked.reserveCapacity(links.count)
        for link in links {
            guard let canonical = normalizer.normalize(link), scope.refusal(canonical) == nil else { continue }
            linked.append(offer(canonical, depth: depth + 1))
        }
        nodes[id].status = .done
        nodes[id].links = linked
        nodes[id].finalURL = finalURL
    }

    /// Records a page fetched by another process (a queue worker): where it landed and its links, as
    /// `completed` does, for `canonicalOrder()`. Nothing is queued here: the other processes fetch.
    public mutating func recordVisit(_ url: String, finalURL: String?, links: [String]) {
        let id = ids[url].map(Int.init) ?? Int(add(url, Node(depth: .max, status: .held)))
        guard nodes[id].status != .done else { return }
        if let finalURL, finalURL != url, let landed = normalizer.normalize(finalURL), ids[landed] == nil {
            add(landed, Node(depth: nodes[id].depth, status: .landing))
        }
        var linked: [Int32] = []
        linked.reserveCapacity(links.count)
        for link in links {
            guard let canonical = normalizer.normalize(link), scope.refusal(canonical) == nil else { continue }
            linked.append(ids[canonical] ?? add(canonical, Node(depth: .max, status: .held)))
        }
        nodes[id].status = .done
        nodes[id].links = linked
        nodes[id].finalURL = finalURL
    }

    /// A page's links as the crawl follows them: normalised, in scope, each once, in document order.
    public func followed(_ links: [String]) -> [String] {
        var seen = Set<String>()
        return links.compactMap { link in
            guard let canonical = normalizer.normalize(link), scope.refusal(canonical) == nil,
                  seen.insert(canonical).inserted else { return nil }
            return canonical
        }
    }

    /// Queues URLs the replay found missing, whatever `maxPages` says (the replay is within it).
    public mutating func require(_ items: [CrawlItem]) {
        for item in items {
            guard let id = ids[item.url].map(Int.init) else {
                enqueue(add(item.url, Node(depth: item.depth, status: .held)))
                continue
            }
            guard nodes[id].status == .held || nodes[id].status == .landing else { continue }
            nodes[id].depth = min(nodes[id].depth, item.depth)
            enqueue(Int32(id))
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
                guard let id = ids[item.url].map(Int.init), nodes[id].status == .done else {
                    missing.append(item)
                    continue
                }
                if let final = nodes[id].finalURL, final != item.url { frontier.markSeen(final) }
                guard item.depth < maxDepth else { continue }
                // Links kept are normalised and in scope; the frontier takes them as it took them raw.
                for link in nodes[id].links { frontier.offer(urls[Int(link)], depth: item.depth + 1) }
            }
        }
        return (order, missing)
    }

    // MARK: Admitting and lowering

    @discardableResult
    private mutating func add(_ canonical: String, _ node: Node) -> Int32 {
        let id = Int32(nodes.count)
        urls.append(canonical)
        ids[canonical] = id
        nodes.append(node)
        return id
    }

    /// A URL found `depth` links from a seed: new, it is queued (or held past the limits); known at a
    /// greater depth, it and whatever it links to come down (a worklist, not recursion: a long chain
    /// of pages must not exhaust the stack). Returns its number.
    @discardableResult
    private mutating func offer(_ canonical: String, depth: Int) -> Int32 {
        guard let known = ids[canonical] else {
            let id = add(canonical, Node(depth: depth, status: .held))
            admit(id)
            return id
        }
        var work = [(known, depth)]
        while let (id, depth) = work.popLast() {
            let index = Int(id)
            guard depth < nodes[index].depth else { continue }
            nodes[index].depth = depth
            switch nodes[index].status {
            case .held: admit(id)
            case .done where depth < maxDepth: work += nodes[index].links.map { ($0, depth + 1) }
            default: break
            }
        }
        return known
    }

    private mutating func admit(_ id: Int32) {
        guard nodes[Int(id)].depth <= maxDepth, handedOut < maxPages else { return }
        enqueue(id)
    }

    private mutating func enqueue(_ id: Int32) {
        nodes[Int(id)].status = .queued
        handedOut += 1
        sequence += 1
        let host = hostKey(urls[Int(id)])
        let wasEmpty = queues[host] == nil
        queues[host, default: HostQueue()].items.append((sequence, id))
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
