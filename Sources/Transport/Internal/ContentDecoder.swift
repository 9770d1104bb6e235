import Foundation
internal import CZlib

/// Undoes a gzip or deflate content coding as the body arrives, and knows whether the compressed
/// stream ended. libcurl's own decoder does not: a gzip body cut short on a connection that closes
/// (no Content-Length, not chunked) came out as a complete, shorter page.
final class ContentDecoder {
    private let stream: UnsafeMutablePointer<z_stream>
    private var out = [UInt8](repeating: 0, count: 64 * 1024)
    /// A complete stream (or member) has ended and nothing since began another.
    private(set) var complete = false
    private(set) var failure: String?

    /// nil for an encoding this decoder does not handle (identity, or none).
    init?(contentEncoding: String?) {
        guard let encoding = contentEncoding?.trimmingCharacters(in: .whitespaces).lowercased(),
              ["gzip", "x-gzip", "deflate"].contains(encoding) else { return nil }
        stream = .allocate(capacity: 1)
        stream.initialize(to: z_stream())
        // 15 + 32: gzip or zlib, recognised by the header.
        guard agentshop_inflateInit2(stream, 15 + 32) == Z_OK else {
            stream.deallocate()
            return nil
        }
    }

    deinit {
        inflateEnd(stream)
        stream.deallocate()
    }

    /// Decodes `input`, handing decoded bytes to `emit`; `emit` returning false stops (the body limit).
    /// Returns false when the data is not valid gzip/deflate or `emit` stopped.
    func decode(_ input: UnsafeRawBufferPointer, emit: (UnsafeRawBufferPointer) -> Bool) -> Bool {
        guard failure == nil else { return false }
        guard input.count > 0 else { return true }
        var offset = 0
        while offset < input.count {
            if complete {
                // Another gzip member follows (concatenated gzip is one stream to a reader); anything else
                // after a complete stream is ignored, as browsers do.
                guard input.count - offset >= 2, input[offset] == 0x1F, input[offset + 1] == 0x8B else { return true }
                inflateReset(stream)
                complete = false
            }
            stream.pointee.next_in = UnsafeMutablePointer(mutating: input.baseAddress!.assumingMemoryBound(to: Bytef.self) + offset)
            stream.pointee.avail_in = uInt(input.count - offset)
            let ok = out.withUnsafeMutableBytes { raw -> Bool in
                let base = raw.bindMemory(to: Bytef.self).baseAddress!
                while true {
                    stream.pointee.next_out = base
                    stream.pointee.avail_out = uInt(raw.count)
                    let rc = inflate(stream, Z_NO_FLUSH)
                    let produced = raw.count - Int(stream.pointee.avail_out)
                    if produced > 0 && !emit(UnsafeRawBufferPointer(rebasing: raw[0..<produced])) { return false }
                    if rc == Z_STREAM_END { complete = true; return true }
                    if rc == Z_BUF_ERROR || (rc == Z_OK && stream.pointee.avail_in == 0 && stream.pointee.avail_out != 0) {
                        return true
                    }
                    if rc != Z_OK {
                        failure = "invalid compressed data (zlib \(rc))"
                        return false
                    }
                }
            }
            guard ok else { return false }
            let consumed = input.count - offset - Int(stream.pointee.avail_in)
            offset += consumed
            if !complete { break }
            if consumed == 0 { break }
        }
        return true
    }
}
