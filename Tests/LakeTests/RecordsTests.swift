import Foundation
import Testing
import TestSupport
@testable import Lake

struct RecordFileTypeTests {
    @Test(arguments: [
        ("a.jsonl", RecordFileType(format: .jsonl, gzip: false)),
        ("dir/a.ndjson", RecordFileType(format: .jsonl, gzip: false)),
        ("a.jsonl.gz", RecordFileType(format: .jsonl, gzip: true)),
        ("A.CSV.GZ", RecordFileType(format: .csv, gzip: true)),
        ("x/y/data.csv", RecordFileType(format: .csv, gzip: false)),
    ])
    func knownNames(path: String, expected: RecordFileType) {
        #expect(RecordFileType(path: path) == expected)
    }

    @Test(arguments: ["a.json", "a.gz", "a.txt", "jsonl", "a.csv.bz2", "a.jsonl.gz.tmp"])
    func unknownNames(path: String) {
        #expect(RecordFileType(path: path) == nil)
    }

    @Test func description() {
        #expect(RecordFileType(format: .jsonl, gzip: true).description == "jsonl.gz")
        #expect(RecordFileType(format: .csv, gzip: false).description == "csv")
    }
}

struct RecordReaderTests {
    private func readAll(_ reader: RecordReader) throws -> [JSONObject] {
        var out: [JSONObject] = []
        while let record = try reader.next() { out.append(record) }
        return out
    }

    @Test func readsJSONLSkippingBlankLines() throws {
        let tmp = try TemporaryDirectory()
        try tmp.write("in.jsonl", "{\"a\":1}\n\n   \n{\"b\":\"x\"}\r\n{\"c\":null}")
        let reader = try RecordReader(path: tmp.file("in.jsonl"))
        let first = try reader.next()
        #expect(first == JSONObject([("a", 1)]))
        #expect(reader.line == 1)
        #expect(try reader.next() == JSONObject([("b", "x")]))
        #expect(reader.line == 4)
        #expect(try reader.next() == JSONObject([("c", .null)]))
        #expect(reader.line == 5)
        #expect(try reader.next() == nil)
        #expect(reader.recordCount == 3)
        #expect(reader.rejectedCount == 0)
        #expect(reader.columns.isEmpty)
    }

    @Test func malformedJSONLWithFailNamesFileAndLine() throws {
        let tmp = try TemporaryDirectory()
        try tmp.write("in.jsonl", "{\"a\":1}\n{\"a\": oops}\n{\"a\":3}\n")
        let reader = try RecordReader(path: tmp.file("in.jsonl"), displayPath: "raw_data/imports/in.jsonl", policy: .fail)
        #expect(try reader.next() == JSONObject([("a", 1)]))
        let error = expectLakeError(.malformedRecord) { _ = try reader.next() }
        let text = error.map { "\($0)" } ?? ""
        #expect(text.hasPrefix("raw_data/imports/in.jsonl: "))
        #expect(text.contains("invalid JSON"))
        #expect(text.contains("line 2:"), "\(text)")
    }

    @Test func malformedJSONLWithSkipRejectsAndGoesOn() throws {
        let tmp = try TemporaryDirectory()
        try tmp.write("in.jsonl", "{\"a\":1}\nnot json\n[1,2]\n{\"a\":4}\n{\"a\":\n")
        var rejected: [RejectedRecord] = []
        let reader = try RecordReader(path: tmp.file("in.jsonl"), displayPath: "in.jsonl", policy: .skip) { rejected.append($0) }
        let records = try readAll(reader)
        #expect(records == [JSONObject([("a", 1)]), JSONObject([("a", 4)])])
        #expect(reader.recordCount == 2)
        #expect(reader.rejectedCount == 3)
        #expect(rejected.map(\.raw) == ["not json", "[1,2]", "{\"a\":"])
        #expect(rejected.allSatisfy { $0.file == "in.jsonl" })
        #expect(rejected[0].reason.hasPrefix("invalid JSON"))
        #expect(rejected[1].reason == "expected a JSON object")
        #expect(rejected.map(\.line) == [2, 3, 5])
    }

    @Test func onRejectCanStopTheRead() throws {
        struct Stop: Error {}
        let tmp = try TemporaryDirectory()
        try tmp.write("in.jsonl", "bad\n{\"a\":1}\n")
        let reader = try RecordReader(path: tmp.file("in.jsonl"), policy: .skip) { _ in throw Stop() }
        #expect(throws: Stop.self) { _ = try reader.next() }
    }

    @Test func readsCSVWithHeader() throws {
        let tmp = try TemporaryDirectory()
        try tmp.write("in.csv", "id,name,note\r\n1,\"Smith, J\",\"said \"\"hi\"\"\"\r\n\r\n2,Doe,\"two\nlines\"\r\n")
        let reader = try RecordReader(path: tmp.file("in.csv"))
        #expect(reader.columns == ["id", "name", "note"])
        let records = try readAll(reader)
        #expect(records == [
            JSONObject([("id", "1"), ("name", "Smith, J"), ("note", "said \"hi\"")]),
            JSONObject([("id", "2"), ("name", "Doe"), ("note", "two\nlines")]),
        ])
        #expect(reader.line == 4)
    }

    @Test func csvWrongFieldCountWithFail() throws {
        let tmp = try TemporaryDirectory()
        try tmp.write("in.csv", "a,b\n1,2\n3,4,5\n6,7\n")
        let reader = try RecordReader(path: tmp.file("in.csv"), displayPath: "imports/in.csv")
        #expect(try reader.next() == JSONObject([("a", "1"), ("b", "2")]))
        let error = expectLakeError(.malformedRecord) { _ = try reader.next() }
        #expect(error.map { "\($0)" } == "imports/in.csv: line 3: expected 2 fields, found 3")
    }

    @Test func csvWrongFieldCountWithSkip() throws {
        let tmp = try TemporaryDirectory()
        try tmp.write("in.csv", "a,b\n1\n3,4,\"x,y\"\n6,7\n\"bad\"quote,8\n9,10\n")
        var rejected: [RejectedRecord] = []
        let reader = try RecordReader(path: tmp.file("in.csv"), displayPath: "in.csv", policy: .skip) { rejected.append($0) }
        let records = try readAll(reader)
        #expect(records == [JSONObject([("a", "6"), ("b", "7")]), JSONObject([("a", "9"), ("b", "10")])])
        #expect(rejected.map(\.line) == [2, 3, 5])
        #expect(rejected.map(\.reason) == ["expected 2 fields, found 1", "expected 2 fields, found 3",
                                           "text after a closing quote"])
        #expect(rejected[1].raw == "3,4,\"x,y\"\n")
        #expect(reader.rejectedCount == 3)
        #expect(reader.recordCount == 2)
    }

    @Test func csvHeaderProblems() throws {
        let tmp = try TemporaryDirectory()
        try tmp.write("dup.csv", "a,b,a\n1,2,3\n")
        let dup = expectLakeError(.malformedRecord) { _ = try RecordReader(path: tmp.file("dup.csv"), displayPath: "dup.csv") }
        #expect(dup?.reason.contains("repeats a column name") == true)
        try tmp.write("bad.csv", "\"a\"x,b\n")
        let bad = expectLakeError(.malformedRecord) { _ = try RecordReader(path: tmp.file("bad.csv"), displayPath: "bad.csv") }
        #expect(bad?.reason.hasPrefix("line 1: header row") == true)
    }

    @Test func csvHeaderWithAByteOrderMark() throws {
        // Spreadsheet programs often start a UTF-8 CSV with a BOM; it is not part of the first name.
        let tmp = try TemporaryDirectory()
        try tmp.write("excel.csv", [0xEF, 0xBB, 0xBF] + Array("id,name\n1,a\n".utf8))
        let reader = try RecordReader(path: tmp.file("excel.csv"))
        #expect(reader.columns == ["id", "name"])
    }

    @Test func csvQuotedHeaderWithAByteOrderMark() throws {
        // Tools that quote every field (pandas QUOTE_ALL with utf-8-sig) write BOM + `"id"`.
        let tmp = try TemporaryDirectory()
        try tmp.write("quoted.csv", [0xEF, 0xBB, 0xBF] + Array("\"id\",\"name\"\n\"1\",\"a\"\n".utf8))
        let reader = try RecordReader(path: tmp.file("quoted.csv"))
        #expect(reader.columns == ["id", "name"])
    }

    @Test func jsonlWithAByteOrderMark() throws {
        let tmp = try TemporaryDirectory()
        try tmp.write("bom.jsonl", [0xEF, 0xBB, 0xBF] + Array("{\"a\":1}\n{\"a\":2}\n".utf8))
        let reader = try RecordReader(path: tmp.file("bom.jsonl"))
        #expect(try reader.next() == JSONObject([("a", 1)]))
        #expect(try reader.next() == JSONObject([("a", 2)]))
    }

    @Test func emptyCSVHasNoColumnsAndNoRecords() throws {
        let tmp = try TemporaryDirectory()
        try tmp.write("empty.csv", "")
        let reader = try RecordReader(path: tmp.file("empty.csv"))
        #expect(reader.columns.isEmpty)
        #expect(try reader.next() == nil)
    }

    @Test func csvInferTypes() throws {
        let tmp = try TemporaryDirectory()
        try tmp.write("in.csv", "zip,n,price,ok,empty,name\n007,42,9.5,true,,Ann\n")
        let typed = try readAll(RecordReader(path: tmp.file("in.csv"), inferTypes: true))
        #expect(typed == [JSONObject([("zip", "007"), ("n", 42), ("price", 9.5), ("ok", true), ("empty", .null), ("name", "Ann")])])
        let plain = try readAll(RecordReader(path: tmp.file("in.csv"), inferTypes: false))
        #expect(plain.first?["n"] == "42")
        #expect(plain.first?["empty"] == "")
    }

    @Test(arguments: [
        ("", JSONValue.null),
        ("0", .int(0)),
        ("42", .int(42)),
        ("-17", .int(-17)),
        ("9223372036854775807", .int(Int64.max)),
        ("0.5", .double(0.5)),
        ("-0.5", .double(-0.5)),
        ("3.14", .double(3.14)),
        ("1e3", .double(1000)),
        ("2.5E-1", .double(0.25)),
        ("true", .bool(true)),
        ("false", .bool(false)),
        ("007", .string("007")),
        ("-007", .string("-007")),
        ("00", .string("00")),
        ("00.5", .string("00.5")),
        ("0x1F", .string("0x1F")),
        ("+1", .string("+1")),
        (" 1", .string(" 1")),
        ("1 ", .string("1 ")),
        ("-", .string("-")),
        ("1.2.3", .string("1.2.3")),
        ("12abc", .string("12abc")),
        ("1_000", .string("1_000")),
        ("1e400", .string("1e400")),
        ("NaN", .string("NaN")),
        ("inf", .string("inf")),
        ("True", .string("True")),
        ("FALSE", .string("FALSE")),
        ("null", .string("null")),
        ("abc", .string("abc")),
    ])
    func inferTable(cell: String, expected: JSONValue) {
        #expect(RecordReader.infer(cell) == expected)
    }

    @Test func inferKeepsIntegersTooBigForInt64AsText() {
        // An id such as 12345678901234567890 does not fit Int64; as a Double it loses digits.
        #expect(RecordReader.infer("12345678901234567890") == .string("12345678901234567890"))
    }

    @Test func unknownFormatAndMissingFile() throws {
        let tmp = try TemporaryDirectory()
        try tmp.write("data.txt", "x")
        let unknown = expectLakeError(LakeError(.unsupportedFormat, "")) { _ = try RecordReader(path: tmp.file("data.txt")) }
        #expect(unknown?.path == tmp.file("data.txt"))
        expectLakeError(.notFound) { _ = try RecordReader(path: tmp.file("missing.jsonl")) }
    }

    @Test func explicitTypeOverridesTheName() throws {
        let tmp = try TemporaryDirectory()
        try tmp.write("data.txt", "{\"a\":1}\n")
        let reader = try RecordReader(path: tmp.file("data.txt"), type: RecordFileType(format: .jsonl, gzip: false))
        #expect(try reader.next() == JSONObject([("a", 1)]))
    }

    @Test func keyFirstSeenOnTheLastLineIsRead() throws {
        let tmp = try TemporaryDirectory()
        try tmp.write("in.jsonl", "{\"a\":1}\n{\"a\":2}\n{\"a\":3,\"late\":\"yes\"}")
        let records = try readAll(RecordReader(path: tmp.file("in.jsonl")))
        #expect(records.count == 3)
        #expect(records.last?["late"] == "yes")
        #expect(records.last?.keys == ["a", "late"])
    }

    @Test func rejectedRecordAsRecord() {
        let record = RejectedRecord(file: "f.csv", line: 7, reason: "why", raw: "x,y").asRecord(stage: "seed")
        #expect(record.keys == ["stage", "file", "line", "url", "fetched_at", "reason", "raw"])
        #expect(record["line"] == 7)
        #expect(record["url"] == .null)
    }
}

struct RecordWriterTests {
    private let records: [JSONObject] = [
        JSONObject([("id", 1), ("name", "Smith, J"), ("note", "said \"hi\"\nand left")]),
        JSONObject([("id", 2), ("name", "Ünïcode 😀"), ("note", .null)]),
        JSONObject([("id", 3), ("name", ""), ("note", "tags: [\"a\"]")]),
    ]

    @Test(arguments: ["out.jsonl", "out.jsonl.gz", "out.ndjson"])
    func jsonlRoundTrip(name: String) throws {
        let tmp = try TemporaryDirectory()
        let writer = try RecordWriter(path: tmp.file(name))
        for record in records { try writer.write(record) }
        #expect(writer.recordCount == 3)
        #expect(!tmp.exists(name), "nothing under the final name before commit")
        try writer.commit()
        let back = try RecordReader(path: tmp.file(name))
        var got: [JSONObject] = []
        while let r = try back.next() { got.append(r) }
        #expect(got == records)
        #expect(try tmp.listing() == [name], "no temporary left behind")
    }

    @Test func concatenatedGzipFilesReadAsOne() throws {
        let tmp = try TemporaryDirectory()
        for (name, record) in [("a.jsonl.gz", records[0]), ("b.jsonl.gz", records[1])] {
            let writer = try RecordWriter(path: tmp.file(name))
            try writer.write(record)
            try writer.commit()
        }
        try tmp.write("ab.jsonl.gz", try tmp.read("a.jsonl.gz") + tmp.read("b.jsonl.gz"))
        let reader = try RecordReader(path: tmp.file("ab.jsonl.gz"))
        #expect(try reader.next() == records[0])
        #expect(try reader.next() == records[1])
        #expect(try reader.next() == nil)
    }

    @Test func jsonlGzipIsReadableByGzipTool() throws {
        let tmp = try TemporaryDirectory()
        let writer = try RecordWriter(path: tmp.file("out.jsonl.gz"))
        for record in records { try writer.write(record) }
        try writer.commit()
        let result = try runProgram("/usr/bin/gzip", ["-dc", tmp.file("out.jsonl.gz")])
        #expect(result.status == 0)
        let lines = String(decoding: result.output, as: UTF8.self).split(separator: "\n").map(String.init)
        #expect(lines == records.map { JSONValue.object($0).serialized() })
    }

    @Test(arguments: ["out.csv", "out.csv.gz"])
    func csvRoundTrip(name: String) throws {
        let tmp = try TemporaryDirectory()
        let writer = try RecordWriter(path: tmp.file(name), columns: ["id", "name", "note"])
        for record in records { try writer.write(record) }
        try writer.commit()
        let reader = try RecordReader(path: tmp.file(name), inferTypes: true)
        #expect(reader.columns == ["id", "name", "note"])
        var got: [JSONObject] = []
        while let r = try reader.next() { got.append(r) }
        // With type inference the empty name comes back as null, like the null note.
        var expected = records
        expected[2]["name"] = .null
        #expect(got == expected)
    }

    @Test func csvTextLayout() throws {
        let tmp = try TemporaryDirectory()
        let writer = try RecordWriter(path: tmp.file("out.csv"), columns: ["a", "b", "c"])
        try writer.write(JSONObject([("c", "last"), ("a", 1)]))           // missing b, other order
        try writer.write(JSONObject([("a", [1, 2]), ("b", ["k": "v"]), ("c", true)]))  // nested as JSON
        try writer.commit()
        #expect(try tmp.readText("out.csv") == "a,b,c\n1,,last\n\"[1,2]\",\"{\"\"k\"\":\"\"v\"\"}\",true\n")
    }

    @Test func csvRefusesAFieldOutsideItsColumns() throws {
        let tmp = try TemporaryDirectory()
        let writer = try RecordWriter(path: tmp.file("out.csv"), columns: ["a"])
        let error = expectLakeError(.malformedRecord) { try writer.write(JSONObject([("a", 1), ("surprise", 2)])) }
        #expect(error?.reason.contains("'surprise'") == true)
        writer.abandon()
        #expect(try tmp.listing().isEmpty)
    }

    @Test func singleColumnCSVKeepsEmptyValues() throws {
        // A one-column row with an empty value is written as an empty line, which readers skip
        // as blank: the record is lost. RFC 4180 allows `""` to keep it.
        let tmp = try TemporaryDirectory()
        let writer = try RecordWriter(path: tmp.file("out.csv"), columns: ["url"])
        for value: JSONValue in ["a", .null, "c"] { try writer.write(JSONObject([("url", value)])) }
        try writer.commit()
        let reader = try RecordReader(path: tmp.file("out.csv"))
        var count = 0
        while try reader.next() != nil { count += 1 }
        #expect(try tmp.readText("out.csv") == "url\na\n\"\"\nc\n", "the writer quotes the lone empty field")
        #expect(count == 3)
    }

    @Test func abandonLeavesTheOldFile() throws {
        let tmp = try TemporaryDirectory()
        try tmp.write("out.jsonl", "{\"old\":true}\n")
        let writer = try RecordWriter(path: tmp.file("out.jsonl"))
        try writer.write(JSONObject([("new", true)]))
        writer.abandon()
        #expect(try tmp.readText("out.jsonl") == "{\"old\":true}\n")
        #expect(try tmp.listing() == ["out.jsonl"])
    }

    @Test func writeRawPassesBytesThrough() throws {
        let tmp = try TemporaryDirectory()
        let writer = try RecordWriter(path: tmp.file("out.jsonl.gz"))
        try Array("{\"raw\":1}\n".utf8).withUnsafeBytes { try writer.writeRaw($0) }
        try writer.commit()
        let reader = try RecordReader(path: tmp.file("out.jsonl.gz"))
        #expect(try reader.next() == JSONObject([("raw", 1)]))
    }

    @Test func unknownOutputFormat() throws {
        let tmp = try TemporaryDirectory()
        expectLakeError(LakeError(.unsupportedFormat, "")) { _ = try RecordWriter(path: tmp.file("out.parquet")) }
        #expect(try tmp.listing().isEmpty)
    }
}
