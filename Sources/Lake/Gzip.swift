internal import CZlib

/// Compresses into gzip members in front of another sink.
///
/// `endMember()` closes the current gzip member and starts a new one, so a WARC file can hold
/// one member per record (readers can then seek to any record).
public final class GzipWriter: ByteSink {
    private let sink: ByteSink
    private let label: String
    private let stream: UnsafeMutablePointer<z_stream>
    private var out: [UInt8]
    private var memberHasData = false
    private var finished = false

    /// Bytes of compressed output (writer) or input (reader) moved per call. 64 KB stays under malloc's
    /// mmap threshold, so a reader or writer per small file (the fetch stage's page store makes one per
    /// page) does not map and zero-fill fresh memory each time; 256 KB did, visibly in a crawl's profile.
    static let bufferSize = 64 * 1024

    /// - Parameter level: 1 (fast) … 9 (small); 6 is gzip's default.
    public init(_ sink: ByteSink, level: Int32 = 6, label: String = "gzip output") throws {
        self.sink = sink
        self.label = label
        stream = .allocate(capacity: 1)
        stream.initialize(to: z_stream())
        out = [UInt8](repeating: 0, count: Self.bufferSize)
        let rc = agentshop_deflateInit2(stream, level, 15 + 16, 8)
        guard rc == Z_OK else {
            stream.deallocate()
            throw LakeError(.gzip, "cannot start gzip compression", path: label, cause: "zlib \(rc)")
        }
    }

    deinit {
        deflateEnd(stream)
        stream.deallocate()
    }

    public func write(_ bytes: UnsafeRawBufferPointer) throws {
        guard bytes.count > 0 else { return }
        memberHasData = true
        stream.pointee.next_in = UnsafeMutablePointer(mutating: bytes.bindMemory(to: Bytef.self).baseAddress)
        stream.pointee.avail_in = uInt(bytes.count)
        try pump(flush: Z_NO_FLUSH)
    }

    /// Ends the current gzip member; the next write starts a new one.
    public func endMember() throws {
        guard memberHasData else { return }
        try pump(flush: Z_FINISH)
        deflateReset(stream)
        memberHasData = false
    }

    public func finish() throws {
        guard !finished else { return }
        finished = true
        // An empty file still gets one (empty) member so that `gzip -t` accepts it.
        try pump(flush: Z_FINISH)
        try sink.finish()
    }

    private func pump(flush: Int32) throws {
        try out.withUnsafeMutableBytes { raw in
            let base = raw.bindMemory(to: Bytef.self).baseAddress!
            while true {
                stream.pointee.next_out = base
                stream.pointee.avail_out = uInt(raw.count)
                let rc = deflate(stream, flush)
                if rc != Z_OK && rc != Z_STREAM_END && rc != Z_BUF_ERROR {
                    throw LakeError(.gzip, "gzip compression failed", path: label, cause: "zlib \(rc)")
                }
                let produced = raw.count - Int(stream.pointee.avail_out)
                if produced > 0 { try sink.write(UnsafeRawBufferPointer(rebasing: raw[0..<produced])) }
                if flush == Z_FINISH {
                    if rc == Z_STREAM_END { return }
                } else if stream.pointee.avail_in == 0 && stream.pointee.avail_out != 0 {
                    return
                }
            }
        }
    }
}

/// Decompresses gzip (or zlib) from another source; reads every member of a multi-member file.
public final class GzipReader: ByteSource {
    private let source: ByteSource
    private let label: String
    private let stream: UnsafeMutablePointer<z_stream>
    private var input: [UInt8]
    private var inputStart = 0
    private var inputEnd = 0
    private var sourceEnded = false
    private var memberEnded = false
    private var total: Int64 = 0
    /// Decompressed bytes allowed before the reader refuses (a guard against gzip bombs).
    public let maxOutputBytes: Int64

    public init(_ source: ByteSource, label: String = "gzip input", maxOutputBytes: Int64 = .max) throws {
        self.source = source
        self.label = label
        self.maxOutputBytes = maxOutputBytes
        stream = .allocate(capacity: 1)
        stream.initialize(to: z_stream())
        input = [UInt8](repeating: 0, count: GzipWriter.bufferSize)
        let rc = agentshop_inflateInit2(stream, 15 + 32)
        guard rc == Z_OK else {
            stream.deallocate()
            throw LakeError(.gzip, "cannot start gzip decompression", path: label, cause: "zlib \(rc)")
        }
    }

    deinit {
        inflateEnd(stream)
        stream.deallocate()
    }

    public func read(into buffer: UnsafeMutableRawBufferPointer) throws -> Int {
        guard buffer.count > 0 else { return 0 }
        while true {
            if inputStart == inputEnd && !sourceEnded {
                inputEnd = try input.withUnsafeMutableBytes { try source.read(into: $0) }
                inputStart = 0
                if inputEnd == 0 { sourceEnded = true }
            }
            if memberEnded {
                // Zero bytes after a member are padding (as tar and tape writers leave), not a member.
                while inputStart < inputEnd && input[inputStart] == 0 { inputStart += 1 }
                if inputStart == inputEnd {
                    if sourceEnded { return 0 }
                    continue
                }
                inflateReset(stream)
                memberEnded = false
            }
            if inputStart == inputEnd && sourceEnded {
                throw LakeError(.gzip, "truncated gzip file: the stream ends in the middle of a member", path: label)
            }
            let (produced, rc): (Int, Int32) = input.withUnsafeMutableBytes { raw in
                let base = raw.bindMemory(to: Bytef.self).baseAddress!
                stream.pointee.next_in = base + inputStart
                stream.pointee.avail_in = uInt(inputEnd - inputStart)
                stream.pointee.next_out = buffer.bindMemory(to: Bytef.self).baseAddress
                stream.pointee.avail_out = uInt(buffer.count)
                let rc = inflate(stream, Z_NO_FLUSH)
                inputStart = inputEnd - Int(stream.pointee.avail_in)
                return (buffer.count - Int(stream.pointee.avail_out), rc)
            }
            switch rc {
            case Z_STREAM_END: memberEnded = true
            case Z_OK, Z_BUF_ERROR: break
            default:
                let message = stream.pointee.msg.map { String(cString: $0) } ?? "zlib \(rc)"
                throw LakeError(.gzip, "corrupt gzip data", path: label, cause: message)
            }
            total += Int64(produced)
            if total > maxOutputBytes {
                throw LakeError(.gzip, "decompressed size exceeds the limit of \(maxOutputBytes) bytes", path: label)
            }
            if produced > 0 { return produced }
        }
    }
}

/// The zlib this program runs with (for `agentshop doctor`).
public enum ZlibLibrary {
    public static var version: String { String(cString: zlibVersion()) }
}
