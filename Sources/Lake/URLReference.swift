import Foundation

/// RFC 3986 reference resolution (section 5.2), as browsers apply it to `href` and `src`.
///
/// Written out rather than delegated to Foundation's `URL(string:relativeTo:)`, which rejects
/// references with spaces or non-ASCII characters that pages are full of; here those are
/// percent-encoded first.
public enum URLResolver {
    /// `reference` resolved against `base`; nil when the result would not be absolute.
    /// Scheme and host are lower-cased and a default port dropped, so that equal URLs compare equal.
    public static func resolve(_ reference: String, against base: String?) -> String? {
        let ref = URLReference(encode(reference.trimmingCharacters(in: .whitespacesAndNewlines)))
        var target: URLReference
        if ref.scheme != nil {
            target = ref.resolved(against: ref)
        } else {
            guard let base else { return nil }
            let baseParts = URLReference(encode(base))
            guard baseParts.scheme != nil else { return nil }
            target = ref.resolved(against: baseParts)
        }
        target.scheme = target.scheme?.lowercased()
        if target.authority != nil && target.path.isEmpty { target.path = "/" }
        return normalizeHost(target).text
    }

    /// Lowercases the host (not the user info) so that equal URLs compare equal.
    private static func normalizeHost(_ parts: URLReference) -> URLReference {
        guard var authority = parts.authority else { return parts }
        var userinfo = ""
        if let at = authority.lastIndex(of: "@") {
            userinfo = String(authority[...at])
            authority = String(authority[authority.index(after: at)...])
        }
        var copy = parts
        var host = authority.lowercased()
        // Drop default ports.
        if (parts.scheme == "http" && host.hasSuffix(":80")) || (parts.scheme == "https" && host.hasSuffix(":443")) {
            host = String(host[..<host.lastIndex(of: ":")!])
        }
        copy.authority = userinfo + host
        return copy
    }

    /// Percent-encodes what may not appear raw in a URL (spaces, non-ASCII, quotes), leaving
    /// existing escapes and reserved characters alone.
    public static func encode(_ text: String) -> String {
        var needs = false
        for byte in text.utf8 where byte <= 0x20 || byte >= 0x7F || byte == 0x22 || byte == 0x3C || byte == 0x3E
            || byte == 0x5C || byte == 0x5E || byte == 0x60 || byte == 0x7B || byte == 0x7C || byte == 0x7D {
            needs = true
            break
        }
        guard needs else { return text }
        let hex = Array("0123456789ABCDEF".utf8)
        var out: [UInt8] = []
        for byte in text.utf8 {
            if byte == 0x5C { out.append(0x2F); continue }  // browsers read "\" as "/"
            if byte <= 0x20 || byte >= 0x7F || byte == 0x22 || byte == 0x3C || byte == 0x3E || byte == 0x5E
                || byte == 0x60 || byte == 0x7B || byte == 0x7C || byte == 0x7D {
                out.append(0x25); out.append(hex[Int(byte >> 4)]); out.append(hex[Int(byte & 0xF)])
            } else {
                out.append(byte)
            }
        }
        return String(decoding: out, as: UTF8.self)
    }
}

/// The five parts of an RFC 3986 URI reference (Appendix B); any string parses (a relative
/// reference has no scheme). The one implementation of reference resolution (§5.2): the HTML
/// module resolves links with it and the Crawl module's URL normaliser builds on it. It lives in
/// Lake, below both, so that neither of them depends on the other.
public struct URLReference: Equatable, Sendable {
    public var scheme: String?
    public var authority: String?
    public var path: String
    public var query: String?
    public var fragment: String?

    public init(scheme: String?, authority: String?, path: String, query: String?, fragment: String?) {
        (self.scheme, self.authority, self.path, self.query, self.fragment) = (scheme, authority, path, query, fragment)
    }

    /// Splits `string` as is: no trimming, no encoding, the scheme's case kept.
    public init(_ string: String) {
        var rest = Substring(string)
        if let hash = rest.firstIndex(of: "#") {
            fragment = String(rest[rest.index(after: hash)...])
            rest = rest[..<hash]
        }
        if let mark = rest.firstIndex(of: "?") {
            query = String(rest[rest.index(after: mark)...])
            rest = rest[..<mark]
        }
        if let colon = rest.firstIndex(of: ":") {
            let candidate = rest[..<colon]
            if let first = candidate.first, first.isASCII, first.isLetter,
               !candidate.contains(where: { !($0.isASCII && ($0.isLetter || $0.isNumber || $0 == "+" || $0 == "-" || $0 == ".")) }) {
                scheme = String(candidate)
                rest = rest[rest.index(after: colon)...]
            }
        }
        if rest.hasPrefix("//") {
            rest = rest.dropFirst(2)
            let end = rest.firstIndex(of: "/") ?? rest.endIndex
            authority = String(rest[..<end])
            rest = rest[end...]
        }
        path = String(rest)
    }

    /// The reference written back out.
    public var text: String {
        var out = ""
        if let scheme { out += scheme + ":" }
        if let authority { out += "//" + authority }
        out += path
        if let query { out += "?" + query }
        if let fragment { out += "#" + fragment }
        return out
    }

    /// RFC 3986 §5.2.2, strict (a reference with a scheme is taken as is).
    public func resolved(against base: URLReference) -> URLReference {
        if let scheme {
            return URLReference(scheme: scheme, authority: authority, path: Self.removeDotSegments(path), query: query,
                                fragment: fragment)
        }
        if let authority {
            return URLReference(scheme: base.scheme, authority: authority, path: Self.removeDotSegments(path), query: query,
                                fragment: fragment)
        }
        if path.isEmpty {
            return URLReference(scheme: base.scheme, authority: base.authority, path: base.path, query: query ?? base.query,
                                fragment: fragment)
        }
        let merged: String
        if path.hasPrefix("/") {
            merged = path
        } else if base.authority != nil && base.path.isEmpty {
            merged = "/" + path
        } else if let slash = base.path.lastIndex(of: "/") {
            merged = String(base.path[...slash]) + path
        } else {
            merged = path
        }
        return URLReference(scheme: base.scheme, authority: base.authority, path: Self.removeDotSegments(merged), query: query,
                            fragment: fragment)
    }

    /// RFC 3986 §5.2.4.
    public static func removeDotSegments(_ path: String) -> String {
        guard path.contains(".") else { return path }
        var input = Substring(path)
        var output: [Substring] = []
        while !input.isEmpty {
            if input.hasPrefix("../") {
                input = input.dropFirst(3)
            } else if input.hasPrefix("./") || input.hasPrefix("/./") {
                input = input.dropFirst(2)
            } else if input == "/." {
                input = "/"
            } else if input.hasPrefix("/../") {
                input = input.dropFirst(3)
                if !output.isEmpty { output.removeLast() }
            } else if input == "/.." {
                input = "/"
                if !output.isEmpty { output.removeLast() }
            } else if input == "." || input == ".." {
                input = ""
            } else {
                let start = input.hasPrefix("/") ? input.index(after: input.startIndex) : input.startIndex
                let end = input[start...].firstIndex(of: "/") ?? input.endIndex
                output.append(input[..<end])
                input = input[end...]
            }
        }
        return output.joined()
    }
}
