import Foundation
import Transport

/// Where Scoup is and how hard to try.
public struct ScoupConfiguration: Sendable {
    public static let defaultBaseURL = "http://localhost:3001"

    /// Without a trailing slash.
    public var baseURL: String
    /// Sent as `Authorization: Bearer …`; nil sends no Authorization header.
    public var apiKey: Secret?
    /// Seconds for one call to Scoup (a scrape with JavaScript can be slow).
    public var timeout: Double
    /// `GET /health` is answered at once by a live Scoup, so it waits less and is never retried.
    public var healthTimeout: Double
    public var retry: RetryPolicy
    /// Calls in flight at once, across all tasks using this client.
    public var maxConcurrentRequests: Int
    public var userAgent: String

    public init(baseURL: String = ScoupConfiguration.defaultBaseURL, apiKey: Secret? = nil, timeout: Double = 30,
                healthTimeout: Double = 5, retry: RetryPolicy = RetryPolicy(), maxConcurrentRequests: Int = 4,
                userAgent: String = HTTPRequest.defaultUserAgent) {
        self.baseURL = baseURL.hasSuffix("/") ? String(baseURL.dropLast()) : baseURL
        self.apiKey = apiKey
        self.timeout = timeout
        self.healthTimeout = healthTimeout
        self.retry = retry
        self.maxConcurrentRequests = maxConcurrentRequests
        self.userAgent = userAgent
    }

    /// `SCOUP_BASE_URL` (default http://localhost:3001) and `SCOUP_API_KEY` from `environment`.
    public static func fromEnvironment(_ environment: [String: String] = ProcessInfo.processInfo.environment) -> ScoupConfiguration {
        let base = environment["SCOUP_BASE_URL"].flatMap { $0.isEmpty ? nil : $0 } ?? defaultBaseURL
        let key = environment["SCOUP_API_KEY"].flatMap { $0.isEmpty ? nil : Secret($0) }
        return ScoupConfiguration(baseURL: base, apiKey: key)
    }
}

/// Why a Scoup call failed: the endpoint, the page it was about, and never the API key.
public struct ScoupError: Error, CustomStringConvertible, Sendable {
    public enum Kind: String, Sendable {
        /// Scoup could not be reached (refused, DNS, timeout) even after retries.
        case unavailable
        /// 401 or 403: the API key is missing or wrong.
        case unauthorized
        /// Scoup kept answering 429, or asked to wait longer than allowed.
        case rateLimited
        /// Scoup kept answering 5xx.
        case serverError
        /// A 4xx other than 401/403/429: the request itself is wrong.
        case rejected
        /// A 2xx whose body is not the JSON expected.
        case invalidResponse
    }

    public let kind: Kind
    /// The Scoup endpoint, e.g. `http://localhost:3001/scrape`.
    public let url: String
    /// The page or sitemap the call was about, if any.
    public let target: String?
    /// Scoup's HTTP status, when it answered.
    public let status: Int?
    public let attempts: Int
    public let message: String

    public var description: String {
        var text = "Scoup \(url)"
        if let target { text += " (\(target))" }
        text += ": \(message)"
        if attempts > 1 { text += " after \(attempts) attempts" }
        return text
    }
}

/// Client of the Scoup crawler service: `GET /health`, `POST /scrape`, `POST /scrape/sitemap`, `POST /info`.
///
/// Transient failures (connection errors, timeouts, 429, retryable 5xx) are retried with exponential
/// backoff and jitter, honouring `Retry-After`, up to `retry.maxAttempts`; at most
/// `maxConcurrentRequests` calls are in flight. The API key is only ever put in the Authorization header.
public final class ScoupClient: Sendable {
    public let configuration: ScoupConfiguration
    private let client: HTTPClient
    private let limit: ConcurrencyLimit
    private let sleep: @Sendable (Double) async throws -> Void

    /// `sleep` waits between attempts; tests pass one that records the delays instead.
    public init(configuration: ScoupConfiguration = .fromEnvironment(), client: HTTPClient = HTTPClient(),
                sleep: @escaping @Sendable (Double) async throws -> Void = { seconds in
                    try await Task.sleep(nanoseconds: UInt64(max(0, seconds) * 1_000_000_000))
                }) {
        self.configuration = configuration
        self.client = client
        self.limit = ConcurrencyLimit(configuration.maxConcurrentRequests)
        self.sleep = sleep
    }

    /// Checks that Scoup is up, once and quickly, so that a stage fails before it starts rather than per URL.
    public func health() async throws -> ScoupHealth {
        let url = configuration.baseURL + "/health"
        let response: HTTPResponse
        do {
            response = try await send(makeRequest(url: url, method: "GET", body: nil, timeout: configuration.healthTimeout))
        } catch let error as TransportError {
            throw failure(.unavailable, url: url, target: nil, status: nil, attempts: 1,
                          "Scoup is not reachable at \(configuration.baseURL) (\(error.message)); is it running? "
                              + "Set SCOUP_BASE_URL if it listens elsewhere")
        }
        guard (200...299).contains(response.status) else {
            throw statusFailure(response, url: url, target: nil, attempts: 1, unhealthy: true)
        }
        let body = try? JSONDecoder().decode(JSONValue.self, from: Data(response.body))
        return ScoupHealth(status: body?["status"]?.stringValue, body: body)
    }

    /// `POST /scrape`.
    public func scrape(_ request: ScrapeRequest) async throws -> ScrapeResult {
        try await scrapeCountingAttempts(request).result
    }

    /// `POST /scrape`, and how many exchanges it took (a 503 then a 200 is 2), for the crawl log.
    public func scrapeCountingAttempts(_ request: ScrapeRequest) async throws -> (result: ScrapeResult, attempts: Int) {
        try await exchange("/scrape", body: request, target: request.url)
    }

    public func scrape(_ url: String, options: ScrapeOptions? = nil) async throws -> ScrapeResult {
        try await scrape(ScrapeRequest(url: url, options: options))
    }

    /// `POST /scrape/sitemap`: the page URLs listed by a sitemap.
    public func sitemap(_ request: SitemapRequest) async throws -> SitemapResult {
        try await call("/scrape/sitemap", body: request, target: request.sitemapUrl)
    }

    public func sitemap(_ sitemapURL: String, filters: JSONValue? = nil) async throws -> SitemapResult {
        try await sitemap(SitemapRequest(sitemapUrl: sitemapURL, filters: filters))
    }

    /// `POST /info` with `infoOnly: true`: status, title and meta without the page body, and the
    /// whole answer (whatever else this Scoup sends: headers, timings, its envelope).
    public func info(_ url: String) async throws -> ScoupPageInfo {
        let answer: JSONValue = try await call("/info", body: InfoRequest(url: url), target: url)
        return ScoupPageInfo(answer: answer)
    }

    // MARK: Calls

    private func call<Body: Encodable, Result: Decodable>(_ path: String, body: Body, target: String) async throws -> Result {
        try await exchange(path, body: body, target: target).result
    }

    /// One call with its retries: the answer, and the attempt that gave it.
    private func exchange<Body: Encodable, Result: Decodable>(_ path: String, body: Body,
                                                              target: String) async throws -> (result: Result, attempts: Int) {
        let url = configuration.baseURL + path
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.sortedKeys]
        let request = makeRequest(url: url, method: "POST", body: Array(try encoder.encode(body)), timeout: configuration.timeout)
        let policy = configuration.retry
        var attempt = 0
        while true {
            attempt += 1
            let response: HTTPResponse
            do {
                response = try await send(request)
            } catch let error as TransportError {
                guard error.isTransient, attempt < policy.maxAttempts else {
                    throw failure(.unavailable, url: url, target: target, status: nil, attempts: attempt,
                                  "Scoup is not reachable at \(configuration.baseURL) (\(error.message))")
                }
                try await sleep(policy.backoff(afterAttempt: attempt))
                continue
            }
            if (200...299).contains(response.status) {
                do {
                    return (try JSONDecoder().decode(Result.self, from: Data(response.body)), attempt)
                } catch {
                    throw failure(.invalidResponse, url: url, target: target, status: response.status, attempts: attempt,
                                  "unexpected response body: \(error)")
                }
            }
            guard RetryPolicy.isRetryable(status: response.status), attempt < policy.maxAttempts else {
                throw statusFailure(response, url: url, target: target, attempts: attempt, unhealthy: false)
            }
            var delay = policy.backoff(afterAttempt: attempt)
            if let header = response.header("Retry-After"), let asked = RetryAfter.seconds(header) {
                guard asked <= policy.maxRetryAfter else {
                    throw failure(response.status == 429 ? .rateLimited : .serverError, url: url, target: target,
                                  status: response.status, attempts: attempt,
                                  "HTTP \(response.status) with Retry-After \(Int(asked))s, longer than the \(Int(policy.maxRetryAfter))s allowed")
                }
                delay = asked
            }
            try await sleep(delay)
        }
    }

    /// One exchange, holding a concurrency slot only while it is on the wire (not while backing off).
    /// The answer comes back with every registered secret blanked (`Secret.redact`), so a Scoup or
    /// proxy that echoes the key cannot carry it into a health report, a page or a message.
    private func send(_ request: HTTPRequest) async throws -> HTTPResponse {
        await limit.acquire()
        do {
            var response = try await client.send(request)
            await limit.release()
            response.body = Secret.redact(response.body)
            return response
        } catch {
            await limit.release()
            throw error
        }
    }

    private func makeRequest(url: String, method: String, body: [UInt8]?, timeout: Double) -> HTTPRequest {
        var headers: [(name: String, value: String)] = [("Accept", "application/json")]
        if body != nil { headers.append(("Content-Type", "application/json")) }
        if let key = configuration.apiKey { headers.append(("Authorization", "Bearer \(key.value)")) }
        return HTTPRequest(url: url, method: method, headers: headers, body: body, timeout: timeout,
                           connectTimeout: min(10, timeout), maxRedirects: 0, userAgent: configuration.userAgent)
    }

    private func statusFailure(_ response: HTTPResponse, url: String, target: String?, attempts: Int, unhealthy: Bool) -> ScoupError {
        let detail = Self.serverMessage(response.body).map { ": \($0)" } ?? ""
        switch response.status {
        case 401, 403:
            let hint = configuration.apiKey == nil ? "SCOUP_API_KEY is not set" : "check SCOUP_API_KEY"
            return failure(.unauthorized, url: url, target: target, status: response.status, attempts: attempts,
                           "Scoup refused the API key (HTTP \(response.status)); \(hint)\(detail)")
        case 429:
            return failure(.rateLimited, url: url, target: target, status: 429, attempts: attempts, "rate limited (HTTP 429)\(detail)")
        case 500...599:
            let what = unhealthy ? "Scoup is unhealthy" : "Scoup failed"
            return failure(.serverError, url: url, target: target, status: response.status, attempts: attempts,
                           "\(what) (HTTP \(response.status))\(detail)")
        default:
            return failure(.rejected, url: url, target: target, status: response.status, attempts: attempts,
                           "HTTP \(response.status)\(detail)")
        }
    }

    /// Every message goes through here so that a secret echoed back by a server or proxy is blanked out.
    private func failure(_ kind: ScoupError.Kind, url: String, target: String?, status: Int?, attempts: Int,
                         _ message: String) -> ScoupError {
        ScoupError(kind: kind, url: url, target: target, status: status, attempts: attempts, message: Secret.redact(message))
    }

    /// `error` or `message` of a JSON body, else the start of the text; at most 200 characters.
    private static func serverMessage(_ body: [UInt8]) -> String? {
        guard !body.isEmpty else { return nil }
        if let json = try? JSONDecoder().decode(JSONValue.self, from: Data(body)),
           let message = json["error"]?.stringValue ?? json["message"]?.stringValue {
            return String(message.prefix(200))
        }
        let text = String(decoding: body.prefix(200), as: UTF8.self).trimmingCharacters(in: .whitespacesAndNewlines)
        return text.isEmpty ? nil : text
    }
}
