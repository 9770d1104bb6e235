import FlyingFox
import Foundation
import Testing
import Transport

// FlyingFox has types of the same names: the client side is ours.
typealias Client = Transport.HTTPClient
typealias Request = Transport.HTTPRequest

/// A FlyingFox server on 127.0.0.1 with an ephemeral port, stopped when the test ends.
actor LoopbackServer {
    let server: FlyingFox.HTTPServer
    private var task: Task<Void, Error>?

    init() throws {
        server = FlyingFox.HTTPServer(address: try .inet(ip4: "127.0.0.1", port: 0), timeout: 30, logger: .disabled)
    }

    func start() async throws -> String {
        let server = self.server
        task = Task { try await server.run() }
        try await server.waitUntilListening()
        guard case .ip4(_, let port) = await server.listeningAddress else { throw CancellationError() }
        return "http://127.0.0.1:\(port)"
    }

    func stop() async {
        await server.stop(timeout: 0)
        task?.cancel()
    }
}

@Suite struct HTTPClientTests {
    static func withServer(_ body: (String, FlyingFox.HTTPServer) async throws -> Void) async throws {
        let loopback = try LoopbackServer()
        let server = loopback.server
        await server.appendRoute("GET /hello") { _ in
            FlyingFox.HTTPResponse(statusCode: .ok, headers: [HTTPHeader("Content-Type"): "text/plain", HTTPHeader("ETag"): "\"v1\""],
                                   body: Data("hello".utf8))
        }
        await server.appendRoute("GET /redirect") { _ in
            FlyingFox.HTTPResponse(statusCode: .found, headers: [.location: "/hello"])
        }
        await server.appendRoute("GET /loop-a") { _ in FlyingFox.HTTPResponse(statusCode: .found, headers: [.location: "/loop-b"]) }
        await server.appendRoute("GET /loop-b") { _ in FlyingFox.HTTPResponse(statusCode: .found, headers: [.location: "/loop-a"]) }
        await server.appendRoute("GET /error") { _ in FlyingFox.HTTPResponse(statusCode: .internalServerError, body: Data("boom".utf8)) }
        await server.appendRoute("GET /slow") { _ in
            try await Task.sleep(nanoseconds: 3_000_000_000)
            return FlyingFox.HTTPResponse(statusCode: .ok, body: Data("late".utf8))
        }
        await server.appendRoute("GET /big") { _ in
            FlyingFox.HTTPResponse(statusCode: .ok, body: Data(repeating: 0x61, count: 2 * 1024 * 1024))
        }
        await server.appendRoute("POST /echo") { request in
            let body = try await request.bodyData
            let text = "\(request.method.rawValue) \(request.headers[HTTPHeader("X-Token")] ?? "-") \(String(decoding: body, as: UTF8.self))"
            return FlyingFox.HTTPResponse(statusCode: .ok, body: Data(text.utf8))
        }
        await server.appendRoute("POST /see-other") { _ in FlyingFox.HTTPResponse(statusCode: HTTPStatusCode(303, phrase: "See Other"), headers: [.location: "/hello"]) }
        let base = try await loopback.start()
        do {
            try await body(base, server)
        } catch {
            await loopback.stop()
            throw error
        }
        await loopback.stop()
    }

    @Test func getReturnsStatusHeadersAndBody() async throws {
        try await Self.withServer { base, _ in
            let client = Client()
            let response = try await client.send(Request(url: base + "/hello"))
            #expect(response.status == 200)
            #expect(response.text == "hello")
            #expect(response.header("etag") == "\"v1\"")
            #expect(response.redirects.isEmpty)
            #expect(response.httpVersion == "1.1")
        }
    }

    @Test func redirectsAreFollowedAndRecorded() async throws {
        try await Self.withServer { base, _ in
            let response = try await Client().send(Request(url: base + "/redirect"))
            #expect(response.status == 200)
            #expect(response.url == base + "/hello")
            #expect(response.redirects == [base + "/redirect"])
        }
    }

    @Test func aRedirectLoopIsAnErrorNamingTheChain() async throws {
        try await Self.withServer { base, _ in
            let error = await #expect(throws: TransportError.self) {
                _ = try await Client().send(Request(url: base + "/loop-a", maxRedirects: 4))
            }
            #expect(error?.kind == .tooManyRedirects)
            #expect(error?.message.contains("/loop-b -> ") == true)
        }
    }

    @Test func maxRedirectsZeroReturnsTheRedirectItself() async throws {
        try await Self.withServer { base, _ in
            let response = try await Client().send(Request(url: base + "/redirect", maxRedirects: 0))
            #expect(response.status == 302)
            #expect(response.header("Location") == "/hello")
        }
    }

    @Test func httpErrorsAreResponsesNotThrows() async throws {
        try await Self.withServer { base, _ in
            let response = try await Client().send(Request(url: base + "/error"))
            #expect(response.status == 500)
            #expect(response.text == "boom")
        }
    }

    @Test func aSlowResponseTimesOutWithTheURL() async throws {
        try await Self.withServer { base, _ in
            let started = Date()
            let error = await #expect(throws: TransportError.self) {
                _ = try await Client().send(Request(url: base + "/slow", timeout: 0.5))
            }
            #expect(error?.kind == .timeout)
            #expect(error?.url == base + "/slow")
            #expect(Date().timeIntervalSince(started) < 2.5)
        }
    }

    @Test func anOversizedBodyIsAbortedPastTheLimit() async throws {
        try await Self.withServer { base, _ in
            let error = await #expect(throws: TransportError.self) {
                _ = try await Client().send(Request(url: base + "/big", maxBodyBytes: 100_000))
            }
            #expect(error?.kind == .tooLarge)
            let whole = try await Client().send(Request(url: base + "/big"))
            #expect(whole.body.count == 2 * 1024 * 1024)
        }
    }

    @Test func postSendsBodyAndHeaders() async throws {
        try await Self.withServer { base, _ in
            let request = Request(url: base + "/echo", method: "POST", headers: [("X-Token", "t0k")], body: Array("payload".utf8))
            let response = try await Client().send(request)
            #expect(response.text == "POST t0k payload")
            // 303 after a POST continues as a GET.
            let seeOther = try await Client().send(Request(url: base + "/see-other", method: "POST", body: Array("x".utf8)))
            #expect(seeOther.status == 200 && seeOther.text == "hello")
        }
    }

    @Test func manyConcurrentTransfersOnOneClient() async throws {
        try await Self.withServer { base, _ in
            let client = Client()
            let bodies = try await withThrowingTaskGroup(of: String.self) { group in
                for _ in 0..<40 { group.addTask { try await client.send(Request(url: base + "/hello")).text } }
                return try await group.reduce(into: []) { $0.append($1) }
            }
            #expect(bodies.count == 40 && bodies.allSatisfy { $0 == "hello" })
        }
    }

    @Test func connectionRefusedIsAConnectError() async throws {
        // A port nobody listens on: bind one, note it, close it.
        let loopback = try LoopbackServer()
        let base = try await loopback.start()
        await loopback.stop()
        let error = await #expect(throws: TransportError.self) {
            _ = try await Client().send(Request(url: base + "/hello", timeout: 5))
        }
        #expect(error?.kind == .connect)
        #expect(error?.isTransient == true)
    }

    @Test func fileURLsAreRead() async throws {
        let path = NSTemporaryDirectory() + "agentshop-transport-\(UUID().uuidString).html"
        try "<p>local</p>".write(toFile: path, atomically: true, encoding: .utf8)
        defer { try? FileManager.default.removeItem(atPath: path) }
        let response = try await Client().send(Request(url: "file://" + path))
        #expect(response.text == "<p>local</p>")
        let missing = await #expect(throws: TransportError.self) {
            _ = try await Client().send(Request(url: "file:///nonexistent/agentshop"))
        }
        #expect(missing?.url == "file:///nonexistent/agentshop")
    }

    @Test func unsupportedSchemesAreRefused() async throws {
        let error = await #expect(throws: TransportError.self) {
            _ = try await Client().send(Request(url: "gopher://127.0.0.1/"))
        }
        #expect(error?.kind == .unsupported)
    }

    @Test func cancellingATaskCancelsItsTransfer() async throws {
        try await Self.withServer { base, _ in
            let client = Client()
            let started = Date()
            let task = Task { try await client.send(Request(url: base + "/slow", timeout: 10)) }
            try await Task.sleep(nanoseconds: 200_000_000)
            task.cancel()
            let result = await task.result
            #expect(throws: CancellationError.self) { try result.get() }
            #expect(Date().timeIntervalSince(started) < 2.5)
        }
    }
}
