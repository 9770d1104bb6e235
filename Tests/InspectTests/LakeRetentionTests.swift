import Foundation
import Testing
import Lake
import Pipeline
@testable import Inspect

@Suite struct LakeRetentionTests {
    static let pipeline = """
    pipeline: p
    stages:
      products:
        import: { from: raw_data/imports/products.csv }
        out: scraped_data/products/dt={run_date}/products.jsonl.gz
      by_category:
        aggregate: { from: products, group_by: [category], measures: { n: count() } }
        out: processed_data/aggregations/by_category/dt={run_date}.csv
    """

    @Test func defaultsAndOverridesFromTheLakesPolicyFile() throws {
        let policy = try LakeRetention.parse("""
        retention:
          raw_data/logs: 30d
          processed_data/ml_datasets/golden: keep
          external_apis: 2y
        """, file: "retention.yaml")
        #expect(policy.rule(for: "raw_data/logs/p/x.log")?.rule == .maxAge(30 * 86_400))
        #expect(policy.rule(for: "raw_data/imports/a.csv")?.rule == .maxAge(365 * 86_400))
        #expect(policy.rule(for: "processed_data/ml_datasets/golden/a.jsonl")?.rule == .keep)
        #expect(policy.rule(for: "processed_data/ml_datasets/other/a.jsonl")?.rule == .maxAge(3 * 365 * 86_400))
        #expect(policy.rule(for: "external_apis/llm_responses/a.json")?.rule == .maxAge(30 * 86_400))
        #expect(policy.rule(for: "external_apis/third_party/a.json")?.rule == .maxAge(2 * 365 * 86_400))
        #expect(policy.rule(for: "db_dumps/daily/a.sqlite.gz")?.rule == .dump)
        #expect(policy.rule(for: "store/agentshop.sqlite") == nil)
        #expect(LakeRetention.defaults.rule(for: "raw_data/logs/p/r.manifest.json")?.rule == .maxAge(90 * 86_400))
    }

    @Test func everyProblemInThePolicyFileWithItsPosition() {
        do {
            _ = try LakeRetention.parse("""
            retention:
              raw_data: 3 days
              db_dumps/daily: 30d
              nowhere: 1y
              store: 1y
            extra: 1
            """, file: "retention.yaml")
            Issue.record("expected problems")
        } catch let error as LakeRetention.InvalidPolicy {
            let lines = error.diagnostics.map(\.description)
            #expect(lines.count == 5, "\(lines)")
            #expect(lines.contains { $0.hasPrefix("retention.yaml:2:13: retention.raw_data: expected an age") })
            #expect(lines.contains { $0.hasPrefix("retention.yaml:3:19: retention.db_dumps/daily: dumps follow the dump stage") })
            #expect(lines.contains { $0.hasPrefix("retention.yaml:4:12: retention.nowhere: 'nowhere' is not a lake folder") })
            #expect(lines.contains { $0.hasPrefix("retention.yaml:5:10: retention.store: the store is not governed by gc") })
            #expect(lines.contains { $0.hasPrefix("retention.yaml:6:1: extra: unknown key 'extra'") })
        } catch {
            Issue.record("unexpected \(error)")
        }
    }

    @Test func gcNeverRemovesWhatTheLatestSuccessfulRunUsesAndHonoursItsRules() async throws {
        let t = try TestLake()
        try LakeLayout.create(at: t.lake)
        try t.put("raw_data/imports/products.csv", "slug,category\na,shoes\nb,books\n")
        let old = try await t.run(Self.pipeline, date: "2026-01-01")
        let latest = try await t.run(Self.pipeline, date: "2026-01-02", force: true)
        #expect(old.status == .succeeded && latest.status == .succeeded)
        try t.put("external_apis/llm_responses/ab/old.json", "{}")
        try t.put("external_apis/llm_responses/ab/fresh.json", "{}")
        try t.put("db_dumps/daily/agentshop_20200101T000000Z.sqlite.gz", "x")
        for path in LakeListing.walk(t.lake) { t.age(path, days: 400) }
        t.age("external_apis/llm_responses/ab/fresh.json", days: 29)
        t.age("external_apis/llm_responses/ab/old.json", days: 31)

        let history = LakeHistory(lake: t.lake)
        let plan = LakeRetention.defaults.plan(lake: t.lake, history: history)
        let removals = Set(plan.removals.map(\.path))
        #expect(removals == [
            "scraped_data/products/dt=2026-01-01/products.jsonl.gz",
            "raw_data/logs/p/\(old.runID).manifest.json",
            "external_apis/llm_responses/ab/old.json",
        ])
        // The latest run's input, outputs and manifest are past their age but stay.
        #expect(Set(plan.protected).isSuperset(of: [
            "raw_data/imports/products.csv", "scraped_data/products/dt=2026-01-02/products.jsonl.gz",
            "raw_data/logs/p/\(latest.runID).manifest.json",
        ]))
        #expect(!removals.contains { $0.hasPrefix("db_dumps/") || $0.hasPrefix("processed_data/") })

        let (removed, failed) = plan.apply(lake: t.lake)
        #expect(failed.isEmpty)
        #expect(removed.count == 3)
        #expect(!t.exists("scraped_data/products/dt=2026-01-01"))      // the emptied partition folder goes
        #expect(t.exists("scraped_data/products"))                      // the layout's folders stay
        #expect(t.exists("scraped_data/products/dt=2026-01-02/products.jsonl.gz"))
        #expect(t.exists("processed_data/aggregations/by_category/dt=2026-01-01.csv"))  // 3 years for processed data
        #expect(t.exists("external_apis/llm_responses/ab/fresh.json"))
        #expect(t.exists("db_dumps/daily/agentshop_20200101T000000Z.sqlite.gz"))
        #expect(t.exists("raw_data/imports/products.csv"))
        // A second plan finds nothing more.
        #expect(LakeRetention.defaults.plan(lake: t.lake, history: LakeHistory(lake: t.lake)).removals.isEmpty)
    }

    // MARK: Run records: manifests, logs, rejects and the queue folders failed queued stages keep

    /// A manifest written as a run writes it, with its log.
    static func record(_ t: TestLake, pipeline: String, runID: String, status: RunManifest.Status) throws {
        var manifest = RunManifest(runID: runID, pipeline: pipeline, pipelineFile: "pipelines/\(pipeline).yaml",
                                   startedAt: Timestamp.parse(String(runID.prefix(4)) + "-" + String(runID.dropFirst(4).prefix(2)) + "-"
                                                              + String(runID.dropFirst(6).prefix(2)) + "T03:00:00Z")!,
                                   runDate: "2026-01-01", toolVersion: "test", options: [],
                                   logFile: "raw_data/logs/\(pipeline)/\(runID).log")
        manifest.status = status
        try ManifestStore(lake: t.lake).write(manifest)
        try t.put(manifest.logFile, "log of \(runID)\n")
    }

    /// Sets the modification time of everything below `relative` (folders too) this many days back.
    static func ageTree(_ t: TestLake, _ relative: String, days: Double) {
        let root = t.lake.root + "/" + relative
        var paths = [relative]
        if let walker = FileManager.default.enumerator(atPath: root) {
            while let path = walker.nextObject() as? String { paths.append(relative + "/" + path) }
        }
        for path in paths.reversed() { t.age(path, days: days) }
    }

    @Test func gcCollectsTheQueueFoldersOfFinishedRunsAndNeverThoseOfARunStillRunning() throws {
        let t = try TestLake()
        try LakeLayout.create(at: t.lake)
        let (failed, interrupted, young, latest, running) = ("20260101T030000Z-aaaaaa", "20260102T030000Z-bbbbbb",
                                                             "20260103T030000Z-cccccc", "20260104T030000Z-dddddd",
                                                             "20260105T030000Z-eeeeee")
        try Self.record(t, pipeline: "p", runID: failed, status: .failed)
        try Self.record(t, pipeline: "p", runID: interrupted, status: .interrupted)
        try Self.record(t, pipeline: "p", runID: young, status: .failed)
        try Self.record(t, pipeline: "p", runID: latest, status: .succeeded)
        try Self.record(t, pipeline: "q", runID: running, status: .running)
        try t.put("raw_data/logs/p/\(failed).enriched.rejects.jsonl", "{}\n")
        try t.put(".agentshop/queue/p/crawl/\(failed)/workers/w1/pack.warc.gz", "pages")
        try t.put(".agentshop/queue/p/enriched/\(failed)/in/part-000000.jsonl", "{}\n")
        try t.put(".agentshop/queue/p/enriched/\(interrupted)/seg/k.w1.1.jsonl", "{}\n")
        try t.put(".agentshop/queue/p/enriched/\(young)/seg/k.w1.1.jsonl", "{}\n")
        try t.put(".agentshop/queue/p/crawl/20250101T030000Z-ffffff/in/x.jsonl", "{}\n")   // its manifest is gone
        try t.put(".agentshop/queue/q/crawl/\(running)/workers/w1/pack.warc.gz", "pages")
        Self.ageTree(t, "raw_data/logs", days: 100)
        Self.ageTree(t, ".agentshop/queue", days: 100)
        Self.ageTree(t, ".agentshop/queue/p/enriched/\(young)", days: 10)

        // q's run holds its lock: it is still running.
        var lock: RunLock? = try RunLock(lake: t.lake, pipeline: "q", wait: 0, owner: "test run")
        #expect(lock != nil)
        let history = LakeHistory(lake: t.lake)
        let probe = AbandonedRuns(lake: t.lake, history: history, owner: "test gc")
        #expect(probe.runIDs.isEmpty && probe.busyPipelines == ["q"])
        probe.release()
        let plan = LakeRetention.defaults.plan(lake: t.lake, history: history, abandoned: probe.runIDs)
        let folders = Dictionary(uniqueKeysWithValues: plan.removals.filter(\.isFolder).map { ($0.path, $0.runStatus ?? "") })
        #expect(folders == [
            ".agentshop/queue/p/crawl/\(failed)": "failed",
            ".agentshop/queue/p/enriched/\(failed)": "failed",
            ".agentshop/queue/p/enriched/\(interrupted)": "interrupted",
            ".agentshop/queue/p/crawl/20250101T030000Z-ffffff": "unknown",
        ])
        let files = Set(plan.removals.filter { !$0.isFolder }.map(\.path))
        #expect(files == [
            "raw_data/logs/p/\(failed).manifest.json", "raw_data/logs/p/\(failed).log", "raw_data/logs/p/\(failed).enriched.rejects.jsonl",
            "raw_data/logs/p/\(interrupted).manifest.json", "raw_data/logs/p/\(interrupted).log",
        ])
        // The failed run's manifest goes after its queue folders and log.
        let order = plan.removals.filter { $0.run == failed }.map(\.path)
        #expect(order.last == "raw_data/logs/p/\(failed).manifest.json")
        #expect(plan.removals.first { $0.path == ".agentshop/queue/p/crawl/\(failed)" }?.bytes == 5)
        #expect(Set(plan.running) == [".agentshop/queue/q/crawl/\(running)", "raw_data/logs/q/\(running).manifest.json",
                                      "raw_data/logs/q/\(running).log"])
        #expect(plan.protected.contains("raw_data/logs/p/\(latest).manifest.json"))

        let (removed, failures) = plan.apply(lake: t.lake)
        #expect(failures.isEmpty && removed.count == plan.removals.count)
        #expect(!t.exists(".agentshop/queue/p/crawl"))                       // emptied stage folders go
        #expect(t.exists(".agentshop/queue/p/enriched/\(young)/seg/k.w1.1.jsonl"))
        #expect(t.exists(".agentshop/queue/q/crawl/\(running)/workers/w1/pack.warc.gz"))
        #expect(t.exists("raw_data/logs/p/\(young).manifest.json") && t.exists("raw_data/logs/p/\(latest).log"))

        // Its process gone (the lock free), the run that still says running is abandoned: its records go.
        lock = nil
        let after = LakeHistory(lake: t.lake)
        let gone = AbandonedRuns(lake: t.lake, history: after, owner: "test gc")
        #expect(gone.runIDs == [running])
        let second = LakeRetention.defaults.plan(lake: t.lake, history: after, abandoned: gone.runIDs)
        #expect(second.running.isEmpty)
        let folder = try #require(second.removals.first { $0.isFolder })
        #expect(folder.path == ".agentshop/queue/q/crawl/\(running)" && folder.runStatus == "abandoned")
        #expect(second.apply(lake: t.lake).failed.isEmpty)
        gone.release()
        #expect(!t.exists(".agentshop/queue/q") && t.exists(".agentshop/queue"))
        #expect(!t.exists("raw_data/logs/q/\(running).manifest.json"))
    }

    @Test func aRunsRecordsGoTogetherOnlyWhenAllAreOldAndPruneJudgesThemAsGcDoes() throws {
        let t = try TestLake()
        try LakeLayout.create(at: t.lake)
        let runs = (1...5).map { "2026010\($0)T030000Z-00000\($0)" }
        for (index, id) in runs.enumerated() { try Self.record(t, pipeline: "p", runID: id, status: index == 1 ? .succeeded : .failed) }
        try t.put(".agentshop/queue/p/crawl/\(runs[0])/in/x.jsonl", "{}\n")
        Self.ageTree(t, "raw_data/logs", days: 100)
        Self.ageTree(t, ".agentshop/queue", days: 100)
        // A worker still writes a segment of the first run: all its records stay young.
        try t.put(".agentshop/queue/p/crawl/\(runs[0])/seg/late.jsonl", "{}\n")
        // The third run's log was written lately: its manifest stays with it.
        t.age("raw_data/logs/p/\(runs[2]).log", days: 1)

        let history = LakeHistory(lake: t.lake)
        let gc = LakeRetention.defaults.plan(lake: t.lake, history: history)
        #expect(Set(gc.removals.compactMap(\.run)) == [runs[3], runs[4]])
        #expect(!gc.removals.contains { $0.path.hasPrefix("raw_data/logs/p/\(runs[2])") || $0.path.contains(runs[0]) })

        // Prune: the same judgement, with its own age and the newest --keep runs kept; the latest successful run stays.
        let prune = LakeRetention.defaults.runPlan(lake: t.lake, history: history, olderThan: 2 * 86_400, keepNewest: 1)
        #expect(Set(prune.removals.compactMap(\.run)) == [runs[3]])
        #expect(prune.protected.contains("raw_data/logs/p/\(runs[1]).manifest.json"))
        let everything = LakeRetention.defaults.runPlan(lake: t.lake, history: history, olderThan: nil, keepNewest: 0)
        #expect(everything.removals.map(\.path) == gc.removals.filter { $0.run != nil }.map(\.path))
        // Prune touches run records only.
        try t.put("raw_data/imports/old.csv", "a\n1\n")
        t.age("raw_data/imports/old.csv", days: 800)
        #expect(!LakeRetention.defaults.runPlan(lake: t.lake, history: LakeHistory(lake: t.lake), olderThan: 86_400, keepNewest: 0)
            .removals.contains { $0.path.hasPrefix("raw_data/imports") })
    }
}
