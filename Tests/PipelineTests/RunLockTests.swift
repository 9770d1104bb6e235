import Foundation
import Testing
@testable import Lake
@testable import Pipeline

struct RunLockTests {
    /// Holds a lock so that another thread can release it.
    private final class Holder: @unchecked Sendable {
        private let lock = NSLock()
        private var held: RunLock?
        init(_ held: RunLock) { self.held = held }
        func release() { lock.withLock { held = nil } }
    }

    private func expectBusy(_ lake: Lake, _ pipeline: String, wait: Double, sourceLocation: SourceLocation = #_sourceLocation) -> String? {
        do throws(RunLock.Failure) {
            _ = try RunLock(lake: lake, pipeline: pipeline, wait: wait, owner: "second")
            Issue.record("the second lock was granted", sourceLocation: sourceLocation)
            return nil
        } catch {
            guard case .busy(let holder) = error else {
                Issue.record("expected busy, got \(error)", sourceLocation: sourceLocation)
                return nil
            }
            return holder.description
        }
    }

    @Test func secondLockFailsBusyNamingTheHolder() throws {
        let tmp = try TemporaryDirectory()
        let lake = Lake(root: tmp.path)
        let first = try RunLock(lake: lake, pipeline: "daily", wait: 0, owner: "pid 123 run R1")
        #expect(first.path == lake.stateFolder + "/locks/daily.lock")
        #expect(expectBusy(lake, "daily", wait: 0) == "pid 123 run R1")
        withExtendedLifetime(first) {}
    }

    @Test func succeedsAfterTheFirstIsReleased() throws {
        let tmp = try TemporaryDirectory()
        let lake = Lake(root: tmp.path)
        var first: RunLock? = try RunLock(lake: lake, pipeline: "daily", wait: 0, owner: "first")
        #expect(expectBusy(lake, "daily", wait: 0) == "first")
        first = nil
        _ = first
        let second = try RunLock(lake: lake, pipeline: "daily", wait: 0, owner: "second")
        #expect(try String(contentsOfFile: second.path, encoding: .utf8) == "second\n")
    }

    @Test func waitsAndSucceedsWhenTheHolderReleases() throws {
        let tmp = try TemporaryDirectory()
        let lake = Lake(root: tmp.path)
        let holder = Holder(try RunLock(lake: lake, pipeline: "daily", wait: 0, owner: "first"))
        let began = Date()
        DispatchQueue.global().asyncAfter(deadline: .now() + 0.3) { holder.release() }
        let second = try RunLock(lake: lake, pipeline: "daily", wait: 10, owner: "second")
        let waited = Date().timeIntervalSince(began)
        #expect(waited >= 0.25, "it cannot have the lock before the holder let go")
        #expect(waited < 9, "it took the lock when released, not at the end of the 10s wait")
        withExtendedLifetime(second) {}
    }

    @Test func givesUpAfterTheWait() throws {
        let tmp = try TemporaryDirectory()
        let lake = Lake(root: tmp.path)
        let first = try RunLock(lake: lake, pipeline: "daily", wait: 0, owner: "first")
        let began = Date()
        #expect(expectBusy(lake, "daily", wait: 0.3) == "first")
        #expect(Date().timeIntervalSince(began) >= 0.3)
        withExtendedLifetime(first) {}
    }

    @Test func pipelinesLockSeparately() throws {
        let tmp = try TemporaryDirectory()
        let lake = Lake(root: tmp.path)
        let a = try RunLock(lake: lake, pipeline: "a", wait: 0, owner: "a")
        let b = try RunLock(lake: lake, pipeline: "b", wait: 0, owner: "b")
        #expect(a.path != b.path)
    }

    @Test func emptyHolderTextReadsAsAnotherProcess() {
        #expect(RunLock.Holder(text: "").description == "another process")
    }
}

struct HashCacheTests {
    /// Writes new bytes of the same length into a file in place and puts its mtime back, which
    /// is the one change a (size, mtime, inode) cache cannot see: it shows whether the cache was used.
    private func overwriteKeepingStat(_ path: String, with text: String) throws {
        var info = stat()
        #expect(stat(path, &info) == 0)
        let handle = try #require(FileHandle(forWritingAtPath: path))
        try handle.write(contentsOf: Data(text.utf8))
        try handle.close()
        var times = [info.st_atim, info.st_mtim]
        #expect(utimensat(AT_FDCWD, path, &times, 0) == 0)
    }

    @Test func digestMatchesTheFileAndIsCached() throws {
        let tmp = try TemporaryDirectory()
        let lake = Lake(root: tmp.file("lake"))
        try tmp.write("lake/data/a.txt", "first")
        let file = try lake.resolve("data/a.txt")
        let cache = HashCache(path: tmp.file("cache"))
        let first = try cache.digest(of: file)
        #expect(first.sha256 == SHA256.hex(of: "first"))
        #expect(first.size == 5)
        try overwriteKeepingStat(file.absolute, with: "FIRST")
        #expect(try cache.digest(of: file).sha256 == first.sha256, "unchanged size, mtime and inode: from the cache")
        // A real change moves the size or mtime, and the digest is computed again.
        try tmp.write("lake/data/a.txt", "second version")
        #expect(try cache.digest(of: file).sha256 == SHA256.hex(of: "second version"))
    }

    @Test func savedCacheIsUsedByTheNextInstance() throws {
        let tmp = try TemporaryDirectory()
        let lake = Lake(root: tmp.file("lake"))
        try tmp.write("lake/data/a b.txt", "content")
        let file = try lake.resolve("data/a b.txt")
        let cache = HashCache(path: tmp.file("state/cache"))
        let digest = try cache.digest(of: file)
        try cache.save(lake: lake)
        try overwriteKeepingStat(file.absolute, with: "CONTENT")
        #expect(try HashCache(path: tmp.file("state/cache")).digest(of: file).sha256 == digest.sha256)
    }

    @Test func saveDropsFilesThatAreGone() throws {
        let tmp = try TemporaryDirectory()
        let lake = Lake(root: tmp.file("lake"))
        try tmp.write("lake/keep.txt", "k")
        try tmp.write("lake/gone-file.txt", "g")
        let cache = HashCache(path: tmp.file("cache"))
        _ = try cache.digest(of: lake.resolve("keep.txt"))
        _ = try cache.digest(of: lake.resolve("gone-file.txt"))
        try FileManager.default.removeItem(atPath: tmp.file("lake/gone-file.txt"))
        try cache.save(lake: lake)
        let saved = try tmp.readText("cache")
        #expect(saved.contains("keep.txt"))
        #expect(!saved.contains("gone-file.txt"))
    }

    @Test func unreadableCacheStartsEmpty() throws {
        let tmp = try TemporaryDirectory()
        try tmp.write("cache", "{{{ not a cache")
        try tmp.write("lake/a.txt", "a")
        let lake = Lake(root: tmp.file("lake"))
        #expect(try HashCache(path: tmp.file("cache")).digest(of: lake.resolve("a.txt")).sha256 == SHA256.hex(of: "a"))
    }

    @Test func missingFileIsNotFound() throws {
        let tmp = try TemporaryDirectory()
        let lake = Lake(root: tmp.path)
        #expect(throws: LakeError.self) { _ = try HashCache(path: tmp.file("cache")).digest(of: lake.resolve("nope.txt")) }
    }
}

struct PipelineStateTests {
    private let base = FingerprintParts(toolVersion: "1.0", kind: "emit", config: "c1",
                                        inputs: ["in/x.csv": "h1", "in/y.csv": "h2"], outputs: ["out/a.txt"], extra: "e1")

    @Test(arguments: [
        ("tool", "agentshop version changed (1.0 → 2.0)"),
        ("kind", "configuration changed"),
        ("config", "configuration changed"),
        ("extra", "code or settings it depends on changed"),
        ("outputs", "output paths changed (out/b.txt, out/c.txt)"),
        ("one input", "input changed: in/x.csv"),
        ("two inputs", "input changed: in/x.csv and 1 more"),
        ("new input", "new input: in/z.csv"),
        ("removed input", "input removed: in/y.csv"),
        ("nothing", "fingerprint changed"),
    ])
    func differences(change: String, expected: String) {
        var now = base
        switch change {
        case "tool": now.toolVersion = "2.0"
        case "kind": now.kind = "other"
        case "config": now.config = "c2"
        case "extra": now.extra = "e2"
        case "outputs": now.outputs = ["out/b.txt", "out/c.txt"]
        case "one input": now.inputs["in/x.csv"] = "h9"
        case "two inputs": now.inputs["in/x.csv"] = "h9"; now.inputs["in/y.csv"] = "h8"
        case "new input": now.inputs["in/z.csv"] = "h3"
        case "removed input": now.inputs["in/y.csv"] = nil
        default: break
        }
        #expect(now.differences(from: base) == expected)
        #expect((now.fingerprint == base.fingerprint) == (change == "nothing"))
    }

    @Test func fingerprintIsStableHex() {
        var copy = base
        copy.inputs = ["in/y.csv": "h2", "in/x.csv": "h1"]
        #expect(copy.fingerprint == base.fingerprint)
        #expect(base.fingerprint.count == 64 && base.fingerprint.allSatisfy(\.isHexDigit))
    }

    @Test func saveAndLoad() throws {
        let tmp = try TemporaryDirectory()
        let lake = Lake(root: tmp.path)
        #expect(PipelineState.load(lake: lake, pipeline: "p").stages.isEmpty)
        var state = PipelineState()
        state.stages["a"] = .init(fingerprint: base.fingerprint, parts: base,
                                  outputs: [RunManifest.FileEntry(path: "out/a.txt", sha256: "s", bytes: 1)],
                                  runID: "R", finishedAt: "2026-01-01T00:00:00.000Z")
        try state.save(lake: lake, pipeline: "p")
        #expect(PipelineState.path(lake: lake, pipeline: "p") == tmp.path + "/.agentshop/state/p.json")
        #expect(PipelineState.load(lake: lake, pipeline: "p").stages == state.stages)
        try tmp.write(".agentshop/state/p.json", "corrupt")
        #expect(PipelineState.load(lake: lake, pipeline: "p").stages.isEmpty)
    }
}
