import Foundation
import Testing
@testable import Lake

/// JSON keys are snake_case; files written by earlier versions with camelCase keys still read.
struct RenamedKeysTests {
    static let fixtures = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
        .appendingPathComponent("Fixtures/camelcase-keys").path

    /// Every key of `value` holding an uppercase letter, as dotted paths.
    static func upperCaseKeys(_ value: JSONValue, at path: String = "") -> [String] {
        switch value {
        case .object(let object):
            return object.entries.flatMap { entry in
                (entry.key.contains(where: \.isUppercase) ? [path + "." + entry.key] : [])
                    + upperCaseKeys(entry.value, at: path + "." + entry.key)
            }
        case .array(let items): return items.flatMap { upperCaseKeys($0, at: path + "[]") }
        default: return []
        }
    }

    struct Sample: Decodable, Equatable {
        var runID: String
        var startedAt: String?
        var name: String

        enum CodingKeys: String, CodingKey { case runID = "run_id", startedAt = "started_at", name }

        init(from decoder: any Decoder) throws {
            let c = try RenamedKeysContainer(decoder, keyedBy: CodingKeys.self)
            runID = try c.decode(String.self, forKey: .runID, orLegacy: "runID")
            startedAt = try c.decodeIfPresent(String.self, forKey: .startedAt, orLegacy: "startedAt")
            name = try c.decode(String.self, forKey: .name)
        }
    }

    /// As `Sample`, with `run_id` marking an object of the current spelling.
    struct MarkedSample: Decodable {
        var runID: String
        var startedAt: String?

        init(from decoder: any Decoder) throws {
            let c = try RenamedKeysContainer(decoder, keyedBy: Sample.CodingKeys.self, currentWhenHolding: .runID)
            runID = try c.decode(String.self, forKey: .runID, orLegacy: "runID")
            startedAt = try c.decodeIfPresent(String.self, forKey: .startedAt, orLegacy: "startedAt")
        }
    }

    static func sample(_ json: String) throws -> Sample { try JSONDecoder().decode(Sample.self, from: Data(json.utf8)) }

    @Test func eitherSpellingReadsAndTheCurrentOneWins() throws {
        #expect(try Self.sample(#"{"run_id": "a", "started_at": "t", "name": "n"}"#).runID == "a")
        let old = try Self.sample(#"{"runID": "b", "startedAt": "u", "name": "n"}"#)
        #expect(old.runID == "b" && old.startedAt == "u")
        #expect(try Self.sample(#"{"runID": "old", "run_id": "new", "name": "n"}"#).runID == "new")
        #expect(try Self.sample(#"{"run_id": "a", "name": "n"}"#).startedAt == nil)
        #expect(try Self.sample(#"{"run_id": "a", "startedAt": null, "name": "n"}"#).startedAt == nil)
    }

    @Test func anObjectHoldingTheMarkerIsNotSearchedForOldKeys() throws {
        let decoder = JSONDecoder()
        let old = try decoder.decode(MarkedSample.self, from: Data(#"{"runID": "b", "startedAt": "u"}"#.utf8))
        #expect(old.runID == "b" && old.startedAt == "u")
        let current = try decoder.decode(MarkedSample.self, from: Data(#"{"run_id": "a", "startedAt": "u"}"#.utf8))
        #expect(current.runID == "a" && current.startedAt == nil)
    }

    @Test func aMissingKeyIsReportedUnderItsCurrentName() throws {
        do {
            _ = try Self.sample(#"{"name": "n"}"#)
            Issue.record("decoded without a run id")
        } catch DecodingError.keyNotFound(let key, _) {
            #expect(key.stringValue == "run_id")
        }
        // A value of the wrong type under the old key is an error, not a silent fallback.
        #expect(throws: DecodingError.self) { try Self.sample(#"{"runID": 3, "name": "n"}"#) }
    }

    @Test func aManifestOfAnEarlierVersionReadsAndIsRewrittenInSnakeCase() throws {
        let folder = NSTemporaryDirectory() + "agentshop-renamedkeys-" + UUID().uuidString
        defer { try? FileManager.default.removeItem(atPath: folder) }
        let store = ManifestStore(lake: Lake(root: folder))
        let old = try store.read(path: Self.fixtures + "/run.manifest.json")
        #expect(old.runID == "20261206T225244Z-97c692")
        #expect(old.pipelineFile == "pipelines/demo.yaml")
        #expect(old.startedAt == "2026-12-06T22:52:44.152Z" && old.finishedAt == "2026-12-06T22:52:47.021Z")
        #expect(old.runDate == "2026-11-25" && old.toolVersion == "0.1.0")
        #expect(old.logFile == "raw_data/logs/demo/20261206T225244Z-97c692.log")
        #expect(old.stages.map(\.name) == ["products", "crawl", "review_sentiment"])
        #expect(old.stages[0].durationMs == 103 && old.stages[0].startedAt == "2026-12-06T22:52:44.220Z")
        #expect(old.stages[2].details?.objectValue?["llm"]?.objectValue?["totals"]?.objectValue?["calls"] == 60)

        try store.write(old)
        let path = store.path(pipeline: "demo", runID: old.runID)
        let text = try String(contentsOfFile: path, encoding: .utf8)
        #expect(Self.upperCaseKeys(try JSONValue.parse(text)) == [])
        for key in ["run_id", "pipeline_file", "started_at", "finished_at", "run_date", "tool_version", "log_file", "duration_ms"] {
            #expect(text.contains("\"\(key)\" : "), "\(key)")
        }
        #expect(try store.read(path: path) == old)
        #expect(store.all().manifests.map(\.runID) == [old.runID])
    }
}
