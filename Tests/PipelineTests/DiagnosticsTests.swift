import Testing
@testable import Pipeline

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
