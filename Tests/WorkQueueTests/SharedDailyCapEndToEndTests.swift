import Foundation
import Postgres
import TestSupport
import Testing
#if canImport(Glibc)
import Glibc
#endif

/// Two `agentshop worker` processes enrich through one OpenAI-compatible provider (a loopback server)
/// whose daily cap (`LLM_OPENAI_COST_LIMIT_DAILY`) allows five calls at the prices of the project's
/// price file: together they send five, not five each.
@Suite(.serialized) struct SharedDailyCapEndToEndTests {
    /// 100 answer tokens at $2500 per million: $0.25 a call, exactly the estimate for max_tokens 100.
    static let answer = """
        {"id":"c1","object":"chat.completion","model":"m","choices":[{"index":0,"message":{"role":"assistant",\
        "content":"{\\"label\\":\\"positive\\",\\"score\\":0.5,\\"confidence\\":0.9}"},"finish_reason":"stop"}],\
        "usage":{"prompt_tokens":40,"completion_tokens":100,"total_tokens":140}}
        """

    @Test func twoWorkersTogetherSendNoMoreCallsThanTheProvidersDailyCapAllows() async throws {
        guard let database = try PostgresServer.database() else { return }
        defer { database.drop() }
        let count = 8
        try await ScriptedSite.with({ site in
            await site.route("/v1/chat/completions") { _, _ in
                ScriptedSite.Response(status: 200, headers: ["Content-Type": "application/json"], body: Array(Self.answer.utf8))
            }
        }) { base, site in
            let folder = NSTemporaryDirectory() + "agentshop-queue-daily-" + UUID().uuidString
            defer { try? FileManager.default.removeItem(atPath: folder) }
            try FileManager.default.createDirectory(atPath: folder + "/pipelines", withIntermediateDirectories: true)
            try """
                pipeline: capped
                stages:
                  capped:
                    enrich: { from: raw_data/imports/reviews.jsonl, provider: openai, model: m, task: sentiment, text: "{{text}}", into: sentiment, max_tokens: 100 }
                    out: processed_data/ml_datasets/reviews/capped.jsonl
                """.write(toFile: folder + "/pipelines/capped.yaml", atomically: true, encoding: .utf8)
            try #"{"providers": {"openai": {"m": {"input": 0, "output": 2500}}}}"#
                .write(toFile: folder + "/pipelines/llm_prices.json", atomically: true, encoding: .utf8)
            #expect(try QueueEndToEndTests.run(["init", "datalake", "--quiet"], in: folder).status == 0)
            let lines = (0..<count).map { "{\"id\":\($0),\"text\":\"review number \($0)\"}\n" }.joined()
            try lines.write(toFile: folder + "/datalake/raw_data/imports/reviews.jsonl", atomically: true, encoding: .utf8)
            // 5 × 0.25 = 1.25 ≤ 1.3 < 6 × 0.25: five calls a day, whichever worker sends them.
            let environment = ["OPENAI_API_KEY": "sk-test", "LLM_OPENAI_BASE_URL": base + "/v1", "LLM_OPENAI_COST_LIMIT_DAILY": "1.3"]

            var workers: [QueueEndToEndTests.Started] = []
            for name in ["w1", "w2"] {
                workers.append(try QueueEndToEndTests.start(["worker", database.url, "--id", name, "--batch", "1"], in: folder,
                                                            environment: environment, output: folder + "/" + name))
            }
            defer { for worker in workers where worker.process.isRunning { kill(worker.process.processIdentifier, SIGKILL) } }
            let coordinator = try QueueEndToEndTests.run(["run", "capped", "--lake", "datalake", "--queue", database.url],
                                                         in: folder, environment: environment.merging(["AGENTSHOP_QUEUE_ITEM_RECORDS": "1"]) { $1 })
            for worker in workers {
                kill(worker.process.processIdentifier, SIGTERM)
                worker.process.waitUntilExit()
            }
            let sent = await site.requests.filter { $0.path == "/v1/chat/completions" }.count
            #expect(sent == 5, "coordinator \(coordinator.status): \(coordinator.stderr)\n\(workers[0].stderr())\n\(workers[1].stderr())")
            // Both workers worked items; the day's row holds the five calls' cost.
            let db = try PGConnection(database.url)
            #expect(try db.scalar("SELECT count(DISTINCT worker) FROM agentshop_queue_results WHERE stage = 'capped'") == "2")
            #expect(try db.scalar("SELECT spent_usd FROM agentshop_queue_daily_spend WHERE provider = 'openai'").flatMap(Double.init) == 1.25)
        }
    }
}
