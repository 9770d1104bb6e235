import Foundation
import Testing
import TestSupport
@testable import Lake
@testable import Pipeline

/// A stage may not write the store, the dumps or AgentShop's state, and may not read its own output:
/// each is a validation error at the `out:` entry's position.
struct ConfinedOutputTests {
    private func problems(_ yaml: String) throws -> [String] {
        let tmp = try TemporaryDirectory()
        let file = try tmp.write("pipelines/p.yaml", yaml)
        let loader = PipelineLoader(registry: fakeRegistry(), environment: PipelineEnvironment(variables: [:]), lake: nil)
        do {
            _ = try loader.load(file: file)
            return []
        } catch {
            return error.diagnostics.map { String($0.description.dropFirst(file.count + 1)) }
        }
    }

    @Test(arguments: [
        ("store/agentshop.sqlite", "store/"), ("./store/x.sqlite", "store/"), ("db_dumps/daily/x.sql.gz", "db_dumps/"),
        ("db_dumps/{run_date}.gz", "db_dumps/"), (".agentshop/state.json", ".agentshop/"),
    ])
    func reservedFoldersAreRefusedAtTheirPosition(out: String, folder: String) throws {
        let found = try problems("stages:\n  a:\n    emit: { text: x }\n    out: \"\(out)\"\n")
        #expect(found.count == 1)
        #expect(found.first?.hasPrefix("4:10: stages.a.out: a stage cannot write \(folder)") == true, "\(found)")
    }

    @Test func aStageReadingItsOwnOutputIsRefused() throws {
        let found = try problems("""
            stages:
              a:
                emit: { text: x, from: "processed_data/grow/*.txt" }
                out: "processed_data/grow/{run_date}.txt"
            """)
        #expect(found.count == 1, "\(found)")
        #expect(found.first?.hasPrefix("4:10: stages.a.out: 'processed_data/grow/{run_date}.txt' matches this stage's own input") == true,
                "\(found)")
    }

    @Test func anotherStagesOutputIsStillAnInput() throws {
        let found = try problems("""
            stages:
              a: { emit: { text: x }, out: "processed_data/a/{run_date}.txt" }
              b: { emit: { text: y, from: "processed_data/a/*.txt" }, out: processed_data/b.txt }
            """)
        #expect(found.isEmpty, "\(found)")
    }
}
