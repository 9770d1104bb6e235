import FlyingFox
import Foundation

/// A FlyingFox server on 127.0.0.1 with an ephemeral port, stopped when the test ends.
public actor LoopbackServer {
    public let server: FlyingFox.HTTPServer
    private var task: Task<Void, Error>?

    public init() throws {
        server = FlyingFox.HTTPServer(address: try .inet(ip4: "127.0.0.1", port: 0), timeout: 30, logger: .disabled)
    }

    public func start() async throws -> String {
        let server = self.server
        task = Task { try await server.run() }
        try await server.waitUntilListening()
        guard case .ip4(_, let port) = await server.listeningAddress else { throw CancellationError() }
        return "http://127.0.0.1:\(port)"
    }

    public func stop() async {
        await server.stop(timeout: 0)
        task?.cancel()
    }

    /// Starts a server with the routes `configure` adds, runs `body` with its base URL, and stops it.
    public static func with(_ configure: (FlyingFox.HTTPServer) async -> Void,
                     _ body: (String) async throws -> Void) async throws {
        let loopback = try LoopbackServer()
        await configure(loopback.server)
        let base = try await loopback.start()
        do {
            try await body(base)
        } catch {
            await loopback.stop()
            throw error
        }
        await loopback.stop()
    }
}

/// A base URL where nothing listens: port 1 on loopback refuses connections at once.
public let closedPortBase = "http://127.0.0.1:1"
