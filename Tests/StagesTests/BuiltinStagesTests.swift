import Testing
import Pipeline
import Stages

struct BuiltinStagesTests {
    @Test(arguments: ["import", "command"])
    func registersTheKind(name: String) throws {
        let kind = try #require(BuiltinStages.registry.kind(named: name))
        #expect(kind.name == name)
        #expect(!kind.summary.isEmpty)
        if case .required = kind.outputs {} else { Issue.record("'\(name)' stages write the files named by out") }
    }

    @Test func namesAreSortedAndUnknownKindsAreAbsent() {
        let names = BuiltinStages.registry.names
        #expect(names == names.sorted())
        #expect(names.contains("import") && names.contains("command"))
        #expect(BuiltinStages.registry.kind(named: "imports") == nil)
    }
}
