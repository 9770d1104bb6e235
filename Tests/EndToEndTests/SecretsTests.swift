import FlyingFox
import Foundation
import TestSupport
import Testing

/// Secrets stay secret: servers that echo the credentials they receive (an OpenAI-compatible
/// provider whose answers quote the Authorization header, a Scoup whose /health does) never get
/// them printed by the commands nor written anywhere in the project, whatever the encoding.
@Suite struct SecretsTests {
    /// With a `/` and a `+`, so that its JSON-escaped (`\/`) and percent-encoded forms differ from it.
    static let llmKey = "sk-live/echo+9c1e2f7a8b3d"
    static let scoupKey = "scoup-tok/en+4d7e0b5c19"

    /// Answers every route with the Authorization header it got, raw, JSON-escaped (the encoder
    /// writes `\/`) and percent-encoded.
    static func echoRoutes(_ server: FlyingFox.HTTPServer) async {
        await server.appendRoute("GET /health") { request in
            let auth = Self.authorization(request)
            return Self.json(["status": "ok", "echo": auth, "echo_pct": Self.percentEncoded(auth)])
        }
        for path in ["/v1/models", "/models"] {
            await server.appendRoute(HTTPRoute(stringLiteral: "GET " + path)) { request in
                Self.json(["object": "list", "data": [["id": "model-for-" + Self.authorization(request), "object": "model"]]])
            }
        }
        for path in ["/v1/chat/completions", "/chat/completions"] {
            await server.appendRoute(HTTPRoute(stringLiteral: "POST " + path)) { request in
                let auth = Self.authorization(request)
                let content = try JSONSerialization.data(withJSONObject: ["summary": "you sent \(auth), \(Self.percentEncoded(auth))"])
                return Self.json([
                    "id": "chatcmpl-echo", "object": "chat.completion", "created": 1_764_000_000, "model": "gpt-echo-\(auth)",
                    "choices": [["index": 0, "message": ["role": "assistant", "content": String(decoding: content, as: UTF8.self)],
                                 "finish_reason": "stop"]],
                    "usage": ["prompt_tokens": 12, "completion_tokens": 5, "total_tokens": 17],
                    "citations": ["https://example.invalid/?k=\(Self.percentEncoded(auth))"],
                ])
            }
        }
    }

    static func authorization(_ request: FlyingFox.HTTPRequest) -> String {
        request.headers[HTTPHeader("Authorization")] ?? "none"
    }

    static func percentEncoded(_ text: String) -> String {
        text.addingPercentEncoding(withAllowedCharacters: .alphanumerics) ?? text
    }

    static func json(_ object: Any) -> FlyingFox.HTTPResponse {
        let data = (try? JSONSerialization.data(withJSONObject: object)) ?? Data()
        return FlyingFox.HTTPResponse(statusCode: .ok, headers: [HTTPHeader("Content-Type"): "application/json"], body: data)
    }

    static func environment(_ base: String) -> [String: String] {
        ["OPENAI_API_KEY": llmKey, "LLM_OPENAI_BASE_URL": base + "/v1", "PERPLEXITY_API_KEY": llmKey,
         "LLM_PERPLEXITY_BASE_URL": base, "GROQ_API_KEY": "", "ANTHROPIC_API_KEY": "", "OLLAMA_HOST": "",
         "SCOUP_BASE_URL": base, "SCOUP_API_KEY": scoupKey, "AGENTSHOP_LLM_PRICES": ""]
    }

    /// Every form in which a key could leak: as is, JSON-escaped, percent-encoded (either case),
    /// and its distinctive tail on its own.
    static func leaks(of key: String) -> [String] {
        let escaped = key.replacingOccurrences(of: "/", with: "\\/")
        let encoded = percentEncoded(key)
        return [key, escaped, encoded, encoded.lowercased(), String(key.suffix(10))]
    }

    /// The text of every file under `folder`, gzip files (WARC, JSON Lines) decompressed.
    static func files(in folder: String) -> [(path: String, text: String)] {
        let enumerator = FileManager.default.enumerator(atPath: folder)
        var out: [(String, String)] = []
        while let path = enumerator?.nextObject() as? String {
            let full = folder + "/" + path
            var isDirectory: ObjCBool = false
            guard FileManager.default.fileExists(atPath: full, isDirectory: &isDirectory), !isDirectory.boolValue,
                  var data = FileManager.default.contents(atPath: full) else { continue }
            if path.hasSuffix(".gz") { data = gunzip(full) ?? data }
            out.append((path, String(decoding: data, as: UTF8.self)))
        }
        return out
    }

    static func gunzip(_ path: String) -> Data? {
        let process = Process()
        process.executableURL = URL(fileURLWithPath: "/bin/gzip")
        process.arguments = ["-dc", path]
        let out = Pipe()
        process.standardOutput = out
        process.standardError = FileHandle.nullDevice
        guard (try? process.run()) != nil else { return nil }
        let data = out.fileHandleForReading.readDataToEndOfFile()
        process.waitUntilExit()
        return data
    }

    static let pipeline = """
    pipeline: echo
    stages:
      reviews:
        import: { from: raw_data/imports/reviews.csv }
        out: scraped_data/reviews/dt={run_date}/reviews.jsonl.gz
      summaries:
        enrich: { from: reviews, provider: openai, model: gpt-4o-mini, task: summary, into: summary }
        out: processed_data/ml_datasets/reviews/dt={run_date}/summaries.jsonl.gz
      pitches:
        # The echo has no `pitch`: every answer is rejected, with its text, into the stage's rejects.
        enrich:
          from: reviews
          provider: openai
          model: gpt-4o-mini
          task: custom
          prompt: "A pitch for {{text}}"
          schema: { type: object, required: [pitch], properties: { pitch: { type: string } } }
          into: pitch
        out: processed_data/ml_datasets/pitches/dt={run_date}/pitches.jsonl.gz
    """

    @Test func echoedKeysAppearInNoOutputAndNoFile() async throws {
        try await LoopbackServer.with({ await Self.echoRoutes($0) }) { base in
            let project = try Project()
            #expect(try project.run(["init"]).status == 0)
            try project.write("pipelines/echo.yaml", Self.pipeline)
            try project.write("datalake/raw_data/imports/reviews.csv",
                              "id,text\n1,Great phone with a long battery life\n2,Screen broke after a week\n")
            let env = Self.environment(base)

            var outputs: [(command: String, text: String)] = []
            for arguments in [["run", "echo"], ["run", "echo", "--json", "--force"],
                              ["scoup", "health"], ["scoup", "health", "--json"],
                              ["doctor", "--network"], ["doctor", "--network", "--json"],
                              ["llm", "test", "hi", "--provider", "openai"], ["llm", "test", "hi", "--provider", "openai", "--json"],
                              ["llm", "health"], ["llm", "health", "--json"],
                              ["llm", "compare", "hi", "--providers", "openai,perplexity", "--json"]] {
                let result = try await project.runDetached(arguments, environment: env)
                outputs.append((arguments.joined(separator: " "), result.stdout + result.stderr))
            }

            // The servers did echo, and what they echoed shows as the marker.
            let all = outputs.map(\.text).joined(separator: "\n")
            #expect(all.contains("<redacted>"))
            let scoup = try #require(outputs.first { $0.command == "scoup health" }).text
            #expect(scoup.contains("echo: Bearer <redacted>"), "\(scoup)")
            let doctor = try #require(outputs.first { $0.command == "doctor --network --json" }).text
            #expect(doctor.contains("answered (gpt-echo-Bearer <redacted>)"), "\(doctor)")

            for key in [Self.llmKey, Self.scoupKey] {
                for leak in Self.leaks(of: key) {
                    for (command, text) in outputs { #expect(!text.contains(leak), "\(command) shows \(leak):\n\(text)") }
                }
            }

            let files = Self.files(in: project.folder).filter { !$0.path.hasPrefix("pipelines/") }
            let enriched = files.filter { $0.path.contains("processed_data/ml_datasets/reviews/") && $0.path.hasSuffix(".jsonl.gz") }
            #expect(!enriched.isEmpty)
            #expect(enriched.allSatisfy { $0.text.contains("you sent Bearer <redacted>, Bearer%20<redacted>") }, "\(enriched.map(\.text))")
            let rejects = files.filter { $0.path.hasSuffix(".pitches.rejects.jsonl") }
            #expect(!rejects.isEmpty && rejects.allSatisfy { $0.text.contains("<redacted>") }, "\(rejects.map(\.path))")
            let cached = files.filter { $0.path.contains("llm_responses/cache/") }
            #expect(!cached.isEmpty)
            #expect(cached.allSatisfy { $0.text.contains("<redacted>") })
            for key in [Self.llmKey, Self.scoupKey] {
                for leak in Self.leaks(of: key) {
                    let found = files.filter { $0.text.contains(leak) }.map(\.path)
                    #expect(found.isEmpty, "\(leak) written to \(found)")
                }
            }
        }
    }

    /// A `command:` stage that prints a secret variable and fails: its log, its error and the
    /// manifest show `<redacted>`.
    @Test func aCommandPrintingASecretHasItBlankedInLogsErrorsAndManifests() throws {
        let token = "tok-cmd-echo-51f0c2d8"
        let project = try Project()
        #expect(try project.run(["init"]).status == 0)
        try project.write("pipelines/leaky.yaml", """
        pipeline: leaky
        stages:
          leak:
            command: { run: "echo using $$MY_SERVICE_TOKEN; echo token=$$MY_SERVICE_TOKEN >&2; exit 3" }
            out: processed_data/reports/leak.txt
        """)
        let result = try project.run(["run", "leaky", "--json"], environment: ["MY_SERVICE_TOKEN": token])
        #expect(result.status == 1, "\(result.stderr)")
        #expect(result.stdout.contains("token=<redacted>"), "\(result.stdout)")
        #expect(!(result.stdout + result.stderr).contains(token))
        let files = Self.files(in: project.folder)
        #expect(files.contains { $0.path.hasSuffix(".log") && $0.text.contains("token=<redacted>") })
        #expect(files.contains { $0.path.contains("manifest") && $0.text.contains("token=<redacted>") }, "\(files.map(\.path))")
        let leaked = files.filter { $0.text.contains(token) }.map(\.path)
        #expect(leaked.isEmpty, "\(leaked)")
    }

    /// `doctor` prints data: no `Optional(…)`, no struct dumps such as `ScoupHealth(status: …)`.
    @Test func doctorPrintsDataNotDebugDescriptions() async throws {
        try await LoopbackServer.with({ await Self.echoRoutes($0) }) { base in
            let project = try Project()
            #expect(try project.run(["init"]).status == 0)
            for arguments in [["doctor", "--network"], ["doctor", "--network", "--json"]] {
                let result = try await project.runDetached(arguments, environment: Self.environment(base))
                let text = result.stdout + result.stderr
                for dump in ["Optional(", "ScoupHealth(", "HTTPResponse(", "JSONValue", "LLMError(", "ScoupError(", "TransportError("] {
                    #expect(!text.contains(dump), "\(arguments): \(dump) in\n\(text)")
                }
                #expect(text.contains("\(base): status ok"), "\(text)")
            }
            let json = try await project.runDetached(["doctor", "--network", "--json"], environment: Self.environment(base))
            let checks = try #require(try JSONSerialization.jsonObject(with: Data(json.stdout.utf8)) as? [[String: Any]])
            let scoup = try #require(checks.first { $0["check"] as? String == "scoup" })
            #expect(scoup["status"] as? String == "ok")
            // Every field of Scoup's /health is shown as data, the echoed key redacted.
            let detail = try #require(scoup["detail"] as? String)
            #expect(detail.hasPrefix("\(base): status ok"), "\(detail)")
            #expect(detail.contains("Bearer <redacted>") && !detail.contains("Optional("), "\(detail)")
            let data = try #require(scoup["data"] as? [String: Any])
            #expect(data["status"] as? String == "ok")
        }
    }
}
