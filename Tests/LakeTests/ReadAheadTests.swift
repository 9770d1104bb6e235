import Foundation
import Testing
@testable import Lake

@Suite struct ReadAheadTests {
    /// A source handing out a fixed byte sequence in uneven pieces, then maybe failing.
    final class Pieces: ByteSource {
        var remaining: [UInt8]
        let failAtEnd: Bool
        init(_ bytes: [UInt8], failAtEnd: Bool = false) {
            remaining = bytes
            self.failAtEnd = failAtEnd
        }
        func read(into buffer: UnsafeMutableRawBufferPointer) throws -> Int {
            if remaining.isEmpty {
                if failAtEnd { throw LakeError(.io, "disk went away", path: "pieces") }
                return 0
            }
            let n = min(buffer.count, remaining.count, 1 + remaining.count % 7777)
            remaining.withUnsafeBytes { buffer.baseAddress!.copyMemory(from: $0.baseAddress!, byteCount: n) }
            remaining.removeFirst(n)
            return n
        }
    }

    func drain(_ source: ByteSource, bufferSize: Int) throws -> [UInt8] {
        var out: [UInt8] = []
        var buffer = [UInt8](repeating: 0, count: bufferSize)
        while true {
            let n = try buffer.withUnsafeMutableBytes { try source.read(into: $0) }
            if n == 0 { return out }
            out += buffer[0..<n]
        }
    }

    @Test(arguments: [1, 100, 65_536]) func bytesComeOutInOrder(bufferSize: Int) throws {
        let bytes = (0..<300_000).map { UInt8(truncatingIfNeeded: $0 &* 31 &+ $0 / 251) }
        let ahead = ReadAheadSource(Pieces(bytes), chunkSize: 4096, depth: 3)
        #expect(try drain(ahead, bufferSize: bufferSize) == bytes)
    }

    @Test func anErrorComesAfterTheBytesBeforeIt() throws {
        let ahead = ReadAheadSource(Pieces(Array(repeating: 7, count: 10_000), failAtEnd: true), chunkSize: 1000)
        var buffer = [UInt8](repeating: 0, count: 600)
        var total = 0
        #expect(throws: LakeError.self) {
            while true { total += try buffer.withUnsafeMutableBytes { try ahead.read(into: $0) } }
        }
        #expect(total == 10_000)
    }

    /// The reader thread holds the source: once a reader dropped midway has gone (its deinit stops the
    /// thread and waits for it), nothing may hold the source for long. A deinit that never returned would
    /// hang here, so the time limit turns a deadlock into a failure.
    @Test(.timeLimit(.minutes(1))) func droppingAReaderMidwayStopsItsThread() throws {
        for _ in 0..<20 {
            weak var source: Pieces?
            do {
                let pieces = Pieces(Array(repeating: 1, count: 1 << 20))
                source = pieces
                let ahead = ReadAheadSource(pieces, chunkSize: 1024, depth: 2)
                var buffer = [UInt8](repeating: 0, count: 10)
                #expect(try buffer.withUnsafeMutableBytes { try ahead.read(into: $0) } == 10)
            }
            // The thread's closure (holding the source) is released as the thread object goes, a moment
            // after the deinit's wait returns: give it that moment, not forever.
            let deadline = Date().addingTimeInterval(5)
            while source != nil && Date() < deadline { usleep(1_000) }
            #expect(source == nil, "the reader's thread still holds its source after the reader was dropped")
        }
    }

    @Test func gzipThroughReadAheadMatchesDirectReading() throws {
        let dir = NSTemporaryDirectory() + "readahead-" + UUID().uuidString
        try FileManager.default.createDirectory(atPath: dir, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(atPath: dir) }
        let path = dir + "/lines.jsonl.gz"
        let writer = try RecordWriter(path: path)
        for i in 0..<20_000 { try writer.write(JSONObject([("i", .int(Int64(i))), ("s", .string("line \(i)"))])) }
        try writer.commit()
        let lines = LineReader(ReadAheadSource(try GzipReader(try FileInput(path: path), label: path)))
        var count = 0
        while let line = try lines.nextLine() {
            #expect(String(decoding: line, as: UTF8.self) == "{\"i\":\(count),\"s\":\"line \(count)\"}")
            count += 1
        }
        #expect(count == 20_000)
    }
}
