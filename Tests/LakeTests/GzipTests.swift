import Foundation
import Testing
import TestSupport
@testable import Lake

struct GzipTests {
    private func compress(_ data: [UInt8], members: [Int] = [], level: Int32 = 6) throws -> [UInt8] {
        let sink = ArraySink()
        let writer = try GzipWriter(sink, level: level)
        var offset = 0
        for cut in members + [data.count] {
            try data[offset..<cut].withUnsafeBytes { try writer.write($0) }
            if cut < data.count { try writer.endMember() }
            offset = cut
        }
        try writer.finish()
        #expect(sink.finished, "finish() must finish the sink underneath")
        return sink.bytes
    }

    private func decompress(_ gz: [UInt8], sourceChunk: Int = .max, readChunk: Int = 4096,
                            maxOutputBytes: Int64 = .max) throws -> [UInt8] {
        try readAll(GzipReader(ArraySource(gz, chunk: sourceChunk), maxOutputBytes: maxOutputBytes), chunk: readChunk)
    }

    /// Offsets of gzip member headers (magic 1f 8b, method 08) in `bytes`.
    private func memberStarts(_ bytes: [UInt8]) -> [Int] {
        guard bytes.count >= 3 else { return [] }
        return (0..<(bytes.count - 2)).filter { bytes[$0] == 0x1f && bytes[$0 + 1] == 0x8b && bytes[$0 + 2] == 0x08 }
    }

    @Test(arguments: [0, 1, 100, 65_537, 300_000])
    func roundTripRandomBytes(size: Int) throws {
        let data = pseudoRandomBytes(size)
        let gz = try compress(data)
        #expect(Array(gz.prefix(2)) == [0x1f, 0x8b])
        #expect(try decompress(gz) == data)
    }

    @Test(arguments: [(1, 1), (7, 3), (4096, 100_000), (.max, 1)])
    func roundTripInOddChunks(sourceChunk: Int, readChunk: Int) throws {
        let text = String(repeating: "the quick brown fox jumps over the lazy dog\n", count: 2_000)
        let gz = try compress(Array(text.utf8), level: 9)
        #expect(gz.count < text.utf8.count / 10, "repetitive text should compress well")
        #expect(try decompress(gz, sourceChunk: sourceChunk, readChunk: readChunk) == Array(text.utf8))
    }

    @Test func endMemberStartsNewMembersAndReaderReadsThemAll() throws {
        let data = Array("first record\nsecond record\nthird record\n".utf8)
        let gz = try compress(data, members: [13, 27])
        #expect(memberStarts(gz).count == 3)
        #expect(try decompress(gz) == data)
        #expect(try decompress(gz, sourceChunk: 5, readChunk: 3) == data)
    }

    @Test func endMemberWithNothingWrittenAddsNoMember() throws {
        let sink = ArraySink()
        let writer = try GzipWriter(sink)
        try writer.endMember()
        try writer.write(Array("x".utf8))
        try writer.endMember()
        try writer.endMember()
        try writer.finish()
        #expect(try decompress(sink.bytes) == Array("x".utf8))
    }

    @Test func finishTwiceIsHarmless() throws {
        let sink = ArraySink()
        let writer = try GzipWriter(sink)
        try writer.write(Array("abc".utf8))
        try writer.finish()
        let size = sink.bytes.count
        try writer.finish()
        #expect(sink.bytes.count == size)
    }

    @Test func outputIsReadableByGzipTool() throws {
        let tmp = try TemporaryDirectory()
        let data = Array(String(repeating: "línea con acentos, 😀 y más\n", count: 5_000).utf8)
        let file = try AtomicFile(path: tmp.file("out.txt.gz"))
        let writer = try GzipWriter(file.output)
        try writer.write(Array(data[0..<1000]))
        try writer.endMember()
        try writer.write(Array(data[1000...]))
        try writer.finish()
        try file.commit()
        let result = try runProgram("/usr/bin/gzip", ["-dc", tmp.file("out.txt.gz")])
        #expect(result.status == 0)
        #expect(result.output == data)
        #expect(try runProgram("/usr/bin/gzip", ["-t", tmp.file("out.txt.gz")]).status == 0)
    }

    @Test func emptyOutputIsStillAValidGzipFile() throws {
        let tmp = try TemporaryDirectory()
        let file = try AtomicFile(path: tmp.file("empty.gz"))
        try GzipWriter(file.output).finish()
        try file.commit()
        #expect(try tmp.read("empty.gz").count > 0)
        #expect(try runProgram("/usr/bin/gzip", ["-t", tmp.file("empty.gz")]).status == 0)
        #expect(try readAll(GzipReader(FileInput(path: tmp.file("empty.gz")))).isEmpty)
    }

    @Test func readsFileWrittenByGzipTool() throws {
        let tmp = try TemporaryDirectory()
        let data = pseudoRandomBytes(200_000)
        try tmp.write("plain.bin", data)
        try runProgram("/usr/bin/gzip", ["-c", tmp.file("plain.bin")], stdout: tmp.file("plain.bin.gz"))
        #expect(try readAll(GzipReader(FileInput(path: tmp.file("plain.bin.gz")))) == data)
    }

    @Test func readsConcatenationOfTwoGzipToolOutputs() throws {
        let tmp = try TemporaryDirectory()
        try tmp.write("a.txt", "alpha\n")
        try tmp.write("b.txt", String(repeating: "beta\n", count: 100_000))
        try runProgram("/usr/bin/gzip", ["-c", tmp.file("a.txt")], stdout: tmp.file("a.gz"))
        try runProgram("/usr/bin/gzip", ["-c", tmp.file("b.txt")], stdout: tmp.file("b.gz"))
        let joined = try tmp.read("a.gz") + tmp.read("b.gz")
        try tmp.write("ab.gz", joined)
        let expected = try tmp.read("a.txt") + tmp.read("b.txt")
        #expect(try readAll(GzipReader(FileInput(path: tmp.file("ab.gz")))) == expected)
        // The member boundary falls at every possible place relative to the reader's chunks.
        #expect(try decompress(joined, sourceChunk: 3, readChunk: 7) == expected)
    }

    @Test func trailingZeroPaddingIsAccepted() throws {
        // Zero padding after the last member (tar and tape writers leave it) is not a member;
        // gzip(1) accepts it too.
        let data = Array("padded\n".utf8)
        let gz = try compress(data) + [UInt8](repeating: 0, count: 16)
        #expect(try decompress(gz) == data)
        #expect(try decompress(gz, sourceChunk: 1) == data, "padding spread over many reads")
    }

    @Test(arguments: [1, 8, 10, 20])
    func truncatedFileIsAGzipError(dropped: Int) throws {
        let gz = try compress(pseudoRandomBytes(5_000))
        let truncated = Array(gz.dropLast(dropped))
        let error = expectLakeError(.gzip) { _ = try decompress(truncated) }
        #expect(error?.reason.contains("truncated") == true)
    }

    @Test func truncatedInTheMiddleIsAGzipError() throws {
        let gz = try compress(pseudoRandomBytes(50_000))
        let error = expectLakeError(.gzip) { _ = try decompress(Array(gz.prefix(gz.count / 2))) }
        #expect(error?.path == "gzip input")
    }

    @Test func corruptBytesAreAGzipError() throws {
        let text = String(repeating: "corruption should be caught by inflate or the CRC\n", count: 400)
        var gz = try compress(Array(text.utf8))
        for i in stride(from: 20, to: gz.count - 10, by: 7) { gz[i] ^= 0x5a }
        expectLakeError(.gzip) { _ = try decompress(gz) }
    }

    @Test func corruptChecksumIsAGzipError() throws {
        var gz = try compress(Array("checksummed content".utf8))
        gz[gz.count - 8] ^= 0xff  // first byte of the CRC-32 trailer
        let error = expectLakeError(.gzip) { _ = try decompress(gz) }
        #expect(error?.reason.contains("corrupt") == true)
    }

    @Test func nonGzipInputIsAGzipError() throws {
        expectLakeError(.gzip) { _ = try decompress(Array("just some plain text, not gzip at all\n".utf8)) }
    }

    @Test func garbageAfterAMemberIsAGzipError() throws {
        let gz = try compress(Array("good".utf8)) + Array("trailing garbage".utf8)
        expectLakeError(.gzip) { _ = try decompress(gz) }
    }

    @Test func emptyFileIsATruncationError() throws {
        let tmp = try TemporaryDirectory()
        try tmp.write("empty.gz", [UInt8]())
        let error = expectLakeError(.gzip) {
            _ = try readAll(GzipReader(FileInput(path: tmp.file("empty.gz")), label: "empty.gz"))
        }
        #expect(error?.path == "empty.gz")
    }

    @Test func maxOutputBytesAllowsExactlyTheLimit() throws {
        let data = pseudoRandomBytes(10_000)
        let gz = try compress(data)
        #expect(try decompress(gz, maxOutputBytes: 10_000) == data)
    }

    @Test(arguments: [0, 1, 9_999])
    func maxOutputBytesRefusesMore(limit: Int64) throws {
        let gz = try compress([UInt8](repeating: 0, count: 10_000))
        let error = expectLakeError(.gzip) { _ = try decompress(gz, maxOutputBytes: limit) }
        #expect(error?.reason.contains("exceeds the limit of \(limit) bytes") == true)
    }

    @Test func maxOutputBytesCountsAcrossMembers() throws {
        let gz = try compress([UInt8](repeating: 1, count: 6_000), members: [3_000])
        expectLakeError(.gzip) { _ = try decompress(gz, maxOutputBytes: 5_000) }
        #expect(try decompress(gz, maxOutputBytes: 6_000).count == 6_000)
    }

    @Test func readerIntoEmptyBufferReturnsZero() throws {
        let reader = try GzipReader(ArraySource(try compress(Array("x".utf8))))
        var nothing = [UInt8]()
        let n = try nothing.withUnsafeMutableBytes { try reader.read(into: $0) }
        #expect(n == 0)
        #expect(try readAll(reader) == Array("x".utf8))
    }
}
