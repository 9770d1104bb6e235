import Foundation
import Lake
import Transport

/// The HTTP exchange every wire-format provider shares: send one request, turn transport
/// failures and non-2xx statuses into `LLMError`s (Retry-After captured), and keep every secret
/// out of what comes back: a server or proxy that echoes the key gets it blanked (`Secret.redact`)
/// in its answer, before any text of it reaches an answer, the cache, a record or a message.
struct ProviderHTTP: Sendable {
    let kind: ProviderKind
    let client: HTTPClient
    /// Only whether there is one (for the hint of a 401); its value is registered as a `Secret`.
    let key: Secret?

    /// POSTs `body` as JSON to `url` and returns the parsed 2xx body; anything else throws.
    func postJSON(_ url: String, headers: [(name: String, value: String)], body: JSONValue,
                  timeout: Double) async throws -> (json: JSONValue, response: HTTPResponse) {
        var all: [(name: String, value: String)] = [("Content-Type", "application/json"), ("Accept", "application/json")]
        all += headers
        let request = HTTPRequest(url: url, method: "POST", headers: all, body: Array(body.serialized().utf8),
                                  timeout: timeout, connectTimeout: min(10, timeout), maxRedirects: 0)
        let response = try await exchange(request)
        return (try parse(response, url: url), response)
    }

    /// GETs `url`; the parsed 2xx body.
    func getJSON(_ url: String, headers: [(name: String, value: String)], timeout: Double) async throws -> JSONValue {
        let request = HTTPRequest(url: url, method: "GET", headers: [("Accept", "application/json")] + headers,
                                  timeout: timeout, connectTimeout: min(10, timeout), maxRedirects: 0)
        return try parse(try await exchange(request), url: url)
    }

    private func exchange(_ request: HTTPRequest) async throws -> HTTPResponse {
        let response: HTTPResponse
        do {
            response = try await client.send(request)
        } catch let error as TransportError {
            let kind: LLMError.Kind = error.kind == .timeout ? .timeout : .unavailable
            throw failure(kind, status: nil, "\(Self.endpoint(request.url)) not reachable: \(error.message)")
        }
        var redacted = response
        redacted.body = Secret.redact(response.body)
        guard (200...299).contains(redacted.status) else { throw statusError(redacted, url: request.url) }
        return redacted
    }

    private func parse(_ response: HTTPResponse, url: String) throws -> JSONValue {
        do {
            // The bytes are redacted already; the strings again, decoded, for a key hidden behind `\u` escapes.
            return try response.body.withUnsafeBytes { try JSONValue.parse(bytes: $0) }.redactingSecrets()
        } catch {
            throw malformed("\(Self.endpoint(url)) answered HTTP \(response.status) with a body that is not JSON (\(error))")
        }
    }

    /// A 2xx body that is not the documented shape.
    func malformed(_ message: String) -> LLMError { failure(.malformedResponse, status: nil, message) }

    /// Maps a non-2xx response to an error kind, with the provider's own message when its body has one.
    func statusError(_ response: HTTPResponse, url: String) -> LLMError {
        let status = response.status
        let kind: LLMError.Kind
        switch status {
        case 401, 403: kind = .unauthorized
        case 429: kind = .rateLimited
        case 408: kind = .timeout
        // 529 is Anthropic's "overloaded".
        case 500...599: kind = .server
        case 400...499: kind = .badRequest
        default: kind = .server
        }
        let detail = Self.errorMessage(response.body).map { ": \($0)" } ?? ""
        let hint = kind == .unauthorized ? (key == nil ? " (no API key set)" : " (check the API key)") : ""
        return failure(kind, status: status, retryAfter: Self.retryAfter(response),
                       "\(Self.endpoint(url)) refused the request\(hint)\(detail)")
    }

    func failure(_ kind: LLMError.Kind, status: Int?, retryAfter: Double? = nil, _ message: String) -> LLMError {
        LLMError(kind, provider: self.kind, status: status, retryAfter: retryAfter, message: Secret.redact(message))
    }

    /// `retry-after-ms` (OpenAI) when present, else `Retry-After` (seconds or an HTTP-date).
    static func retryAfter(_ response: HTTPResponse) -> Double? {
        if let ms = response.header("retry-after-ms").flatMap({ Double($0.trimmingCharacters(in: .whitespaces)) }) {
            return max(0, ms / 1000)
        }
        return response.header("Retry-After").flatMap { RetryAfter.seconds($0) }
    }

    /// The provider's message from the error bodies they send: `{error: {message, type, code}}`
    /// (OpenAI, Groq, Perplexity), `{type: "error", error: {type, message}}` (Anthropic),
    /// `{error: "…"}` (Ollama), `{detail: …}`; else the start of the text. At most 300 characters.
    static func errorMessage(_ body: [UInt8]) -> String? {
        guard !body.isEmpty else { return nil }
        if let json = try? body.withUnsafeBytes({ try JSONValue.parse(bytes: $0) }) {
            if let error = json.member("error") {
                if let text = error.stringValue { return String(text.prefix(300)) }
                var parts: [String] = []
                if let type = error.member("type")?.stringValue { parts.append(type) }
                if let code = error.member("code")?.plainText, !code.isEmpty, code != parts.first { parts.append(code) }
                let message = error.member("message")?.stringValue ?? ""
                let text = (parts.isEmpty ? "" : parts.joined(separator: "/") + ": ") + message
                if !text.isEmpty { return String(text.prefix(300)) }
            }
            if let detail = json.member("detail") { return String(detail.plainText.prefix(300)) }
            if let message = json.member("message")?.stringValue { return String(message.prefix(300)) }
        }
        let text = String(decoding: body.prefix(300), as: UTF8.self).trimmingCharacters(in: .whitespacesAndNewlines)
        return text.isEmpty ? nil : text
    }

    /// Scheme, host and path: no query string or user info, which some gateways use for keys.
    static func endpoint(_ url: String) -> String {
        var text = url
        if let q = text.firstIndex(of: "?") { text = String(text[..<q]) }
        if let scheme = text.range(of: "://"), let at = text[scheme.upperBound...].firstIndex(of: "@"),
           !text[scheme.upperBound..<at].contains("/") {
            text = String(text[..<scheme.upperBound]) + String(text[text.index(after: at)...])
        }
        return text
    }

    /// `base` without a trailing slash, then `path`.
    static func join(_ base: String, _ path: String) -> String {
        var base = base
        while base.hasSuffix("/") { base.removeLast() }
        return base + path
    }
}

extension JSONValue {
    /// Every string, and every object key, with the registered secrets blanked.
    func redactingSecrets() -> JSONValue {
        switch self {
        case .string(let text): return .string(Secret.redact(text))
        case .array(let items): return .array(items.map { $0.redactingSecrets() })
        case .object(let object):
            var out = JSONObject()
            for entry in object { out[Secret.redact(entry.key)] = entry.value.redactingSecrets() }
            return .object(out)
        default: return self
        }
    }

    /// The value under `key` of an object; nil for anything else.
    func member(_ key: String) -> JSONValue? { objectValue?[key] }

    /// An integer, from either JSON number form when it is whole.
    var integerValue: Int? {
        switch self {
        case .int(let i): return Int(i)
        case .double(let d) where d.rounded() == d && abs(d) < 1e15: return Int(d)
        default: return nil
        }
    }
}

/// Milliseconds since `start`.
func elapsedMs(since start: ContinuousClock.Instant) -> Int {
    let d = ContinuousClock.now - start
    return Int(d.components.seconds * 1000) + Int(d.components.attoseconds / 1_000_000_000_000_000)
}
