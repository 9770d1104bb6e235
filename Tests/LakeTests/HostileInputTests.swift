import Foundation
import Testing
import TestSupport
@testable import Lake

/// Endless bytes: `prefix`, then `filler` forever. Counts what was read, so a test can tell
/// that a reader stopped at its limit instead of reading the whole stream.
final class EndlessSource: ByteSource {
    private let prefix: [UInt8]
    private let filler: UInt8
    private(set) var bytesRead = 0
    /// Called before each read (a test cancels its task from here).
    var onRead: (Int) -> Void = { _ in }

    init(prefix: String, filler: Character) {
        self.prefix = Array(prefix.utf8)
        self.filler = filler.asciiValue!
    }

    func read(into buffer: UnsafeMutableRawBufferPointer) throws -> Int {
        onRead(bytesRead)
        let fromPrefix = max(0, min(buffer.count, prefix.count - bytesRead))
        for i in 0..<fromPrefix { buffer[i] = prefix[bytesRead + i] }
        memset(buffer.baseAddress! + fromPrefix, Int32(filler), buffer.count - fromPrefix)
        bytesRead += buffer.count
        return buffer.count
    }
}

struct HostileInputTests {
    // MARK: Limits stop a read at the limit

    @Test(arguments: ["a,b\n\"", "a,b\n"])
    func aGiantCSVFieldFailsAtTheLimitWithoutReadingTheStream(prefix: String) throws {
        // Quoted or not, a field that never ends is an error once it passes the limit.
        let source = EndlessSource(prefix: prefix, filler: "x")
        let reader = CSVReader(source, maxFieldLength: 64 << 10)
        #expect(try reader.nextRow() == ["a", "b"])
        #expect(throws: CSVReader.Malformed.self) { _ = try reader.nextRow() }
        #expect(source.bytesRead < 1 << 20, "read \(source.bytesRead) bytes for a 64 KiB limit")
    }

    @Test func aCSVRowOfManySmallFieldsIsBoundedToo() throws {
        let source = EndlessSource(prefix: "a\n", filler: ",")
        let reader = CSVReader(source, maxFieldLength: 1024, maxRowLength: 64 << 10)
        #expect(try reader.nextRow() == ["a"])
        do {
            _ = try reader.nextRow()
            Issue.record("expected a malformed row")
        } catch let bad as CSVReader.Malformed {
            #expect(bad.line == 2)
            #expect(bad.reason == "row longer than 65536 bytes")
        }
        #expect(source.bytesRead < 1 << 20)
    }

    @Test func afterAGiantQuotedFieldReadingGoesOnAtTheNextRow() throws {
        // The skipped field holds line breaks: they belong to it, not to new rows.
        let giant = "\"" + String(repeating: "y\n", count: 100) + "\"\"tail\""
        let reader = CSVReader(ArraySource("a,b\n1,\(giant)\n2,ok\n", chunk: 7), maxFieldLength: 50)
        #expect(try reader.nextRow() == ["a", "b"])
        #expect(throws: CSVReader.Malformed.self) { _ = try reader.nextRow() }
        #expect(try reader.nextRow() == ["2", "ok"])
        #expect(reader.rowLine == 103)
        #expect(try reader.nextRow() == nil)
    }

    @Test func anOverLongLineFailsAtTheLimitAndIsPassedOverOnTheNextCall() throws {
        let source = EndlessSource(prefix: "{}\n", filler: "z")
        let reader = LineReader(source, maxLineLength: 2 << 20)
        #expect(try reader.nextLine() == Array("{}".utf8))
        let error = expectLakeError(.malformedRecord) { _ = try reader.nextLine() }
        #expect(error?.reason == "line 2 is longer than 2097152 bytes")
        #expect(source.bytesRead < 4 << 20)

        let finite = LineReader(ArraySource(String(repeating: "q", count: 5000) + "\nnext\n", chunk: 100), maxLineLength: 1000)
        expectLakeError(.malformedRecord) { _ = try finite.nextLine() }
        #expect(try finite.nextLine() == Array("next".utf8))
        #expect(finite.lineNumber == 2)
    }

    // MARK: Signals

    @Test func cancellationStopsACSVReadInsideAGiantField() async throws {
        let task = Task { () -> (Error?, Int) in
            let source = EndlessSource(prefix: "a\n\"", filler: "x")
            // A field limit far beyond what the test reads: only cancellation stops it.
            let reader = CSVReader(source, maxFieldLength: .max, maxRowLength: .max)
            source.onRead = { read in if read > 1 << 20 { withUnsafeCurrentTask { $0?.cancel() } } }
            do {
                while try reader.nextRow() != nil {}
                return (nil, source.bytesRead)
            } catch {
                return (error, source.bytesRead)
            }
        }
        let (error, read) = await task.value
        #expect(error is CancellationError, "\(String(describing: error))")
        #expect(read < 2 << 20)
    }

    @Test func cancellationStopsALineRead() async throws {
        let task = Task { () -> Error? in
            let source = EndlessSource(prefix: "", filler: "x")
            let reader = LineReader(source, maxLineLength: .max - 1)
            source.onRead = { read in if read > 3 << 20 { withUnsafeCurrentTask { $0?.cancel() } } }
            do { _ = try reader.nextLine(); return nil } catch { return error }
        }
        let error = await task.value
        #expect(error is CancellationError, "\(String(describing: error))")
    }

    // MARK: Records: the policy and the file's name

    @Test func anOverLongJSONLLineFailsNamingFileAndLine() throws {
        let tmp = try TemporaryDirectory()
        try tmp.write("in.jsonl", "{\"a\":1}\n{\"b\":\"" + String(repeating: "x", count: 4000) + "\"}\n{\"c\":3}\n")
        let reader = try RecordReader(path: tmp.file("in.jsonl"), displayPath: "raw_data/in.jsonl", maxRecordBytes: 1000)
        #expect(try reader.next() == JSONObject([("a", 1)]))
        let error = expectLakeError(.malformedRecord) { _ = try reader.next() }
        #expect(error?.description == "raw_data/in.jsonl: line 2: the line is longer than 1000 bytes")
    }

    @Test func anOverLongJSONLLineIsSkippedWithOnErrorSkip() throws {
        let tmp = try TemporaryDirectory()
        try tmp.write("in.jsonl", "{\"a\":1}\n{\"b\":\"" + String(repeating: "x", count: 4000) + "\"}\n{\"c\":3}\n")
        var rejected: [RejectedRecord] = []
        let reader = try RecordReader(path: tmp.file("in.jsonl"), displayPath: "raw_data/in.jsonl", policy: .skip,
                                      maxRecordBytes: 1000) { rejected.append($0) }
        var records: [JSONObject] = []
        while let record = try reader.next() { records.append(record) }
        #expect(records == [JSONObject([("a", 1)]), JSONObject([("c", 3)])])
        #expect(rejected.map { "\($0.file):\($0.line): \($0.reason)" } == ["raw_data/in.jsonl:2: the line is longer than 1000 bytes"])
        #expect(reader.rejectedCount == 1)
    }

    @Test func anOverLongJSONLLineIsSkippedWhenProjecting() throws {
        let tmp = try TemporaryDirectory()
        try tmp.write("in.jsonl", "{\"a\":1}\n{\"a\":\"" + String(repeating: "x", count: 4000) + "\"}\n{\"a\":3}\n")
        var rejected: [Int] = []
        let reader = try RecordReader(path: tmp.file("in.jsonl"), policy: .skip, maxRecordBytes: 1000) { rejected.append($0.line) }
        let projection = FieldProjection(keys: ["a"])
        var values: [JSONValue] = []
        var seen: [JSONValue] = []
        while try reader.next(projecting: projection, into: &values) { seen.append(values[0]) }
        #expect(seen == [.int(1), .int(3)])
        #expect(rejected == [2])
    }

    @Test func aGiantCSVFieldIsSkippedWithOnErrorSkip() throws {
        let tmp = try TemporaryDirectory()
        try tmp.write("in.csv", "a,b\n1,\"" + String(repeating: "x\n", count: 3000) + "\"\n2,ok\n")
        var rejected: [RejectedRecord] = []
        let reader = try RecordReader(path: tmp.file("in.csv"), displayPath: "raw_data/in.csv", policy: .skip,
                                      maxRecordBytes: 1000) { rejected.append($0) }
        var records: [JSONObject] = []
        while let record = try reader.next() { records.append(record) }
        #expect(records == [JSONObject([("a", "2"), ("b", "ok")])])
        #expect(rejected.map { "\($0.file):\($0.line): \($0.reason)" } == ["raw_data/in.csv:2: row longer than 1000 bytes"])
    }
}
