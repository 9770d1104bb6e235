import Foundation
import Testing
import TestSupport
@testable import Lake

struct RunManifestTests {
    private func manifest(_ runID: String, pipeline: String = "daily", startedAt: Date) -> RunManifest {
        var m = RunManifest(runID: runID, pipeline: pipeline, pipelineFile: "pipelines/\(pipeline).yaml",
                            startedAt: startedAt, runDate: Timestamp.day(startedAt), toolVersion: "0.1.0",
                            options: ["--force"], logFile: "raw_data/logs/\(pipeline)/\(runID).log")
        var stage = RunManifest.StageRun(name: "seed", kind: "import", status: .ran, reason: "never run", fingerprint: "ab")
        stage.outputs = [RunManifest.FileEntry(path: "processed_data/x.jsonl", sha256: "00", bytes: 12, records: 3)]
        stage.counts = ["records_out": 3]
        // Keys in sorted order: reading a manifest back sorts detail keys (JSONValue's Decodable).
        stage.details = ["calls": 2, "cost": 0.5, "models": ["a", "b"]]
        stage.durationMs = 15
        m.stages = [stage]
        return m
    }

    @Test func newManifestIsRunning() {
        let m = manifest("r1", startedAt: Date(timeIntervalSince1970: 0))
        #expect(m.status == .running)
        #expect(m.startedAt == "1970-01-01T00:00:00.000Z")
        #expect(m.runDate == "1970-01-01")
        #expect(m.pid == getpid())
        #expect(m.finishedAt == nil)
    }

    @Test func writeThenReadGivesTheSameManifest() throws {
        let tmp = try TemporaryDirectory()
        let store = ManifestStore(lake: Lake(root: tmp.path))
        var m = manifest("20261125T154200Z-abcdef", startedAt: Date(timeIntervalSince1970: 1_764_085_320))
        m.status = .failed
        m.error = "stage 'seed' failed"
        m.finishedAt = Timestamp.iso(Date(timeIntervalSince1970: 1_764_085_321))
        try store.write(m)
        let path = store.path(pipeline: "daily", runID: m.runID)
        #expect(path == tmp.path + "/raw_data/logs/daily/20261125T154200Z-abcdef.manifest.json")
        #expect(try store.read(path: path) == m)
        // Plain JSON a person or jq can read: sorted keys, one trailing newline.
        let text = try tmp.readText("raw_data/logs/daily/20261125T154200Z-abcdef.manifest.json")
        #expect(text.hasSuffix("}\n"))
        let json = try JSONValue.parse(text)
        #expect(json.objectValue?["status"] == "failed")
        #expect(json.objectValue?["log_file"] == "raw_data/logs/daily/20261125T154200Z-abcdef.log")
        #expect(!text.contains("\\/"), "slashes are not escaped")
    }

    @Test func rewritingReplacesTheManifest() throws {
        let tmp = try TemporaryDirectory()
        let store = ManifestStore(lake: Lake(root: tmp.path))
        var m = manifest("r1", startedAt: Date())
        try store.write(m)
        m.status = .succeeded
        try store.write(m)
        #expect(try store.read(path: store.path(pipeline: "daily", runID: "r1")).status == .succeeded)
        #expect(try tmp.listing("raw_data/logs/daily") == ["r1.manifest.json"])
    }

    @Test func allListsOldestFirstAndSetsUnreadableApart() throws {
        let tmp = try TemporaryDirectory()
        let store = ManifestStore(lake: Lake(root: tmp.path))
        try store.write(manifest("b-second", startedAt: Date(timeIntervalSince1970: 2_000)))
        try store.write(manifest("a-third", startedAt: Date(timeIntervalSince1970: 3_000)))
        try store.write(manifest("c-first", pipeline: "weekly", startedAt: Date(timeIntervalSince1970: 1_000)))
        try tmp.write("raw_data/logs/daily/broken.manifest.json", "{not json")
        try tmp.write("raw_data/logs/daily/b-second.log", "log lines")
        try tmp.write("raw_data/logs/daily/.x.manifest.json.agentshop-tmp-1-2", "partial")
        let (manifests, unreadable) = store.all()
        #expect(manifests.map(\.runID) == ["c-first", "b-second", "a-third"])
        #expect(unreadable == [tmp.path + "/raw_data/logs/daily/broken.manifest.json"])
        #expect(store.all(pipeline: "weekly").manifests.map(\.runID) == ["c-first"])
        #expect(store.all(pipeline: "none").manifests.isEmpty)
    }

    /// A run settles the runs a killed predecessor left "running" and nothing else: finished manifests, even one
    /// whose details hold the word "running", stay as they were, byte for byte.
    @Test func settleAbandonedSettlesOnlyRunningManifests() throws {
        let tmp = try TemporaryDirectory()
        let store = ManifestStore(lake: Lake(root: tmp.path))
        var finished = manifest("r1", startedAt: Date(timeIntervalSince1970: 100))
        finished.status = .succeeded
        finished.stages[0].details = ["state": "running", "note": "\"running\""]
        try store.write(finished)
        try store.write(manifest("r2", startedAt: Date(timeIntervalSince1970: 200)))  // killed: still running
        try store.write(manifest("r3", startedAt: Date(timeIntervalSince1970: 300)))  // the caller's own run
        var failed = manifest("r0", startedAt: Date(timeIntervalSince1970: 50))
        failed.status = .failed
        try store.write(failed)
        let before = try tmp.readText("raw_data/logs/daily/r1.manifest.json")

        #expect(store.unfinished(pipeline: "daily").map(\.runID) == ["r2", "r3"])
        let settled = try store.settleAbandoned(pipeline: "daily", except: "r3")
        #expect(settled.map(\.runID) == ["r2"])
        #expect(settled.first?.status == .interrupted)
        #expect(try store.read(path: store.path(pipeline: "daily", runID: "r2")).status == .interrupted)
        #expect(try store.read(path: store.path(pipeline: "daily", runID: "r3")).status == .running)
        #expect(try tmp.readText("raw_data/logs/daily/r1.manifest.json") == before)
        #expect(store.unfinished(pipeline: "daily").map(\.runID) == ["r3"])
    }

    @Test func unreadableManifestIsAManifestError() throws {
        let tmp = try TemporaryDirectory()
        try tmp.write("bad.manifest.json", "{\"run_id\": 1}")
        let error = expectLakeError(LakeError(.manifest, "")) {
            _ = try ManifestStore(lake: Lake(root: tmp.path)).read(path: tmp.file("bad.manifest.json"))
        }
        #expect(error?.cause != nil)
    }

    @Test func findByIDOrUniquePrefix() throws {
        let tmp = try TemporaryDirectory()
        let store = ManifestStore(lake: Lake(root: tmp.path))
        try store.write(manifest("20261125T100000Z-aaaaaa", startedAt: Date(timeIntervalSince1970: 1)))
        try store.write(manifest("20261125T100000Z-aabbbb", startedAt: Date(timeIntervalSince1970: 2)))
        try store.write(manifest("20261126T100000Z-cccccc", pipeline: "other", startedAt: Date(timeIntervalSince1970: 3)))
        #expect(try store.find(runID: "20261125T100000Z-aaaaaa").runID == "20261125T100000Z-aaaaaa")
        #expect(try store.find(runID: "20261125T100000Z-aab").runID == "20261125T100000Z-aabbbb")
        #expect(try store.find(runID: "20261126").pipeline == "other")
        let ambiguous = expectLakeError(.notFound) { _ = try store.find(runID: "20261125T100000Z-aa") }
        #expect(ambiguous?.reason.contains("ambiguous (2 runs)") == true)
        let missing = expectLakeError(.notFound) { _ = try store.find(runID: "1999") }
        #expect(missing?.reason.contains("no run with id '1999'") == true)
    }

    @Test func exactIDWinsOverLongerIDsItPrefixes() throws {
        let tmp = try TemporaryDirectory()
        let store = ManifestStore(lake: Lake(root: tmp.path))
        try store.write(manifest("run", startedAt: Date(timeIntervalSince1970: 1)))
        try store.write(manifest("run-2", startedAt: Date(timeIntervalSince1970: 2)))
        #expect(try store.find(runID: "run").runID == "run")
    }
}

struct TimestampTests {
    @Test(arguments: [
        (0.0, "1970-01-01T00:00:00.000Z"),
        (1_700_000_000.123, "2023-11-14T22:13:20.123Z"),
        (1_709_208_000.999, "2024-02-29T12:00:00.999Z"),
        (951_782_400.0, "2000-02-29T00:00:00.000Z"),
        (-0.344, "1969-12-31T23:59:59.656Z"),  // was "1970-01-01T00:00:00.-344Z": milliseconds before 1970 went negative
        (-1_000.0, "1969-12-31T23:43:20.000Z"),
    ])
    func iso(seconds: Double, expected: String) {
        #expect(Timestamp.iso(Date(timeIntervalSince1970: seconds)) == expected)
    }

    @Test func parseRoundTrips() throws {
        let date = Date(timeIntervalSince1970: 1_700_000_000.123)
        let parsed = try #require(Timestamp.parse(Timestamp.iso(date)))
        #expect(abs(parsed.timeIntervalSince1970 - 1_700_000_000.123) < 0.001)
        #expect(Timestamp.parse("2023-11-14T22:13:20Z")?.timeIntervalSince1970 == 1_700_000_000)
        #expect(Timestamp.parse("yesterday") == nil)
    }

    @Test func day() {
        #expect(Timestamp.day(Date(timeIntervalSince1970: 1_700_000_000)) == "2023-11-14")
    }

    @Test func runIDFormatAndOrder() throws {
        let first = Timestamp.runID(Date(timeIntervalSince1970: 1_700_000_000))
        #expect(first.hasPrefix("20231114T221320Z-"))
        let suffix = first.dropFirst("20231114T221320Z-".count)
        #expect(suffix.count == 6 && suffix.allSatisfy(\.isHexDigit))
        let later = Timestamp.runID(Date(timeIntervalSince1970: 1_700_000_001))
        #expect(first < later)
        // Two runs in the same second still get different ids (random suffix; 1 in 16M to collide).
        #expect(Timestamp.runID(Date(timeIntervalSince1970: 5)) != Timestamp.runID(Date(timeIntervalSince1970: 5)))
    }

    /// What Foundation's formatter gives, as `Timestamp.parse` asked it before the direct reader.
    private static func formatterDate(_ text: String) -> Date? {
        let formatter = ISO8601DateFormatter()
        formatter.formatOptions = [.withInternetDateTime, .withFractionalSeconds]
        if let date = formatter.date(from: text) { return date }
        formatter.formatOptions = [.withInternetDateTime]
        return formatter.date(from: text)
    }

    /// The shapes timestamps have here are read without the formatter (which maps ICU in: bench/CRAWL_RESULTS.md),
    /// and to the same `Date`, bit for bit, over dates from 1601 to 9999, every fraction length and offsets.
    @Test func theInternetDateTimeShapesAreReadDirectlyAsTheFormatterReadsThem() throws {
        var generator = SystemRandomNumberGenerator()
        var texts = ["2023-11-14T22:13:20Z", "2024-02-29T23:59:59.999Z", "1601-01-01T00:00:00.000Z", "9999-12-31T23:59:59.5Z",
                     "2000-03-01T00:00:00+14:00", "1969-12-31T23:59:59.9-00:30", "2026-12-07T04:05:06.07+05:45"]
        for _ in 0..<3_000 {
            // Whole milliseconds between 1601 and 9999, as `iso` writes them and with other fraction lengths and offsets.
            let milliseconds = Int64.random(in: -11_644_473_600_000..<253_402_300_800_000, using: &generator)
            let iso = Timestamp.iso(Date(timeIntervalSince1970: Double(milliseconds) / 1000))
            texts.append(iso)
            texts.append(String(iso.prefix(19)) + "Z")
            texts.append(String(iso.prefix(21)) + "Z")
            texts.append(String(iso.prefix(22)) + "Z")
            let hours = Int.random(in: 0...13, using: &generator), minutes = [0, 30, 45].randomElement(using: &generator)!
            let sign = Bool.random(using: &generator) ? "+" : "-"
            texts.append(String(iso.prefix(23)) + sign + String(format: "%02d:%02d", hours, minutes))
        }
        for text in texts {
            let direct = try #require(Timestamp.internetDateTime(text), "\(text) was left to the formatter")
            let foundation = try #require(Self.formatterDate(text), "\(text)")
            #expect(direct.timeIntervalSinceReferenceDate.bitPattern == foundation.timeIntervalSinceReferenceDate.bitPattern,
                    "\(text): \(direct.timeIntervalSinceReferenceDate) against \(foundation.timeIntervalSinceReferenceDate)")
            #expect(Timestamp.parse(text) == foundation)
        }
    }

    /// Text outside that shape, or with a field out of range, is the formatter's to accept or refuse, as before.
    @Test(arguments: ["2024-02-30T00:00:00Z", "2023-02-29T00:00:00Z", "2024-13-01T00:00:00Z", "2024-01-01T24:00:00Z",
                      "2024-01-01T00:60:00Z", "2024-01-01T00:00:60Z", "1582-10-10T00:00:00Z", "0000-01-01T00:00:00Z",
                      "2024-01-01T00:00:00.1234Z", "2024-01-01T00:00:00.Z", "2024-01-01T00:00:00+0100",
                      "2024-01-01T00:00:00+01", "2024-01-01T00:00:00+24:00", "2024-01-01t00:00:00z", "2024-01-01 00:00:00Z",
                      "2024-01-01T00:00:00", "2024-01-01", "yesterday", "", "2024-01-01T00:00:00Z ", "２０２４-01-01T00:00:00Z"])
    func otherTextIsLeftToTheFormatter(text: String) {
        #expect(Timestamp.internetDateTime(text) == nil)
        #expect(Timestamp.parse(text) == Self.formatterDate(text))
    }
}
