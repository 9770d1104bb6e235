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
    /// `SCOUP_API_KEY`, `ALERT_WEBHOOK_SECRET`, `NOTIFICATION_EMAIL_PASSWORD`, `GITHUB_TOKEN`…).
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
    /// (`\/`, `\"`, `\u` escapes…) or percent-encoded, in any mix (see `match`).
    public static func redact(_ text: String) -> String {
        let needles = registry.needles
        guard !needles.isEmpty else { return text }
        var text = text
        guard let out = text.withUTF8({ replace(needles, in: $0) }) else { return text }
        return String(decoding: out, as: UTF8.self)
    }

    /// `bytes` with every registered secret replaced, as `redact(_:)` does for text.
    public static func redact(_ bytes: [UInt8]) -> [UInt8] {
        let needles = registry.needles
        guard !needles.isEmpty else { return bytes }
        return bytes.withUnsafeBufferPointer { replace(needles, in: $0) } ?? bytes
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

    /// The byte strings to look for: the value, and for a value beyond ASCII its JSON form with
    /// `\u` escapes (every other encoding is matched byte by byte, see `match`).
    static func forms(of value: String) -> Set<String> {
        [value, unicodeEscaped(value)]
    }

    /// `value` with every character beyond ASCII as JSON `\u` escapes (UTF-16 units).
    static func unicodeEscaped(_ value: String) -> String {
        var out = ""
        for scalar in value.unicodeScalars {
            if scalar.value > 0x7E {
                for unit in String(scalar).utf16 { out += String(format: "\\u%04x", unit) }
            } else {
                out.unicodeScalars.append(scalar)
            }
        }
        return out
    }

    /// `bytes` with every occurrence of every needle replaced by the marker, or nil when none occurs
    /// (text without a secret is not copied).
    private static func replace(_ needles: [[UInt8]], in bytes: UnsafeBufferPointer<UInt8>) -> [UInt8]? {
        var current: [UInt8]?
        for needle in needles where !needle.isEmpty {
            let replaced = needle.withUnsafeBufferPointer { n in
                if let current { return current.withUnsafeBufferPointer { replaceOne(n, in: $0) } }
                return replaceOne(n, in: bytes)
            }
            if let replaced { current = replaced }
        }
        return current
    }

    private static func replaceOne(_ n: UnsafeBufferPointer<UInt8>, in h: UnsafeBufferPointer<UInt8>) -> [UInt8]? {
        let marker = Array(Secret.marker.utf8)
        var out: [UInt8] = []
        var copied = 0
        var found = false
        var i = 0
        let head = n[0]
        while i < h.count {
            let c = h[i]
            // Only a byte that can begin a plain or an encoded occurrence is worth a match.
            if c == head || c == 0x25 || c == 0x5C || (c == 0x2B && head == 0x20), let end = match(n, in: h, at: i) {
                if !found { out.reserveCapacity(h.count) }
                found = true
                out += h[copied..<i]
                out += marker
                copied = end
                i = end
            } else {
                i += 1
            }
        }
        guard found else { return nil }
        out += h[copied...]
        return out
    }

    /// Where an occurrence of `needle` starting at `start` ends, each of its bytes written as itself,
    /// percent-encoded (either hex case; `+` for a space) or JSON-escaped (`\/`, `\"`, `\\`, `\u00XX`,
    /// `\n`, `\r`, `\t`), in any mix; nil when there is none.
    private static func match(_ needle: UnsafeBufferPointer<UInt8>, in h: UnsafeBufferPointer<UInt8>, at start: Int) -> Int? {
        var i = start
        let count = h.count
        for b in needle {
            guard i < count else { return nil }
            let c = h[i]
            // The encoded forms first: a `%` or `\` in the secret itself may be written encoded too.
            if c == 0x25, i + 2 < count, hexByte(h[i + 1], h[i + 2]) == b { i += 3; continue }
            if c == 0x5C, b == 0x5C, i + 1 < count, h[i + 1] == 0x5C { i += 2; continue }
            if c == b { i += 1; continue }
            if c == 0x2B, b == 0x20 { i += 1; continue }
            if c == 0x5C, i + 1 < count {
                let e = h[i + 1]
                if e == b && (b == 0x2F || b == 0x22 || b == 0x5C) { i += 2; continue }
                if (b == 0x0A && e == 0x6E) || (b == 0x0D && e == 0x72) || (b == 0x09 && e == 0x74) { i += 2; continue }
                if e == 0x75, b < 0x80, i + 5 < count, hexByte(h[i + 2], h[i + 3]) == 0, hexByte(h[i + 4], h[i + 5]) == b {
                    i += 6; continue
                }
            }
            return nil
        }
        return i
    }

    private static func hexByte(_ high: UInt8, _ low: UInt8) -> UInt8? {
        func digit(_ c: UInt8) -> UInt8? {
            switch c {
            case 0x30...0x39: return c - 0x30
            case 0x41...0x46: return c - 0x41 + 10
            case 0x61...0x66: return c - 0x61 + 10
            default: return nil
            }
        }
        guard let h = digit(high), let l = digit(low) else { return nil }
        return h << 4 | l
    }
}
