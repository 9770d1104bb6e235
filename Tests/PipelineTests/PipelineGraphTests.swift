import Testing
import TestSupport
@testable import Lake
@testable import Pipeline

struct PipelineGraphTests {
    /// A diamond written bottom-up: a feeds b and c, which both feed d; e stands alone.
    private func diamond() throws -> [StageSpec] {
        let tmp = try TemporaryDirectory()
        let file = try tmp.write("p.yaml", """
            stages:
              d:
                emit: { text: d, from: [b, c] }
                out: processed_data/d.txt
              c:
                emit: { text: c, from: a }
                out: processed_data/c.txt
              e:
                emit: { text: e }
                out: processed_data/e.txt
              b:
                emit: { text: b, from: processed_data/a.txt }
                out: processed_data/b.txt
              a:
                emit: { text: a }
                out: processed_data/a.txt
            """)
        let loader = PipelineLoader(registry: fakeRegistry(), environment: PipelineEnvironment(variables: [:]), lake: nil)
        return try loader.load(file: file).0.stages
    }

    @Test func topologicalOrderPutsProducersFirstAndKeepsFileOrderOtherwise() throws {
        let stages = try diamond()
        #expect(stages.map(\.name) == ["d", "c", "e", "b", "a"])
        #expect(PipelineGraph.topologicalOrder(stages).map(\.name) == ["e", "a", "c", "b", "d"])
    }

    @Test(arguments: [
        (["d"], Set(["a", "b", "c", "d"])),
        (["b"], Set(["a", "b"])),
        (["a"], Set(["a"])),
        (["e", "c"], Set(["a", "c", "e"])),
        ([String](), Set<String>()),
    ])
    func withUpstream(names: [String], expected: Set<String>) throws {
        #expect(PipelineGraph.withUpstream(names, in: try diamond()) == expected)
    }

    @Test(arguments: [
        ("a", Set(["b", "c", "d"])),
        ("b", Set(["d"])),
        ("d", Set<String>()),
        ("e", Set<String>()),
    ])
    func downstream(name: String, expected: Set<String>) throws {
        #expect(PipelineGraph.downstream(of: name, in: try diamond()) == expected)
    }

    @Test func noCycleInADiamond() throws {
        #expect(PipelineGraph.findCycle(try diamond()) == nil)
    }
}
