import Foundation
import Testing

/// `agentshop runs` filters and `runs show`, over manifests written into the lake as a run would write them.
@Suite struct RunsHistoryTests {
    static func manifest(_ id: String, pipeline: String, status: String, started: String, cost: Double? = nil,
                         error: String? = nil) -> String {
        let details = cost.map { #", "details": {"llm": {"totals": {"calls": 12, "cost_usd": \#($0)}}}"# } ?? ""
        let stageError = error.map { #", "error": "\#($0)""# } ?? ""
        return """
            {"run_id": "\(id)", "pipeline": "\(pipeline)", "pipeline_file": "pipelines/\(pipeline).yaml", "status": "\(status)",
             "started_at": "\(started)", "finished_at": "\(started.replacingOccurrences(of: ":00.000Z", with: ":42.000Z"))",
             "run_date": "\(started.prefix(10))", "pid": 1, "tool_version": "0.1.0", "options": [],
             "log_file": "raw_data/logs/\(pipeline)/\(id).log", "error": \(error.map { "\"stage enrich failed: \($0)\"" } ?? "null"),
             "stages": [
               {"name": "fetch", "kind": "fetch", "status": "ran", "reason": "new", "fingerprint": "f", "duration_ms": 1500,
                "inputs": [], "outputs": [{"path": "scraped_data/x.jsonl", "sha256": "ab", "bytes": 10, "records": 120}],
                "counts": {"records_out": 120}},
               {"name": "enrich", "kind": "enrich", "status": "\(error == nil ? "ran" : "failed")", "reason": "new",
                "fingerprint": "e", "duration_ms": 40500, "inputs": [], "outputs": [], "counts": {"records_in": 120}\(details)\(stageError)}
             ]}
            """
    }

    static func project() throws -> Project {
        let project = try Project()
        try project.run(["init", "datalake"])
        let now = Date()
        let recent = ISO8601DateFormatter().string(from: now.addingTimeInterval(-3600)).replacingOccurrences(of: "Z", with: "")
        let recentStart = String(recent.prefix(16)) + ":00.000Z"
        let runs = [
            ("20261101T030000Z-aaaaaa", "shop", "succeeded", "2026-11-01T03:00:00.000Z", 0.5, nil as String?),
            ("20261110T030000Z-bbbbbb", "shop", "failed", "2026-11-10T03:00:00.000Z", 0.25, "provider answered 500"),
            ("20261112T030000Z-cccccc", "blog", "succeeded", "2026-11-12T03:00:00.000Z", nil, nil),
            ("20991231T000000Z-dddddd", "blog", "interrupted", recentStart, nil, nil),
        ]
        for (id, pipeline, status, started, cost, error) in runs {
            try project.write("datalake/raw_data/logs/\(pipeline)/\(id).manifest.json",
                              manifest(id, pipeline: pipeline, status: status, started: started, cost: cost, error: error))
        }
        return project
    }

    static func ids(_ result: Project.Result) -> [String] {
        let array = (try? JSONSerialization.jsonObject(with: Data(result.stdout.utf8))) as? [[String: Any]] ?? []
        return array.compactMap { $0["run_id"] as? String }
    }

    @Test func filters() throws {
        let project = try Self.project()
        #expect(Self.ids(try project.run(["runs", "--json"])).count == 4)
        #expect(Self.ids(try project.run(["runs", "--json", "--pipeline", "shop"])) == ["20261101T030000Z-aaaaaa", "20261110T030000Z-bbbbbb"])
        #expect(Self.ids(try project.run(["runs", "--json", "--failed"])) == ["20261110T030000Z-bbbbbb", "20991231T000000Z-dddddd"])
        #expect(Self.ids(try project.run(["runs", "--json", "--since", "2026-11-10"])).count == 3)
        #expect(Self.ids(try project.run(["runs", "--json", "--since", "24h"])) == ["20991231T000000Z-dddddd"])
        #expect(Self.ids(try project.run(["runs", "--json", "--pipeline", "shop", "--failed", "--since", "2026-11-05"])) == ["20261110T030000Z-bbbbbb"])
        let bad = try project.run(["runs", "--since", "last tuesday"])
        #expect(bad.status == 2 && bad.stderr.contains("--since takes"))
        let table = try project.run(["runs", "--pipeline", "shop"])
        #expect(table.stdout.contains("COST") && table.stdout.contains("$0.5000") && table.stdout.contains("$0.2500"))
    }

    @Test func pruneRemovesOldRunsKeepingTheNewestAndRotatesBigLogs() throws {
        let project = try Self.project()
        for (pipeline, id) in [("shop", "20261101T030000Z-aaaaaa"), ("shop", "20261110T030000Z-bbbbbb"), ("blog", "20261112T030000Z-cccccc")] {
            try project.write("datalake/raw_data/logs/\(pipeline)/\(id).log", "log\n")
        }
        try project.write("datalake/raw_data/logs/cron-shop.log", String(repeating: "x", count: 1_200_000))
        try project.write("datalake/raw_data/logs/cron-blog.log", "small\n")

        let dry = try project.run(["runs", "prune", "--older-than", "10d", "--keep", "1", "--rotate-size", "1", "--dry-run"])
        #expect(dry.status == 0, "\(dry.stderr)")
        #expect(dry.stdout.contains("would remove \(project.lake)/raw_data/logs/shop/20261101T030000Z-aaaaaa.log"))
        #expect(project.exists("datalake/raw_data/logs/shop/20261101T030000Z-aaaaaa.manifest.json"))

        let result = try project.run(["runs", "prune", "--older-than", "10d", "--keep", "1", "--rotate-size", "1"])
        #expect(result.status == 0, "\(result.stderr)")
        #expect(result.stderr.contains("4 files removed, 1 log rotated"))
        #expect(Self.ids(try project.run(["runs", "--json"])) == ["20261110T030000Z-bbbbbb", "20991231T000000Z-dddddd"])
        #expect(!project.exists("datalake/raw_data/logs/shop/20261101T030000Z-aaaaaa.log"))
        #expect(!project.exists("datalake/raw_data/logs/blog/20261112T030000Z-cccccc.manifest.json"))
        #expect(project.exists("datalake/raw_data/logs/shop/20261110T030000Z-bbbbbb.log"))
        #expect(project.exists("datalake/raw_data/logs/cron-shop.log.1") && !project.exists("datalake/raw_data/logs/cron-shop.log"))
        #expect(project.exists("datalake/raw_data/logs/cron-blog.log"))
        #expect(try project.run(["runs", "prune", "--older-than", "soon"]).status == 2)
    }

    @Test func showPrintsStagesTimingsRowsCostErrorsAndTheLog() throws {
        let project = try Self.project()
        let show = try project.run(["runs", "show", "20261110T030000Z-bb"])
        #expect(show.status == 0, "\(show.stderr)")
        #expect(show.stdout.contains("status    failed"))
        #expect(show.stdout.contains("log       \(project.lake)/raw_data/logs/shop/20261110T030000Z-bbbbbb.log"))
        #expect(show.stdout.contains("cost      $0.2500 (LLM calls)"))
        #expect(show.stdout.contains("error     stage enrich failed: provider answered 500"))
        let fetch = try #require(show.stdout.split(separator: "\n").first { $0.hasPrefix("fetch ") })
        #expect(fetch.contains("1.5s") && fetch.contains(" 120 ") && fetch.contains("records_out=120"))
        let enrich = try #require(show.stdout.split(separator: "\n").first { $0.hasPrefix("enrich ") })
        #expect(enrich.contains("failed") && enrich.contains("40.5s") && enrich.contains("$0.2500") && enrich.contains("provider answered 500"))
        #expect(!(try project.run(["runs", "show", "20261112"])).stdout.contains("cost "))
    }
}
