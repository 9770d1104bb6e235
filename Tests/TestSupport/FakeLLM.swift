import FlyingFox
import Foundation

/// One loopback server on 127.0.0.1 speaking every provider wire format AgentShop uses:
/// OpenAI (`/v1/chat/completions`, `/v1/models`), Groq (`/openai/v1/…`), Perplexity
/// (`/chat/completions`, with citations), Anthropic (`/v1/messages`, `x-api-key`; `/v1/models`
/// answers the Anthropic shape when asked with `x-api-key`) and Ollama (`/api/chat`, `/api/tags`).
///
/// The last user message picks a behaviour: `ratelimited` answers 429 with `Retry-After: 7` once,
/// `flaky` 500 once, `overloaded` 529 (Anthropic's) once, `always500` always 500, `malformed` a 2xx
/// in the wrong shape, `notjson` a 2xx that is not JSON, `unknown-model` a 404 error body. A wrong
/// key gets 401 with an error body that echoes the key received, as careless servers do.
public actor FakeLLM {
    public struct Call: Sendable {
        public let method: String
        public let path: String
        public let headers: [String: String]
        public let bodyData: Data

        public var body: [String: Any] { (try? JSONSerialization.jsonObject(with: bodyData)) as? [String: Any] ?? [:] }
        public func header(_ name: String) -> String? { headers[name.lowercased()] }
    }

    public let key: String
    /// Seconds each answer waits (for concurrency and latency tests).
    public let delay: Double
    public private(set) var calls: [Call] = []
    private var seen: [String: Int] = [:]
    private let server: FlyingFox.HTTPServer
    private var task: Task<Void, Error>?

    public init(key: String, delay: Double = 0) throws {
        self.key = key
        self.delay = delay
        server = FlyingFox.HTTPServer(address: try .inet(ip4: "127.0.0.1", port: 0), timeout: 30, logger: .disabled)
    }

    /// Starts a fake, runs `body` with its base URL (`http://127.0.0.1:PORT`), stops it.
    public static func with(key: String, delay: Double = 0, _ body: (String, FakeLLM) async throws -> Void) async throws {
        let fake = try FakeLLM(key: key, delay: delay)
        let base = try await fake.start()
        do {
            try await body(base, fake)
        } catch {
            await fake.stop()
            throw error
        }
        await fake.stop()
    }

    public func start() async throws -> String {
        for route in ["POST /v1/chat/completions", "POST /openai/v1/chat/completions", "POST /chat/completions",
                      "POST /v1/messages", "POST /api/chat", "GET /v1/models", "GET /openai/v1/models", "GET /api/tags"] {
            await server.appendRoute(HTTPRoute(stringLiteral: route)) { [self] request in try await self.handle(request) }
        }
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

    public var callCount: Int { calls.count }

    private func count(_ key: String) -> Int {
        seen[key, default: 0] += 1
        return seen[key]!
    }

    public func handle(_ request: FlyingFox.HTTPRequest) async throws -> FlyingFox.HTTPResponse {
        let data = try await request.bodyData
        var headers: [String: String] = [:]
        for (name, value) in request.headers { headers[name.rawValue.lowercased()] = value }
        let call = Call(method: request.method.rawValue, path: request.path, headers: headers, bodyData: data)
        calls.append(call)
        if delay > 0 { try await Task.sleep(nanoseconds: UInt64(delay * 1e9)) }
        let path = request.path
        let anthropic = path == "/v1/messages" || (path == "/v1/models" && headers["x-api-key"] != nil)
        let ollama = path.hasPrefix("/api/")

        // Authentication, per wire format.
        if anthropic {
            guard headers["x-api-key"] == key else {
                return Self.json(["type": "error", "error": ["type": "authentication_error",
                                                            "message": "invalid x-api-key: \(headers["x-api-key"] ?? "none")"]],
                                 status: .unauthorized)
            }
        } else if !ollama {
            guard headers["authorization"] == "Bearer \(key)" else {
                return Self.json(["error": ["message": "Incorrect API key provided: \(headers["authorization"] ?? "none")",
                                            "type": "invalid_request_error", "param": NSNull(), "code": "invalid_api_key"]],
                                 status: .unauthorized)
            }
        }
        if request.method == .GET {
            if ollama { return Self.json(["models": [["name": "llama3.2:latest", "size": 2_000_000_000]]]) }
            return Self.json(["object": "list", "data": [["id": "model-a", "object": "model"], ["id": "model-b", "object": "model"]]])
        }

        let body = call.body
        let messages = body["messages"] as? [[String: Any]] ?? []
        let prompt = messages.last { ($0["role"] as? String) == "user" }?["content"] as? String ?? ""
        let model = body["model"] as? String ?? ""
        let scenario = ["ratelimited", "flaky", "overloaded", "always500", "malformed", "notjson", "unknown-model"]
            .first { prompt.contains($0) }
        switch scenario {
        case "ratelimited" where count(path + prompt) == 1:
            return error(anthropic: anthropic, ollama: ollama, status: .tooManyRequests, type: "rate_limit_error",
                         message: "Rate limit reached for requests", headers: ["Retry-After": "7"])
        case "flaky" where count(path + prompt) == 1, "always500":
            return error(anthropic: anthropic, ollama: ollama, status: .internalServerError, type: "server_error",
                         message: "The server had an error while processing your request")
        case "overloaded" where count(path + prompt) == 1:
            return error(anthropic: anthropic, ollama: ollama, status: HTTPStatusCode(529, phrase: "Overloaded"),
                         type: "overloaded_error", message: "Overloaded")
        case "malformed":
            return Self.json(["id": "x", "object": "chat.completion", "result": "no choices here"])
        case "notjson":
            return FlyingFox.HTTPResponse(statusCode: .ok, headers: [HTTPHeader("Content-Type"): "text/html"],
                                          body: Data("<html>gateway page</html>".utf8))
        case "unknown-model":
            return error(anthropic: anthropic, ollama: ollama, status: .notFound, type: "not_found_error",
                         message: "model '\(model)' not found")
        default:
            break
        }
        let jsonWanted = (body["response_format"] as? [String: Any])?["type"] as? String == "json_object"
            || body["format"] as? String == "json"
            || ((body["system"] as? String)?.contains("JSON") ?? false)
        let text = jsonWanted ? "{\"echo\":\"\(prompt.prefix(40))\"}" : "Hello from the fake: \(prompt.prefix(40))"
        if anthropic {
            return Self.json(["id": "msg_01", "type": "message", "role": "assistant", "model": model + "-20251001",
                              "content": [["type": "text", "text": text]], "stop_reason": "end_turn", "stop_sequence": NSNull(),
                              "usage": ["input_tokens": 21, "output_tokens": 9]])
        }
        if ollama {
            return Self.json(["model": model, "created_at": "2026-11-25T18:00:00Z",
                              "message": ["role": "assistant", "content": text], "done": true, "done_reason": "stop",
                              "total_duration": 1_000_000, "prompt_eval_count": 26, "eval_count": 11])
        }
        var answer: [String: Any] = [
            "id": "chatcmpl-1", "object": "chat.completion", "created": 1_764_000_000, "model": model + "-2024-07-18",
            "choices": [["index": 0, "message": ["role": "assistant", "content": text], "finish_reason": "stop"]],
            "usage": ["prompt_tokens": 12, "completion_tokens": 5, "total_tokens": 17],
        ]
        if path == "/chat/completions" {
            answer["model"] = model
            answer["citations"] = ["https://source.example/a", "https://source.example/b"]
        }
        return Self.json(answer)
    }

    private func error(anthropic: Bool, ollama: Bool, status: HTTPStatusCode, type: String, message: String,
                       headers: [String: String] = [:]) -> FlyingFox.HTTPResponse {
        if anthropic { return Self.json(["type": "error", "error": ["type": type, "message": message]], status: status, headers: headers) }
        if ollama { return Self.json(["error": message], status: status, headers: headers) }
        return Self.json(["error": ["message": message, "type": type, "param": NSNull(), "code": NSNull()]],
                         status: status, headers: headers)
    }

    public static func json(_ object: [String: Any], status: HTTPStatusCode = .ok, headers: [String: String] = [:]) -> FlyingFox.HTTPResponse {
        var all: [HTTPHeader: String] = [HTTPHeader("Content-Type"): "application/json"]
        for (name, value) in headers { all[HTTPHeader(name)] = value }
        let data = (try? JSONSerialization.data(withJSONObject: object)) ?? Data()
        return FlyingFox.HTTPResponse(statusCode: status, headers: HTTPHeaders(all), body: data)
    }
}
