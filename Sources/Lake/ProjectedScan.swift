#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif
import Foundation

/// Reads a JSONL byte source with one thread and parses its lines with several, handing the
/// projected records back in input order: the engine of `RecordReader(parseThreads:)` and of
/// `SharedScans`.
///
/// One reader thread fills chunks of about `chunkBytes` with the source's bytes (gunzipping when
/// the source does), cut after the last line feed; each parser thread takes the next chunk and
/// turns its lines into projected values and rejects, exactly as the one-thread reader does (the
/// same line numbers, blank lines, byte order mark, over-long lines and messages); each consumer
/// (a `Cursor`) takes the parsed chunks in order. Whatever the number of threads, a consumer sees
/// the same records and rejects in the same order, and a source error after the lines before it.
/// Several consumers share one scan: each reads its own fields out of the scan's projection (the
/// union of theirs), and a chunk is let go once every consumer still reading has taken it.
/// Memory: at most `parsers + 2` chunks (raw bytes and their parsed values) at a time.
final class ProjectedScan {
    /// A chunk's records (`width` values each, with their lines) and its rejects, relative to its first line.
    final class Batch {
        var values: [JSONValue] = []
        /// 1-based line of each record within the chunk.
        var lines: [Int] = []
        /// Each reject with its line within the chunk, and the number of records before it.
        var rejects: [(before: Int, rejected: RejectedRecord)] = []
        /// Lines in the chunk.
        var lineCount = 0
    }

    private enum Chunk {
        /// Whole lines (the last one may lack its line feed at the end of input).
        case bytes(UnsafeMutableRawBufferPointer, count: Int)
        /// One line longer than the limit, passed over.
        case overLong
    }

    private final class State: @unchecked Sendable {
        let lock = NSCondition()
        var pending: [(seq: Int, chunk: Chunk)] = []
        /// Parsed chunks, each with the number of consumers still to take it.
        var parsed: [Int: (batch: Batch, takers: Int)] = [:]
        /// Consumers still reading.
        var consumers: Int
        /// Chunks read and not yet taken by every consumer.
        var inFlight = 0
        /// Chunks the reader made, once the source has ended (or failed).
        var total: Int?
        var failure: Error?
        var stopped = false
        var freeBuffers: [UnsafeMutableRawBufferPointer] = []
        init(consumers: Int) { self.consumers = consumers }
    }

    /// The source, handed to the reader thread.
    private final class SourceBox: @unchecked Sendable {
        let source: ByteSource
        init(_ source: ByteSource) { self.source = source }
    }

    private let state: State
    private let threadsDone = DispatchSemaphore(value: 0)
    private let threadCount: Int
    /// Values per record: the projection's keys.
    let width: Int

    /// - Parameters:
    ///   - source: not used by anyone else from now on; it is read on another thread.
    ///   - parsers: parser threads (at least 1).
    ///   - consumers: the cursors that will read the scan (each must be made with `Cursor(_:slots:)`).
    init(_ source: ByteSource, projection: FieldProjection, displayPath: String, maxLineLength: Int, parsers: Int,
         chunkBytes: Int = 1 << 20, consumers: Int = 1) {
        width = projection.keys.count
        let parsers = max(1, parsers)
        threadCount = parsers + 1
        state = State(consumers: consumers)
        let state = state, done = threadsDone, box = SourceBox(source)
        let maxInFlight = parsers + 2
        let chunkBytes = max(1, chunkBytes)

        let reader = Thread {
            defer { done.signal() }
            Self.readChunks(box.source, state, chunkBytes: chunkBytes, maxLineLength: maxLineLength, maxInFlight: maxInFlight)
        }
        reader.name = "agentshop.scan-read"
        reader.start()
        for _ in 0..<parsers {
            let parser = Thread {
                defer { done.signal() }
                Self.parseChunks(state, projection: projection, displayPath: displayPath, maxLineLength: maxLineLength)
            }
            parser.name = "agentshop.scan-parse"
            parser.start()
        }
    }

    deinit {
        state.lock.lock()
        state.stopped = true
        state.lock.broadcast()
        state.lock.unlock()
        for _ in 0..<threadCount { threadsDone.wait() }  // no thread touches the state or the source any more
        for entry in state.pending { if case .bytes(let buffer, _) = entry.chunk { buffer.deallocate() } }
        for buffer in state.freeBuffers { buffer.deallocate() }
    }

    /// One consumer of a scan: its records, in order, with its own fields.
    final class Cursor {
        private let scan: ProjectedScan
        /// For each of the consumer's fields, its slot in the scan's projection.
        private let slots: [Int]
        /// The chunk the consumer takes next.
        private var nextChunk = 0
        private var batch: Batch?
        private var record = 0
        private var reject = 0
        /// Lines in the chunks already passed.
        private var baseLine = 0

        /// - Parameter slots: for each of the consumer's fields, its slot in `scan`'s projection.
        init(_ scan: ProjectedScan, slots: [Int]) {
            self.scan = scan
            self.slots = slots
        }

        /// A scan of its own.
        convenience init(_ source: ByteSource, projection: FieldProjection, displayPath: String, maxLineLength: Int,
                         parsers: Int, chunkBytes: Int = 1 << 20) {
            self.init(ProjectedScan(source, projection: projection, displayPath: displayPath, maxLineLength: maxLineLength,
                                    parsers: parsers, chunkBytes: chunkBytes),
                      slots: Array(projection.keys.indices))
        }

        deinit { scan.leave(from: nextChunk) }

        /// The next record's values into `values`, with its 1-based line in the input; false at the
        /// end. A rejected line throws its `RejectedRecord` (reading goes on after it with the next
        /// call); a source error throws once the lines before it have been handed out.
        func next(into values: UnsafeMutableBufferPointer<JSONValue>, line: inout Int) throws -> Bool {
            while true {
                if let batch {
                    if reject < batch.rejects.count && batch.rejects[reject].before == record {
                        var rejected = batch.rejects[reject].rejected
                        reject += 1
                        rejected.line += baseLine
                        line = rejected.line
                        throw rejected
                    }
                    if record < batch.lines.count {
                        let start = record * scan.width
                        batch.values.withUnsafeBufferPointer { source in
                            slots.withUnsafeBufferPointer { slots in
                                for k in slots.indices { values[k] = source[start + slots[k]] }
                            }
                        }
                        line = baseLine + batch.lines[record]
                        record += 1
                        return true
                    }
                    baseLine += batch.lineCount
                    self.batch = nil
                }
                guard let taken = try scan.take(nextChunk) else { return false }
                nextChunk += 1
                batch = taken
                record = 0
                reject = 0
            }
        }
    }

    /// Chunk `seq`'s batch, once parsed; nil at the end.
    private func take(_ seq: Int) throws -> Batch? {
        if Task.isCancelled { throw CancellationError() }
        let state = state
        state.lock.lock()
        defer { state.lock.unlock() }
        while true {
            if let entry = state.parsed[seq] {
                if entry.takers > 1 {
                    state.parsed[seq] = (entry.batch, entry.takers - 1)
                } else {
                    state.parsed[seq] = nil
                    state.inFlight -= 1
                    state.lock.broadcast()
                }
                return entry.batch
            }
            if let total = state.total, seq >= total {
                if let failure = state.failure { throw failure }
                return nil
            }
            if Task.isCancelled { throw CancellationError() }
            state.lock.wait()
        }
    }

    /// A consumer stops reading, before chunk `seq`: the chunks from there on no longer wait for it.
    private func leave(from seq: Int) {
        let state = state
        state.lock.lock()
        defer { state.lock.unlock() }
        state.consumers -= 1
        for (k, entry) in state.parsed where k >= seq {
            if entry.takers > 1 {
                state.parsed[k] = (entry.batch, entry.takers - 1)
            } else {
                state.parsed[k] = nil
                state.inFlight -= 1
            }
        }
        if state.consumers <= 0 { state.stopped = true }
        state.lock.broadcast()
    }

    // MARK: - The reader thread

    private static func readChunks(_ source: ByteSource, _ state: State, chunkBytes: Int, maxLineLength: Int, maxInFlight: Int) {
        var seq = 0
        /// The start of a line carried over from the previous chunk.
        var carry: [UInt8] = []
        var discarding = false
        func publish(_ chunk: Chunk) -> Bool {
            state.lock.lock()
            defer { state.lock.unlock() }
            if state.stopped {
                if case .bytes(let buffer, _) = chunk { state.freeBuffers.append(buffer) }
                return false
            }
            state.pending.append((seq, chunk))
            seq += 1
            state.inFlight += 1
            state.lock.broadcast()
            return true
        }
        func end(_ failure: Error?) {
            state.lock.lock()
            state.failure = failure
            state.total = seq
            state.lock.broadcast()
            state.lock.unlock()
        }
        /// A free buffer of at least `size` bytes, once fewer than `maxInFlight` chunks are out; nil when stopped.
        func buffer(_ size: Int) -> UnsafeMutableRawBufferPointer? {
            state.lock.lock()
            defer { state.lock.unlock() }
            while state.inFlight >= maxInFlight && !state.stopped { state.lock.wait() }
            if state.stopped { return nil }
            if let i = state.freeBuffers.firstIndex(where: { $0.count >= size }) { return state.freeBuffers.remove(at: i) }
            return .allocate(byteCount: size, alignment: 16)
        }
        func giveBack(_ buffer: UnsafeMutableRawBufferPointer) {
            state.lock.lock()
            state.freeBuffers.append(buffer)
            state.lock.unlock()
        }

        var size = chunkBytes
        while true {
            guard let chunk = buffer(max(size, carry.count + 1)) else { return }
            var filled = carry.count
            if filled > 0 { carry.withUnsafeBytes { chunk.baseAddress!.copyMemory(from: $0.baseAddress!, byteCount: filled) } }
            carry.removeAll(keepingCapacity: true)
            var ended = false
            var failure: Error?
            do {
                while filled < chunk.count {
                    let n = try source.read(into: UnsafeMutableRawBufferPointer(rebasing: chunk[filled...]))
                    if n == 0 { ended = true; break }
                    filled += n
                    // Keep a chunk small enough to be parsed in turn, but not a tiny one.
                    if filled >= size { break }
                }
            } catch {
                failure = error
            }
            let base = chunk.baseAddress!
            if discarding {
                // The rest of an over-long line: pass it over, up to and including its line feed.
                var skip = filled
                if let newline = memchr(base, 0x0A, filled) {
                    skip = base.distance(to: newline) + 1
                    discarding = false
                }
                if skip < filled { base.copyMemory(from: base + skip, byteCount: filled - skip) }
                filled -= skip
            }
            // Cut after the last line feed (a line is a few hundred bytes: the scan back is short).
            var cut = filled
            while cut > 0 && chunk[cut - 1] != 0x0A { cut -= 1 }
            if failure == nil && ended { cut = filled }
            // Bytes after the cut: the start of a line, carried to the next chunk.
            if cut < filled { carry.append(contentsOf: UnsafeRawBufferPointer(start: base + cut, count: filled - cut)) }
            if cut > 0 {
                if !publish(.bytes(chunk, count: cut)) { return }
            } else {
                giveBack(chunk)
            }
            size = chunkBytes
            if carry.count > maxLineLength {
                // One line already over the limit: hand out its reject and pass over its rest.
                carry.removeAll(keepingCapacity: false)
                discarding = true
                if !publish(.overLong) { return }
            } else if cut == 0 && !carry.isEmpty && !discarding {
                // A line longer than a chunk: a bigger chunk, up to one byte past the limit.
                size = min(max(chunk.count * 2, carry.count + 1), maxLineLength + 1)
            }
            if let failure { end(failure); return }
            if ended { end(nil); return }
        }
    }

    // MARK: - The parser threads

    private static func parseChunks(_ state: State, projection: FieldProjection, displayPath: String, maxLineLength: Int) {
        let scratch = UnsafeMutableBufferPointer<JSONValue>.allocate(capacity: projection.keys.count)
        scratch.initialize(repeating: .null)
        defer {
            _ = scratch.deinitialize()
            scratch.deallocate()
        }
        while true {
            state.lock.lock()
            while state.pending.isEmpty && state.total == nil && !state.stopped { state.lock.wait() }
            if state.stopped || state.pending.isEmpty {
                state.lock.unlock()
                return
            }
            let (seq, chunk) = state.pending.removeFirst()
            state.lock.unlock()

            let batch = Batch()
            switch chunk {
            case .overLong:
                batch.lineCount = 1
                batch.rejects.append((0, overLongReject(displayPath, line: 1, maxLineLength)))
            case .bytes(let buffer, let count):
                parse(UnsafeRawBufferPointer(rebasing: buffer[..<count]), first: seq == 0, projection, scratch,
                      displayPath: displayPath, maxLineLength: maxLineLength, into: batch)
            }

            state.lock.lock()
            if case .bytes(let buffer, _) = chunk { state.freeBuffers.append(buffer) }
            if state.consumers > 0 { state.parsed[seq] = (batch, state.consumers) } else { state.inFlight -= 1 }
            state.lock.broadcast()
            state.lock.unlock()
        }
    }

    static func overLongReject(_ displayPath: String, line: Int, _ maxLineLength: Int) -> RejectedRecord {
        RejectedRecord(file: displayPath, line: line, reason: "the line is longer than \(maxLineLength) bytes", raw: "")
    }

    /// Parses the lines of one chunk, as `RecordReader.next(projecting:into:)` does line by line.
    private static func parse(_ bytes: UnsafeRawBufferPointer, first: Bool, _ projection: FieldProjection,
                              _ scratch: UnsafeMutableBufferPointer<JSONValue>, displayPath: String, maxLineLength: Int,
                              into batch: Batch) {
        let width = projection.keys.count
        let base = bytes.baseAddress!
        var position = 0
        var line = 0
        batch.values.reserveCapacity(width * (bytes.count / 128 + 1))
        batch.lines.reserveCapacity(bytes.count / 128 + 1)
        while position < bytes.count {
            let end = memchr(base + position, 0x0A, bytes.count - position).map { base.distance(to: UnsafeRawPointer($0)) } ?? bytes.count
            let lineStart = position
            position = end + 1
            line += 1
            if end - lineStart > maxLineLength {
                batch.rejects.append((batch.lines.count, overLongReject(displayPath, line: line, maxLineLength)))
                continue
            }
            var stop = end
            if stop > lineStart && bytes[stop - 1] == 0x0D { stop -= 1 }
            var text = UnsafeRawBufferPointer(rebasing: bytes[lineStart..<stop])
            if text.allSatisfy({ $0 == 0x20 || $0 == 0x09 }) { continue }
            if first && line == 1, text.starts(with: [0xEF, 0xBB, 0xBF]) {  // a UTF-8 byte order mark
                text = UnsafeRawBufferPointer(rebasing: text[3...])
            }
            let reason: String?
            do {
                reason = try JSONParser.parseProjected(text, projection, into: scratch) ? nil : "expected a JSON object"
            } catch {
                reason = "invalid JSON: \(error)"
            }
            if let reason {
                batch.rejects.append((batch.lines.count, RejectedRecord(file: displayPath, line: line, reason: reason,
                                                                        raw: String(decoding: text.prefix(64 * 1024), as: UTF8.self))))
                continue
            }
            batch.values.append(contentsOf: scratch)
            batch.lines.append(line)
        }
        // A chunk ends with a line feed (or at the end of input): the line count is the lines seen.
        batch.lineCount = line
    }
}
