import Foundation

/// RFC 3986 reference resolution (section 5.2), as browsers apply it to `href` and `src`.
///
/// Written out rather than delegated to Foundation's `URL(string:relativeTo:)`, which rejects
/// references with spaces or non-ASCII characters that pages are full of; here those are
/// percent-encoded first.
public enum URLResolver {
    struct Parts {
        var scheme: String?
        var authority: String?
        var path: String
        var query: String?
        var fragment: String?

        init(_ text: String) {
            var rest = Substring(text)
            if let hash = rest.firstIndex(of: "#") {
                fragment = String(rest[rest.index(after: hash)...])
                rest = rest[..<hash]
            }
            if let q = rest.firstIndex(of: "?") {
                query = String(rest[rest.index(after: q)...])
                rest = rest[..<q]
            }
            if let colon = rest.firstIndex(of: ":"), colon != rest.startIndex {
                let candidate = rest[..<colon]
                if candidate.first!.isASCII && candidate.first!.isLetter
                    && candidate.allSatisfy({ $0.isASCII && ($0.isLetter || $0.isNumber || "+-.".contains($0)) }) {
                    scheme = candidate.lowercased()
                    rest = rest[rest.index(after: colon)...]
                }
            }
            if rest.hasPrefix("//") {
                let afterSlashes = rest.dropFirst(2)
                let end = afterSlashes.firstIndex(of: "/") ?? afterSlashes.endIndex
                authority = String(afterSlashes[..<end])
                rest = afterSlashes[end...]
            }
            path = String(rest)
        }

        var text: String {
            var out = ""
            if let scheme { out += scheme + ":" }
            if let authority { out += "//" + authority }
            out += path
            if let query { out += "?" + query }
            if let fragment { out += "#" + fragment }
            return out
        }
    }

    /// `reference` resolved against `base`; nil when the result would not be absolute.
    public static func resolve(_ reference: String, against base: String?) -> String? {
        let ref = Parts(encode(reference.trimmingCharacters(in: .whitespacesAndNewlines)))
        if ref.scheme != nil {
            var target = ref
            target.path = removeDotSegments(ref.path)
            return normalizeHost(target).text
        }
        guard let base else { return nil }
        let baseParts = Parts(encode(base))
        guard baseParts.scheme != nil else { return nil }
        var target = Parts("")
        target.scheme = baseParts.scheme
        target.fragment = ref.fragment
        if ref.authority != nil {
            target.authority = ref.authority
            target.path = removeDotSegments(ref.path)
            target.query = ref.query
        } else {
            target.authority = baseParts.authority
            if ref.path.isEmpty {
                target.path = baseParts.path
                target.query = ref.query ?? baseParts.query
            } else {
                if ref.path.hasPrefix("/") {
                    target.path = removeDotSegments(ref.path)
                } else {
                    target.path = removeDotSegments(merge(base: baseParts, reference: ref.path))
                }
                target.query = ref.query
            }
        }
        if target.authority != nil && target.path.isEmpty { target.path = "/" }
        return normalizeHost(target).text
    }

    private static func merge(base: Parts, reference: String) -> String {
        if base.authority != nil && base.path.isEmpty { return "/" + reference }
        guard let slash = base.path.lastIndex(of: "/") else { return reference }
        return String(base.path[...slash]) + reference
    }

    static func removeDotSegments(_ path: String) -> String {
        guard path.contains(".") else { return path }
        var output: [Substring] = []
        let absolute = path.hasPrefix("/")
        let segments = path.split(separator: "/", omittingEmptySubsequences: false)
        for (i, segment) in segments.enumerated() {
            if i == 0 && absolute { continue }
            let last = i == segments.count - 1
            if segment == "." {
                if last { output.append("") }
            } else if segment == ".." {
                if !output.isEmpty { output.removeLast() }
                if last { output.append("") }
            } else {
                output.append(segment)
            }
        }
        return (absolute ? "/" : "") + output.joined(separator: "/")
    }

    /// Lowercases the host (not the user info) so that equal URLs compare equal.
    private static func normalizeHost(_ parts: Parts) -> Parts {
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
