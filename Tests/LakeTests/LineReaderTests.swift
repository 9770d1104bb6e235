import Testing
@testable import Lake

struct LineReaderTests {
    private func lines(_ text: String, chunk: Int = .max) throws -> [String] {
        try lines(Array(text.utf8), chunk: chunk)
    }

    private func lines(_ bytes: [UInt8], chunk: Int = .max) throws -> [String] {
        let reader = LineReader(ArraySource(bytes, chunk: chunk))
        var out: [String] = []
        while let line = try reader.nextLine() {
            out.append(String(decoding: line, as: UTF8.self))
            #expect(reader.lineNumber == out.count)
        }
        return out
    }

    @Test(arguments: [
        ("", [String]()),
        ("a\nb\n", ["a", "b"]),
        ("a\nb", ["a", "b"]),
        ("a\r\nb\r\n", ["a", "b"]),
        ("a\r\nb", ["a", "b"]),
        ("\n", [""]),
        ("\n\n\n", ["", "", ""]),
        ("a\n\nb\n", ["a", "", "b"]),
        ("a\r\n\r\nb", ["a", "", "b"]),
        ("\r\n", [""]),
        ("no newline at all", ["no newline at all"]),
        ("mixed\nendings\r\nhere", ["mixed", "endings", "here"]),
        ("lone\rcarriage\n", ["lone\rcarriage"]),
        ("ends with cr\r", ["ends with cr"]),
    ])
    func splitsLines(text: String, expected: [String]) throws {
        #expect(try lines(text) == expected)
        #expect(try lines(text, chunk: 1) == expected, "one byte per read")
    }

    @Test func lineLongerThanTheBuffer() throws {
        // The buffer starts at 1 MiB; this line needs it to grow twice.
        let long = String(repeating: "x", count: 3 * 1024 * 1024 + 17)
        let text = "short\n" + long + "\r\nafter\n"
        let got = try lines(text, chunk: 100_000)
        #expect(got.count == 3)
        #expect(got[0] == "short")
        #expect(got[1].utf8.count == long.utf8.count)
        #expect(got[2] == "after")
    }

    @Test func manyLinesAcrossBufferRefills() throws {
        let expected = (0..<120_000).map { "line \($0)" }
        let text = expected.joined(separator: "\n") + "\n"
        #expect(text.utf8.count > 1024 * 1024, "more than the first buffer holds")
        #expect(try lines(text, chunk: 65_521) == expected)
    }

    @Test func crlfSplitAcrossReads() throws {
        // The CR ends one read and the LF begins the next.
        #expect(try lines("ab\r\ncd\r\n", chunk: 3) == ["ab", "cd"])
    }

    @Test func lineLongerThanMaxIsAnError() throws {
        // The limit is checked when the buffer must grow: the first buffer is 1 MiB.
        let reader = LineReader(ArraySource(String(repeating: "y", count: 1024 * 1024 + 1) + "\n"),
                                maxLineLength: 1024 * 1024)
        let error = expectLakeError(.malformedRecord) { _ = try reader.nextLine() }
        #expect(error?.reason.contains("line 1") == true)
    }

    @Test func maxLineLengthSmallerThanTheBufferIsEnforced() throws {
        // A regression guard: LineReader once checked maxLineLength only when its 1 MiB buffer
        // filled, so a limit below 1 MiB was silently not enforced.
        let reader = LineReader(ArraySource(String(repeating: "z", count: 100) + "\n"), maxLineLength: 10)
        expectLakeError(.malformedRecord) { _ = try reader.nextLine() }
    }

    @Test func withNextLineHandsOutBytesWithoutTheBreak() throws {
        let reader = LineReader(ArraySource("héllo\r\n"))
        let count = try reader.withNextLine { $0.count }
        #expect(count == 6)  // h, é (2 bytes), l, l, o
        #expect(try reader.withNextLine { $0.count } == nil)
        #expect(try reader.nextLine() == nil, "stays at the end")
    }
}
