import Foundation
import Logging
import Testing
@testable import Lake
@testable import Pipeline

/// A pipeline's state and the scheduler's state written by an earlier version (camelCase keys) still
/// read, so an upgrade neither reruns an up-to-date pipeline nor repeats a scheduled run; both are
/// rewritten with snake_case keys.
struct CamelCaseStateTests {
    static let fixtures = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
        .appendingPathComponent("Fixtures/camelcase-keys").path

    static func upperCaseKeys(_ value: JSONValue, at path: String = "") -> [String] {
        switch value {
        case .object(let object):
            return object.entries.flatMap { entry in
                // Keys that are lake paths (a stage's inputs) are data, not names AgentShop chose.
                (entry.key.contains(where: \.isUppercase) && !entry.key.contains("/") ? [path + "." + entry.key] : [])
                    + upperCaseKeys(entry.value, at: path + "." + entry.key)
            }
        case .array(let items): return items.flatMap { upperCaseKeys($0, at: path + "[]") }
        default: return []
        }
    }

    static func temporaryFolder() throws -> String {
        let folder = NSTemporaryDirectory() + "agentshop-camelcase-" + UUID().uuidString
        try FileManager.default.createDirectory(atPath: folder, withIntermediateDirectories: true)
        return folder
    }

    @Test func aPipelineStateOfAnEarlierVersionLoads() throws {
        let folder = try Self.temporaryFolder()
        defer { try? FileManager.default.removeItem(atPath: folder) }
        let lake = Lake(root: folder)
        let path = PipelineState.path(lake: lake, pipeline: "demo")
        try FileManager.default.createDirectory(atPath: lake.stateFolder + "/state", withIntermediateDirectories: true)
        try FileManager.default.copyItem(atPath: Self.fixtures + "/state.json", toPath: path)

        let state = PipelineState.load(lake: lake, pipeline: "demo")
        #expect(state.stages.keys.sorted() == ["crawl", "products"])
        let products = try #require(state.stages["products"])
        #expect(products.runID == "20261206T225244Z-97c692")
        #expect(products.startedAt == "2026-12-06T22:52:44.220Z" && products.finishedAt == "2026-12-06T22:52:44.323Z")
        #expect(products.parts.toolVersion == "0.1.0")
        #expect(products.parts.inputs == ["raw_data/imports/demo/products.csv":
                                            "87df4f18eb92e6bafa753d4dfb8fd9d3fe459f99f010a21114af533aa53c955c"])
        // Every part read back: the fingerprint computed from them is the one the earlier version recorded.
        #expect(products.parts.fingerprint == products.fingerprint)
        #expect(state.stages["crawl"]?.parts.fingerprint == state.stages["crawl"]?.fingerprint)
        #expect(products.outputs.first?.path == "scraped_data/products/dt=2026-11-25/products.jsonl.gz")

        try state.save(lake: lake, pipeline: "demo")
        let text = try String(contentsOfFile: path, encoding: .utf8)
        #expect(Self.upperCaseKeys(try JSONValue.parse(text)) == [])
        #expect(text.contains("\"run_id\"") && text.contains("\"tool_version\"") && text.contains("\"finished_at\""))
        #expect(PipelineState.load(lake: lake, pipeline: "demo").stages == state.stages)
    }

    @Test func aSchedulerStateOfAnEarlierVersionLoads() async throws {
        let folder = try Self.temporaryFolder()
        defer { try? FileManager.default.removeItem(atPath: folder) }
        let file = folder + "/scheduler.json"
        try FileManager.default.copyItem(atPath: Self.fixtures + "/scheduler.json", toPath: file)
        let logger = Logger(label: "camelcase-state-tests") { _ in SwiftLogNoOpLogHandler() }
        let job = ScheduledJob(pipeline: "nightly", file: "/p/nightly.yaml", schedule: try Schedule("0 3 * * *"),
                               policy: SchedulePolicy(retries: 0, retryDelay: 60), defaultMissed: .skip)
        let clock = ManualClock(ISO8601DateFormatter().date(from: "2026-11-25T03:00:40Z")!)
        let scheduler = Scheduler(jobs: [job], stateFile: file, clock: clock, launcher: FakeLauncher(), logger: logger)
        let state = try #require(await scheduler.state(of: "nightly"))
        #expect(state.lastOutcome == "succeeded" && state.attempt == 1)
        #expect(state.handledThrough == ISO8601DateFormatter().date(from: "2026-11-25T03:00:00Z"))
        #expect(state.lastStarted == ISO8601DateFormatter().date(from: "2026-11-25T03:00:10Z"))
        #expect(state.lastFinished == ISO8601DateFormatter().date(from: "2026-11-25T03:00:12Z"))
        // The 03:00 run was made: a restart does not make it again.
        #expect(await scheduler.tick() == [])

        clock.set(ISO8601DateFormatter().date(from: "2026-11-26T03:00:10Z")!)
        #expect(await scheduler.tick() == ["nightly"])
        await scheduler.waitUntilIdle()
        let text = try String(contentsOfFile: file, encoding: .utf8)
        #expect(Self.upperCaseKeys(try JSONValue.parse(text)) == [])
        #expect(text.contains("\"handled_through\"") && text.contains("\"last_outcome\" : \"succeeded\""))
    }
}
