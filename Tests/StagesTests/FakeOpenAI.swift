import FlyingFox
import Foundation
import Lake

/// An OpenAI chat-completions server on 127.0.0.1 (FlyingFox), answering with `reply`.
/// It records the Authorization headers it saw.
actor FakeOpenAI {
    let server: FlyingFox.HTTPServer
    private var task: Task<Void, Error>?
    private(set) var authorizations: [String] = []
    private(set) var calls = 0

    init() throws {
        server = FlyingFox.HTTPServer(address: try .inet(ip4: "127.0.0.1", port: 0), timeout: 30, logger: .disabled)
    }

    func saw(_ authorization: String?) {
        calls += 1
        if let authorization { authorizations.append(authorization) }
    }

    /// Starts the server; `reply` gets the request's JSON body and returns status and body
    /// (a 429 comes with `Retry-After: 0`).
    func start(_ reply: @escaping @Sendable (LakeJSON) -> (Int, String)) async throws -> String {
        await server.appendRoute("POST /v1/chat/completions") { [weak self] request in
            let auth = request.headers[HTTPHeader("Authorization")]
            await self?.saw(auth)
            let body = try await request.bodyData
            let json = (try? LakeJSON.parse(String(decoding: body, as: UTF8.self))) ?? .null
            let (status, text) = reply(json)
            var headers = [HTTPHeader("Content-Type"): "application/json"]
            if status == 429 { headers[HTTPHeader("Retry-After")] = "0" }
            return FlyingFox.HTTPResponse(statusCode: HTTPStatusCode(status, phrase: "X"), headers: headers, body: Data(text.utf8))
        }
        let server = self.server
        task = Task { try await server.run() }
        try await server.waitUntilListening()
        guard case .ip4(_, let port) = await server.listeningAddress else { throw CancellationError() }
        return "http://127.0.0.1:\(port)/v1"
    }

    func stop() async {
        await server.stop(timeout: 0)
        task?.cancel()
    }

    /// A chat completion whose message content is `content`.
    static func completion(_ content: String) -> String {
        LakeJSON.object(JSONObject([
            ("id", "chatcmpl-1"), ("object", "chat.completion"), ("model", "gpt-4o-mini-2024-07-18"),
            ("choices", [["index": 0, "message": ["role": "assistant", "content": .string(content)], "finish_reason": "stop"]]),
            ("usage", ["prompt_tokens": 40, "completion_tokens": 12, "total_tokens": 52]),
        ])).serialized()
    }
}

/// How many times each text was seen, for fakes that answer differently the second time.
final class SeenCounter: @unchecked Sendable {
    private let lock = NSLock()
    private var seen: [String: Int] = [:]
    /// 1 the first time `key` is seen, 2 the second…
    func next(_ key: String) -> Int {
        lock.lock()
        defer { lock.unlock() }
        seen[key, default: 0] += 1
        return seen[key]!
    }
}
