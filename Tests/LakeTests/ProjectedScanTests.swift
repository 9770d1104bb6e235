import Foundation
@testable import Lake
import Testing
import TestSupport

/// `RecordReader(parseThreads:)` (the `ProjectedScan`) must hand out exactly what the one-thread
/// reader does: the same records, line numbers, rejects and messages, in the same order, whatever
/// the number of threads and the size of the chunks.
@Suite struct ProjectedScanTests {
    /// Every kind of line the reader treats apart: a byte order mark, CRLF, blank and white lines,
    /// broken JSON, a non-object, over-long lines (with `maxRecordBytes` 60), and no final newline.
    static let mixed = "\u{FEFF}{\"a\":1,\"b\":\"first\"}\n"
        + "{\"b\":\"crlf\",\"a\":2.5}\r\n"
        + "\n"
        + "   \t \n"
        + "{\"a\":\n"
        + "[1,2]\n"
        + "{\"a\":3,\"pad\":\"" + String(repeating: "x", count: 200) + "\"}\n"
        + "{\"a\":4,\"b\":{\"nested\":[1,{\"c\":null}]},\"zz\":true}\n"
        + String(repeating: "y", count: 61) + "\n"
        + "\r\n"
        + "{\"a\":\"text\",\"b\":null}\n"
        + "{\"a\":5}"

    /// What a reader hands out, one entry per record, reject or error.
    static func transcript(_ path: String, threads: Int, chunkBytes: Int = 1 << 20, maxRecordBytes: Int = 60,
                           policy: MalformedPolicy = .skip, maxRejects: Int = .max) -> [String] {
        var out: [String] = []
        var rejected = 0
        do {
            let reader = try RecordReader(path: path, displayPath: "in", policy: policy, maxRecordBytes: maxRecordBytes,
                                          readAhead: true, parseThreads: threads, parseChunkBytes: chunkBytes) { reject in
                out.append("reject \(reject.file):\(reject.line): \(reject.reason) [\(reject.raw)]")
                rejected += 1
                if rejected >= maxRejects { throw LakeError(.malformedRecord, "too many rejects") }
            }
            let projection = FieldProjection(keys: ["a", "b"])
            var values: [JSONValue] = []
            while try reader.next(projecting: projection, into: &values) {
                out.append("\(reader.line): \(values.map { $0.serialized() }.joined(separator: " "))")
            }
            out.append("end: \(reader.recordCount) records, \(reader.rejectedCount) rejected")
        } catch {
            out.append("error: \(error)")
        }
        return out
    }

    static func expectSame(_ path: String, maxRecordBytes: Int = 60, policy: MalformedPolicy = .skip,
                           maxRejects: Int = .max, sourceLocation: SourceLocation = #_sourceLocation) {
        let expected = transcript(path, threads: 1, maxRecordBytes: maxRecordBytes, policy: policy, maxRejects: maxRejects)
        for threads in [2, 3] {
            for chunk in [1, 7, 64, 1 << 20] {
                let got = transcript(path, threads: threads, chunkBytes: chunk, maxRecordBytes: maxRecordBytes,
                                     policy: policy, maxRejects: maxRejects)
                #expect(got == expected, "\(threads) threads, \(chunk)-byte chunks", sourceLocation: sourceLocation)
            }
        }
    }

    @Test(arguments: [false, true])
    func mixedLinesComeOutAsFromOneThread(gzip: Bool) throws {
        let dir = try TemporaryDirectory()
        defer { dir.remove() }
        let path = try dir.write(gzip ? "m.jsonl.gz" : "m.jsonl", Self.mixed, gzip: gzip)
        let expected = Self.transcript(path, threads: 1)
        // The one-thread transcript itself, so that a change to both paths shows.
        #expect(expected.contains("1: 1 \"first\""))
        #expect(expected.contains("2: 2.5 \"crlf\""))
        #expect(expected.contains { $0.hasPrefix("reject in:5: invalid JSON") })
        #expect(expected.contains("reject in:6: expected a JSON object [[1,2]]"))
        #expect(expected.contains("reject in:7: the line is longer than 60 bytes []"))
        #expect(expected.contains("reject in:9: the line is longer than 60 bytes []"))
        #expect(expected.last == "end: 5 records, 4 rejected")
        Self.expectSame(path)
        Self.expectSame(path, maxRecordBytes: 1 << 20)
    }

    @Test func failPolicyStopsAtTheSameLine() throws {
        let dir = try TemporaryDirectory()
        defer { dir.remove() }
        let path = try dir.write("m.jsonl", Self.mixed)
        #expect(Self.transcript(path, threads: 1, policy: .fail).last?.contains("line 5: invalid JSON") == true)
        Self.expectSame(path, policy: .fail)
    }

    @Test func aRejectHandlerThatThrowsStopsAtTheSameRecord() throws {
        let dir = try TemporaryDirectory()
        defer { dir.remove() }
        let path = try dir.write("m.jsonl", Self.mixed)
        #expect(Self.transcript(path, threads: 1, maxRejects: 2).last?.contains("too many rejects") == true)
        Self.expectSame(path, maxRejects: 2)
    }

    @Test func manyRecordsInOrderAndATruncatedGzipFailsAfterTheLinesBeforeIt() throws {
        let dir = try TemporaryDirectory()
        defer { dir.remove() }
        var text = ""
        for i in 0..<30_000 {
            text += i % 997 == 0 ? "{broken \(i)\n" : "{\"a\":\(i),\"b\":\"v\(i % 13)\",\"skip\":[\(i),\(i * 2)]}\n"
        }
        let path = try dir.write("big.jsonl.gz", text, gzip: true)
        let whole = Self.transcript(path, threads: 1, maxRecordBytes: 1 << 20)
        #expect(whole.last == "end: 29969 records, 31 rejected")
        for threads in [2, 4] {
            #expect(Self.transcript(path, threads: threads, chunkBytes: 4096, maxRecordBytes: 1 << 20) == whole)
        }
        let bytes = try dir.read("big.jsonl.gz")
        let cut = try dir.write("cut.jsonl.gz", Array(bytes.prefix(bytes.count * 2 / 3)))
        let truncated = Self.transcript(cut, threads: 1, maxRecordBytes: 1 << 20)
        #expect(truncated.last?.hasPrefix("error: ") == true)
        #expect(truncated.count > 1000)
        for threads in [2, 3] {
            #expect(Self.transcript(cut, threads: threads, chunkBytes: 4096, maxRecordBytes: 1 << 20) == truncated)
        }
    }

    @Test func emptyAndBlankInputs() throws {
        let dir = try TemporaryDirectory()
        defer { dir.remove() }
        for (name, text) in [("empty.jsonl", ""), ("blank.jsonl", "\n\n  \n"), ("one.jsonl", "{\"a\":1}")] {
            Self.expectSame(try dir.write(name, text))
        }
    }

    @Test func aScanningReaderRefusesFullRecords() throws {
        let dir = try TemporaryDirectory()
        defer { dir.remove() }
        let reader = try RecordReader(path: try dir.write("a.jsonl", "{\"a\":1}\n"), parseThreads: 2)
        #expect(throws: LakeError.self) { try reader.next() }
    }

    @Test func droppingAReaderMidwayStopsItsThreads() throws {
        let dir = try TemporaryDirectory()
        defer { dir.remove() }
        let text = String(repeating: "{\"a\":1,\"b\":\"x\"}\n", count: 50_000)
        let path = try dir.write("a.jsonl", text)
        for _ in 0..<20 {
            let reader = try RecordReader(path: path, parseThreads: 2, parseChunkBytes: 512)
            var values: [JSONValue] = []
            #expect(try reader.next(projecting: FieldProjection(keys: ["a"]), into: &values))
            #expect(values == [.int(1)])
        }
    }
}
