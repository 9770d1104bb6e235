import Foundation
import Lake
import Testing
@testable import Store

@Suite struct ParallelGzipTests {
    @Test(arguments: [0, 1, 999, 1000, 1001, 25_000])
    func membersDecompressToTheOriginalBytes(_ size: Int) throws {
        let dir = try TemporaryFolder()
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
}
