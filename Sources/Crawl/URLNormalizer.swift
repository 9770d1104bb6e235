import Foundation
import Lake

/// Canonical forms of URLs, so that one page is fetched once however it was linked.
///
/// Scheme and host lower-cased, default ports dropped, the fragment removed, an empty http(s) path
/// made `/`, dot segments resolved, percent-escapes upper-cased and unreserved characters decoded
/// (RFC 3986 §6.2.2), bytes that may not appear in a URL percent-encoded; optionally query
/// parameters removed by name (`utm_*`) and sorted. Internationalised host names are lower-cased,
/// not converted to punycode.
public struct URLNormalizer: Sendable {
    /// Query parameter names to drop; a trailing `*` matches a prefix (`utm_*`). Compared case-insensitively.
    public var removeQueryParameters: [String]
    /// Sort the remaining query parameters by name (then value), keeping duplicates.
    public var sortQueryParameters: Bool

    public init(removeQueryParameters: [String] = [], sortQueryParameters: Bool = false) {
        self.removeQueryParameters = removeQueryParameters
        self.sortQueryParameters = sortQueryParameters
    }

    /// Tracking parameters that never change what a page shows.
    public static let trackingParameters = ["utm_*", "gclid", "fbclid", "mc_cid", "mc_eid", "_ga", "yclid", "msclkid"]

    private static let defaultPorts = ["http": "80", "https": "443", "ws": "80", "wss": "443", "ftp": "21"]

    /// The canonical form of an absolute URL, or nil when `url` is not absolute.
    public func normalize(_ url: String) -> String? {
        let parsed = URLReference(Self.clean(url))
        guard let scheme = parsed.scheme else { return nil }
        return normalized(parsed, scheme: scheme)
    }

    /// Resolves `reference` (an href, possibly relative) against the absolute `base` (RFC 3986 §5.2)
    /// and normalises the result; nil when `base` is not absolute.
    public func resolve(_ reference: String, against base: String) -> String? {
        let baseURL = URLReference(Self.clean(base))
        guard baseURL.scheme != nil else { return nil }
        let ref = URLReference(Self.clean(reference))
        let target = ref.resolved(against: baseURL)
        guard let scheme = target.scheme else { return nil }
        return normalized(target, scheme: scheme)
    }

    private func normalized(_ url: URLReference, scheme rawScheme: String) -> String {
        let scheme = rawScheme.lowercased()
        var out = scheme + ":"
        if let authority = url.authority {
            out += "//" + Self.normalizeAuthority(authority, scheme: scheme)
        }
        var path = PercentEncoding.normalize(url.path)
        if url.authority != nil || path.hasPrefix("/") { path = URLReference.removeDotSegments(path) }
        if path.isEmpty && url.authority != nil && (scheme == "http" || scheme == "https") { path = "/" }
        out += path
        if let query = url.query, let normalizedQuery = normalizeQuery(PercentEncoding.normalize(query)) {
            out += "?" + normalizedQuery
        }
        return out
    }

    private func normalizeQuery(_ query: String) -> String? {
        guard !removeQueryParameters.isEmpty || sortQueryParameters else { return query.isEmpty ? nil : query }
        var parameters = query.split(separator: "&").map(String.init).filter { piece in
            let name = piece.split(separator: "=", maxSplits: 1, omittingEmptySubsequences: false).first.map(String.init) ?? ""
            return !removeQueryParameters.contains { Self.nameMatches(name, $0) }
        }
        if sortQueryParameters {
            // Sort by name only, stable, so that repeated names keep their order (a=2&a=1 is not a=1&a=2).
            parameters = parameters.enumerated().sorted { lhs, rhs in
                let (a, b) = (Self.name(lhs.element), Self.name(rhs.element))
                return a != b ? a.utf8.lexicographicallyPrecedes(b.utf8) : lhs.offset < rhs.offset
            }.map(\.element)
        }
        return parameters.isEmpty ? nil : parameters.joined(separator: "&")
    }

    private static func name(_ parameter: String) -> String {
        parameter.split(separator: "=", maxSplits: 1, omittingEmptySubsequences: false).first.map(String.init) ?? ""
    }

    private static func nameMatches(_ name: String, _ pattern: String) -> Bool {
        let name = name.lowercased(), pattern = pattern.lowercased()
        if pattern.hasSuffix("*") { return name.hasPrefix(pattern.dropLast()) }
        return name == pattern
    }

    private static func normalizeAuthority(_ authority: String, scheme: String) -> String {
        var userinfo = ""
        var hostPort = Substring(authority)
        if let at = authority.lastIndex(of: "@") {
            userinfo = PercentEncoding.normalize(String(authority[...at]))
            hostPort = authority[authority.index(after: at)...]
        }
        var (host, port) = splitHostPort(hostPort)
        host = PercentEncoding.normalize(host).lowercased()
        if host.hasSuffix(".") && host.count > 1 { host.removeLast() }
        if let p = port, p.isEmpty || p == defaultPorts[scheme] || (Int(p).map { "\($0)" } == defaultPorts[scheme]) {
            port = nil
        }
        if let p = port, let number = Int(p) { port = String(number) }  // "0080" -> "80"
        return userinfo + host + (port.map { ":" + $0 } ?? "")
    }

    /// Host and port of `host:port`, `[v6]:port`; the port is nil when absent.
    static func splitHostPort(_ hostPort: Substring) -> (String, String?) {
        if hostPort.hasPrefix("["), let close = hostPort.firstIndex(of: "]") {
            let host = String(hostPort[...close])
            let rest = hostPort[hostPort.index(after: close)...]
            return (host, rest.hasPrefix(":") ? String(rest.dropFirst()) : nil)
        }
        if let colon = hostPort.lastIndex(of: ":") {
            return (String(hostPort[..<colon]), String(hostPort[hostPort.index(after: colon)...]))
        }
        return (String(hostPort), nil)
    }

    /// Leading and trailing blanks trimmed, tabs and newlines removed, as browsers do with hrefs.
    private static func clean(_ url: String) -> String {
        let trimmed = url.trimmingCharacters(in: .whitespacesAndNewlines)
        return String(trimmed.unicodeScalars.filter { $0 != "\t" && $0 != "\n" && $0 != "\r" }.map(Character.init))
    }
}

/// RFC 3986 §6.2.2.2 percent-encoding normalisation, shared by the URL normaliser and robots.txt matching.
enum PercentEncoding {
    static func isUnreserved(_ byte: UInt8) -> Bool {
        switch byte {
        case UInt8(ascii: "A")...UInt8(ascii: "Z"), UInt8(ascii: "a")...UInt8(ascii: "z"), UInt8(ascii: "0")...UInt8(ascii: "9"),
             UInt8(ascii: "-"), UInt8(ascii: "."), UInt8(ascii: "_"), UInt8(ascii: "~"):
            return true
        default:
            return false
        }
    }

    /// Bytes never valid in a URL as themselves: controls, space, non-ASCII and `"<>\^`{|}`.
    private static func mustEncode(_ byte: UInt8) -> Bool {
        byte <= 0x20 || byte >= 0x7F || Array("\"<>\\^`{|}".utf8).contains(byte)
    }

    /// The value of one hex digit, for percent-decoding (robots.txt paths use it too).
    static func hexValue(_ byte: UInt8) -> UInt8? {
        switch byte {
        case UInt8(ascii: "0")...UInt8(ascii: "9"): return byte - UInt8(ascii: "0")
        case UInt8(ascii: "a")...UInt8(ascii: "f"): return byte - UInt8(ascii: "a") + 10
        case UInt8(ascii: "A")...UInt8(ascii: "F"): return byte - UInt8(ascii: "A") + 10
        default: return nil
        }
    }

    private static let hexDigits = Array("0123456789ABCDEF".utf8)

    private static func append(escaped byte: UInt8, to out: inout [UInt8]) {
        out.append(UInt8(ascii: "%"))
        out.append(hexDigits[Int(byte >> 4)])
        out.append(hexDigits[Int(byte & 0x0F)])
    }

    /// Decodes escapes of unreserved characters, upper-cases the other escapes, encodes what must be
    /// encoded (UTF-8 for non-ASCII) and a `%` that starts no escape.
    static func normalize(_ text: String) -> String {
        let bytes = Array(text.utf8)
        var out: [UInt8] = []
        out.reserveCapacity(bytes.count)
        var i = 0
        while i < bytes.count {
            let byte = bytes[i]
            if byte == UInt8(ascii: "%") {
                if i + 2 < bytes.count, let high = hexValue(bytes[i + 1]), let low = hexValue(bytes[i + 2]) {
                    let decoded = high << 4 | low
                    if isUnreserved(decoded) { out.append(decoded) } else { append(escaped: decoded, to: &out) }
                    i += 3
                    continue
                }
                append(escaped: byte, to: &out)
            } else if mustEncode(byte) {
                append(escaped: byte, to: &out)
            } else {
                out.append(byte)
            }
            i += 1
        }
        return String(decoding: out, as: UTF8.self)
    }
}
