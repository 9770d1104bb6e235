import Foundation
import Testing
@testable import Lake

/// A byte source over an array that hands out at most `chunk` bytes per read, to exercise buffer edges.
final class ArraySource: ByteSource {
    private let bytes: [UInt8]
    private let chunk: Int
    private var offset = 0

    init(_ bytes: [UInt8], chunk: Int = .max) {
        self.bytes = bytes
        self.chunk = chunk
    }

    convenience init(_ text: String, chunk: Int = .max) { self.init(Array(text.utf8), chunk: chunk) }

    func read(into buffer: UnsafeMutableRawBufferPointer) throws -> Int {
        let n = min(buffer.count, chunk, bytes.count - offset)
        guard n > 0 else { return 0 }
        bytes.withUnsafeBytes { raw in
            buffer.baseAddress!.copyMemory(from: raw.baseAddress! + offset, byteCount: n)
        }
        offset += n
        return n
    }
}

/// A sink that keeps everything written to it.
final class ArraySink: ByteSink {
    private(set) var bytes: [UInt8] = []
    private(set) var finished = false
    func write(_ raw: UnsafeRawBufferPointer) throws { bytes.append(contentsOf: raw) }
    func finish() throws { finished = true }
}

/// Reads a byte source to its end in chunks of `chunk` bytes.
func readAll(_ source: ByteSource, chunk: Int = 4096) throws -> [UInt8] {
    var out: [UInt8] = []
    var buffer = [UInt8](repeating: 0, count: chunk)
    while true {
        let n = try buffer.withUnsafeMutableBytes { try source.read(into: $0) }
        if n == 0 { return out }
        out.append(contentsOf: buffer[0..<n])
    }
}

/// Runs a program and returns its exit status and standard output.
@discardableResult
func runProgram(_ executable: String, _ arguments: [String], stdin: String? = nil,
                stdout: String? = nil) throws -> (status: Int32, output: [UInt8]) {
    let process = Process()
    process.executableURL = URL(fileURLWithPath: executable)
    process.arguments = arguments
    let pipe = Pipe()
    if let stdout {
        _ = FileManager.default.createFile(atPath: stdout, contents: nil)
        process.standardOutput = try FileHandle(forWritingTo: URL(fileURLWithPath: stdout))
    } else {
        process.standardOutput = pipe
    }
    if let stdin { process.standardInput = FileHandle(forReadingAtPath: stdin) }
    try process.run()
    let data = stdout == nil ? pipe.fileHandleForReading.readDataToEndOfFile() : Data()
    process.waitUntilExit()
    return (process.terminationStatus, Array(data))
}

/// Deterministic pseudo-random bytes (xorshift), so failures reproduce.
func pseudoRandomBytes(_ count: Int, seed: UInt64 = 0x9E37_79B9_7F4A_7C15) -> [UInt8] {
    var state = seed
    var out = [UInt8](repeating: 0, count: count)
    for i in 0..<count {
        state ^= state << 13; state ^= state >> 7; state ^= state << 17
        out[i] = UInt8(truncatingIfNeeded: state)
    }
    return out
}

/// Expects `body` to throw a `LakeError` of the kind `expected`, and returns it.
@discardableResult
func expectLakeError(_ expected: LakeError, sourceLocation: SourceLocation = #_sourceLocation,
                     _ body: () throws -> Void) -> LakeError? {
    do {
        try body()
        Issue.record("expected \(expected.reason), but nothing was thrown", sourceLocation: sourceLocation)
        return nil
    } catch let error as LakeError {
        #expect(expected ~= error, "expected \(expected.reason), got \(error)", sourceLocation: sourceLocation)
        return error
    } catch {
        Issue.record("expected a LakeError, got \(error)", sourceLocation: sourceLocation)
        return nil
    }
}
