import Foundation

/// Reads a `ByteSource` ahead on its own thread, a few chunks at a time, so that decompression
/// (a gzip member) and the work on its bytes (parsing, SQL) run on two cores, as `zcat | tool`
/// does. Errors from the source come out of `read` in order, after the bytes before them.
public final class ReadAheadSource: ByteSource {
    private final class State: @unchecked Sendable {
        let lock = NSCondition()
        var chunks: [[UInt8]] = []
        var failure: Error?
        var finished = false
        var stopped = false
        let source: ByteSource
        init(source: ByteSource) { self.source = source }
    }

    private let state: State
    private let depth: Int
    private let done = DispatchSemaphore(value: 0)
    private var current: [UInt8] = []
    private var offset = 0

    /// - Parameters:
    ///   - source: not used by anyone else from now on; it is read on another thread.
    ///   - chunkSize: bytes per read of the source.
    ///   - depth: chunks read ahead at most (memory: `depth * chunkSize`).
    public init(_ source: ByteSource, chunkSize: Int = 1 << 20, depth: Int = 4) {
        state = State(source: source)
        self.depth = max(1, depth)
        let state = state, depth = self.depth, done = done
        let thread = Thread {
            defer { done.signal() }
            while true {
                var chunk = [UInt8](repeating: 0, count: chunkSize)
                let outcome: Result<Int, Error> = Result { try chunk.withUnsafeMutableBytes { try state.source.read(into: $0) } }
                state.lock.lock()
                defer { state.lock.unlock() }
                switch outcome {
                case .success(let n) where n > 0:
                    chunk.removeSubrange(n...)
                    state.chunks.append(chunk)
                case .success:
                    state.finished = true
                case .failure(let error):
                    state.failure = error
                    state.finished = true
                }
                state.lock.broadcast()
                if state.finished { return }
                while state.chunks.count >= depth && !state.stopped { state.lock.wait() }
                if state.stopped { return }
            }
        }
        thread.name = "agentshop.read-ahead"
        thread.start()
    }

    deinit {
        state.lock.lock()
        state.stopped = true
        state.lock.broadcast()
        state.lock.unlock()
        done.wait()  // the thread no longer touches the source
    }

    public func read(into buffer: UnsafeMutableRawBufferPointer) throws -> Int {
        if offset == current.count {
            state.lock.lock()
            while state.chunks.isEmpty && !state.finished { state.lock.wait() }
            if state.chunks.isEmpty {
                let failure = state.failure
                state.lock.unlock()
                if let failure { throw failure }
                return 0
            }
            current = state.chunks.removeFirst()
            offset = 0
            state.lock.broadcast()
            state.lock.unlock()
        }
        let n = min(buffer.count, current.count - offset)
        current.withUnsafeBytes { buffer.baseAddress!.copyMemory(from: $0.baseAddress! + offset, byteCount: n) }
        offset += n
        return n
    }
}
