import Foundation
import Postgres
import TestSupport
import Testing
#if canImport(Glibc)
import Glibc
#endif

/// The built binary: three `agentshop worker` processes on one lake and one queue, the run's
/// coordinator (`agentshop run … --queue`), one worker killed with SIGKILL mid-run.
@Suite(.serialized) struct QueueEndToEndTests {
    static let binary: String = {
        let candidates = [
            URL(fileURLWithPath: CommandLine.arguments[0]).deletingLastPathComponent().appendingPathComponent("agentshop").path,
            Bundle.main.bundleURL.appendingPathComponent("agentshop").path,
            Bundle.main.bundleURL.deletingLastPathComponent().appendingPathComponent("agentshop").path,
        ]
        return candidates.first { FileManager.default.isExecutableFile(atPath: $0) } ?? candidates[0]
    }()

    static let pipeline = """
        pipeline: spread
        stages:
          enriched:
            enrich: { from: raw_data/imports/reviews.jsonl, provider: offline, task: sentiment, into: sentiment }
            out: processed_data/ml_datasets/reviews/enriched.jsonl.gz
          summaries:
            enrich: { from: enriched, provider: offline, task: keywords, text: "{{title}}. {{text}}", into: keywords }
            out: processed_data/ml_datasets/reviews/keywords.jsonl
        """

    /// A project folder with the pipeline, a lake and `count` review records.
    static func project(count: Int) throws -> String {
        let folder = NSTemporaryDirectory() + "agentshop-queue-e2e-" + UUID().uuidString
        try FileManager.default.createDirectory(atPath: folder + "/pipelines", withIntermediateDirectories: true)
        try pipeline.write(toFile: folder + "/pipelines/spread.yaml", atomically: true, encoding: .utf8)
        let initialised = try run(["init", "datalake", "--quiet"], in: folder)
        #expect(initialised.status == 0, "\(initialised.stderr)")
        let words = ["great", "terrible", "fine", "broken", "love", "awful", "okay", "excellent", "slow", "fast"]
        var lines = ""
        for i in 0..<count {
            let text = "\(words[i % words.count]) product, \(words[(i * 7) % words.count]) delivery, item \(i)"
            lines += "{\"id\":\(i),\"title\":\"Review \(i)\",\"text\":\"\(text)\",\"price\":\(Double(i) + 0.5)}\n"
        }
        try lines.write(toFile: folder + "/datalake/raw_data/imports/reviews.jsonl", atomically: true, encoding: .utf8)
        return folder
    }

    struct Output {
        let status: Int32
        let stdout: String
        let stderr: String
    }

    static func environment(_ extra: [String: String]) -> [String: String] {
        var env = ProcessInfo.processInfo.environment.filter { !$0.key.hasPrefix("AGENTSHOP_") }
        for (key, value) in extra { env[key] = value }
        return env
    }

    static func run(_ arguments: [String], in folder: String, environment extra: [String: String] = [:]) throws -> Output {
        let process = try start(arguments, in: folder, environment: extra, output: folder + "/.out-\(UUID().uuidString)")
        process.process.waitUntilExit()
        return Output(status: process.process.terminationStatus, stdout: process.stdout(), stderr: process.stderr())
    }

    struct Started {
        let process: Process
        let output: String
        func stdout() -> String { (try? String(contentsOfFile: output + ".stdout", encoding: .utf8)) ?? "" }
        func stderr() -> String { (try? String(contentsOfFile: output + ".stderr", encoding: .utf8)) ?? "" }
    }

    /// Starts the binary with its output in files (never a pipe nobody reads while it runs).
    static func start(_ arguments: [String], in folder: String, environment extra: [String: String] = [:],
                      output: String) throws -> Started {
        let process = Process()
        process.executableURL = URL(fileURLWithPath: binary)
        process.arguments = arguments
        process.currentDirectoryURL = URL(fileURLWithPath: folder)
        process.environment = environment(extra)
        FileManager.default.createFile(atPath: output + ".stdout", contents: nil)
        FileManager.default.createFile(atPath: output + ".stderr", contents: nil)
        process.standardOutput = FileHandle(forWritingAtPath: output + ".stdout")
        process.standardError = FileHandle(forWritingAtPath: output + ".stderr")
        try process.run()
        return Started(process: process, output: output)
    }

    static func gunzip(_ path: String) throws -> String {
        let process = Process()
        process.executableURL = URL(fileURLWithPath: "/bin/gzip")
        process.arguments = ["-dc", path]
        let out = Pipe()
        process.standardOutput = out
        try process.run()
        let data = out.fileHandleForReading.readDataToEndOfFile()
        process.waitUntilExit()
        return String(decoding: data, as: UTF8.self)
    }

    @Test func threeWorkersOneKilledOutputsEqualAOneProcessRun() throws {
        guard let database = try PostgresServer.database() else { return }
        defer { database.drop() }
        let count = 240
        let distributed = try Self.project(count: count)
        let single = try Self.project(count: count)
        defer {
            try? FileManager.default.removeItem(atPath: distributed)
            try? FileManager.default.removeItem(atPath: single)
        }

        // The one-process run.
        let alone = try Self.run(["run", "spread", "--lake", "datalake"], in: single)
        try #require(alone.status == 0, "\(alone.stderr)")

        // Three workers, then the coordinator; one record per item, so that there are many items.
        var workers: [Started] = []
        for name in ["w1", "w2", "w3"] {
            workers.append(try Self.start(["worker", database.url, "--id", name, "--batch", "3", "--lease", "2s"], in: distributed, output: distributed + "/" + name))
        }
        defer { for worker in workers where worker.process.isRunning { kill(worker.process.processIdentifier, SIGKILL) } }
        let coordinator = try Self.start(["run", "spread", "--lake", "datalake", "--queue", database.url, "--json"], in: distributed,
                                         environment: ["AGENTSHOP_QUEUE_ITEM_RECORDS": "1"], output: distributed + "/run")
        // Kill w1 once it has completed a few items and holds claimed ones. Items take milliseconds, so w1 is
        // frozen (SIGSTOP) to look: between two batches it holds none, and is let go (SIGCONT) to try again.
        let db = try PGConnection(database.url)
        let deadline = Date().addingTimeInterval(120)
        let w1 = workers[0].process.processIdentifier
        var killedAfter = 0
        var holding = 0
        while Date() < deadline {
            // The tables appear when the first process opens the queue.
            let done = Int((try? db.scalar("SELECT count(*) FROM agentshop_queue_results WHERE worker = 'w1'")) ?? "0") ?? 0
            if done >= 5 {
                kill(w1, SIGSTOP)
                killedAfter = Int((try? db.scalar("SELECT count(*) FROM agentshop_queue_results WHERE worker = 'w1'")) ?? "0") ?? 0
                holding = Int((try? db.scalar("SELECT count(*) FROM agentshop_queue_items WHERE state = 'claimed' AND lease_owner = 'w1'")) ?? "0") ?? 0
                if holding > 0 { break }
                kill(w1, SIGCONT)
            }
            Thread.sleep(forTimeInterval: 0.05)
        }
        try #require(killedAfter >= 5 && holding > 0, "w1 never held claimed items after its first: \(workers[0].stderr())")
        kill(w1, SIGKILL)
        workers[0].process.waitUntilExit()
        #expect(workers[0].process.terminationReason == .uncaughtSignal)
        coordinator.process.waitUntilExit()
        try #require(coordinator.process.terminationStatus == 0, "\(coordinator.stderr())")
        // Every item is done: the other workers are stopped as an operator would (SIGTERM).
        for worker in workers.dropFirst() {
            kill(worker.process.processIdentifier, SIGTERM)
            worker.process.waitUntilExit()
        }

        // The outputs equal the one-process run's, byte for byte.
        for output in ["processed_data/ml_datasets/reviews/enriched.jsonl.gz", "processed_data/ml_datasets/reviews/keywords.jsonl"] {
            let a = try Data(contentsOf: URL(fileURLWithPath: distributed + "/datalake/" + output))
            let b = try Data(contentsOf: URL(fileURLWithPath: single + "/datalake/" + output))
            #expect(a == b, "\(output) differs")
        }
        #expect(try Self.gunzip(distributed + "/datalake/processed_data/ml_datasets/reviews/enriched.jsonl.gz")
            .split(separator: "\n").count == count)

        // No item lost or done twice: every item done, one result per item key, per stage.
        for stage in ["enriched", "summaries"] {
            #expect(try db.scalar("SELECT count(*) FROM agentshop_queue_items WHERE stage = $1 AND state = 'done'", [stage]) == "\(count)")
            #expect(try db.scalar("SELECT count(*) FROM agentshop_queue_results WHERE stage = $1", [stage]) == "\(count)")
            #expect(try db.scalar("""
                SELECT count(*) FROM (SELECT item_key FROM agentshop_queue_results WHERE stage = $1
                GROUP BY item_key HAVING count(*) > 1) AS twice
                """, [stage]) == "0")
        }
        // The killed worker's claimed items were taken over by the others (a second lease).
        let takenOver = Int(try db.scalar("""
            SELECT count(*) FROM agentshop_queue_items WHERE attempts > 1 AND lease_owner <> 'w1'
            """) ?? "0") ?? 0
        #expect(takenOver > 0, "no item of the killed worker was taken over")
        let doneByW1 = Int(try db.scalar("SELECT count(*) FROM agentshop_queue_results WHERE worker = 'w1'") ?? "0") ?? 0
        #expect(doneByW1 >= killedAfter)
        #expect(Int(try db.scalar("SELECT count(DISTINCT worker) FROM agentshop_queue_results") ?? "0") == 3)
        // The coordinator recorded its run's end: both queued stages done, the run succeeded.
        #expect(try db.scalar("SELECT status || ' ' || (finished_at IS NOT NULL) FROM agentshop_queue_runs") == "succeeded true")

        // The run manifest names the workers and what each did.
        let manifest = try #require(try JSONSerialization.jsonObject(with: Data(coordinator.stdout().utf8)) as? [String: Any])
        let stages = try #require(manifest["stages"] as? [[String: Any]])
        let enriched = try #require(stages.first { $0["name"] as? String == "enriched" })
        let queue = try #require((enriched["details"] as? [String: Any])?["queue"] as? [String: Any])
        let byWorker = try #require(queue["workers"] as? [String: [String]])
        #expect(Set(byWorker.keys) == ["w1", "w2", "w3"])
        #expect(byWorker.values.reduce(0) { $0 + $1.count } == count)
        #expect(!(queue["taken_over"] as? [String] ?? []).isEmpty || takenOver > 0)
        // The LLM call records of every item are there, as in a one-process run's manifest.
        let llm = try #require((enriched["details"] as? [String: Any])?["llm"] as? [String: Any])
        #expect((llm["calls"] as? [Any])?.count == count)
        #expect((llm["totals"] as? [String: Any])?["provider"] as? String == "offline")
        #expect(!coordinator.stderr().contains(try PostgresURL(database.url).password ?? "no-password"))
    }
}
