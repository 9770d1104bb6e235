/// Splits a byte source into lines (LF or CRLF), in a fixed-size buffer: memory stays flat.
public final class LineReader {
    private let source: ByteSource
    private var buffer: UnsafeMutableRawBufferPointer
    private var start = 0
    private var end = 0
    private var ended = false
    /// 1-based number of the line last returned.
    public private(set) var lineNumber = 0
    /// Lines longer than this are an error rather than unbounded memory.
    public let maxLineLength: Int

    public init(_ source: ByteSource, maxLineLength: Int = 64 * 1024 * 1024) {
        self.source = source
        self.maxLineLength = maxLineLength
        buffer = .allocate(byteCount: 1 << 20, alignment: 1)
    }

    deinit { buffer.deallocate() }

    /// Calls `body` with the next line's bytes (without the line break), valid only inside it.
    /// Returns nil at the end of input.
    public func withNextLine<T>(_ body: (UnsafeRawBufferPointer) throws -> T) throws -> T? {
        var scanFrom = start
        while true {
            if let newline = memchr(buffer.baseAddress! + scanFrom, 0x0A, end - scanFrom) {
                let lineEnd = buffer.baseAddress!.distance(to: newline)
                let lineStart = start
                start = lineEnd + 1
                lineNumber += 1
                try checkLength(lineEnd - lineStart)
                var stop = lineEnd
                if stop > lineStart && buffer[stop - 1] == 0x0D { stop -= 1 }
                return try body(UnsafeRawBufferPointer(rebasing: buffer[lineStart..<stop]))
            }
            if ended {
                guard start < end else { return nil }
                let lineStart = start
                start = end
                lineNumber += 1
                try checkLength(end - lineStart)
                var stop = end
                if stop > lineStart && buffer[stop - 1] == 0x0D { stop -= 1 }
                return try body(UnsafeRawBufferPointer(rebasing: buffer[lineStart..<stop]))
            }
            // Bytes already scanned hold no newline: continue after them once more are read.
            scanFrom = try fill()
        }
    }

    private func checkLength(_ length: Int) throws {
        if length > maxLineLength {
            throw LakeError(.malformedRecord, "line \(lineNumber) is longer than \(maxLineLength) bytes")
        }
    }

    /// The next line as an array, or nil at the end.
    public func nextLine() throws -> [UInt8]? {
        try withNextLine { Array($0) }
    }

    /// Moves the partial line to the front, reads more, and returns where the new bytes begin.
    private func fill() throws -> Int {
        if start > 0 {
            let pending = end - start
            if pending > 0 { buffer.baseAddress!.copyMemory(from: buffer.baseAddress! + start, byteCount: pending) }
            end = pending
            start = 0
        }
        if end == buffer.count {
            guard buffer.count < maxLineLength else {
                throw LakeError(.malformedRecord, "line \(lineNumber + 1) is longer than \(maxLineLength) bytes")
            }
            let bigger = UnsafeMutableRawBufferPointer.allocate(byteCount: min(buffer.count * 2, maxLineLength), alignment: 1)
            bigger.baseAddress!.copyMemory(from: buffer.baseAddress!, byteCount: end)
            buffer.deallocate()
            buffer = bigger
        }
        let previousEnd = end
        let n = try source.read(into: UnsafeMutableRawBufferPointer(rebasing: buffer[end...]))
        end += n
        if n == 0 { ended = true }
        return previousEnd
    }
}

#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif
