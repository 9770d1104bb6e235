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

    /// Whether the rest of an over-long line is still to be passed over before the next line.
    private var discarding = false

    /// Calls `body` with the next line's bytes (without the line break), valid only inside it.
    /// Returns nil at the end of input.
    ///
    /// A line longer than `maxLineLength` throws (`malformedRecord`, naming its line) as soon as
    /// the limit is reached, without reading the rest of it; a further call passes over the rest
    /// and goes on with the next line. Reading stops with `CancellationError` when the task is
    /// cancelled (SIGTERM, Ctrl-C), checked at every read.
    public func withNextLine<T>(_ body: (UnsafeRawBufferPointer) throws -> T) throws -> T? {
        if discarding { try discardRestOfLine() }
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

    /// Passes over bytes up to and including the next line feed (the end of an over-long line).
    private func discardRestOfLine() throws {
        while true {
            if let newline = memchr(buffer.baseAddress! + start, 0x0A, end - start) {
                start = buffer.baseAddress!.distance(to: newline) + 1
                discarding = false
                return
            }
            start = end
            if ended { discarding = false; return }
            _ = try fill()
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
        if Task.isCancelled { throw CancellationError() }
        if !discarding && end > maxLineLength {
            // The line so far is already too long: stop here, and pass over its rest on the next call.
            lineNumber += 1
            start = end
            discarding = true
            throw LakeError(.malformedRecord, "line \(lineNumber) is longer than \(maxLineLength) bytes")
        }
        if end == buffer.count {
            // One byte past the limit, so that a line just over it is seen to be.
            let bigger = UnsafeMutableRawBufferPointer.allocate(byteCount: min(buffer.count * 2, maxLineLength + 1), alignment: 1)
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
