import Foundation
import Lake
import Transport

/// How one page is requested.
public struct FetchSettings: Sendable {
    public var timeout: Double
    public var connectTimeout: Double
    public var maxBodyBytes: Int
    public var maxRedirects: Int
    public var userAgent: String
    public var retry: RetryPolicy

    public init(timeout: Double = 30, connectTimeout: Double = 10, maxBodyBytes: Int = 10 * 1024 * 1024, maxRedirects: Int = 5,
                userAgent: String = HTTPRequest.defaultUserAgent, retry: RetryPolicy = RetryPolicy()) {
        self.timeout = timeout
        self.connectTimeout = connectTimeout
        self.maxBodyBytes = maxBodyBytes
        self.maxRedirects = maxRedirects
        self.userAgent = userAgent
        self.retry = retry
    }
}

/// A response that pointed elsewhere, on the way to the final one.
public struct RedirectHop: Sendable, Equatable {
    public var url: String
    public var status: Int
    public var headers: [Header]

    public init(url: String, status: Int, headers: [Header]) {
        self.url = url
        self.status = status
        self.headers = headers
    }
}

/// A header field as a value type that compares.
public struct Header: Sendable, Equatable, Codable {
    public var name: String
    public var value: String

    public init(_ name: String, _ value: String) {
        self.name = name
        self.value = value
    }
}

/// What fetching one URL came to: the final response (any status), or an error without one.
public struct PageFetch: Sendable {
    public var url: String
    public var finalURL: String
    /// nil when no response arrived (timeout, refused connection, body too large…).
    public var status: Int?
    public var headers: [Header]
    /// The body with content coding undone (libcurl decodes gzip, br, zstd).
    public var body: [UInt8]
    public var redirects: [RedirectHop]
    /// The request header fields sent for the final URL (User-Agent and conditional fields included).
    public var requestHeaders: [Header]
    public var seconds: Double
    public var attempts: Int
    public var error: String?
    /// When the final response arrived.
    public var fetchedAt: Date

    public func header(_ name: String) -> String? {
        headers.last { WARCHeaders.sameName($0.name, name) }?.value
    }
}

/// Fetches one URL politely: waits its turn at the host's gate and the global limit, follows
/// redirects itself so that every hop is checked (no redirect into a private network) and recorded,
/// retries 429, 5xx, timeouts and connection errors with exponential backoff and jitter (honouring
/// `Retry-After`, which pauses the whole host), and never throws: a failure is a `PageFetch` with an error.
public final class PageFetcher: Sendable {
    public let client: HTTPClient
    public let settings: FetchSettings
    /// nil when a redirect target may be followed, else why not.
    private let redirectRefusal: @Sendable (String) -> String?
    private let sleep: @Sendable (Double) async -> Void

    public init(client: HTTPClient, settings: FetchSettings, redirectRefusal: @escaping @Sendable (String) -> String? = { _ in nil },
                sleep: @escaping @Sendable (Double) async -> Void = { try? await Task.sleep(for: .milliseconds(Int64($0 * 1000))) }) {
        self.client = client
        self.settings = settings
        self.redirectRefusal = redirectRefusal
        self.sleep = sleep
    }

    public func fetch(_ url: String, headers extra: [Header] = [], gate: (any HostTurnstile)? = nil,
                      global: ConcurrencyLimit? = nil) async -> PageFetch {
        var attempt = 0
        let started = Date()
        while true {
            attempt += 1
            let outcome = await fetchOnce(url, attempt: attempt, headers: extra, gate: gate, global: global)
            var result = outcome.result
            result.attempts = attempt
            result.seconds = Date().timeIntervalSince(started)
            guard attempt < settings.retry.maxAttempts, let wait = outcome.retryAfter else { return result }
            guard wait <= settings.retry.maxRetryAfter else {
                result.error = (result.error.map { $0 + "; " } ?? "") + "Retry-After of \(Int(wait))s is longer than allowed"
                return result
            }
            // The whole host waits, not just this URL: the server asked for less traffic.
            await gate?.pause(for: wait)
            await sleep(wait)
        }
    }

    private struct Outcome {
        var result: PageFetch
        /// Seconds to wait before trying again; nil when the result is final.
        var retryAfter: Double?
    }

    private func fetchOnce(_ url: String, attempt: Int, headers extra: [Header], gate: (any HostTurnstile)?, global: ConcurrencyLimit?) async -> Outcome {
        var current = url
        var hops: [RedirectHop] = []
        var visited: Set<String> = [url]
        let started = Date()
        func failure(_ message: String, retryAfter: Double? = nil, status: Int? = nil, headers: [Header] = [],
                     body: [UInt8] = [], requestHeaders: [Header] = []) -> Outcome {
            Outcome(result: PageFetch(url: url, finalURL: current, status: status, headers: headers, body: body, redirects: hops,
                                      requestHeaders: requestHeaders, seconds: Date().timeIntervalSince(started), attempts: 1,
                                      error: message, fetchedAt: Date()),
                    retryAfter: retryAfter)
        }
        while true {
            let isFile = current.lowercased().hasPrefix("file:")
            var requestHeaders = [Header("User-Agent", settings.userAgent)]
            if !isFile { requestHeaders += extra }
            let request = HTTPRequest(url: current, headers: requestHeaders.dropFirst().map { (name: $0.name, value: $0.value) },
                                      timeout: settings.timeout, connectTimeout: settings.connectTimeout,
                                      maxBodyBytes: settings.maxBodyBytes, maxRedirects: 0, userAgent: settings.userAgent)
            await global?.acquire()
            await gate?.acquire()
            let sent: Result<HTTPResponse, Error>
            do {
                sent = .success(try await client.send(request))
            } catch {
                sent = .failure(error)
            }
            await gate?.release()
            await global?.release()
            let response: HTTPResponse
            switch sent {
            case .success(let r): response = r
            case .failure(let error as TransportError):
                let retry = error.isTransient && !isFile ? settings.retry.backoff(afterAttempt: attempt) : nil
                return failure("\(error.kind.rawValue): \(error.message)", retryAfter: retry, requestHeaders: requestHeaders)
            case .failure(let error):
                return failure("\(error)", requestHeaders: requestHeaders)
            }
            let headers = response.headers.map { Header($0.name, $0.value) }
            if isFile {
                // libcurl reports no status for file://: the file was read, so it is there.
                return Outcome(result: PageFetch(url: url, finalURL: current, status: 200, headers: headers, body: response.body,
                                                 redirects: hops, requestHeaders: [], seconds: Date().timeIntervalSince(started),
                                                 attempts: 1, error: nil, fetchedAt: Date()),
                               retryAfter: nil)
            }
            let status = response.status
            if (300...399).contains(status), status != 304, let location = response.header("Location") {
                guard let next = URLNormalizer().resolve(location, against: current) else {
                    return failure("redirect to an invalid URL: \(location)", status: status, headers: headers, requestHeaders: requestHeaders)
                }
                hops.append(RedirectHop(url: current, status: status, headers: headers))
                if let reason = redirectRefusal(next) {
                    return failure("redirect to \(next) refused: \(reason)", requestHeaders: requestHeaders)
                }
                guard visited.insert(next).inserted else {
                    return failure("redirect loop: \((hops.map(\.url) + [next]).joined(separator: " -> "))", requestHeaders: requestHeaders)
                }
                guard hops.count <= settings.maxRedirects else {
                    return failure("more than \(settings.maxRedirects) redirects", requestHeaders: requestHeaders)
                }
                current = next
                continue
            }
            var retryAfter: Double?
            if RetryPolicy.isRetryable(status: status) {
                let hinted = (status == 429 || status == 503) ? response.header("Retry-After").flatMap { RetryAfter.seconds($0) } : nil
                retryAfter = hinted ?? settings.retry.backoff(afterAttempt: attempt)
            }
            return Outcome(result: PageFetch(url: url, finalURL: current, status: status, headers: headers, body: response.body,
                                             redirects: hops, requestHeaders: requestHeaders, seconds: Date().timeIntervalSince(started),
                                             attempts: 1, error: retryAfter != nil ? "HTTP \(status)" : nil, fetchedAt: Date()),
                           retryAfter: retryAfter)
        }
    }
}
