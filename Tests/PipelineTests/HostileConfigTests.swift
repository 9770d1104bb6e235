import Foundation
import Testing
import TestSupport
@testable import Lake
@testable import Pipeline

/// Configuration written to hurt: every problem ends in an error at its position, never a trap or a hang.
struct HostileConfigTests {
    private func load(_ yaml: String, sourceLocation: SourceLocation = #_sourceLocation)
        throws -> (spec: PipelineSpec?, problems: [String]) {
        let tmp = try TemporaryDirectory()
        let file = try tmp.write("pipelines/p.yaml", yaml)
        let loader = PipelineLoader(registry: fakeRegistry(), environment: PipelineEnvironment(variables: [:]), lake: nil)
        do {
            return (try loader.load(file: file).0, [])
        } catch {
            return (nil, error.diagnostics.map { String($0.description.dropFirst(file.count + 1)) })
        }
    }

    /// Nine levels of ten aliases each: 10⁹ values once expanded, in a few hundred bytes.
    static let laughs = """
        a: &a [x, x, x, x, x, x, x, x, x, x]
        b: &b [*a, *a, *a, *a, *a, *a, *a, *a, *a, *a]
        c: &c [*b, *b, *b, *b, *b, *b, *b, *b, *b, *b]
        d: &d [*c, *c, *c, *c, *c, *c, *c, *c, *c, *c]
        e: &e [*d, *d, *d, *d, *d, *d, *d, *d, *d, *d]
        f: &f [*e, *e, *e, *e, *e, *e, *e, *e, *e, *e]
        g: &g [*f, *f, *f, *f, *f, *f, *f, *f, *f, *f]
        h: &h [*g, *g, *g, *g, *g, *g, *g, *g, *g, *g]
        i: &i [*h, *h, *h, *h, *h, *h, *h, *h, *h, *h]
        """

    @Test func aliasesOfAliasesInsideAStageAreRefusedAtTheAlias() throws {
        let started = Date()
        let result = try load("""
            stages:
              a:
                emit: { text: x }
                out: processed_data/a.txt
                description:
            \(Self.laughs.split(separator: "\n").map { "      " + $0 }.joined(separator: "\n"))
                  all: *i
            """)
        #expect(Date().timeIntervalSince(started) < 10)
        #expect(result.spec == nil)
        #expect(result.problems.count == 1)
        let problem = try #require(result.problems.first)
        #expect(problem.contains("the alias *"), "\(problem)")
        #expect(problem.contains("expands to more than \(PipelineLoader.maxAliasedValues) values"), "\(problem)")
        #expect(problem == "9:42: stages.a.description.d.7: the alias *c expands to more than 10000 values (aliases of aliases); write the values out, or alias less")
        #expect(problem.contains("stages.a.description."), "\(problem)")
    }

    @Test func aliasBombAtTheTopLevel() throws {
        let started = Date()
        let result = try load(Self.laughs + "\nstages: { a: { emit: { text: *i }, out: processed_data/a.txt } }\n")
        #expect(Date().timeIntervalSince(started) < 10)
        #expect(result.spec == nil)
        #expect(result.problems.first?.contains("expands to more than") == true, "\(result.problems)")
    }

    @Test func anAliasedMappingKeyIsRefusedBeforeItIsHashed() throws {
        let started = Date()
        let result = try load(Self.laughs + "\nk: { ? *i : 1 }\nstages: { a: { emit: { text: x }, out: processed_data/a.txt } }\n")
        #expect(Date().timeIntervalSince(started) < 10)
        #expect(result.spec == nil)
        #expect(result.problems == ["10:8: a mapping key cannot be an alias (*i): write the key out"])
        #expect(result.problems.first?.contains("alias") == true, "\(result.problems)")
    }

    @Test func modestAliasesStillWork() throws {
        let result = try load("""
            defaults: &d { text: same, times: 2 }
            stages:
              a: { emit: *d, out: processed_data/a.txt }
              b: { emit: *d, out: processed_data/b.txt }
              c: { emit: *d, out: processed_data/c.txt }
            """)
        #expect(result.problems == ["1:1: defaults: unknown key 'defaults'"])
    }

    @Test func aByteOrderMarkIsAccepted() throws {
        let result = try load("\u{FEFF}stages:\n  a:\n    emit: { text: x }\n    out: processed_data/a.txt\n")
        #expect(result.problems == [])
        #expect(result.spec?.stages.map(\.name) == ["a"])
    }

    @Test(arguments: [
        ("hold: 1e300d", "3:28: stages.a.emit.hold: a duration may be at most 36500d (100 years), found '1e300d'"),
        ("hold: 1e308w", "3:28: stages.a.emit.hold: a duration may be at most 36500d (100 years), found '1e308w'"),
        ("hold: 1e400s", "3:28: stages.a.emit.hold: expected a duration like 30s, 15m, 24h or 7d, found '1e400s'"),
        ("hold: 36501d", "3:28: stages.a.emit.hold: a duration may be at most 36500d (100 years), found '36501d'"),
        ("times: 99999999999999999999999", "3:29: stages.a.emit.times: expected an integer, found '99999999999999999999999'"),
    ])
    func hugeNumbersAreErrorsAtTheirPosition(setting: String, expected: String) throws {
        let result = try load("""
            stages:
              a:
                emit: { text: x, \(setting) }
                out: processed_data/a.txt
            """)
        #expect(result.problems == [expected])
    }

    @Test func theLongestDurationIsAccepted() throws {
        #expect(try load("stages:\n  a:\n    emit: { text: x, hold: 36500d }\n    out: processed_data/a.txt\n").problems == [])
        #expect(ConfigValue.parseDuration("1e300d") == nil)
        #expect(ConfigValue.parseDuration("36500d") == ConfigValue.maxDurationSeconds)
    }

    @Test(arguments: [
        ("10MB", 10 << 20 as Int?, nil as String?),
        ("1.5KB", 1536, nil),
        ("4096", 4096, nil),
        ("1e300MB", nil, "a size may be at most 1.0 TB, found '1e300MB'"),
        ("99999999999999999999999", nil, "a size may be at most 1.0 TB, found '99999999999999999999999'"),
        ("1e999GB", nil, "expected a size such as 10MB, 512KB or a number of bytes, found '1e999GB'"),
        ("1e308GB", nil, "a size may be at most 1.0 TB, found '1e308GB'"),
        ("0MB", nil, "expected a size above 0, found '0MB'"),
        ("-5MB", nil, "expected a size such as 10MB, 512KB or a number of bytes, found '-5MB'"),
        ("nanB", nil, "expected a size such as 10MB, 512KB or a number of bytes, found 'nanB'"),
    ])
    func byteSizes(text: String, bytes: Int?, message: String?) throws {
        let diagnostics = Diagnostics(file: "c.yaml")
        let top = try #require(ConfigValue.document(text: "size: \(text)\n", diagnostics: diagnostics))
        #expect(top.byteSize("size") == bytes)
        #expect(diagnostics.all.map(\.description) == message.map { ["c.yaml:1:7: size: \($0)"] } ?? [])
    }
}
