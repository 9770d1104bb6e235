import FlyingFox
import Foundation

/// A Scoup-compatible service on 127.0.0.1 for the `agentshop scoup` tests: the four endpoints, each checking
/// the Bearer token and echoing a wrong one back (as careless services do), so that redaction is tested too.
/// Mirrors Tests/CrawlTests/FakeScoup.swift, which lives in another test target.
///
/// A target URL containing `missing` scrapes as a 404 page, `bad-request` makes Scoup answer 400;
/// `unhealthy: true` makes `/health` answer 503.
actor ScoupFake {
    struct Call: Sendable {
        let path: String
        let authorization: String?
        let body: Data

        var json: [String: Any] { ((try? JSONSerialization.jsonObject(with: body)) as? [String: Any]) ?? [:] }
    }

    let token: String
    let unhealthy: Bool
    private(set) var calls: [Call] = []
    private let server: FlyingFox.HTTPServer
    private var task: Task<Void, Error>?

    init(token: String, unhealthy: Bool = false) throws {
        self.token = token
        self.unhealthy = unhealthy
        server = FlyingFox.HTTPServer(address: try .inet(ip4: "127.0.0.1", port: 0), timeout: 30, logger: .disabled)
    }

    /// Starts a fake, runs `body` with its base URL, stops it.
    static func with(token: String, unhealthy: Bool = false, _ body: (String, ScoupFake) async throws -> Void) async throws {
        let fake = try ScoupFake(token: token, unhealthy: unhealthy)
        let base = try await fake.start()
        do {
            try await body(base, fake)
        } catch {
            await fake.stop()
            throw error
        }
        await fake.stop()
    }

    private func start() async throws -> String {
        for route in ["GET /health", "POST /scrape", "POST /scrape/sitemap", "POST /info"] {
            await server.appendRoute(HTTPRoute(stringLiteral: route)) { [self] request in try await self.handle(request) }
        }
        let server = self.server
        task = Task { try await server.run() }
        try await server.waitUntilListening()
        guard case .ip4(_, let port) = await server.listeningAddress else { throw CancellationError() }
        return "http://127.0.0.1:\(port)"
    }

    private func stop() async {
        await server.stop(timeout: 0)
        task?.cancel()
    }

    private func handle(_ request: FlyingFox.HTTPRequest) async throws -> FlyingFox.HTTPResponse {
        let data = try await request.bodyData
        let authorization = request.headers[HTTPHeader("Authorization")]
        let call = Call(path: request.path, authorization: authorization, body: data)
        calls.append(call)
        guard authorization == "Bearer \(token)" else {
            return Self.json(["error": "invalid token: \(authorization ?? "none")"], status: .unauthorized)
        }
        let json = call.json
        let target = (json["url"] as? String) ?? (json["sitemapUrl"] as? String) ?? ""
        if target.contains("bad-request") { return Self.json(["message": "url must be absolute"], status: .badRequest) }
        switch request.path {
        case "/health":
            if unhealthy { return Self.json(["status": "degraded", "error": "browser pool exhausted"], status: .serviceUnavailable) }
            return Self.json(["status": "ok", "version": "1.4.0"])
        case "/scrape":
            let options = json["options"] as? [String: Any] ?? [:]
            var custom: [String: Any] = [:]
            for (name, css) in options["customSelectors"] as? [String: String] ?? [:] { custom[name] = "value of \(css)" }
            var answer: [String: Any] = [
                "statusCode": target.contains("missing") ? 404 : 200,
                "html": "<html><title>Kettle</title><body><h1>Kettle</h1></body></html>", "title": "Kettle",
                "meta": ["description": "A kettle"], "customData": custom,
            ]
            if options["extractText"] as? Bool == true { answer["text"] = "Kettle\n  boils   water" }
            if options["extractLinks"] as? Bool == true {
                answer["links"] = ["https://shop.example/a", ["href": "https://shop.example/b", "text": "B"]]
            }
            if options["screenshot"] as? Bool == true { answer["screenshotUrl"] = "https://scoup.local/shot.png" }
            return Self.json(answer)
        case "/scrape/sitemap":
            return Self.json(["urls": ["https://shop.example/p/1", "https://shop.example/p/2", "https://shop.example/p/3"]])
        case "/info":
            guard json["infoOnly"] as? Bool == true else { return Self.json(["error": "infoOnly missing"], status: .badRequest) }
            return Self.json(["statusCode": 200, "title": "Info title", "meta": ["lang": "en"]])
        default:
            return Self.json(["error": "no route"], status: .notFound)
        }
    }

    static func json(_ object: [String: Any], status: HTTPStatusCode = .ok) -> FlyingFox.HTTPResponse {
        let data = (try? JSONSerialization.data(withJSONObject: object)) ?? Data()
        return FlyingFox.HTTPResponse(statusCode: status, headers: [HTTPHeader("Content-Type"): "application/json"], body: data)
    }
}
