import FlyingFox
import Foundation

/// A Scoup-compatible service for tests: the four endpoints, Bearer token checked on each.
///
/// The target URL in a request body picks a behaviour: `flaky` answers 503 once, `ratelimited`
/// 429 once with `Retry-After: 7`, `ratelimited-date` 429 once with an HTTP-date 3 s ahead,
/// `ratelimited-long` 429 with an hour's Retry-After, `always503` never recovers, `slow` takes
/// 200 ms (for the concurrency cap), `bad-request` answers 400, `enveloped` gets a `/info` answer
/// inside a `{success, data}` envelope.
public actor FakeScoup {
    public struct Call: Sendable {
        public let method: String
        public let path: String
        public let authorization: String?
        public let bodyData: Data
        public let contentType: String?

        public var body: [String: Any]? { (try? JSONSerialization.jsonObject(with: bodyData)) as? [String: Any] }
    }

    public let token: String
    public private(set) var calls: [Call] = []
    private var seen: [String: Int] = [:]
    private var inFlight = 0
    public private(set) var maxInFlight = 0
    /// Pages `/scrape` serves: url -> (html, links). A url not here gets the generic page.
    let site: [String: (html: String, links: [String])]
    /// What `/scrape/sitemap` lists.
    let sitemapURLs: [String]

    public init(token: String, site: [String: (html: String, links: [String])] = [:],
                sitemapURLs: [String] = ["https://shop.example/p/1", "https://shop.example/p/2"]) {
        self.token = token
        self.site = site
        self.sitemapURLs = sitemapURLs
    }

    /// Starts the fake, runs `body` with its base URL, stops it.
    public static func with(token: String, site: [String: (html: String, links: [String])] = [:], sitemapURLs: [String]? = nil,
                            _ body: (String, FakeScoup) async throws -> Void) async throws {
        let fake = sitemapURLs.map { FakeScoup(token: token, site: site, sitemapURLs: $0) } ?? FakeScoup(token: token, site: site)
        try await LoopbackServer.with({ server in
            for route in ["GET /health", "POST /scrape", "POST /scrape/sitemap", "POST /info"] {
                await server.appendRoute(HTTPRoute(stringLiteral: route)) { request in try await fake.handle(request) }
            }
        }) { base in try await body(base, fake) }
    }

    public var callCount: Int { calls.count }

    private func enter() { inFlight += 1; maxInFlight = max(maxInFlight, inFlight) }
    private func leave() { inFlight -= 1 }
    private func count(_ key: String) -> Int {
        seen[key, default: 0] += 1
        return seen[key]!
    }

    public func handle(_ request: FlyingFox.HTTPRequest) async throws -> FlyingFox.HTTPResponse {
        let data = try await request.bodyData
        let json = (try? JSONSerialization.jsonObject(with: data)) as? [String: Any]
        let authorization = request.headers[HTTPHeader("Authorization")]
        calls.append(Call(method: request.method.rawValue, path: request.path, authorization: authorization, bodyData: data,
                          contentType: request.headers[HTTPHeader("Content-Type")]))
        guard authorization == "Bearer \(token)" else {
            // Echo what was received, as careless services do, so that the client's redaction is tested.
            return Self.json(["error": "invalid token: \(authorization ?? "none")"], status: .unauthorized)
        }
        let target = (json?["url"] as? String) ?? (json?["sitemapUrl"] as? String) ?? ""
        if target.contains("slow") {
            enter()
            try await Task.sleep(nanoseconds: 200_000_000)
            leave()
        }
        if target.contains("always503") { return Self.json(["error": "overloaded"], status: .serviceUnavailable) }
        if target.contains("bad-request") { return Self.json(["message": "url must be absolute"], status: .badRequest) }
        if target.contains("ratelimited-long") {
            return Self.json(["error": "slow down"], status: .tooManyRequests, headers: ["Retry-After": "3600"])
        }
        if target.contains("ratelimited-date"), count(target) == 1 {
            let formatter = DateFormatter()
            formatter.locale = Locale(identifier: "en_US_POSIX")
            formatter.timeZone = TimeZone(identifier: "GMT")
            formatter.dateFormat = "EEE, dd MMM yyyy HH:mm:ss 'GMT'"
            let date = formatter.string(from: Date().addingTimeInterval(3))
            return Self.json(["error": "slow down"], status: .tooManyRequests, headers: ["Retry-After": date])
        }
        if target.contains("ratelimited"), !target.contains("ratelimited-date"), count(target) == 1 {
            return Self.json(["error": "slow down"], status: .tooManyRequests, headers: ["Retry-After": "7"])
        }
        if target.contains("flaky"), count(target) == 1 { return Self.json(["error": "warming up"], status: .serviceUnavailable) }

        switch request.path {
        case "/health":
            return Self.json(["status": "ok", "version": "1.4.0", "uptime": 3600, "browser": ["pages": 2]])
        case "/scrape":
            if let page = site[target] {
                return Self.json(["statusCode": 200, "html": page.html, "title": "Page", "links": page.links,
                                  "meta": ["description": "from the fake"], "screenshotUrl": NSNull()])
            }
            if !site.isEmpty { return Self.json(["statusCode": 404, "html": "<html><body>not found</body></html>", "links": []]) }
            let options = json?["options"] as? [String: Any] ?? [:]
            var custom: [String: Any] = [:]
            for (name, _) in options["customSelectors"] as? [String: String] ?? [:] { custom[name] = "value of \(name)" }
            return Self.json([
                "statusCode": 200, "html": "<html><title>Page</title><body>\(target)</body></html>", "title": "Page",
                "text": "Page", "content": "<body>\(target)</body>", "meta": ["description": "A page"],
                "links": ["https://shop.example/a", ["href": "https://shop.example/b", "text": "B"]],
                "images": ["https://shop.example/i.png"], "customData": custom,
                "screenshotUrl": (options["screenshot"] as? Bool) == true ? "https://scoup.local/shot.png" : NSNull(),
            ])
        case "/scrape/sitemap":
            return Self.json(["urls": sitemapURLs])
        case "/info":
            guard json?["infoOnly"] as? Bool == true else { return Self.json(["error": "infoOnly missing"], status: .badRequest) }
            if target.contains("enveloped") {
                // As Scoup answers: its fields inside a `data` envelope, with `status` for the page's status.
                return Self.json(["success": true, "data": [
                    "url": target, "status": 200, "title": "Enveloped title", "contentType": "text/html; charset=utf-8",
                    "meta": ["description": "An enveloped page"], "responseTime": 120,
                ]])
            }
            return Self.json(["statusCode": 200, "title": "Info title", "meta": ["lang": "en"]])
        default:
            return Self.json(["error": "no route"], status: .notFound)
        }
    }

    public static func json(_ object: [String: Any], status: HTTPStatusCode = .ok, headers: [String: String] = [:]) -> FlyingFox.HTTPResponse {
        var all: [HTTPHeader: String] = [HTTPHeader("Content-Type"): "application/json"]
        for (name, value) in headers { all[HTTPHeader(name)] = value }
        let data = (try? JSONSerialization.data(withJSONObject: object)) ?? Data()
        return FlyingFox.HTTPResponse(statusCode: status, headers: HTTPHeaders(all), body: data)
    }
}

/// Records the delays the client asked to wait, without waiting.
public actor DelayRecorder {
    public private(set) var delays: [Double] = []

    public init() {}

    public func record(_ seconds: Double) { delays.append(seconds) }

    public nonisolated var sleep: @Sendable (Double) async throws -> Void {
        { [self] seconds in await self.record(seconds) }
    }
}
