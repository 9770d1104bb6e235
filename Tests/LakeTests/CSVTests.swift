import Testing
import TestSupport
@testable import Lake

struct CSVTests {
    /// Every row of `bytes`, or the `Malformed` errors in their place, with the line each started on.
    private enum Row: Equatable, CustomStringConvertible {
        case fields([String], line: Int)
        case malformed(line: Int, reason: String)
        var description: String {
            switch self {
            case .fields(let f, let line): return "line \(line): \(f)"
            case .malformed(let line, let reason): return "line \(line): malformed (\(reason))"
            }
        }
    }

    private func rows(_ bytes: [UInt8], chunk: Int = .max, maxFieldLength: Int = 16 * 1024 * 1024) throws -> [Row] {
        let reader = CSVReader(ArraySource(bytes, chunk: chunk), maxFieldLength: maxFieldLength)
        var out: [Row] = []
        while out.count < 100 {
            do {
                guard let row = try reader.nextRow() else { return out }
                out.append(.fields(row, line: reader.rowLine))
            } catch let bad as CSVReader.Malformed {
                out.append(.malformed(line: bad.line, reason: bad.reason))
            }
        }
        Issue.record("reader did not stop")
        return out
    }

    private func fields(_ text: String, chunk: Int = .max) throws -> [[String]] {
        try rows(Array(text.utf8), chunk: chunk).map { row in
            guard case .fields(let f, _) = row else { Issue.record("unexpected \(row)"); return [] }
            return f
        }
    }

    @Test(arguments: [
        ("", [[String]]()),
        ("a,b,c\n", [["a", "b", "c"]]),
        ("a,b,c", [["a", "b", "c"]]),
        ("a,b\r\nc,d\r\n", [["a", "b"], ["c", "d"]]),
        ("a\rb\r", [["a"], ["b"]]),
        ("\"a,b\",c\n", [["a,b", "c"]]),
        ("\"he said \"\"hi\"\"\",x\n", [["he said \"hi\"", "x"]]),
        ("\"a\"\"\"\n", [["a\""]]),
        ("\"\"\"\"\n", [["\""]]),
        ("\"line1\nline2\",x\n", [["line1\nline2", "x"]]),
        ("\"line1\r\nline2\",x\r\n", [["line1\r\nline2", "x"]]),
        ("a,,c\n", [["a", "", "c"]]),
        (",\n", [["", ""]]),
        ("a,b,\n", [["a", "b", ""]]),
        ("\"\",\"\"\n", [["", ""]]),
        ("a\n\nb\n", [["a"], [""], ["b"]]),
        ("a\"b,c\n", [["a\"b", "c"]]),
        (" a , b \n", [[" a ", " b "]]),
        ("é,😀,直接\n", [["é", "😀", "直接"]]),
        ("\"q\",plain,\"x,y\"\n1,2,3", [["q", "plain", "x,y"], ["1", "2", "3"]]),
    ])
    func parsesRFC4180(text: String, expected: [[String]]) throws {
        #expect(try fields(text) == expected)
        #expect(try fields(text, chunk: 1) == expected, "one byte per read")
    }

    @Test func rowLineIsWhereTheRowStarts() throws {
        let got = try rows(Array("h1,h2\n\"multi\nline\r\nvalue\",1\nnext,2\n".utf8))
        #expect(got == [
            .fields(["h1", "h2"], line: 1),
            .fields(["multi\nline\r\nvalue", "1"], line: 2),
            .fields(["next", "2"], line: 5),
        ])
    }

    @Test(arguments: [
        ("\"a\"b,c\nd,e\n", 1, "text after a closing quote"),
        ("x,y\n\"a\" ,b\nd,e\n", 2, "text after a closing quote"),
        ("x,y\n\"a\"\"b\"c\nd,e\n", 2, "text after a closing quote"),
    ])
    func textAfterClosingQuoteIsMalformedAndReadingGoesOn(text: String, line: Int, reason: String) throws {
        let got = try rows(Array(text.utf8))
        #expect(got.contains(.malformed(line: line, reason: reason)))
        #expect(got.last == .fields(["d", "e"], line: line + 1), "the next line is read normally")
    }

    @Test func unterminatedQuoteIsMalformedWithItsStartLine() throws {
        let got = try rows(Array("a,b\n\"open,c\nmore\n".utf8))
        #expect(got == [.fields(["a", "b"], line: 1), .malformed(line: 2, reason: "unterminated quoted field")])
    }

    @Test func invalidUTF8InAMiddleFieldIsMalformed() throws {
        let bytes: [UInt8] = Array("a,".utf8) + [0xFF] + Array(",b\nc,d,e\n".utf8)
        let got = try rows(bytes)
        #expect(got == [.malformed(line: 1, reason: "invalid UTF-8"), .fields(["c", "d", "e"], line: 2)])
    }

    @Test func invalidUTF8InTheLastFieldSkipsOnlyItsOwnRow() throws {
        // A regression guard: when the bad field ends the row, its newline is already consumed, and
        // the reader once skipped the *next* line as well.
        let bytes: [UInt8] = Array("a,".utf8) + [0xFF] + Array("\nc,d\ne,f\n".utf8)
        let got = try rows(bytes)
        #expect(got.first == .malformed(line: 1, reason: "invalid UTF-8"))
        #expect(got.last == .fields(["e", "f"], line: 3))
        #expect(got.count == 3)
        #expect(got.dropFirst().first == .fields(["c", "d"], line: 2))
    }

    @Test func fieldLongerThanTheLimitIsMalformed() throws {
        let got = try rows(Array("abcdefgh,x\nok,y\n".utf8), maxFieldLength: 5)
        #expect(got.count == 2)
        if case .malformed(let line, let reason) = got.first {
            #expect(line == 1)
            #expect(reason.contains("longer than 5 bytes"))
        } else {
            Issue.record("expected a malformed row, got \(got)")
        }
        #expect(got.last == .fields(["ok", "y"], line: 2))
    }

    @Test func otherDelimiter() throws {
        let reader = CSVReader(ArraySource("a;\"b;c\"\n"), delimiter: UInt8(ascii: ";"))
        #expect(try reader.nextRow() == ["a", "b;c"])
        #expect(try reader.nextRow() == nil)
    }

    // MARK: Writing

    @Test(arguments: [
        (["a", "b"], "a,b\n"),
        (["a,b", "c"], "\"a,b\",c\n"),
        (["say \"hi\""], "\"say \"\"hi\"\"\"\n"),
        (["two\nlines", "x"], "\"two\nlines\",x\n"),
        (["cr\r"], "\"cr\r\"\n"),
        (["", "x"], ",x\n"),
        (["é", "😀"], "é,😀\n"),
        ([" padded "], " padded \n"),
    ])
    func encodesRows(fields: [String], expected: String) {
        var out: [UInt8] = []
        CSVEncoding.appendRow(fields, to: &out)
        #expect(String(decoding: out, as: UTF8.self) == expected)
    }

    @Test func encodeThenReadRoundTrips() throws {
        let table = [
            ["id", "text", "note"],
            ["1", "comma, inside", "quote \" inside"],
            ["2", "line\nbreak", "crlf\r\nbreak"],
            ["3", "", "\"\""],
            ["4", "ünïcödé 😀", ",,,"],
        ]
        var out: [UInt8] = []
        for row in table { CSVEncoding.appendRow(row, to: &out) }
        #expect(try fields(String(decoding: out, as: UTF8.self)) == table)
        #expect(try fields(String(decoding: out, as: UTF8.self), chunk: 2) == table)
    }

    @Test func encodeUsesTheGivenDelimiter() {
        var out: [UInt8] = []
        CSVEncoding.appendRow(["a;b", "c,d"], to: &out, delimiter: UInt8(ascii: ";"))
        #expect(String(decoding: out, as: UTF8.self) == "\"a;b\";c,d\n")
    }

    /// Cells: doubles in shortest round-trip form, integers beyond 64 bits with every digit, null as
    /// the chosen null text (an empty string stays empty), and the opt-in formula guard.
    @Test func cellsAreExactAndTheNullTextAndFormulaGuardApply() throws {
        let plain = CSVCellOptions()
        #expect(plain.cell(.double(3.55)) == "3.55")
        #expect(plain.cell(.double(0.1 + 0.2)) == "0.30000000000000004")  // that double, not a rounded one
        #expect(plain.cell(.double(2)) == "2.0")
        #expect(plain.cell(.bigInteger("18446744073709551617")) == "18446744073709551617")
        #expect(plain.cell(.int(Int64.min)) == "-9223372036854775808")
        #expect(plain.cell(.null) == "" && plain.cell(nil) == "" && plain.cell(.string("")) == "")

        let marked = CSVCellOptions(nullValue: "\\N", excelSafe: true)
        #expect(marked.cell(.null) == "\\N" && marked.cell(nil) == "\\N" && marked.cell(.string("")) == "")
        for formula in ["=1+2", "+cmd", "-2+3", "@SUM(A1)", "\tx", "\rx", "-", "+"] {
            #expect(marked.cell(.string(formula)) == "'" + formula, "\(formula)")
        }
        for number in ["-2.5", "+3", "-0.75", "12", "a=b"] {
            #expect(marked.cell(.string(number)) == number)
        }
        #expect(marked.cell(.double(-2.5)) == "-2.5")
        #expect(plain.cell(.string("=1+2")) == "=1+2", "the guard is opt-in")
    }

    @Test func recordWriterUsesTheCellOptions() throws {
        let folder = try TemporaryDirectory()
        let path = folder.file("out.csv")
        let writer = try RecordWriter(path: path, columns: ["id", "note", "gone"])
        writer.csvCells = CSVCellOptions(nullValue: "NULL", excelSafe: true)
        try writer.write(JSONObject([("id", .bigInteger("99999999999999999999")), ("note", .string("=HYPERLINK(\"x\")")), ("gone", .null)]))
        try writer.write(JSONObject([("id", .double(3.55)), ("note", .string(""))]))
        try writer.commit()
        let text = try String(contentsOfFile: path, encoding: .utf8)
        #expect(text == "id,note,gone\n99999999999999999999,\"'=HYPERLINK(\"\"x\"\")\",NULL\n3.55,,NULL\n")
    }
}
