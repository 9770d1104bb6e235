import Foundation
import Testing
import TestSupport
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
