import Foundation
@testable import Lake
import Testing
import TestSupport

/// `SharedScans`: readers of one file at the same time read it once, and each gets exactly what a
/// scan of its own gives (records, line numbers, rejects, errors), whatever the others do.
@Suite struct SharedScansTests {
    /// What a reader hands out, one entry per record, reject or error (as `ProjectedScanTests.transcript`).
    static func transcript(_ path: String, keys: [String], sharing: (scans: SharedScans, reader: String)?,
                           threads: Int = 2, chunkBytes: Int = 1 << 20, stopAfter: Int = .max) -> [String] {
        var out: [String] = []
        do {
            let reader = try RecordReader(path: path, displayPath: "in", policy: .skip, maxRecordBytes: 60, readAhead: true,
                                          parseThreads: threads, parseChunkBytes: chunkBytes, sharing: sharing) { reject in
                out.append("reject \(reject.file):\(reject.line): \(reject.reason) [\(reject.raw)]")
            }
            let projection = FieldProjection(keys: keys)
            var values: [JSONValue] = []
            while out.count < stopAfter, try reader.next(projecting: projection, into: &values) {
                out.append("\(reader.line): \(values.map { $0.serialized() }.joined(separator: " "))")
            }
            if out.count < stopAfter { out.append("end: \(reader.recordCount) records, \(reader.rejectedCount) rejected") }
        } catch {
            out.append("error: \(error)")
        }
        return out
    }

    /// Runs each job on a thread of its own, at the same time, and returns their results in order.
    static func together(_ jobs: [@Sendable () -> [String]]) -> [[String]] {
        final class Results: @unchecked Sendable {
            let lock = NSLock()
            var values: [Int: [String]] = [:]
        }
        let results = Results()
        let done = DispatchSemaphore(value: 0)
        for (i, job) in jobs.enumerated() {
            Thread {
                let value = job()
                results.lock.lock()
                results.values[i] = value
                results.lock.unlock()
                done.signal()
            }.start()
        }
        for _ in jobs { done.wait() }
        return jobs.indices.map { results.values[$0]! }
    }

    @Test(arguments: [false, true])
    func eachReaderGetsWhatItsOwnScanGives(gzip: Bool) throws {
        let dir = try TemporaryDirectory()
        defer { dir.remove() }
        let path = try dir.write(gzip ? "m.jsonl.gz" : "m.jsonl", ProjectedScanTests.mixed, gzip: gzip)
        let keysA = ["a", "b"], keysB = ["zz", "b", "missing"]
        let ownA = Self.transcript(path, keys: keysA, sharing: nil, threads: 1)
        let ownB = Self.transcript(path, keys: keysB, sharing: nil, threads: 1)
        #expect(ownA.contains("12: 5 null") && ownB.contains("8: true {\"nested\":[1,{\"c\":null}]} null"))
        for chunk in [7, 1 << 20] {
            let scans = SharedScans()
            scans.expect("A", files: [path])
            scans.expect("B", files: [path])
            let got = Self.together([
                { Self.transcript(path, keys: keysA, sharing: (scans, "A"), chunkBytes: chunk) },
                { Self.transcript(path, keys: keysB, sharing: (scans, "B"), chunkBytes: chunk) },
            ])
            #expect(got == [ownA, ownB], "\(chunk)-byte chunks")
            #expect(scans.scansShared == 1)
        }
    }

    /// A corrupt gzip file fails every reader, after the same records as a scan of its own.
    @Test func aCorruptFileFailsEveryReader() throws {
        let dir = try TemporaryDirectory()
        defer { dir.remove() }
        let lines = (1...3000).map { "{\"a\":\($0),\"b\":\"row \($0) of a file that compresses\"}\n" }.joined()
        let good = try dir.write("c.jsonl.gz", lines, gzip: true)
        var bytes = try FileInput.readAll(path: good)
        for i in (bytes.count - 200)..<(bytes.count - 100) { bytes[i] ^= 0x5A }
        let path = dir.path + "/bad.jsonl.gz"
        try Data(bytes).write(to: URL(fileURLWithPath: path))
        let own = Self.transcript(path, keys: ["a"], sharing: nil, threads: 1, chunkBytes: 4096)
        #expect(own.last?.hasPrefix("error: ") == true && own.count > 1, "\(own.suffix(2))")
        let scans = SharedScans()
        scans.expect("A", files: [path])
        scans.expect("B", files: [path])
        let got = Self.together([
            { Self.transcript(path, keys: ["a"], sharing: (scans, "A"), chunkBytes: 4096) },
            { Self.transcript(path, keys: ["a", "b"], sharing: (scans, "B"), chunkBytes: 4096) },
        ])
        #expect(got[0] == own)
        #expect(got[1].last == own.last && got[1].count == own.count)
        #expect(scans.scansShared == 1)
    }

    /// A reader that stops part-way (its stage failed) no longer holds the scan back.
    @Test func aReaderThatStopsLeavesTheScanToTheOthers() throws {
        let dir = try TemporaryDirectory()
        defer { dir.remove() }
        let path = try dir.write("l.jsonl", (1...5000).map { "{\"a\":\($0)}\n" }.joined())
        let scans = SharedScans()
        scans.expect("A", files: [path])
        scans.expect("B", files: [path])
        // Small chunks: far more of them than the scan holds at a time.
        let got = Self.together([
            { Self.transcript(path, keys: ["a"], sharing: (scans, "A"), chunkBytes: 256, stopAfter: 5) },
            { Self.transcript(path, keys: ["a"], sharing: (scans, "B"), chunkBytes: 256) },
        ])
        #expect(got[0] == (1...5).map { "\($0): \($0)" })
        #expect(got[1].count == 5001 && got[1].last == "end: 5000 records, 0 rejected")
        #expect(scans.scansShared == 1)
    }

    /// Two readers taking two files in opposite orders do not wait for each other for ever.
    @Test func readersInOppositeOrdersDoNotWaitForEachOther() throws {
        let dir = try TemporaryDirectory()
        defer { dir.remove() }
        let one = try dir.write("1.jsonl", "{\"a\":1}\n{\"a\":2}\n"), two = try dir.write("2.jsonl", "{\"a\":3}\n")
        let scans = SharedScans(patience: 600)
        scans.expect("A", files: [one, two])
        scans.expect("B", files: [two, one])
        let got = Self.together([
            { [one, two].flatMap { Self.transcript($0, keys: ["a"], sharing: (scans, "A")) } },
            { [two, one].flatMap { Self.transcript($0, keys: ["a"], sharing: (scans, "B")) } },
        ])
        let first = ["1: 1", "2: 2", "end: 2 records, 0 rejected"], second = ["1: 3", "end: 1 records, 0 rejected"]
        #expect(got == [first + second, second + first])
    }

    /// A reader expected but released (its stage ended before reading) is not waited for; one
    /// that never comes is waited for `patience` at most; one that was not expected reads alone.
    @Test func readersThatDoNotComeAreNotWaitedFor() throws {
        let dir = try TemporaryDirectory()
        defer { dir.remove() }
        let path = try dir.write("r.jsonl", "{\"a\":1}\n")
        let expected = ["1: 1", "end: 1 records, 0 rejected"]

        let released = SharedScans(patience: 600)
        released.expect("A", files: [path])
        released.expect("B", files: [path])
        let got = Self.together([
            { Self.transcript(path, keys: ["a"], sharing: (released, "A")) },
            { released.release("B"); return [] },
        ])
        #expect(got[0] == expected)

        let absent = SharedScans(patience: 0.05)
        absent.expect("A", files: [path])
        absent.expect("B", files: [path])
        absent.expect("C", files: [dir.path + "/other.jsonl"])  // busy elsewhere: A does not wait for ever
        #expect(Self.transcript(path, keys: ["a"], sharing: (absent, "A")) == expected)
        #expect(Self.transcript(path, keys: ["a"], sharing: (absent, "unexpected")) == expected)
        #expect(absent.scansShared == 0 && released.scansShared == 0)
    }
}
