import FlyingFox
import Foundation
import Lake

/// A web site for crawl tests: each path answers what its handler says, and every request is
/// recorded with its headers and arrival time, so tests can assert order, delays and headers.
public actor ScriptedSite {
    public struct Request: Sendable {
        public let method: String
        public let path: String
        public let headers: [String: String]
        /// Seconds since the site started.
        public let at: Double

        public func header(_ name: String) -> String? {
            headers.first { $0.key.caseInsensitiveCompare(name) == .orderedSame }?.value
        }
    }

    public struct Response: Sendable {
        public var status: Int
        public var headers: [String: String]
        public var body: [UInt8]
        /// Seconds to wait before answering (a slow server).
        public var delay: Double

        public init(status: Int = 200, headers: [String: String] = [:], body: [UInt8] = [], delay: Double = 0) {
            self.status = status
            self.headers = headers
            self.body = body
            self.delay = delay
        }

        public static func html(_ text: String, status: Int = 200, headers: [String: String] = [:]) -> Response {
            Response(status: status, headers: ["Content-Type": "text/html; charset=utf-8"].merging(headers) { $1 }, body: Array(text.utf8))
        }

        public static func text(_ text: String, status: Int = 200) -> Response {
            Response(status: status, headers: ["Content-Type": "text/plain"], body: Array(text.utf8))
        }

        public static func redirect(_ location: String, status: Int = 302) -> Response {
            Response(status: status, headers: ["Location": location])
        }
    }

    /// `hit` counts the requests to this path so far, this one included (1 for the first).
    public typealias Handler = @Sendable (_ request: Request, _ hit: Int) -> Response

    private var routes: [String: Handler] = [:]
    private var hits: [String: Int] = [:]
    public private(set) var requests: [Request] = []
    /// The most requests the site was answering at once.
    public private(set) var maxInFlight = 0
    private var inFlight = 0
    private let started = ContinuousClock.now
    /// Called on every request before it is answered (to interrupt a crawl midway, say).
    private var observer: (@Sendable (Request) async -> Void)?

    public init() {}

    public func route(_ path: String, _ handler: @escaping Handler) { routes[path] = handler }
    public func page(_ path: String, _ html: String) { routes[path] = { _, _ in .html(html) } }
    public func observe(_ observer: @escaping @Sendable (Request) async -> Void) { self.observer = observer }

    /// Paths requested, in arrival order.
    public var paths: [String] { requests.map(\.path) }

    public func handle(_ request: FlyingFox.HTTPRequest) async -> FlyingFox.HTTPResponse {
        var headers: [String: String] = [:]
        for (name, value) in request.headers { headers[name.rawValue] = value }
        let elapsed = ContinuousClock.now - started
        let seconds = Double(elapsed.components.seconds) + Double(elapsed.components.attoseconds) / 1e18
        let recorded = Request(method: request.method.rawValue, path: request.path, headers: headers, at: seconds)
        requests.append(recorded)
        hits[request.path, default: 0] += 1
        if let observer { await observer(recorded) }
        let response = routes[request.path]?(recorded, hits[request.path]!) ?? .text("not found", status: 404)
        inFlight += 1
        maxInFlight = max(maxInFlight, inFlight)
        if response.delay > 0 { try? await Task.sleep(for: .milliseconds(Int64(response.delay * 1000))) }
        inFlight -= 1
        var all: [HTTPHeader: String] = [:]
        for (name, value) in response.headers { all[HTTPHeader(name)] = value }
        return FlyingFox.HTTPResponse(statusCode: HTTPStatusCode(response.status, phrase: "Status"), headers: HTTPHeaders(all),
                                      body: Data(response.body))
    }

    /// Starts a site, lets `configure` add its pages, runs `body` with the base URL, stops it.
    public static func with(_ configure: (ScriptedSite) async -> Void,
                            _ body: (String, ScriptedSite) async throws -> Void) async throws {
        let site = ScriptedSite()
        await configure(site)
        try await LoopbackServer.with({ server in
            await server.appendRoute("GET *") { request in await site.handle(request) }
            await server.appendRoute("POST *") { request in await site.handle(request) }
        }) { base in try await body(base, site) }
    }
}

/// `bytes` gzip-compressed, for servers that send `Content-Encoding: gzip` or `.xml.gz` files.
public func gzipped(_ bytes: [UInt8]) throws -> [UInt8] {
    final class Collect: ByteSink {
        var bytes: [UInt8] = []
        func write(_ buffer: UnsafeRawBufferPointer) throws { bytes.append(contentsOf: buffer) }
        func finish() throws {}
    }
    let sink = Collect()
    let gzip = try GzipWriter(sink)
    try gzip.write(bytes)
    try gzip.finish()
    return sink.bytes
}
