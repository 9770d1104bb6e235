import Foundation
import Lake
import Transport

/// A site's robots.txt rules, parsed per RFC 9309, and what to do when it could not be fetched.
///
/// Group selection: the product token of the crawler's user agent (see `crawlerToken`) is compared
/// case-insensitively with each `User-agent` line's token; every matching group is merged; with none, the `*` groups apply;
/// with no `*` group either, everything is allowed. Within the group the longest matching
/// Allow/Disallow pattern wins and Allow wins a tie. `/robots.txt` is always allowed.
public struct RobotsPolicy: Sendable, Equatable {
    /// How the policy was obtained, which decides what an empty rule set means.
    public enum Source: Sendable, Equatable {
        /// A robots.txt was fetched (2xx) and parsed.
        case parsed
        /// 4xx (or too many redirects): RFC 9309 §2.3.1.3 says the crawler may access anything.
        case unavailable(status: Int)
        /// 5xx, 429 or a network error: RFC 9309 §2.3.1.4 says assume complete disallow and retry later.
        case unreachable(reason: String)
    }

    /// One rule of a group, its pattern already normalised for comparison.
    public struct Rule: Sendable, Equatable {
        public let allow: Bool
        public let pattern: String
    }

    /// The merged rules that apply to one crawler.
    public struct Group: Sendable, Equatable {
        public var rules: [Rule] = []
        /// Seconds between requests (non-standard `Crawl-delay`); the last value given wins.
        public var crawlDelay: Double?
    }

    /// RFC 9309 §2.5: parsers must read at least 500 KiB; we read exactly that much.
    public static let maxParseBytes = 500 * 1024

    public let source: Source
    /// `Sitemap:` URLs, in file order; they belong to no group.
    public let sitemaps: [String]
    /// Groups keyed by lower-cased product token (`*` for the fallback), merged.
    private let groups: [String: Group]

    /// Parses robots.txt text (only its first 500 KiB).
    public init(parsing body: [UInt8]) {
        var groups: [String: Group] = [:]
        var sitemaps: [String] = []
        var currentAgents: [String] = []
        var lastWasAgent = false
        for rawLine in Self.lines(body.prefix(Self.maxParseBytes)) {
            var line = Substring(rawLine)
            if let hash = line.firstIndex(of: "#") { line = line[..<hash] }
            guard let colon = line.firstIndex(of: ":") else { continue }
            let key = line[..<colon].trimmingCharacters(in: .whitespaces).lowercased()
            let value = line[line.index(after: colon)...].trimmingCharacters(in: .whitespaces)
            switch key {
            case "user-agent", "useragent", "user agent":
                if !lastWasAgent { currentAgents = [] }
                let token = Self.productToken(value)
                if !token.isEmpty {
                    currentAgents.append(token)
                    if groups[token] == nil { groups[token] = Group() }
                }
                lastWasAgent = true
            case "allow", "disallow":
                lastWasAgent = false
                // An empty pattern matches nothing (`Disallow:` means "allow all").
                guard !value.isEmpty else { continue }
                let rule = Rule(allow: key == "allow", pattern: Self.canonical(value, isPattern: true))
                for agent in currentAgents { groups[agent]?.rules.append(rule) }
            case "crawl-delay":
                lastWasAgent = false
                guard let delay = Double(value), delay >= 0, delay.isFinite else { continue }
                for agent in currentAgents { groups[agent]?.crawlDelay = delay }
            case "sitemap":
                // Not a group member, so it does not end the run of user-agent lines either.
                if !value.isEmpty { sitemaps.append(value) }
            default:
                // Records we do not understand are ignored, as if the line were not there.
                continue
            }
        }
        self.source = .parsed
        self.sitemaps = sitemaps
        self.groups = groups
    }

    public init(parsing text: String) { self.init(parsing: Array(text.utf8)) }

    private init(source: Source) {
        self.source = source
        self.sitemaps = []
        self.groups = [:]
    }

    /// Everything allowed: robots.txt is absent (4xx).
    public static func unavailable(status: Int) -> RobotsPolicy { RobotsPolicy(source: .unavailable(status: status)) }
    /// Everything disallowed until robots.txt can be fetched again (5xx, network error).
    public static func unreachable(_ reason: String) -> RobotsPolicy { RobotsPolicy(source: .unreachable(reason: reason)) }

    /// True when the crawler should stop fetching from this host and try robots.txt again later.
    public var shouldBackOff: Bool { if case .unreachable = source { return true } else { return false } }

    /// The merged group that applies to `userAgent` (a full User-Agent header or a bare product token).
    public func group(for userAgent: String) -> Group {
        if let token = Self.crawlerToken(userAgent), let group = groups[token] { return group }
        return groups["*"] ?? Group()
    }

    /// `Crawl-delay` for this crawler, if the site gave one.
    public func crawlDelay(for userAgent: String) -> Double? { group(for: userAgent).crawlDelay }

    /// Whether `userAgent` may fetch `url` (an absolute URL or a path with optional query).
    public func isAllowed(_ url: String, userAgent: String) -> Bool {
        let path = Self.pathAndQuery(of: url)
        if path == "/robots.txt" { return true }
        switch source {
        case .unavailable: return true
        case .unreachable: return false
        case .parsed: break
        }
        let target = Array(Self.canonical(path, isPattern: false).utf8)
        var best: Rule?
        for rule in group(for: userAgent).rules where Self.matches(pattern: Array(rule.pattern.utf8), path: target) {
            guard let current = best else { best = rule; continue }
            let (a, b) = (rule.pattern.utf8.count, current.pattern.utf8.count)
            if a > b || (a == b && rule.allow && !current.allow) { best = rule }
        }
        return best?.allow ?? true
    }

    // MARK: Fetching

    /// Fetches `scheme://authority/robots.txt` for `url`'s origin and applies the RFC 9309 status rules:
    /// 2xx parsed, 4xx allow all (429 is a rate limit, so it backs off like 5xx), 5xx and network
    /// errors disallow all; up to 5 redirects are followed, more count as unavailable (§2.3.1.2).
    public static func fetch(for url: String, userAgent: String = HTTPRequest.defaultUserAgent,
                             client: HTTPClient, timeout: Double = 30) async -> RobotsPolicy {
        await answer(for: url, userAgent: userAgent, client: client, timeout: timeout).policy
    }

    /// What fetching robots.txt for `url`'s origin came to, before the status rules make it a policy.
    public static func answer(for url: String, userAgent: String = HTTPRequest.defaultUserAgent,
                              client: HTTPClient, timeout: Double = 30) async -> RobotsAnswer {
        guard let robotsURL = robotsURL(for: url) else { return RobotsAnswer(failure: "not an http(s) URL: \(url)") }
        // RFC 9309 §2.5: only the first 500 KiB are read (the transfer stops there); a larger file
        // is parsed up to that point, never a reason to skip the host.
        var request = HTTPRequest(url: robotsURL, timeout: timeout, maxBodyBytes: maxParseBytes, maxRedirects: 5,
                                  userAgent: userAgent)
        request.keepsBodyPrefix = true
        do {
            let response = try await client.send(request)
            return RobotsAnswer(status: response.status, body: response.body)
        } catch let error as TransportError where error.kind == .tooManyRedirects {
            return RobotsAnswer(status: 310)
        } catch {
            return RobotsAnswer(failure: "\(robotsURL): \(error)")
        }
    }

    /// The status rules of RFC 9309 §2.3.1, separate from the network so that they can be tested.
    public static func policy(status: Int, body: [UInt8]) -> RobotsPolicy {
        switch status {
        case 200...299: return RobotsPolicy(parsing: body)
        case 429: return .unreachable("HTTP 429")
        case 400...499: return .unavailable(status: status)
        case 500...599: return .unreachable("HTTP \(status)")
        // A 3xx left over (no Location, or 304 without a cache) or anything odd: nothing usable.
        default: return .unavailable(status: status)
        }
    }

    /// `http://host:port/robots.txt` for any URL on that origin, or nil when it is not http(s).
    public static func robotsURL(for url: String) -> String? {
        let parsed = URLReference(url)
        guard let scheme = parsed.scheme?.lowercased(),
              scheme == "http" || scheme == "https", let authority = parsed.authority, !authority.isEmpty else { return nil }
        let host = authority.split(separator: "@", omittingEmptySubsequences: false).last.map(String.init) ?? authority
        return "\(scheme)://\(host.lowercased())/robots.txt"
    }

    // MARK: Matching

    /// The product token the crawler matches groups with (RFC 9309 §2.2.1: letters, `_` and `-`),
    /// lower-cased, or nil when it has none (then only the `*` groups apply).
    ///
    /// A configured user agent with a version or a comment is a User-Agent header: its token is the
    /// name of its first product (RFC 9110 §10.1.5), so `Foo Bar/1.0 (+https://…)` is `foo` and
    /// `AgentShop/0.1 (+…)` is `agentshop`. Without one, the whole value is the token and must be
    /// one: `FooBot` is `foobot`, but `Foo Bar` is no product token, so it matches no named group
    /// (not even `User-agent: Foo Bar`, whose line reads as `foo`), as in Google's robots.txt parser.
    public static func crawlerToken(_ userAgent: String) -> String? {
        let trimmed = userAgent.trimmingCharacters(in: .whitespaces)
        let isHeader = trimmed.contains("/") || trimmed.contains("(")
        let token = isHeader ? String(trimmed.prefix { $0 != "/" && $0 != "(" && !$0.isWhitespace }) : trimmed
        guard !token.isEmpty, token.allSatisfy({ $0.isASCII && ($0.isLetter || $0 == "_" || $0 == "-") }) else { return nil }
        return token.lowercased()
    }

    /// A `User-agent` line's value as a product token: its leading run of `[A-Za-z_-]`, lower-cased
    /// (`Foo Bar` and `FooBot/1.0` read as `foo` and `foobot`, as Google's parser reads them); `*` stays `*`.
    static func productToken(_ value: String) -> String {
        let trimmed = value.trimmingCharacters(in: .whitespaces)
        if trimmed.hasPrefix("*") { return "*" }
        let token = trimmed.prefix { $0.isASCII && ($0.isLetter || $0 == "_" || $0 == "-") }
        return token.lowercased()
    }

    static func pathAndQuery(of url: String) -> String {
        let parsed = URLReference(url)
        guard parsed.scheme != nil else {
            // Already a path: drop a fragment.
            return String(url.split(separator: "#", maxSplits: 1, omittingEmptySubsequences: false).first ?? "")
        }
        let path = parsed.path.isEmpty ? "/" : parsed.path
        return parsed.query.map { path + "?" + $0 } ?? path
    }

    /// Paths and patterns are compared in one canonical form (RFC 9309 §2.2.2 and its table): escapes of
    /// printable ASCII decoded (`%62%61%7A` is `baz`, `%3A%2F` is `:/`), non-ASCII and other bytes
    /// escaped with upper-case hex. `*` and `$` are escaped unless they are pattern wildcards, so a
    /// literal `*` in a URL is only matched by `%2A` in a pattern.
    static func canonical(_ text: String, isPattern: Bool) -> String {
        let bytes = Array(text.utf8)
        var out: [UInt8] = []
        out.reserveCapacity(bytes.count)
        let hex = Array("0123456789ABCDEF".utf8)
        func escape(_ byte: UInt8) {
            out.append(UInt8(ascii: "%"))
            out.append(hex[Int(byte >> 4)])
            out.append(hex[Int(byte & 0x0F)])
        }
        var i = 0
        while i < bytes.count {
            var byte = bytes[i]
            var escaped = false
            if byte == UInt8(ascii: "%"), i + 2 < bytes.count, let high = PercentEncoding.hexValue(bytes[i + 1]), let low = PercentEncoding.hexValue(bytes[i + 2]) {
                byte = high << 4 | low
                escaped = true
                i += 2
            }
            let isLast = i == bytes.count - 1
            switch byte {
            case UInt8(ascii: "*"):
                if isPattern && !escaped { out.append(byte) } else { escape(byte) }
            case UInt8(ascii: "$"):
                if isPattern && !escaped && isLast { out.append(byte) } else { escape(byte) }
            case UInt8(ascii: "%"):
                escape(byte)
            case 0x21...0x7E:
                out.append(byte)
            default:
                escape(byte)
            }
            i += 1
        }
        return String(decoding: out, as: UTF8.self)
    }


    /// `*` matches any run of bytes; a final `$` anchors the end; otherwise a prefix match.
    static func matches(pattern: [UInt8], path: [UInt8]) -> Bool {
        var pattern = pattern[...]
        var anchored = false
        if pattern.last == UInt8(ascii: "$") {
            anchored = true
            pattern = pattern.dropLast()
        }
        // Positions in `path` reachable after consuming the pattern so far (Google's matcher does the same).
        var positions: [Int] = [0]
        for byte in pattern {
            if byte == UInt8(ascii: "*") {
                guard let first = positions.first else { return false }
                positions = Array(first...path.count)
            } else {
                var next: [Int] = []
                for p in positions where p < path.count && path[p] == byte { next.append(p + 1) }
                positions = next
            }
            if positions.isEmpty { return false }
        }
        return anchored ? positions.contains(path.count) : true
    }

    /// Splits on CR, LF or CRLF; bytes are decoded as UTF-8 with replacement.
    private static func lines(_ bytes: ArraySlice<UInt8>) -> [String] {
        var result: [String] = []
        var start = bytes.startIndex
        var index = bytes.startIndex
        while index < bytes.endIndex {
            let byte = bytes[index]
            if byte == 0x0A || byte == 0x0D {
                result.append(String(decoding: bytes[start..<index], as: UTF8.self))
                if byte == 0x0D, index + 1 < bytes.endIndex, bytes[index + 1] == 0x0A { index += 1 }
                start = index + 1
            }
            index += 1
        }
        if start < bytes.endIndex { result.append(String(decoding: bytes[start..<bytes.endIndex], as: UTF8.self)) }
        if var first = result.first, first.hasPrefix("\u{FEFF}") {
            first.removeFirst()
            result[0] = first
        }
        return result
    }
}

/// What fetching a robots.txt came to (a status and body, or why no response came): what processes
/// sharing a crawl pass on, so that each applies the same rules to the same answer.
public struct RobotsAnswer: Sendable, Codable, Equatable {
    public var status: Int?
    public var body: [UInt8]
    public var failure: String?

    public init(status: Int? = nil, body: [UInt8] = [], failure: String? = nil) {
        self.status = status
        self.body = body
        self.failure = failure
    }

    public var policy: RobotsPolicy {
        if let failure { return .unreachable(failure) }
        return RobotsPolicy.policy(status: status ?? 0, body: body)
    }
}
