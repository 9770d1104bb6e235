import Dispatch
import Foundation
import Lake

/// gzip compression off the producer's thread and on every core: the bytes written are cut into
/// fixed-size blocks, each block becomes its own gzip member compressed on a worker, and the members
/// are written to the inner sink in order. A multi-member file is ordinary gzip (RFC 1952): `zcat`,
/// `gunzip` and `GzipReader` read it as one stream.
///
/// This is the producer/consumer pipe between whoever makes the bytes (SQL text, a snapshot file)
/// and zlib's deflate, with a bounded buffer: at most `inFlight` blocks wait or compress at once, so
/// memory stays at about 2 × `inFlight` × `blockBytes`, and a fast producer waits for the workers.
final class ParallelGzipWriter: ByteSink {
    private final class Job: @unchecked Sendable {
        private let lock = NSLock()
        private var outcome: Result<[UInt8], any Error>?
        private let done = DispatchSemaphore(value: 0)

        var isDone: Bool { lock.withLock { outcome != nil } }

        func finish(_ result: Result<[UInt8], any Error>) {
            lock.withLock { outcome = result }
            done.signal()
        }

        /// Waits for the worker; call once.
        func result() -> Result<[UInt8], any Error> {
            done.wait()
            return lock.withLock { outcome! }
        }
    }

    private let inner: ByteSink
    private let level: Int32
    private let label: String
    private let blockBytes: Int
    private let inFlight: Int
    private let queue = DispatchQueue(label: "agentshop.parallel-gzip", attributes: .concurrent)
    private var pending: [UInt8] = []
    private var jobs: [Job] = []  // oldest first: the order the members are written in
    private var wroteMember = false
    private var finished = false

    /// - Parameters:
    ///   - workers: blocks compressed at once; 1 is a plain pipeline (one deflate thread beside the producer).
    ///   - blockBytes: input bytes per gzip member.
    init(_ inner: ByteSink, level: Int32, label: String = "gzip output",
         workers: Int = ProcessInfo.processInfo.activeProcessorCount, blockBytes: Int = 2 << 20) {
        self.inner = inner
        self.level = level
        self.label = label
        self.blockBytes = max(1, blockBytes)
        inFlight = max(1, workers) * 2
        pending.reserveCapacity(self.blockBytes)
    }

    deinit {
        // Abandoned (an error upstream): let the workers end before their sink goes away.
        for job in jobs { _ = job.result() }
    }

    func write(_ bytes: UnsafeRawBufferPointer) throws {
        var offset = 0
        while offset < bytes.count {
            let take = min(blockBytes - pending.count, bytes.count - offset)
            pending.append(contentsOf: UnsafeRawBufferPointer(rebasing: bytes[offset..<(offset + take)]))
            offset += take
            if pending.count == blockBytes { try submit() }
        }
    }

    func finish() throws {
        guard !finished else { return }
        finished = true
        // An empty input still makes one valid (empty) gzip member.
        if !pending.isEmpty || (!wroteMember && jobs.isEmpty) { try submit() }
        while !jobs.isEmpty { try writeOldest() }
        try inner.finish()
    }

    private func submit() throws {
        // Write what is done, and wait for the oldest block while the pipe is full.
        while let oldest = jobs.first, jobs.count >= inFlight || oldest.isDone { try writeOldest() }
        let block = pending
        pending.removeAll(keepingCapacity: true)
        let job = Job()
        let level = level, label = label
        jobs.append(job)
        queue.async {
            job.finish(Result {
                let memory = MemorySink()
                let gzip = try GzipWriter(memory, level: level, label: label)
                try gzip.write(block)
                try gzip.finish()
                return memory.bytes
            })
        }
    }

    private func writeOldest() throws {
        let job = jobs.removeFirst()
        try inner.write(try job.result().get())
        wroteMember = true
    }
}

enum ParallelGzip {
    /// Compresses the file at `path` into `sink` (then finishes the sink). Memory stays at about
    /// 4 × workers × `blockBytes`.
    static func compress(file path: String, into sink: ByteSink, level: Int32,
                         workers: Int = ProcessInfo.processInfo.activeProcessorCount,
                         blockBytes: Int = 4 << 20) throws {
        let input = try FileInput(path: path)
        let gzip = ParallelGzipWriter(sink, level: level, label: path, workers: workers, blockBytes: blockBytes)
        var chunk = [UInt8](repeating: 0, count: 1 << 20)
        while true {
            let n = try chunk.withUnsafeMutableBytes { try input.read(into: $0) }
            if n == 0 { break }
            try chunk.withUnsafeBytes { try gzip.write(UnsafeRawBufferPointer(rebasing: $0[0..<n])) }
        }
        try gzip.finish()
    }
}
