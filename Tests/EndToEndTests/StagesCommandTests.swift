import Foundation
import Testing

/// `agentshop stages`: the reference a newcomer reads, from the kinds' declared specs.
struct StagesCommandTests {
    @Test func listsEveryKindOnOneLine() throws {
        let project = try Project()
        let result = try project.run(["stages"])
        #expect(result.status == 0, "\(result.stderr)")
        let lines = result.stdout.split(separator: "\n")
        #expect(lines.first?.hasPrefix("KIND") == true)
        let kinds = lines.dropFirst().map { String($0.split(separator: " ")[0]) }
        #expect(kinds == kinds.sorted())
        #expect(Set(kinds).isSuperset(of: ["aggregate", "command", "dump", "enrich", "fetch", "import", "materialize", "parse",
                                           "report", "sql"]))
    }

    @Test func showsAKindsSettingsWithTypeDefaultAndFingerprint() throws {
        let project = try Project()
        let result = try project.run(["stages", "fetch"])
        #expect(result.status == 0, "\(result.stderr)")
        #expect(result.stdout.contains("  max_pages  (integer 1…100000000; default: 10000; fingerprint; journal key)"))
        #expect(result.stdout.contains("  per_host.delay  (duration; default: 1s; fingerprint; not in the journal key)"))
        let parse = try project.run(["stages", "parse"])
        #expect(parse.stdout.contains("  batch  (integer 1…10000; default: 32; not in the fingerprint)"))
    }

    @Test func printsJSON() throws {
        let project = try Project()
        let result = try project.run(["stages", "dump", "--json"])
        #expect(result.status == 0, "\(result.stderr)")
        let object = try #require(try JSONSerialization.jsonObject(with: Data(result.stdout.utf8)) as? [String: Any])
        #expect(object["kind"] as? String == "dump")
        #expect(object["writes_out"] as? Bool == false)
        let settings = try #require(object["settings"] as? [[String: Any]])
        #expect(settings.map { $0["key"] as? String } == ["after", "to", "format", "retention"])
        let retention = try #require(settings.last)
        #expect((retention["fields"] as? [[String: Any]])?.map { $0["default"] as? String } == ["183d", "104w"])
        let all = try project.run(["stages", "--json"])
        let kinds = try #require(try JSONSerialization.jsonObject(with: Data(all.stdout.utf8)) as? [[String: Any]])
        let table = try project.run(["stages"])
        #expect(kinds.count == table.stdout.split(separator: "\n").count - 1)
    }

    @Test func anUnknownKindIsAUsageErrorWithASuggestion() throws {
        let project = try Project()
        let result = try project.run(["stages", "fetsh"])
        #expect(result.status == 64)
        #expect(result.stderr.contains("no stage kind 'fetsh' (did you mean 'fetch'?)"))
    }

    @Test func printsTheMarkdownOfAPage() throws {
        let project = try Project()
        let result = try project.run(["stages", "--markdown", "sql"])
        #expect(result.status == 0, "\(result.stderr)")
        #expect(result.stdout.hasPrefix("# `sql`\n"))
        #expect(result.stdout.contains("| `query` | `SQL` | required | yes |"))
    }
}
