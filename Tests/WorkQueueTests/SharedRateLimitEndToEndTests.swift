import Foundation
import Postgres
import TestSupport
import Testing
#if canImport(Glibc)
import Glibc
#endif

/// Two `agentshop worker` processes enrich through one OpenAI-compatible provider (a loopback server
/// that records when each request arrives) limited to 60 requests a minute: together they send no
/// faster than one process would.
@Suite(.serialized) struct SharedRateLimitEndToEndTests {
    static let answer = """
        {"id":"c1","object":"chat.completion","model":"m","choices":[{"index":0,"message":{"role":"assistant",\
        "content":"{\\"label\\":\\"positive\\",\\"score\\":0.5,\\"confidence\\":0.9}"},"finish_reason":"stop"}],\
        "usage":{"prompt_tokens":40,"completion_tokens":12,"total_tokens":52}}
        """

    @Test func twoWorkersTogetherStayWithinTheProvidersRequestsPerMinute() async throws {
        guard let database = try PostgresServer.database() else { return }
        defer { database.drop() }
        let count = 8
        try await ScriptedSite.with({ site in
            await site.route("/v1/chat/completions") { _, _ in
                ScriptedSite.Response(status: 200, headers: ["Content-Type": "application/json"], body: Array(Self.answer.utf8))
            }
        }) { base, site in
            let folder = NSTemporaryDirectory() + "agentshop-queue-rate-" + UUID().uuidString
            defer { try? FileManager.default.removeItem(atPath: folder) }
            try FileManager.default.createDirectory(atPath: folder + "/pipelines", withIntermediateDirectories: true)
            try """
                pipeline: rated
                stages:
                  rated:
                    enrich: { from: raw_data/imports/reviews.jsonl, provider: openai, model: m, task: sentiment, text: "{{text}}", into: sentiment }
                    out: processed_data/ml_datasets/reviews/rated.jsonl
                """.write(toFile: folder + "/pipelines/rated.yaml", atomically: true, encoding: .utf8)
            #expect(try QueueEndToEndTests.run(["init", "datalake", "--quiet"], in: folder).status == 0)
            let lines = (0..<count).map { "{\"id\":\($0),\"text\":\"review number \($0)\"}\n" }.joined()
            try lines.write(toFile: folder + "/datalake/raw_data/imports/reviews.jsonl", atomically: true, encoding: .utf8)
            let environment = ["OPENAI_API_KEY": "sk-test", "LLM_OPENAI_BASE_URL": base + "/v1", "LLM_OPENAI_RATE_LIMIT_RPM": "60"]

            var workers: [QueueEndToEndTests.Started] = []
            for name in ["w1", "w2"] {
                workers.append(try QueueEndToEndTests.start(["worker", database.url, "--id", name, "--batch", "1"], in: folder,
                                                            environment: environment, output: folder + "/" + name))
            }
            defer { for worker in workers where worker.process.isRunning { kill(worker.process.processIdentifier, SIGKILL) } }
            let coordinator = try QueueEndToEndTests.run(["run", "rated", "--lake", "datalake", "--queue", database.url],
                                                         in: folder, environment: environment.merging(["AGENTSHOP_QUEUE_ITEM_RECORDS": "1"]) { $1 })
            for worker in workers {
                kill(worker.process.processIdentifier, SIGTERM)
                worker.process.waitUntilExit()
            }
            try #require(coordinator.status == 0, "\(coordinator.stderr)\n\(workers[0].stderr())")

            let times = await site.requests.filter { $0.path == "/v1/chat/completions" }.map(\.at).sorted()
            #expect(times.count == count)
            // Both workers sent some.
            let db = try PGConnection(database.url)
            #expect(try db.scalar("SELECT count(DISTINCT worker) FROM agentshop_queue_results WHERE stage = 'rated'") == "2")
            #expect(try db.scalar("SELECT taken FROM agentshop_queue_rate_buckets WHERE kind = 'requests'") == "\(count)")
            // One a second between them (a burst of one): 8 requests span about 7 s; each worker on its
            // own limit would have sent two a second (about 3.5 s). Arrival times, so a little slack.
            #expect(times.last! - times.first! >= 5.5, "\(times)")
            for (i, start) in times.enumerated() {
                #expect(times[i...].prefix { $0 < start + 1 }.count <= 2, "more than two requests within a second: \(times)")
            }
        }
    }
}
