import Foundation
import Testing
import Store

/// Kill -9 in the middle of a stage, SIGTERM, and two runs of one pipeline at once.
@Suite struct CrashAndLockTests {
    /// `slow` writes half its output, signals that it started, then sleeps before finishing.
    static func pipeline(sleep: Double) -> String {
        """
        pipeline: slow
        stages:
          seed:
            import: { from: raw_data/imports/items.csv }
            out: scraped_data/content/items.jsonl
          slow:
            command:
              run: "head -c 100 {in} > {out}; touch \\"$AGENTSHOP_LAKE/started-$AGENTSHOP_RUN_ID\\"; echo start >> \\"$AGENTSHOP_LAKE/trace\\"; sleep \(sleep); cat {in} > {out}; echo end >> \\"$AGENTSHOP_LAKE/trace\\""
              from: seed
            out: processed_data/exports/items_copy.jsonl
        """
    }

    func makeProject(sleep: Double) throws -> Project {
        let project = try Project()
        #expect(try project.run(["init"]).status == 0)
        try project.write("pipelines/slow.yaml", Self.pipeline(sleep: sleep))
        try project.write("datalake/raw_data/imports/items.csv", "id,name\n" + (1...200).map { "\($0),item number \($0)\n" }.joined())
        return project
    }

    func startedMarker(_ project: Project) -> String? {
        (try? FileManager.default.contentsOfDirectory(atPath: project.lake))?.first { $0.hasPrefix("started-") }
    }

    func waitForStart(_ project: Project) -> String? {
        let deadline = Date().addingTimeInterval(30)
        while Date() < deadline {
            if let marker = startedMarker(project) { return marker }
            usleep(20_000)
        }
        return nil
    }

    @Test func sigkillMidStageLeavesPreviousOutputsAndTheRerunCompletes() throws {
        let project = try makeProject(sleep: 0)
        #expect(try project.runPipeline("slow").0.status == 0)
        let before = try project.read("datalake/processed_data/exports/items_copy.jsonl")

        // New input, a slow stage, and a kill -9 while it is writing.
        try project.write("datalake/raw_data/imports/items.csv", "id,name\n" + (1...300).map { "\($0),item \($0)\n" }.joined())
        try project.write("pipelines/slow.yaml", Self.pipeline(sleep: 30))
        try FileManager.default.removeItem(atPath: project.lake + "/" + startedMarker(project)!)
        let (process, _, _) = try project.start(["run", "slow", "--quiet"])
        #expect(waitForStart(project) != nil)
        kill(process.processIdentifier, SIGKILL)
        process.waitUntilExit()

        // The earlier output is whole and unchanged; the half-written one is only a temporary.
        #expect(try project.read("datalake/processed_data/exports/items_copy.jsonl") == before)
        let listed = try project.run(["runs", "--failed"])
        #expect(listed.stdout.contains("died"))

        // The next run takes over the dead run's lock, cleans its temporaries and completes.
        try project.write("pipelines/slow.yaml", Self.pipeline(sleep: 0))
        let (rerun, manifest) = try project.runPipeline("slow")
        #expect(rerun.status == 0, "\(rerun.stderr)")
        #expect(Project.statuses(manifest)["slow"] == "ran")
        #expect(project.temporaryFiles().isEmpty)

        // Same result as an uninterrupted run of the same inputs.
        let fresh = try makeProject(sleep: 0)
        try fresh.write("datalake/raw_data/imports/items.csv", try project.read("datalake/raw_data/imports/items.csv"))
        #expect(try fresh.runPipeline("slow").0.status == 0)
        #expect(try project.read("datalake/processed_data/exports/items_copy.jsonl")
                == fresh.read("datalake/processed_data/exports/items_copy.jsonl"))
        #expect(try project.read("datalake/scraped_data/content/items.jsonl") == fresh.read("datalake/scraped_data/content/items.jsonl"))
    }

    /// A killed run's manifest says "running" forever unless someone settles it: the next run does,
    /// and records it in the store, so the stages it ran (which the rerun then skips) stay in the history.
    @Test func theNextRunSettlesAKilledRunAndRecordsItInTheStore() throws {
        let project = try makeProject(sleep: 30)
        #expect(try project.run(["db", "init", "--quiet"]).status == 0)
        let (process, _, _) = try project.start(["run", "slow", "--quiet"])
        let marker = try #require(waitForStart(project))
        kill(process.processIdentifier, SIGKILL)
        process.waitUntilExit()
        let killedRun = String(marker.dropFirst("started-".count))

        try project.write("pipelines/slow.yaml", Self.pipeline(sleep: 0))
        let (rerun, manifest) = try project.runPipeline("slow")
        #expect(rerun.status == 0, "\(rerun.stderr)")
        #expect(Project.statuses(manifest)["seed"] == "skipped")  // the killed run had done it

        let killed = try project.read("datalake/raw_data/logs/slow/\(killedRun).manifest.json")
        #expect(killed.contains("\"status\" : \"interrupted\""))
        #expect(killed.contains("ended before the run finished"))
        let store = try Database(path: project.lake + "/store/agentshop.sqlite", mode: .readOnly)
        let tasks = try store.rows("SELECT run_id || ' ' || stage || ' ' || status FROM data_processing_tasks ORDER BY id")
            .map { $0[0].string ?? "" }
        #expect(tasks.contains("\(killedRun) seed succeeded"), "\(tasks)")
        #expect(tasks.contains("\(manifest["run_id"] as? String ?? "?") slow succeeded"), "\(tasks)")
    }

    @Test func sigtermStopsCleanlyWithExit143() throws {
        let project = try makeProject(sleep: 30)
        let (process, _, err) = try project.start(["run", "slow", "--quiet"])
        #expect(waitForStart(project) != nil)
        kill(process.processIdentifier, SIGTERM)
        process.waitUntilExit()
        let stderr = String(decoding: err.fileHandleForReading.readDataToEndOfFile(), as: UTF8.self)
        #expect(process.terminationStatus == 143, "\(stderr)")
        #expect(stderr.contains("interrupted"))
        #expect(!project.exists("datalake/processed_data/exports/items_copy.jsonl"))
        #expect(project.temporaryFiles().isEmpty)
        let runs = try project.run(["runs", "--json"])
        #expect(runs.stdout.contains("\"status\" : \"interrupted\""))
    }

    @Test func secondRunExits75WhileTheFirstHoldsTheLock() throws {
        let project = try makeProject(sleep: 3)
        let (first, _, _) = try project.start(["run", "slow", "--quiet"])
        #expect(waitForStart(project) != nil)
        let second = try project.run(["run", "slow", "--quiet"])
        #expect(second.status == 75)
        #expect(second.stderr.contains("another run is in progress"))
        first.waitUntilExit()
        #expect(first.terminationStatus == 0)
    }

    @Test func waitingRunsNeverOverlap() throws {
        let project = try makeProject(sleep: 1)
        let (first, _, _) = try project.start(["run", "slow", "--quiet", "--force"])
        #expect(waitForStart(project) != nil)
        let second = try project.run(["run", "slow", "--quiet", "--force", "--wait", "60"])
        first.waitUntilExit()
        #expect(first.terminationStatus == 0)
        #expect(second.status == 0, "\(second.stderr)")
        // start/end pairs never interleave.
        let trace = try project.read("datalake/trace").split(separator: "\n")
        #expect(trace == ["start", "end", "start", "end"])
    }
}
