import Foundation

/// Lets the stages of one run that read the same JSONL file at the same time read it once: one
/// thread gunzips it, the parser threads build the fields any of them needs (the union of their
/// projections), and each stage gets its records, rejects, line numbers and errors exactly as
/// from a scan of its own (`ProjectedScan`). A corrupt file fails every stage that reads it; a
/// stage that stops early (its own error, cancellation) leaves the scan to the others.
///
/// The engine says which stage will read which files before the stages start (`expect`), and
/// `release`s each stage when it ends, whatever the outcome. A scan starts once every stage
/// expected to read its file has joined it or ended; a stage that comes to the file later reads
/// it on its own. So that no stage waits long on one that is busy elsewhere (reading its files
/// in another order, say), a scan also starts when every stage still running is waiting for a
/// scan, or once its first reader has waited `patience`: sharing saves work, it never changes
/// what a stage reads.
public final class SharedScans: @unchecked Sendable {
    /// What must match for two readers to share a scan, besides the file.
    private struct Settings: Equatable {
        let displayPath: String
        let maxLineLength: Int
        let chunkBytes: Int
    }

    /// A scan gathering its readers.
    private final class Gathering {
        let settings: Settings
        let since = Date()
        var joiners: [(reader: String, projection: FieldProjection, source: ByteSource, parsers: Int)] = []
        /// Each joiner's cursor, once the scan has started, until the joiner takes it.
        var cursors: [String: ProjectedScan.Cursor]?
        init(_ settings: Settings) { self.settings = settings }
    }

    private let lock = NSCondition()
    private let patience: TimeInterval
    /// For each file, the readers expected to read it that have not joined a scan of it yet.
    private var expected: [String: Set<String>] = [:]
    /// Readers expected and not released.
    private var running: Set<String> = []
    /// Readers waiting for a scan to start.
    private var waiting: Set<String> = []
    private var gathering: [String: Gathering] = [:]
    private var shared = 0

    /// Scans read for more than one reader so far (for the run log).
    public var scansShared: Int {
        lock.lock()
        defer { lock.unlock() }
        return shared
    }

    /// - Parameter patience: how long a reader waits at most for the others before its scan starts.
    public init(patience: TimeInterval = 1) {
        self.patience = patience
    }

    /// `reader` (a stage) is about to start and will read `files` (absolute paths).
    public func expect(_ reader: String, files: [String]) {
        guard !files.isEmpty else { return }
        lock.lock()
        defer { lock.unlock() }
        running.insert(reader)
        for file in files { expected[file, default: []].insert(reader) }
    }

    /// `reader` has ended: no scan waits for it any more.
    public func release(_ reader: String) {
        lock.lock()
        defer { lock.unlock() }
        guard running.remove(reader) != nil else { return }
        for file in Array(expected.keys) {
            expected[file]?.remove(reader)
            if expected[file]?.isEmpty == true { expected[file] = nil }
        }
        lock.broadcast()
    }

    /// `reader`'s cursor over the JSONL in `source` (the file at `path`): a share of a scan with
    /// the other readers expected to read the file, or a scan of its own. Waits until the scan starts.
    func cursor(path: String, reader: String, source: ByteSource, projection: FieldProjection, displayPath: String,
                maxLineLength: Int, parsers: Int, chunkBytes: Int) throws -> ProjectedScan.Cursor {
        func own() -> ProjectedScan.Cursor {
            ProjectedScan.Cursor(source, projection: projection, displayPath: displayPath, maxLineLength: maxLineLength,
                                 parsers: parsers, chunkBytes: chunkBytes)
        }
        let settings = Settings(displayPath: displayPath, maxLineLength: maxLineLength, chunkBytes: chunkBytes)
        lock.lock()
        defer { lock.unlock() }
        guard expected[path]?.remove(reader) != nil else { return own() }
        if expected[path]?.isEmpty == true { expected[path] = nil }
        let scan: Gathering
        if let current = gathering[path] {
            guard current.settings == settings else { return own() }
            scan = current
        } else {
            guard expected[path] != nil else { return own() }  // nobody else will read it
            scan = Gathering(settings)
            gathering[path] = scan
        }
        scan.joiners.append((reader, projection, source, parsers))
        waiting.insert(reader)
        defer { waiting.remove(reader) }
        lock.broadcast()
        while true {
            if let cursor = scan.cursors?.removeValue(forKey: reader) { return cursor }
            if expected[path] == nil || running.isSubset(of: waiting) || Date().timeIntervalSince(scan.since) >= patience {
                start(scan)
                if gathering[path] === scan { gathering[path] = nil }
                lock.broadcast()
                continue
            }
            if Task.isCancelled {
                scan.joiners.removeAll { $0.reader == reader }
                if scan.joiners.isEmpty, gathering[path] === scan { gathering[path] = nil }
                lock.broadcast()
                throw CancellationError()
            }
            // Woken by the others; the deadline and cancellation are looked at now and then.
            lock.wait(until: min(scan.since.addingTimeInterval(patience), Date().addingTimeInterval(0.1)))
        }
    }

    /// One scan for every joiner, over the union of their fields.
    private func start(_ scan: Gathering) {
        let union = FieldProjection(keys: scan.joiners.flatMap(\.projection.keys))
        let engine = ProjectedScan(scan.joiners[0].source, projection: union, displayPath: scan.settings.displayPath,
                                   maxLineLength: scan.settings.maxLineLength, parsers: scan.joiners.map(\.parsers).max()!,
                                   chunkBytes: scan.settings.chunkBytes, consumers: scan.joiners.count)
        var cursors: [String: ProjectedScan.Cursor] = [:]
        for joiner in scan.joiners {
            cursors[joiner.reader] = ProjectedScan.Cursor(engine, slots: joiner.projection.keys.map { union.slot(of: $0) })
        }
        scan.cursors = cursors
        if cursors.count > 1 { shared += 1 }
        scan.joiners = []  // the other sources are closed: the scan reads the first
    }
}
