import Foundation
#if canImport(Glibc)
import Glibc
#endif

/// Which addresses an `HTTPClient`'s connections may reach, checked on the address libcurl actually
/// connects to (after DNS), so that a public-looking name resolving to `127.0.0.1`, `10.x` or the
/// cloud metadata address `169.254.169.254` is refused like the literal address would be.
public enum AddressPolicy: Sendable, Equatable {
    /// No check: for endpoints the operator configured (LLM providers, `doctor`, `extract`).
    case any
    /// Only public addresses, whatever the URL says: for URLs that come from data (pages, links,
    /// redirects, sitemaps, robots.txt) when the pipeline does not allow private addresses.
    case publicOnly
    /// Public addresses, plus an internal one the URL names itself (a literal address such as
    /// `http://10.0.0.5/hook` or `localhost`): the pipeline author's explicit choice. A host name that
    /// resolves to an internal address is refused. For webhooks and the Scoup server.
    case publicOrNamedInternal

    /// nil when `address` (4 or 16 bytes) may be connected to for `url`, else its kind.
    func refusal(of address: [UInt8], url: String) -> InternalAddressKind? {
        guard self != .any, let kind = InternalAddressKind.of(address) else { return nil }
        if self == .publicOrNamedInternal, let host = Self.host(of: url), Self.namesInternalAddress(host) { return nil }
        return kind
    }

    /// A literal IP address or a `localhost` name: the URL says where it goes.
    static func namesInternalAddress(_ host: String) -> Bool {
        if host == "localhost" || host.hasSuffix(".localhost") { return true }
        return InternalAddressKind.parse(host) != nil
    }

    /// The lower-cased host of `url` without brackets, port, userinfo or a trailing dot.
    static func host(of url: String) -> String? {
        guard let components = URLComponents(string: url), var host = components.host?.lowercased() else { return nil }
        if host.hasPrefix("[") && host.hasSuffix("]") { host = String(host.dropFirst().dropLast()) }
        if host.hasSuffix(".") && host.count > 1 { host.removeLast() }
        return host.removingPercentEncoding ?? host
    }

    /// The internal addresses `host` resolves to (through the system resolver), as text with their kind.
    /// For requests that another program makes (a Scoup server fetching a page): resolve-and-check,
    /// the best that can be done when the connection is not ours.
    public static func internalAddresses(ofHost host: String) -> [(address: String, kind: InternalAddressKind)] {
        if let bytes = InternalAddressKind.parse(host) {
            return InternalAddressKind.of(bytes).map { [(InternalAddressKind.text(bytes), $0)] } ?? []
        }
        var hints = addrinfo()
        hints.ai_socktype = Int32(SOCK_STREAM.rawValue)
        var list: UnsafeMutablePointer<addrinfo>?
        guard getaddrinfo(host, nil, &hints, &list) == 0 else { return [] }
        defer { freeaddrinfo(list) }
        var out: [(String, InternalAddressKind)] = []
        var node = list
        while let entry = node {
            var bytes: [UInt8] = []
            if entry.pointee.ai_family == AF_INET, let raw = entry.pointee.ai_addr {
                raw.withMemoryRebound(to: sockaddr_in.self, capacity: 1) { sin in
                    withUnsafeBytes(of: sin.pointee.sin_addr) { bytes = Array($0) }
                }
            } else if entry.pointee.ai_family == AF_INET6, let raw = entry.pointee.ai_addr {
                raw.withMemoryRebound(to: sockaddr_in6.self, capacity: 1) { sin6 in
                    withUnsafeBytes(of: sin6.pointee.sin6_addr) { bytes = Array($0) }
                }
            }
            if let kind = InternalAddressKind.of(bytes) { out.append((InternalAddressKind.text(bytes), kind)) }
            node = entry.pointee.ai_next
        }
        return out
    }
}

/// The kinds of address a crawl or a notification must not be turned against (SSRF).
public enum InternalAddressKind: String, Sendable, Equatable {
    /// 127/8, ::1.
    case loopback
    /// 10/8, 172.16/12, 192.168/16, 100.64/10 (carrier-grade NAT), fc00::/7.
    case `private`
    /// 169.254/16 (cloud metadata), fe80::/10.
    case linkLocal = "link-local"
    /// 0.0.0.0/8 and `::`: connecting to them reaches this machine on Linux.
    case unspecified

    /// nil for a public address (or bytes that are not an address).
    public static func of(_ a: [UInt8]) -> InternalAddressKind? {
        if a.count == 4 {
            switch (a[0], a[1]) {
            case (0, _): return .unspecified
            case (127, _): return .loopback
            case (10, _), (172, 16...31), (192, 168), (100, 64...127): return .private
            case (169, 254): return .linkLocal
            default: return nil
            }
        }
        guard a.count == 16 else { return nil }
        if a.dropLast().allSatisfy({ $0 == 0 }) {
            if a[15] == 1 { return .loopback }
            if a[15] == 0 { return .unspecified }
        }
        // ::ffff:a.b.c.d (IPv4-mapped) and ::a.b.c.d (IPv4-compatible) reach the IPv4 address.
        if a[0..<10].allSatisfy({ $0 == 0 }) && ((a[10] == 0xFF && a[11] == 0xFF) || (a[10] == 0 && a[11] == 0)) {
            return of(Array(a[12...]))
        }
        if a[0] & 0xFE == 0xFC { return .private }
        if a[0] == 0xFE && a[1] & 0xC0 == 0x80 { return .linkLocal }
        return nil
    }

    /// The bytes of a literal IPv4 or IPv6 address (inet_pton forms), else nil.
    static func parse(_ host: String) -> [UInt8]? {
        var v4 = in_addr()
        if inet_pton(AF_INET, host, &v4) == 1 { return withUnsafeBytes(of: v4) { Array($0) } }
        var v6 = in6_addr()
        if inet_pton(AF_INET6, host, &v6) == 1 { return withUnsafeBytes(of: v6) { Array($0) } }
        return nil
    }

    /// `127.0.0.1`, `::1`.
    public static func text(_ a: [UInt8]) -> String {
        var buffer = [CChar](repeating: 0, count: Int(INET6_ADDRSTRLEN) + 1)
        let family = a.count == 4 ? AF_INET : AF_INET6
        let ok = a.withUnsafeBytes { inet_ntop(family, $0.baseAddress, &buffer, socklen_t(buffer.count)) } != nil
        return ok ? String(cString: buffer) : a.map(String.init).joined(separator: ".")
    }
}
