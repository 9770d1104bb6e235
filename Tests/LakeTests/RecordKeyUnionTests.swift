import Foundation
import Lake
import Testing
import TestSupport

/// The CSV header `import` and `export` write for records that do not share their keys.
struct RecordKeyUnionTests {
    @Test func keysInFirstSeenOrderAcrossFilesHeadersFirst() throws {
        let folder = try TemporaryDirectory()
        let jsonl = try folder.write("a.jsonl", "{\"b\":1,\"a\":2}\n{\"c\":3,\"a\":4}\n{\"d\":{\"e\":5}}\n")
        let csv = try folder.write("b.csv", "z,a,y\n1,2,3\n")
        let more = try folder.write("c.jsonl", "{\"y\":1,\"x\":2}\n")
        var opened: [String] = []
        let keys = try RecordReader.keyUnion(of: [jsonl, csv, more]) { path in
            opened.append((path as NSString).lastPathComponent)
            return try RecordReader(path: path)
        }
        #expect(keys == ["b", "a", "c", "d", "z", "y", "x"])
        #expect(opened == ["a.jsonl", "b.csv", "c.jsonl"])
        #expect(try RecordReader.keyUnion(of: [String]()) { try RecordReader(path: $0) }.isEmpty)
    }

    /// A CSV file's rows have exactly its header's keys, so they are not read: a bad row is not reported twice.
    @Test func aCSVFileGivesItsHeaderWithoutReadingItsRows() throws {
        let folder = try TemporaryDirectory()
        let csv = try folder.write("b.csv", "a,b\n1,2\n1,2,3\n")
        var rejected = 0
        let keys = try RecordReader.keyUnion(of: [csv]) { path in
            try RecordReader(path: path, policy: .skip) { _ in rejected += 1 }
        }
        #expect(keys == ["a", "b"])
        #expect(rejected == 0)
    }
}
