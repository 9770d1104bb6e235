import Foundation
import Lake

/// Which URLs a crawl may follow: scheme, host scope, include/exclude patterns, and never an
/// internal address (loopback, private, link-local, cloud metadata) unless explicitly allowed.
///
/// Only literal addresses and `localhost` names are recognised here; a public name that resolves
/// to a private address must be checked again with the connected address (`AddressClass.of`).
public struct HostPolicy: Sendable {
    /// Hosts a crawl stays on.
    public enum Scope: Sendable, Equatable {
        /// Exactly these hosts (lower-case, without port), typically the seeds' hosts.
        case hosts(Set<String>)
        /// These domains and their subdomains (`example.com` admits `www.example.com`).
        case domains([String])
        case anyHost
    }

    /// Why a URL was refused, for the crawl log.
    public enum Decision: Sendable, Equatable {
        case allowed
        case invalidURL
        case scheme(String)
        case offSite(host: String)
        case excluded(pattern: String)
        case notIncluded
        case internalAddress(host: String, AddressClass)
    }

    public var scope: Scope
    /// When not empty, a URL must match one of these.
    public var include: [URLPattern]
    /// A URL matching one of these is refused, whatever `include` says.
    public var exclude: [URLPattern]
    public var allowedSchemes: Set<String>
    /// Crawling a loopback test server or an intranet must be asked for.
    public var allowInternalAddresses: Bool

    public init(scope: Scope = .anyHost, include: [URLPattern] = [], exclude: [URLPattern] = [],
                allowedSchemes: Set<String> = ["http", "https"], allowInternalAddresses: Bool = false) {
        self.scope = scope
        self.include = include
        self.exclude = exclude
        self.allowedSchemes = allowedSchemes
        self.allowInternalAddresses = allowInternalAddresses
    }

    /// A scope of exactly the hosts of `seeds`.
    public static func sameHost(as seeds: [String]) -> Scope {
        .hosts(Set(seeds.compactMap { host(of: $0) }))
    }

    /// Decides for an absolute URL; patterns are matched against the URL as given, so pass normalised URLs.
    public func decide(_ url: String) -> Decision {
        let parsed = URLReference(url)
        guard let scheme = parsed.scheme?.lowercased() else { return .invalidURL }
        guard allowedSchemes.contains(scheme) else { return .scheme(scheme) }
        guard let host = Self.host(of: url) else { return .invalidURL }
        if !allowInternalAddresses, let kind = AddressClass.of(host: host), kind != .public {
            return .internalAddress(host: host, kind)
        }
        switch scope {
        case .anyHost: break
        case .hosts(let hosts): if !hosts.contains(host) { return .offSite(host: host) }
        case .domains(let domains):
            let inside = domains.contains { domain in
                let domain = domain.lowercased()
                return host == domain || host.hasSuffix("." + domain)
            }
            if !inside { return .offSite(host: host) }
        }
        if let pattern = exclude.first(where: { $0.matches(url) }) { return .excluded(pattern: pattern.source) }
        if !include.isEmpty && !include.contains(where: { $0.matches(url) }) { return .notIncluded }
        return .allowed
    }

    public func allows(_ url: String) -> Bool { decide(url) == .allowed }

    /// The lower-cased host of an absolute URL without port, userinfo, brackets or a trailing dot;
    /// the key for per-host politeness and robots.txt.
    public static func host(of url: String) -> String? {
        guard let authority = URLReference(url).authority else { return nil }
        let hostPort = authority.split(separator: "@", omittingEmptySubsequences: false).last ?? ""
        var (host, _) = URLNormalizer.splitHostPort(hostPort)
        host = PercentEncoding.normalize(host).lowercased()
        if host.hasPrefix("[") && host.hasSuffix("]") { host = String(host.dropFirst().dropLast()) }
        if host.hasSuffix(".") && host.count > 1 { host.removeLast() }
        return host.isEmpty ? nil : host
    }
}

/// A URL pattern from a pipeline file: a glob (`*` matches any run of characters, nothing else is
/// special) or a regular expression (searched anywhere in the URL, anchor it with `^…$` if needed).
public struct URLPattern: Sendable {
    public let source: String
    private let regex: CompiledRegex

    public static func glob(_ pattern: String) -> URLPattern {
        let body = pattern.split(separator: "*", omittingEmptySubsequences: false)
            .map { NSRegularExpression.escapedPattern(for: String($0)) }.joined(separator: ".*")
        // An escaped glob always compiles.
        return URLPattern(source: pattern, regex: try! CompiledRegex("^" + body + "$"))
    }

    /// Throws when `pattern` is not a valid regular expression, with the pattern in the message.
    public static func regex(_ pattern: String) throws -> URLPattern {
        URLPattern(source: pattern, regex: try CompiledRegex(pattern))
    }

    private init(source: String, regex: CompiledRegex) {
        self.source = source
        self.regex = regex
    }

    public func matches(_ url: String) -> Bool { regex.matches(url) }
}

/// NSRegularExpression is immutable once built and documented safe to use from many threads.
private final class CompiledRegex: @unchecked Sendable {
    let expression: NSRegularExpression

    init(_ pattern: String) throws {
        do {
            expression = try NSRegularExpression(pattern: pattern)
        } catch {
            throw URLPatternError(pattern: pattern)
        }
    }

    func matches(_ text: String) -> Bool {
        expression.firstMatch(in: text, range: NSRange(text.startIndex..., in: text)) != nil
    }
}

/// A regular expression that does not compile.
public struct URLPatternError: Error, CustomStringConvertible, Sendable {
    public let pattern: String
    public var description: String { "invalid regular expression: \(pattern)" }
}

/// What kind of address a host literal is. Internal ones are refused by default because a crawl that
/// follows links must not be turned against the machine it runs on or its network (SSRF).
public enum AddressClass: String, Sendable, Equatable {
    case `public`
    /// 127.0.0.0/8, ::1, `localhost`.
    case loopback
    /// 10/8, 172.16/12, 192.168/16, fc00::/7.
    case `private`
    /// 169.254/16 (cloud metadata at 169.254.169.254), fe80::/10.
    case linkLocal
    /// 0.0.0.0/8 and `::`: connecting to them reaches this machine on Linux.
    case unspecified

    /// The class of a host (name or literal, IPv6 without brackets); nil for a name that is not `localhost`.
    /// IPv4 in the shorthand forms that resolvers accept (`127.1`, `0x7f.0.0.1`, `2130706433`) counts too.
    public static func of(host: String) -> AddressClass? {
        let host = host.lowercased()
        if host == "localhost" || host.hasSuffix(".localhost") { return .loopback }
        if let v4 = parseIPv4(host) { return classify(v4) }
        if host.contains(":"), let v6 = parseIPv6(host) { return classify(v6) }
        return nil
    }

    static func classify(_ a: [UInt8]) -> AddressClass {
        if a.count == 4 {
            switch (a[0], a[1]) {
            case (0, _): return .unspecified
            case (127, _): return .loopback
            case (10, _), (172, 16...31), (192, 168): return .private
            case (169, 254): return .linkLocal
            default: return .public
            }
        }
        if a.dropLast().allSatisfy({ $0 == 0 }) {
            if a[15] == 1 { return .loopback }
            if a[15] == 0 { return .unspecified }
        }
        // ::ffff:a.b.c.d reaches the IPv4 address.
        if a[0..<10].allSatisfy({ $0 == 0 }) && a[10] == 0xFF && a[11] == 0xFF { return classify(Array(a[12...])) }
        if a[0] & 0xFE == 0xFC { return .private }
        if a[0] == 0xFE && a[1] & 0xC0 == 0x80 { return .linkLocal }
        return .public
    }

    /// WHATWG / inet_aton IPv4: 1 to 4 parts, each decimal, `0x` hex or `0`-prefixed octal, the last filling the rest.
    static func parseIPv4(_ host: String) -> [UInt8]? {
        var parts = host.split(separator: ".", omittingEmptySubsequences: false)
        if parts.count > 1, parts.last?.isEmpty == true { parts.removeLast() }
        guard (1...4).contains(parts.count) else { return nil }
        var numbers: [UInt64] = []
        for part in parts {
            guard !part.isEmpty else { return nil }
            let lower = part.lowercased()
            let value: UInt64?
            if lower.hasPrefix("0x") {
                value = lower.count == 2 ? 0 : UInt64(lower.dropFirst(2), radix: 16)
            } else if lower.count > 1 && lower.hasPrefix("0") {
                value = UInt64(lower.dropFirst(), radix: 8)
            } else {
                value = UInt64(lower, radix: 10)
            }
            guard let value else { return nil }
            numbers.append(value)
        }
        for n in numbers.dropLast() where n > 255 { return nil }
        let lastBits = UInt64(8 * (5 - numbers.count))
        guard numbers.last! < (1 << lastBits) else { return nil }
        var address = numbers.dropLast().map { UInt8($0) }
        let last = numbers.last!
        for shift in stride(from: Int(lastBits) - 8, through: 0, by: -8) { address.append(UInt8((last >> UInt64(shift)) & 0xFF)) }
        return address
    }

    /// RFC 4291 text form, `::` compression and a trailing dotted IPv4 included; a zone (`%eth0`) is ignored.
    static func parseIPv6(_ host: String) -> [UInt8]? {
        var text = Substring(host)
        if let percent = text.firstIndex(of: "%") { text = text[..<percent] }
        func groups(_ part: Substring) -> [UInt16]? {
            if part.isEmpty { return [] }
            var result: [UInt16] = []
            let pieces = part.split(separator: ":", omittingEmptySubsequences: false)
            for (index, piece) in pieces.enumerated() {
                if index == pieces.count - 1, piece.contains(".") {
                    guard let v4 = parseIPv4(String(piece)), piece.split(separator: ".").count == 4 else { return nil }
                    result.append(UInt16(v4[0]) << 8 | UInt16(v4[1]))
                    result.append(UInt16(v4[2]) << 8 | UInt16(v4[3]))
                } else {
                    guard (1...4).contains(piece.count), let value = UInt16(piece, radix: 16) else { return nil }
                    result.append(value)
                }
            }
            return result
        }
        let halves = text.components(separatedBy: "::")
        var words: [UInt16]
        if halves.count == 2 {
            guard let head = groups(Substring(halves[0])), let tail = groups(Substring(halves[1])), head.count + tail.count <= 7 else {
                return nil
            }
            words = head + Array(repeating: 0, count: 8 - head.count - tail.count) + tail
        } else if halves.count == 1 {
            guard let all = groups(text), all.count == 8 else { return nil }
            words = all
        } else {
            return nil
        }
        return words.flatMap { [UInt8($0 >> 8), UInt8($0 & 0xFF)] }
    }
}
