import Foundation
import Testing
import TestSupport
@testable import Lake
@testable import Pipeline

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
