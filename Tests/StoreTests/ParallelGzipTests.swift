import Foundation
import Lake
import Testing
import TestSupport
@testable import Store

@Suite struct ParallelGzipTests {
    @Test(arguments: [0, 1, 999, 1000, 1001, 25_000])
    func membersDecompressToTheOriginalBytes(_ size: Int) throws {
        let dir = try TemporaryDirectory()
        var generator = SystemRandomNumberGenerator()
        // Half random, half repetitive: some blocks compress, some do not.
        let bytes = (0..<size).map { $0 % 2 == 0 ? UInt8.random(in: 0...255, using: &generator) : UInt8($0 % 7) }
        try AtomicFile.write(bytes, to: dir.file("in.bin"))
        let file = try AtomicFile(path: dir.file("out.gz"))
        try ParallelGzip.compress(file: dir.file("in.bin"), into: file.output, level: 6, workers: 3, blockBytes: 1000)
        try file.commit()
        #expect(try GzipReaderAll(dir.file("out.gz")) == bytes)

        // gzip itself agrees (multi-member gzip is standard).
        let process = Process()
        process.executableURL = URL(fileURLWithPath: "/bin/sh")
        process.arguments = ["-c", "gzip -t '\(dir.file("out.gz"))' && zcat '\(dir.file("out.gz"))' | cmp - '\(dir.file("in.bin"))'"]
        try process.run()
        process.waitUntilExit()
        #expect(process.terminationStatus == 0)
    }

    /// The writer (SQL dumps): bytes arrive in pieces of any size; members come out in order, whatever
    /// order the workers finish in, and with one worker it is a plain two-thread pipeline.
    @Test(arguments: [(1, 1000), (3, 1000), (2, 4096), (4, 1)] as [(Int, Int)])
    func writerKeepsOrderAcrossWorkers(_ workers: Int, _ blockBytes: Int) throws {
        var generator = SystemRandomNumberGenerator()
        let bytes = (0..<60_000).map { $0 % 3 == 0 ? UInt8.random(in: 0...255, using: &generator) : UInt8($0 % 11) }
        let memory = MemorySink()
        let gzip = ParallelGzipWriter(memory, level: 6, workers: workers, blockBytes: blockBytes)
        var offset = 0, piece = 1
        while offset < bytes.count {
            let end = min(bytes.count, offset + piece)
            try bytes[offset..<end].withUnsafeBytes { try gzip.write($0) }
            offset = end
            piece = piece * 3 % 7919 + 1
        }
        try gzip.finish()
        let dir = try TemporaryDirectory()
        try AtomicFile.write(memory.bytes, to: dir.file("out.gz"))
        #expect(try GzipReaderAll(dir.file("out.gz")) == bytes)
    }

    @Test func writerOfNothingWritesOneEmptyMember() throws {
        let memory = MemorySink()
        let gzip = ParallelGzipWriter(memory, level: 6)
        try gzip.finish()
        let dir = try TemporaryDirectory()
        try AtomicFile.write(memory.bytes, to: dir.file("empty.gz"))
        #expect(memory.bytes.count > 10)
        #expect(try GzipReaderAll(dir.file("empty.gz")).isEmpty)
    }

    /// A sink that fails stops the writer with its error, and an abandoned writer lets its workers end.
    @Test func writerReportsTheSinksError() throws {
        final class FailingSink: ByteSink {
            struct Full: Error {}
            func write(_ bytes: UnsafeRawBufferPointer) throws { throw Full() }
            func finish() throws {}
        }
        let gzip = ParallelGzipWriter(FailingSink(), level: 1, workers: 2, blockBytes: 100)
        #expect(throws: FailingSink.Full.self) {
            for _ in 0..<100 { try gzip.write(Array(repeating: 7, count: 100)) }
            try gzip.finish()
        }
    }
}
