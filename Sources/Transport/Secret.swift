import Foundation

/// A credential (API key, Scoup token, SMTP password, webhook secret) that never shows itself:
/// interpolating, printing or dumping it gives `<redacted>`.
///
/// Making one registers its value in the process-wide registry that `Secret.redact(_:)` blanks
/// out, so a value read from the configuration is hidden from everything AgentShop prints or
/// writes, including what a server echoes back. The registry also takes every environment
/// variable whose name marks it secret (`Secret.register(environment:)`) and URLs whose path or
/// query is a token (`Secret.register(url:)`).
public struct Secret: Sendable, Hashable, CustomStringConvertible, CustomDebugStringConvertible, CustomReflectable {
    /// Read only where a request header or a login is built.
    public let value: String

    public init(_ value: String) {
        self.value = value
        Secret.register(value)
    }

    public var description: String { Secret.marker }
    public var debugDescription: String { Secret.marker }
    public var customMirror: Mirror { Mirror(self, children: []) }
}

extension Secret {
    /// What a secret is replaced with.
    public static let marker = "<redacted>"

    /// Values shorter than this are not registered: too short to be a credential, and blanking
    /// them would mangle ordinary words.
    public static let minimumLength = 6

    /// Environment variables whose names end like this hold secrets (`OPENAI_API_KEY`,
    /// `SCOUP_API_KEY`, `ALERT_SECRET`, `NOTIFICATION_EMAIL_SMTP_PASSWORD`, `GITHUB_TOKEN`…).
    public static let secretNameSuffixes = ["_KEY", "_TOKEN", "_SECRET", "_PASSWORD"]

    /// Whether an environment variable of this name holds a secret.
    public static func isSecretName(_ name: String) -> Bool {
        let upper = name.uppercased()
        return secretNameSuffixes.contains { upper.hasSuffix($0) }
    }

    /// Adds `value` to the values `redact` hides.
    public static func register(_ value: String) { registry.add([value]) }

    /// Adds the value of every variable whose name marks it secret (`isSecretName`).
    public static func register(environment: [String: String]) {
        registry.add(environment.filter { isSecretName($0.key) }.map(\.value))
    }

    /// Adds a URL whose parts are tokens (Slack and most webhook URLs carry theirs in the path or
    /// query): the whole URL, and its path, query and password.
    public static func register(url: String) {
        var values = [url]
        if let parsed = URL(string: url), parsed.scheme != nil {
            values += [parsed.path, parsed.query, parsed.password].compactMap { $0 }
        }
        registry.add(values)
    }

    /// `text` with every registered secret replaced by `<redacted>`: as written, JSON-escaped
    /// (with or without `\/`, with `\u` escapes) and percent-encoded (either hex case).
    public static func redact(_ text: String) -> String {
        let needles = registry.needles
        guard !needles.isEmpty else { return text }
        let bytes = Array(text.utf8)
        guard let out = replace(needles, in: bytes) else { return text }
        return String(decoding: out, as: UTF8.self)
    }

    /// `bytes` with every registered secret replaced, as `redact(_:)` does for text.
    public static func redact(_ bytes: [UInt8]) -> [UInt8] {
        let needles = registry.needles
        guard !needles.isEmpty else { return bytes }
        return replace(needles, in: bytes) ?? bytes
    }

    /// Whether `text` holds a registered secret in any of the forms `redact` finds.
    public static func reveals(_ text: String) -> Bool { redact(text) != text }

    // MARK: Registry

    private static let registry = Registry()

    /// The registered values and, precomputed, every form of them to look for (longest first, so a
    /// URL is blanked before the path inside it).
    private final class Registry: @unchecked Sendable {
        private let lock = NSLock()
        private var values: Set<String> = []
        private var cached: [[UInt8]] = []

        var needles: [[UInt8]] {
            lock.lock()
            defer { lock.unlock() }
            return cached
        }

        func add(_ candidates: [String]) {
            let fresh = candidates.map { $0.trimmingCharacters(in: .whitespacesAndNewlines) }
                .filter { $0.count >= Secret.minimumLength }
            guard !fresh.isEmpty else { return }
            lock.lock()
            defer { lock.unlock() }
            var changed = false
            for value in fresh where !values.contains(value) {
                values.insert(value)
                changed = true
            }
            guard changed else { return }
            var forms = Set<[UInt8]>()
            for value in values { for form in Secret.forms(of: value) { forms.insert(Array(form.utf8)) } }
            cached = forms.sorted { $0.count != $1.count ? $0.count > $1.count : $0.lexicographicallyPrecedes($1) }
        }
    }

    /// The ways `value` shows up in text AgentShop handles: raw, JSON-escaped, percent-encoded.
    static func forms(of value: String) -> Set<String> {
        var forms: Set<String> = [value]
        for slash in [false, true] {
            for ascii in [false, true] { forms.insert(jsonEscaped(value, escapeSlash: slash, asciiOnly: ascii)) }
        }
        // Unreserved characters only (RFC 3986), and every byte; in both hex cases.
        let unreserved = CharacterSet(charactersIn: "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-._~")
        if let encoded = value.addingPercentEncoding(withAllowedCharacters: unreserved) {
            forms.insert(encoded)
            forms.insert(lowercasedHex(encoded))
            forms.insert(encoded.replacingOccurrences(of: "%20", with: "+"))
        }
        let everyByte = value.utf8.map { String(format: "%%%02X", $0) }.joined()
        forms.insert(everyByte)
        forms.insert(everyByte.lowercased())
        return forms
    }

    static func jsonEscaped(_ value: String, escapeSlash: Bool, asciiOnly: Bool) -> String {
        var out = ""
        for scalar in value.unicodeScalars {
            switch scalar {
            case "\"": out += "\\\""
            case "\\": out += "\\\\"
            case "/" where escapeSlash: out += "\\/"
            case "\n": out += "\\n"
            case "\r": out += "\\r"
            case "\t": out += "\\t"
            case "\u{08}": out += "\\b"
            case "\u{0C}": out += "\\f"
            default:
                if scalar.value < 0x20 || (asciiOnly && scalar.value > 0x7E) {
                    for unit in String(scalar).utf16 { out += String(format: "\\u%04x", unit) }
                } else {
                    out.unicodeScalars.append(scalar)
                }
            }
        }
        return out
    }

    /// `%2F` → `%2f`, leaving the other characters alone.
    private static func lowercasedHex(_ encoded: String) -> String {
        var out = ""
        var pending = 0
        for c in encoded {
            if c == "%" { pending = 2; out.append(c); continue }
            if pending > 0 { pending -= 1; out += c.lowercased(); continue }
            out.append(c)
        }
        return out
    }

    /// `bytes` with every needle replaced by the marker, or nil when none occurs.
    private static func replace(_ needles: [[UInt8]], in bytes: [UInt8]) -> [UInt8]? {
        var current = bytes
        var changed = false
        let marker = Array(Secret.marker.utf8)
        for needle in needles where !needle.isEmpty && needle.count <= current.count {
            guard let first = firstIndex(of: needle, in: current, from: 0) else { continue }
            var out: [UInt8] = []
            out.reserveCapacity(current.count)
            var start = 0
            var at: Int? = first
            while let i = at {
                out += current[start..<i]
                out += marker
                start = i + needle.count
                at = firstIndex(of: needle, in: current, from: start)
            }
            out += current[start...]
            current = out
            changed = true
        }
        return changed ? current : nil
    }

    private static func firstIndex(of needle: [UInt8], in haystack: [UInt8], from: Int) -> Int? {
        let n = needle.count, count = haystack.count
        guard n > 0, count - from >= n else { return nil }
        return haystack.withUnsafeBufferPointer { h in
            needle.withUnsafeBufferPointer { p in
                let head = p[0]
                guard let base = h.baseAddress else { return nil }
                var i = from
                let last = count - n
                while i <= last {
                    // memchr finds the candidates: debug builds scan a long page too slowly byte by byte.
                    guard let hit = memchr(base + i, Int32(head), last - i + 1) else { return nil }
                    i = base.distance(to: hit.assumingMemoryBound(to: UInt8.self))
                    var j = 1
                    while j < n && h[i + j] == p[j] { j += 1 }
                    if j == n { return i }
                    i += 1
                }
                return nil
            }
        }
    }
}
