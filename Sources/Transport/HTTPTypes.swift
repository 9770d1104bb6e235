/// An HTTP (or file://) request. Plain values: no pointers, safe to pass between tasks.
public struct HTTPRequest: Sendable {
    public var url: String
    public var method: String
    public var headers: [(name: String, value: String)]
    public var body: [UInt8]?
    /// Seconds for the whole transfer, redirects included.
    public var timeout: Double
    public var connectTimeout: Double
    /// Bodies larger than this abort the transfer with `TransportError.tooLarge`.
    public var maxBodyBytes: Int
    /// When true, a body larger than `maxBodyBytes` is cut there and the response returned (the
    /// transfer stops early) instead of failing: for files read only up to a limit, as robots.txt.
    public var keepsBodyPrefix = false
    /// Redirects followed; 0 returns the 3xx response itself.
    public var maxRedirects: Int
    public var userAgent: String
    /// A PEM file of CA certificates that verify the server, in place of the system's bundle (for a
    /// private CA). Verification itself is always on: there is no switch to turn it off.
    public var caFile: String?

    public init(url: String, method: String = "GET", headers: [(name: String, value: String)] = [], body: [UInt8]? = nil,
                timeout: Double = 30, connectTimeout: Double = 10, maxBodyBytes: Int = 50 * 1024 * 1024,
                maxRedirects: Int = 5, userAgent: String = HTTPRequest.defaultUserAgent) {
        self.url = url
        self.method = method
        self.headers = headers
        self.body = body
        self.timeout = timeout
        self.connectTimeout = connectTimeout
        self.maxBodyBytes = maxBodyBytes
        self.maxRedirects = maxRedirects
        self.userAgent = userAgent
    }

    public static let defaultUserAgent = "AgentShop/0.1 (+https://github.com/agentshop/agentshop)"

    public func header(_ name: String) -> String? {
        headers.first { $0.name.caseInsensitiveCompare(name) == .orderedSame }?.value
    }
}

/// The final response of a transfer, with the redirects that led to it.
public struct HTTPResponse: Sendable {
    /// The URL the response came from (after redirects).
    public var url: String
    public var status: Int
    public var headers: [(name: String, value: String)]
    public var body: [UInt8]
    /// Every URL that answered with a redirect, in order, before `url`.
    public var redirects: [String]
    /// Wall time of the whole exchange, in seconds.
    public var seconds: Double
    /// `1.1`, `2`…; empty for file://.
    public var httpVersion: String

    public func header(_ name: String) -> String? {
        headers.last { $0.name.caseInsensitiveCompare(name) == .orderedSame }?.value
    }

    public var text: String { String(decoding: body, as: UTF8.self) }
}

/// Why a transfer failed, with the URL it was for.
public struct TransportError: Error, CustomStringConvertible, Sendable, Equatable {
    public enum Kind: String, Sendable {
        case timeout, connect, dns, tls, tooLarge, tooManyRedirects, invalidURL, unsupported, io
        /// The connection would have reached a loopback, private or link-local address that the client's
        /// `AddressPolicy` refuses; the message names the address.
        case internalAddress
        /// The body ended before its (gzip/deflate) content did: a connection closed early.
        case truncated
    }

    public let kind: Kind
    public let url: String
    public let message: String

    public init(_ kind: Kind, url: String, message: String) {
        self.kind = kind
        self.url = url
        self.message = message
    }

    public var description: String { "\(url): \(message)" }

    /// Worth retrying later (timeouts, refused, reset or cut connections).
    public var isTransient: Bool { kind == .timeout || kind == .connect || kind == .dns || kind == .io || kind == .truncated }
}
