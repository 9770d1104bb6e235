import Foundation

/// Where a PostgreSQL database is: a libpq connection URI (`postgres://user:password@host:5432/db?sslmode=require`),
/// after `${VAR}` expansion.
///
/// libpq reads the URI itself, so everything it documents works: several hosts, `sslmode`, `options`,
/// and, when the URI has no password, `PGPASSWORD` and `~/.pgpass`. `redacted` is the form to print or
/// write anywhere: the password (and a `password=` parameter) become `***`.
public struct PostgresURL: Sendable, Hashable, CustomStringConvertible {
    /// The URI libpq is given, secrets included. Never print it: print `redacted`.
    public let conninfo: String
    public let scheme: String
    public let user: String?
    /// Percent-decoded, from the user info or a `password=` parameter; nil when the URI has none (libpq
    /// then asks `PGPASSWORD` and `~/.pgpass`).
    public private(set) var password: String?
    /// The host list as written (`host`, `host:5433`, `h1,h2:5433`, `[::1]`); empty for libpq's default.
    public let hosts: String
    public let database: String?
    public let query: String?

    /// Whether `text` is meant as a PostgreSQL URL (`postgres://` or `postgresql://`).
    public static func isPostgres(_ text: String) -> Bool {
        let lower = text.lowercased()
        return lower.hasPrefix("postgres://") || lower.hasPrefix("postgresql://")
    }

    /// Parses `text`, first replacing each `${VAR}` with the variable's value from `environment`.
    /// A text that is one `${VAR}` alone takes the value as it is (a whole URL); a `${VAR}` inside a
    /// URL takes it percent-encoded, so a password with `@` or `/` in it stays a password.
    public init(_ text: String, environment: [String: String] = ProcessInfo.processInfo.environment) throws {
        try self.init(expanded: try Self.expand(text, environment: environment))
    }

    private init(expanded: String) throws {
        guard Self.isPostgres(expanded) else {
            throw PGError(.url, "not a PostgreSQL URL (expected postgres://user@host:port/database)",
                          url: Self.redact(expanded))
        }
        let schemeEnd = expanded.range(of: "://")!
        scheme = String(expanded[..<schemeEnd.lowerBound]).lowercased()
        var rest = Substring(expanded[schemeEnd.upperBound...])
        if let q = rest.firstIndex(of: "?") {
            query = String(rest[rest.index(after: q)...])
            rest = rest[..<q]
        } else {
            query = nil
        }
        // The authority ends at the first '/' after the user info: a password may hold a '/' only encoded.
        let authority: Substring
        if let slash = rest.firstIndex(of: "/") {
            authority = rest[..<slash]
            let name = String(rest[rest.index(after: slash)...])
            database = name.isEmpty ? nil : (name.removingPercentEncoding ?? name)
        } else {
            authority = rest
            database = nil
        }
        if let at = authority.lastIndex(of: "@") {
            let info = authority[..<at]
            hosts = String(authority[authority.index(after: at)...])
            if let colon = info.firstIndex(of: ":") {
                let name = String(info[..<colon])
                user = name.isEmpty ? nil : (name.removingPercentEncoding ?? name)
                let secret = String(info[info.index(after: colon)...])
                password = secret.removingPercentEncoding ?? secret
            } else {
                user = info.isEmpty ? nil : (String(info).removingPercentEncoding ?? String(info))
                password = nil
            }
        } else {
            user = nil
            password = nil
            hosts = String(authority)
        }
        if password == nil, let query,
           let parameter = query.split(separator: "&").first(where: { $0.lowercased().hasPrefix("password=") }) {
            let secret = String(parameter.dropFirst("password=".count))
            password = secret.removingPercentEncoding ?? secret
        }
        conninfo = expanded
    }

    /// The URL with its password (in the user info or a `password=` parameter) as `***`.
    public var redacted: String { Self.redact(conninfo) }

    public var description: String { redacted }

    /// The URL without its password (for a command line, where other users can read it; pass the
    /// password in `PGPASSWORD` instead).
    public var withoutPassword: String {
        var text = conninfo
        // A `password=` parameter goes too (`?sslmode=require&password=x` → `?sslmode=require`).
        if let query, query.lowercased().contains("password="), let mark = text.firstIndex(of: "?") {
            let kept = query.split(separator: "&", omittingEmptySubsequences: false)
                .filter { !$0.lowercased().hasPrefix("password=") }
            text = String(text[..<mark]) + (kept.isEmpty ? "" : "?" + kept.joined(separator: "&"))
        }
        guard password != nil, let start = text.range(of: "://")?.upperBound else { return text }
        let end = text[start...].firstIndex(of: "?") ?? text.endIndex
        let region = text[start..<end]
        guard let at = region.lastIndex(of: "@"), let colon = region[..<at].firstIndex(of: ":") else { return text }
        text.removeSubrange(colon..<at)
        return text
    }

    /// The same server and credentials, another database.
    public func with(database name: String) -> PostgresURL {
        let encoded = name.addingPercentEncoding(withAllowedCharacters: Self.unreserved) ?? name
        let start = conninfo.range(of: "://")!.upperBound
        var end = conninfo.firstIndex(of: "?") ?? conninfo.endIndex
        if let slash = conninfo[start..<end].firstIndex(of: "/") { end = slash }
        var text = String(conninfo[..<end]) + "/" + encoded
        if let query { text += "?" + query }
        // Already expanded: a "${" in it now is part of a value.
        return try! PostgresURL(expanded: text)
    }

    static let unreserved = CharacterSet(charactersIn: "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-._~")

    /// `${NAME}` replaced by the variable's value; an unset variable is an error, never an empty string.
    static func expand(_ text: String, environment: [String: String]) throws -> String {
        guard text.contains("${") else { return text }
        let whole = text.hasPrefix("${") && text.hasSuffix("}") && text.dropFirst(2).firstIndex(of: "}") == text.index(before: text.endIndex)
        var out = ""
        var rest = Substring(text)
        while let open = rest.range(of: "${") {
            out += rest[..<open.lowerBound]
            guard let close = rest[open.upperBound...].firstIndex(of: "}") else {
                throw PGError(.url, "unclosed ${ in the PostgreSQL URL")
            }
            let name = String(rest[open.upperBound..<close])
            guard let value = environment[name] else {
                throw PGError(.url, "the PostgreSQL URL names ${\(name)}, which is not set in the environment")
            }
            out += whole ? value : (value.addingPercentEncoding(withAllowedCharacters: unreserved) ?? value)
            rest = rest[rest.index(after: close)...]
        }
        return out + rest
    }

    /// `text` with every `${VAR}` replaced as it is (not encoded): for a value that may not be a URL.
    public static func expandWhole(_ text: String, environment: [String: String]) throws -> String {
        var out = ""
        var rest = Substring(text)
        while let open = rest.range(of: "${") {
            out += rest[..<open.lowerBound]
            guard let close = rest[open.upperBound...].firstIndex(of: "}") else { throw PGError(.url, "unclosed ${") }
            let name = String(rest[open.upperBound..<close])
            guard let value = environment[name] else { throw PGError(.url, "${\(name)} is not set in the environment") }
            out += value
            rest = rest[rest.index(after: close)...]
        }
        return out + rest
    }

    /// `text` with the password of a URL-shaped connection string, and any `password=` parameter, as `***`.
    public static func redact(_ text: String) -> String {
        var out = text
        if let schemeEnd = out.range(of: "://") {
            let authorityEnd = out[schemeEnd.upperBound...].firstIndex(where: { $0 == "?" }) ?? out.endIndex
            // The user info ends at the last '@' before the path; a raw '/' may only appear after it.
            let region = out[schemeEnd.upperBound..<authorityEnd]
            if let at = region.lastIndex(of: "@"), let colon = region[..<at].firstIndex(of: ":") {
                out.replaceSubrange(out.index(after: colon)..<at, with: "***")
            }
        }
        // key=value forms: in a URL query (…?password=x&…) or a keyword conninfo (password=x host=…).
        var result = ""
        var rest = Substring(out)
        while let range = rest.range(of: "password=", options: .caseInsensitive) {
            let before = range.lowerBound == rest.startIndex ? nil : rest[rest.index(before: range.lowerBound)]
            result += rest[..<range.upperBound]
            rest = rest[range.upperBound...]
            guard before == nil || before == "?" || before == "&" || before == " " else { continue }
            let end = rest.firstIndex(where: { $0 == "&" || $0 == " " }) ?? rest.endIndex
            if end != rest.startIndex { result += "***" }
            rest = rest[end...]
        }
        return result + rest
    }
}
