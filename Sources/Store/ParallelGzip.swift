import Dispatch
import Foundation
import Lake

/// gzip compression of a whole file on every core: the file is cut into fixed-size blocks, each
/// block becomes its own gzip member, and the members are written in order. A multi-member file
/// is ordinary gzip (RFC 1952): `zcat`, `gunzip` and `GzipReader` read it as one stream.
enum ParallelGzip {
    /// Compresses `path` into `sink` (then finishes the sink). Memory stays at about
    /// 2 × workers × `blockBytes`.
    static func compress(file path: String, into sink: ByteSink, level: Int32,
                         workers: Int = ProcessInfo.processInfo.activeProcessorCount,
                         blockBytes: Int = 4 << 20) throws {
        let input = try FileInput(path: path)
        let batch = max(1, workers) * 2
        var wroteMember = false
        var ended = false
        while !ended {
            var blocks: [[UInt8]] = []
            while blocks.count < batch {
                let block = try readBlock(input, size: blockBytes)
                if block.count < blockBytes { ended = true }
                if !block.isEmpty { blocks.append(block) }
                if ended { break }
            }
            if blocks.isEmpty { break }
            let compressed = Slots(count: blocks.count)
            let shared = blocks
            DispatchQueue.concurrentPerform(iterations: shared.count) { index in
                do {
                    let memory = MemorySink()
                    let gzip = try GzipWriter(memory, level: level, label: path)
                    try gzip.write(shared[index])
                    try gzip.finish()
                    compressed.set(index, .success(memory.bytes))
                } catch {
                    compressed.set(index, .failure(error))
                }
            }
            for index in 0..<shared.count { try sink.write(try compressed.get(index)) }
            wroteMember = true
        }
        if !wroteMember {
            // An empty input still makes a valid (empty) gzip member.
            let gzip = try GzipWriter(sink, level: level, label: path)
            try gzip.finish()
            return
        }
        try sink.finish()
    }

    private static func readBlock(_ input: FileInput, size: Int) throws -> [UInt8] {
        var block = [UInt8](repeating: 0, count: size)
        var filled = 0
        while filled < size {
            let n = try block.withUnsafeMutableBytes { raw in
                try input.read(into: UnsafeMutableRawBufferPointer(rebasing: raw[filled...]))
            }
            if n == 0 { break }
            filled += n
        }
        block.removeSubrange(filled...)
        return block
    }

    /// Results of the workers, one slot each.
    private final class Slots: @unchecked Sendable {
        private var results: [Result<[UInt8], any Error>?]
        private let lock = NSLock()

        init(count: Int) { results = Array(repeating: nil, count: count) }

        func set(_ index: Int, _ result: Result<[UInt8], any Error>) {
            lock.lock()
            results[index] = result
            lock.unlock()
        }

        func get(_ index: Int) throws -> [UInt8] {
            lock.lock()
            defer { lock.unlock() }
            return try results[index]!.get()
        }
    }
}
