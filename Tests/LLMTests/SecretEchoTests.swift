import FlyingFox
import Foundation
import LLM
import Testing
import Transport

/// A provider that echoes the key in a successful answer, written with `\u` escapes that no
/// byte search for the key finds: the answer comes back blanked, and so does the cache.
@Suite struct SecretEchoTests {
    static let key = "sk-echo-u-escaped-3e9b71"

    /// Every character of `text` as a JSON `\u` escape.
    static func uEscaped(_ text: String) -> String {
        text.utf16.map { String(format: "\\u%04x", $0) }.joined()
    }

    @Test func anAnswerEchoingTheKeyIsRedactedAsItArrives() async throws {
        let server = FlyingFox.HTTPServer(address: try .inet(ip4: "127.0.0.1", port: 0), timeout: 30, logger: .disabled)
        await server.appendRoute("POST /v1/chat/completions") { _ in
            let body = #"{"id":"c1","object":"chat.completion","model":"m-\#(Self.uEscaped(Self.key))","#
                + #""choices":[{"index":0,"message":{"role":"assistant","content":"your key: \#(Self.uEscaped(Self.key))"},"#
                + #""finish_reason":"stop"}],"usage":{"prompt_tokens":3,"completion_tokens":4}}"#
            return FlyingFox.HTTPResponse(statusCode: .ok, headers: [HTTPHeader("Content-Type"): "application/json"],
                                          body: Data(body.utf8))
        }
        let task = Task { try await server.run() }
        defer { task.cancel() }
        try await server.waitUntilListening()
        guard case .ip4(_, let port) = await server.listeningAddress else { throw CancellationError() }

        let configuration = ProviderConfiguration(kind: .openai, baseURL: "http://127.0.0.1:\(port)/v1", apiKey: Secret(Self.key))
        let provider = try makeProvider(configuration, client: HTTPClient())
        let completion = try await provider.complete(CompletionRequest(model: "m", messages: [ChatMessage(.user, "hi")], timeout: 10))
        await server.stop(timeout: 0)
        #expect(completion.text == "your key: <redacted>")
        #expect(completion.model == "m-<redacted>")

        let folder = NSTemporaryDirectory() + "/cache-\(UUID().uuidString)"
        defer { try? FileManager.default.removeItem(atPath: folder) }
        let cache = ResponseCache(folder: folder)
        // Even an answer that did not come through a provider's exchange is blanked on its way to the cache.
        try cache.store("k1", CachedResponse(Completion(text: "raw \(Self.key)", model: "m", usage: nil, latencyMs: 1)))
        let written = try String(contentsOfFile: cache.path(forKey: "k1"), encoding: .utf8)
        #expect(!written.contains(Self.key) && written.contains("<redacted>"))
        #expect(cache.lookup("k1")?.text == "raw <redacted>")
    }
}
