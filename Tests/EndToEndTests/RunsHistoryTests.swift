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

    /// Sets the modification time of everything below `relative` (folders too) this many days back.
    static func age(_ project: Project, _ relative: String, days: Double) {
        let root = project.folder + "/" + relative
        var paths = [root]
        if let walker = FileManager.default.enumerator(atPath: root) {
            while let path = walker.nextObject() as? String { paths.append(root + "/" + path) }
        }
        let when = Date().addingTimeInterval(-days * 86_400)
        for path in paths.reversed() { try? FileManager.default.setAttributes([.modificationDate: when], ofItemAtPath: path) }
    }

    /// The project's runs, two older ones (a failed shop run whose queued crawl kept its queue folder, a
    /// succeeded blog run), and every record 30 days old but the recent run's.
    static func projectWithOldRuns() throws -> Project {
        let project = try Self.project()
        try project.write("datalake/raw_data/logs/shop/20261020T030000Z-999999.manifest.json",
                          manifest("20261020T030000Z-999999", pipeline: "shop", status: "failed", started: "2026-10-20T03:00:00.000Z",
                                   error: "queued crawl failed"))
        try project.write("datalake/raw_data/logs/blog/20261011T030000Z-888888.manifest.json",
                          manifest("20261011T030000Z-888888", pipeline: "blog", status: "succeeded", started: "2026-10-11T03:00:00.000Z"))
        for (pipeline, id) in [("shop", "20261101T030000Z-aaaaaa"), ("shop", "20261110T030000Z-bbbbbb"), ("blog", "20261112T030000Z-cccccc"),
                               ("shop", "20261020T030000Z-999999"), ("blog", "20261011T030000Z-888888")] {
            try project.write("datalake/raw_data/logs/\(pipeline)/\(id).log", "log\n")
        }
        try project.write("datalake/.agentshop/queue/shop/crawl/20261020T030000Z-999999/workers/w1/pack.warc.gz", "pages")
        try project.write("datalake/.agentshop/queue/shop/crawl/20261020T030000Z-999999/in/seeds.jsonl", "{}\n")
        age(project, "datalake/raw_data/logs/shop", days: 30)
        age(project, "datalake/raw_data/logs/blog", days: 30)
        age(project, "datalake/.agentshop/queue", days: 30)
        age(project, "datalake/raw_data/logs/blog/20991231T000000Z-dddddd.manifest.json", days: 0)
        return project
    }

    @Test func pruneRemovesOldRunsRecordsKeepingTheNewestAndTheLatestSuccessAndRotatesBigLogs() throws {
        let project = try Self.projectWithOldRuns()
        try project.write("datalake/raw_data/logs/cron-shop.log", String(repeating: "x", count: 1_200_000))
        try project.write("datalake/raw_data/logs/cron-blog.log", "small\n")

        // By default the age is raw_data/logs' retention (90d): nothing is that old.
        let defaults = try project.run(["runs", "prune", "--keep", "0", "--dry-run", "--json"])
        #expect(defaults.status == 0, "\(defaults.stderr)")
        let summary = try #require(try JSONSerialization.jsonObject(with: Data(defaults.stdout.utf8)) as? [String: Any])
        #expect((summary["removed"] as? [String])?.isEmpty == true, "\(defaults.stdout)")

        let dry = try project.run(["runs", "prune", "--older-than", "10d", "--keep", "1", "--rotate-size", "1", "--dry-run"])
        #expect(dry.status == 0, "\(dry.stderr)")
        #expect(dry.stdout.contains("would remove \(project.lake)/raw_data/logs/shop/20261020T030000Z-999999.log"))
        #expect(dry.stdout.contains("would remove \(project.lake)/.agentshop/queue/shop/crawl/20261020T030000Z-999999/"))
        #expect(project.exists("datalake/raw_data/logs/shop/20261020T030000Z-999999.manifest.json"))

        let result = try project.run(["runs", "prune", "--older-than", "10d", "--keep", "1", "--rotate-size", "1"])
        #expect(result.status == 0, "\(result.stderr)")
        #expect(result.stderr.contains("5 records removed, 1 log rotated"), "\(result.stderr)")
        // Each pipeline's newest run and its latest successful one stay, with their logs.
        #expect(Self.ids(try project.run(["runs", "--json"])) == ["20261101T030000Z-aaaaaa", "20261110T030000Z-bbbbbb",
                                                                   "20261112T030000Z-cccccc", "20991231T000000Z-dddddd"])
        #expect(!project.exists("datalake/raw_data/logs/shop/20261020T030000Z-999999.log"))
        #expect(!project.exists("datalake/.agentshop/queue/shop"))
        #expect(!project.exists("datalake/raw_data/logs/blog/20261011T030000Z-888888.manifest.json"))
        #expect(project.exists("datalake/raw_data/logs/shop/20261101T030000Z-aaaaaa.log"))
        #expect(project.exists("datalake/raw_data/logs/cron-shop.log.1") && !project.exists("datalake/raw_data/logs/cron-shop.log"))
        #expect(project.exists("datalake/raw_data/logs/cron-blog.log"))
        #expect(try project.run(["runs", "prune", "--older-than", "soon"]).status == 2)
    }

    @Test func gcCollectsTheQueueFolderOfAFailedRunNeverOneOfARunStillRunning() throws {
        let project = try Self.projectWithOldRuns()
        try project.write("datalake/.agentshop/retention.yaml", "retention:\n  raw_data/logs: 14d\n")
        // A run of `news` still running: it holds its pipeline's lock, as `agentshop run` does.
        try project.write("datalake/raw_data/logs/news/20261115T030000Z-777777.manifest.json",
                          Self.manifest("20261115T030000Z-777777", pipeline: "news", status: "running", started: "2026-11-15T03:00:00.000Z"))
        try project.write("datalake/.agentshop/queue/news/enriched/20261115T030000Z-777777/seg/k.w1.1.jsonl", "{}\n")
        Self.age(project, "datalake/raw_data/logs/news", days: 20)
        Self.age(project, "datalake/.agentshop/queue/news", days: 20)
        try project.write("datalake/.agentshop/locks/news.lock", "")
        let fd = open(project.lake + "/.agentshop/locks/news.lock", O_RDWR)
        #expect(fd >= 0 && flock(fd, LOCK_EX | LOCK_NB) == 0)

        let dry = try project.run(["lake", "gc", "--dry-run", "--json"])
        #expect(dry.status == 0, "\(dry.stderr)")
        let summary = try #require(try JSONSerialization.jsonObject(with: Data(dry.stdout.utf8)) as? [String: Any])
        let removed = summary["removed"] as? [[String: Any]] ?? []
        let folder = try #require(removed.first { $0["folder"] as? Bool == true })
        #expect(folder["path"] as? String == ".agentshop/queue/shop/crawl/20261020T030000Z-999999")
        #expect(folder["run"] as? String == "20261020T030000Z-999999" && folder["run_status"] as? String == "failed")
        #expect(folder["bytes"] as? Int == 8 && folder["rule"] as? String == "raw_data/logs: 14d")
        #expect(removed.filter { $0["folder"] as? Bool == true }.count == 1)
        #expect(summary["kept_running"] as? [String] ?? [] == [".agentshop/queue/news/enriched/20261115T030000Z-777777",
                                                               "raw_data/logs/news/20261115T030000Z-777777.manifest.json"])
        #expect(project.exists("datalake/.agentshop/queue/shop/crawl/20261020T030000Z-999999/in/seeds.jsonl"))

        let gc = try project.run(["lake", "gc"])
        #expect(gc.status == 0, "\(gc.stderr)")
        #expect(gc.stdout.contains("removed .agentshop/queue/shop/crawl/20261020T030000Z-999999/  8 B, 30 days old (raw_data/logs: 14d; queue folder of failed run 20261020T030000Z-999999)"), "\(gc.stdout)")
        #expect(gc.stdout.contains("kept .agentshop/queue/news/enriched/20261115T030000Z-777777  past its age, but its run is still running"))
        #expect(gc.stdout.contains("and 1 queue folder"))
        #expect(!project.exists("datalake/.agentshop/queue/shop"))
        #expect(project.exists("datalake/.agentshop/queue/news/enriched/20261115T030000Z-777777/seg/k.w1.1.jsonl"))

        // The run's process gone (its lock free), it is abandoned: gc takes its records too.
        close(fd)
        let after = try project.run(["lake", "gc", "--json"])
        #expect(after.status == 0, "\(after.stderr)")
        #expect(after.stdout.contains("\"run_status\" : \"abandoned\""), "\(after.stdout)")
        #expect(!project.exists("datalake/.agentshop/queue/news"))
        #expect(!project.exists("datalake/raw_data/logs/news/20261115T030000Z-777777.manifest.json"))
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
