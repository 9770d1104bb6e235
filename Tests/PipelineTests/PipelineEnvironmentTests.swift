import Foundation
import Testing
@testable import Pipeline

struct PipelineEnvironmentTests {
    private struct Pair: Equatable, CustomStringConvertible {
        let key: String, value: String
        init(_ key: String, _ value: String) { self.key = key; self.value = value }
        var description: String { "\(key)=\(value)" }
    }

    @Test func parseDotEnv() {
        let text = """
            # a comment
            PLAIN=value
            export EXPORTED=1
              SPACED  =  spaced out  
            DOUBLE="quoted # not a comment"
            SINGLE='single quoted'
            TRAILING=value # a comment
            HASH=#not-a-comment
            EMPTY=
            EQUALS=a=b=c
            UNTERMINATED="open
            no equals sign here
            =no key

            LAST=1
            """
        let pairs = PipelineEnvironment.parseDotEnv(text).map { Pair($0.0, $0.1) }
        #expect(pairs == [
            Pair("PLAIN", "value"), Pair("EXPORTED", "1"), Pair("SPACED", "spaced out"),
            Pair("DOUBLE", "quoted # not a comment"), Pair("SINGLE", "single quoted"), Pair("TRAILING", "value"),
            Pair("HASH", "#not-a-comment"), Pair("EMPTY", ""), Pair("EQUALS", "a=b=c"),
            Pair("UNTERMINATED", "\"open"), Pair("LAST", "1"),
        ])
    }

    @Test func quotedValueFollowedByAComment() {
        // `KEY="value" # note` is common in .env files; the quotes should go, like the comment.
        let pairs = PipelineEnvironment.parseDotEnv("TOKEN=\"abc def\" # from the vault\n").map { Pair($0.0, $0.1) }
        #expect(pairs == [Pair("TOKEN", "abc def")])
    }

    @Test func parseDotEnvWithCRLF() {
        let pairs = PipelineEnvironment.parseDotEnv("A=1\r\nB=\"2\"\r\n").map { Pair($0.0, $0.1) }
        #expect(pairs == [Pair("A", "1"), Pair("B", "2")])
    }

    @Test func loadMergesFilesAndTheProcessEnvironmentWins() throws {
        let tmp = try TemporaryDirectory()
        let first = try tmp.write("first.env", "SHARED=first\nONLY_FIRST=1\nPATH=/from/dotenv\n")
        let second = try tmp.write("second.env", "SHARED=second\nONLY_SECOND=2\n")
        let env = PipelineEnvironment.load(dotEnvFiles: [first, second, tmp.file("missing.env")])
        #expect(env.variables["SHARED"] == "first", "earlier files win")
        #expect(env.variables["ONLY_FIRST"] == "1")
        #expect(env.variables["ONLY_SECOND"] == "2")
        #expect(env.variables["PATH"] == ProcessInfo.processInfo.environment["PATH"], "the process environment wins")
    }

    @Test(arguments: [
        ("no variables", "no variables"),
        ("${A}", "1"),
        ("x${A}y${A}", "x1y1"),
        ("${B:-fallback}", "fallback"),
        ("${A:-fallback}", "1"),
        ("${EMPTY:-fallback}", "fallback"),
        ("${EMPTY}", ""),
        ("${B:-}", ""),
        ("${B}", ""),
        ("$$", "$"),
        ("$${A}", "${A}"),
        ("cost $5", "cost $5"),
        ("$A", "$A"),
        ("${A", "${A"),
        ("trailing $", "trailing $"),
        ("${B:-a:-b}", "a:-b"),
    ])
    func expansion(text: String, expected: String) {
        let env = PipelineEnvironment(variables: ["A": "1", "EMPTY": ""])
        #expect(env.expandQuietly(text) == expected)
    }
}

struct DiagnosticsTests {
    @Test func descriptionFormat() {
        let error = Diagnostic(file: "pipelines/x.yaml", line: 12, column: 5, keyPath: "stages.crawl.fetch.max_pages",
                               message: "expected an integer")
        #expect(error.description == "pipelines/x.yaml:12:5: stages.crawl.fetch.max_pages: expected an integer")
        let warning = Diagnostic(file: "f", line: 1, column: 2, keyPath: "", message: "careful", severity: .warning)
        #expect(warning.description == "f:1:2: warning: careful")
    }

    @Test func sortedByPosition() {
        let a = Diagnostic(file: "f", line: 2, column: 1, keyPath: "", message: "m")
        let b = Diagnostic(file: "f", line: 10, column: 1, keyPath: "", message: "m")
        let c = Diagnostic(file: "f", line: 2, column: 7, keyPath: "", message: "m")
        #expect([b, c, a].sorted() == [a, c, b])
    }

    @Test func collectorSeparatesErrorsFromWarnings() {
        let diagnostics = Diagnostics(file: "f")
        diagnostics.warning(line: 1, column: 1, keyPath: "", "w")
        #expect(!diagnostics.hasErrors)
        diagnostics.error(line: 2, column: 1, keyPath: "k", "e")
        #expect(diagnostics.hasErrors)
        #expect(diagnostics.errors.map(\.message) == ["e"])
        #expect(diagnostics.all.count == 2)
    }

    @Test(arguments: [
        ("imprt", ["import", "command"], "import"),
        ("Import", ["import", "command"], "import"),
        ("comand", ["import", "command"], "command"),
        ("max_paralel", ["max_parallel", "stages"], "max_parallel"),
        ("xyz", ["import", "command"], nil),
        ("a", ["b"], "b"),
        ("ab", ["cd"], nil),
    ] as [(String, [String], String?)])
    func suggestions(word: String, candidates: [String], expected: String?) {
        #expect(Suggestion.closest(to: word, in: candidates) == expected)
    }

    @Test func editDistance() {
        #expect(Suggestion.editDistance("kitten", "sitting") == 3)
        #expect(Suggestion.editDistance("", "abc") == 3)
        #expect(Suggestion.editDistance("same", "same") == 0)
        #expect(Suggestion.didYouMean("outt", in: ["out"]) == " (did you mean 'out'?)")
        #expect(Suggestion.didYouMean("zzz", in: ["out"]) == "")
    }

    @Test(arguments: [
        ("90s", 90.0), ("15m", 900), ("24h", 86_400), ("7d", 604_800), ("2w", 1_209_600), ("500ms", 0.5),
        ("1.5h", 5_400), ("10", 10), ("0", 0), ("0.25s", 0.25),
    ])
    func durations(text: String, seconds: Double) {
        #expect(ConfigValue.parseDuration(text) == seconds)
    }

    @Test(arguments: ["", "s", "-1s", "1x", "soon", "inf", "nan", "1 h", "h1"])
    func invalidDurations(text: String) {
        #expect(ConfigValue.parseDuration(text) == nil)
    }
}
