// Every call into the SQLite C library that Query makes lives in this file: a virtual table
// module that streams lake record files (JSONL/CSV, gzip or not) into a query, reading only the
// columns the query uses, instead of copying every column of every record into a table first.
internal import CSQLite
import Foundation
import Lake
import Store

/// One lake dataset declared as a virtual table: its files and inferred columns.
final class LakeFileTable {
    let files: [LakePath]
    let columns: [SQLColumn]
    let policy: MalformedPolicy
    let inferCSVTypes: Bool
    /// Columns any plan of any query asked for (SQLite's `colUsed`; bit 63 stands for every
    /// column from the 64th on). A union over plans: a scan reads at most these.
    var usedColumns: UInt64 = 0
    /// The first error a scan raised, thrown again by the loader instead of SQLite's rendering of it.
    var error: Error?
    /// Full scans so far (a test checks that a query reads the files once).
    var scans = 0
    /// The columns come from a survey of each file's first records only (`SQLiteLoader.surveyPrefix`):
    /// a query trusts the types of the columns it reads only once its own scan has seen every value.
    let provisional: Bool
    /// Where a provisional table's rejects go once a query's scan has found them (a survey hands
    /// them over as it finds them).
    let onReject: (RejectedRecord) throws -> Void
    /// The rejects of a provisional table were handed to `onReject` (once per table).
    var rejectsReported = false
    /// What the last scan that read every file to its end saw; nil until one has.
    var completedScan: CompletedScan?
    /// Keys a provisional table's scan looks out for (names a query would read, were they columns).
    var watch: KeyWatch?

    /// A scan's view of the whole files: for each column it read, the type its values widen to
    /// (nil: only nulls), its records and its rejects, and whether it read a key of `watch`.
    struct CompletedScan {
        var types: [Int: SQLColumnType?]
        var rows: Int
        var rejects: [RejectedRecord]
        var watchedKeySeen = false

        /// Whether every column read holds the type `columns` declare for it: the type a survey of
        /// the whole files would have given it (only nulls: text).
        func agrees(with columns: [SQLColumn]) -> Bool {
            types.allSatisfy { index, type in (type ?? .text) == columns[index].type }
        }
    }

    init(files: [LakePath], columns: [SQLColumn], policy: MalformedPolicy, inferCSVTypes: Bool,
         provisional: Bool = false, onReject: @escaping (RejectedRecord) throws -> Void = { _ in }) {
        self.files = files
        self.columns = columns
        self.policy = policy
        self.inferCSVTypes = inferCSVTypes
        self.provisional = provisional
        self.onReject = onReject
    }

    func isUsed(_ column: Int) -> Bool { usedColumns & (column < 63 ? 1 << UInt64(column) : 1 << 63) != 0 }
}

/// The tables a connection's module can hand out, by the argument of `CREATE VIRTUAL TABLE … USING
/// agentshop_lake_file(id)`. The module's client data: released by SQLite when the connection closes.
final class LakeFileTables {
    static let moduleName = "agentshop_lake_file"
    var tables: [String: LakeFileTable] = [:]

    /// Registers the module on `database` with a new registry.
    static func register(on database: Database) throws -> LakeFileTables {
        let registry = LakeFileTables()
        let context = Unmanaged.passRetained(registry).toOpaque()
        let rc = sqlite3_create_module_v2(database.connectionHandle, moduleName, lakeFileModule, context) { context in
            if let context { Unmanaged<LakeFileTables>.fromOpaque(context).release() }
        }
        guard rc == SQLITE_OK else {
            // SQLite calls the destructor when registration fails.
            throw QueryError("cannot register the lake file table module (SQLite result code \(rc))")
        }
        return registry
    }
}

/// A scan of one table: the files in order, each record's used fields projected. The files are
/// read and parsed on a thread of their own (`ProjectedRecordFeed`), a batch of records ahead of
/// SQLite, which meanwhile converts, filters, sorts and aggregates them: two cores on one query.
final class LakeFileCursor {
    let table: LakeFileTable
    // SQLite asks for each value of each record here, from one thread, one call at a time: the
    // state read per value is not checked for exclusive access at run time.
    private var feed: ProjectedRecordFeed?
    @exclusivity(unchecked) private var batch = ProjectedRecordFeed.Batch(width: 0)
    /// The current record in `batch`, and its first value in `batch.values`.
    @exclusivity(unchecked) private var position = 0
    @exclusivity(unchecked) private var offset = 0
    @exclusivity(unchecked) private var width = 0
    /// For each column, its slot among the projected values, or -1 when the scan does not read it.
    @exclusivity(unchecked) private(set) var slots: [Int] = []
    @exclusivity(unchecked) private var types: [SQLColumnType] = []
    @exclusivity(unchecked) private(set) var rowid: Int64 = 0
    @exclusivity(unchecked) private(set) var atEnd = true

    init(table: LakeFileTable) { self.table = table }

    func start() throws {
        var keys: [String] = []
        slots = []
        for (index, column) in table.columns.enumerated() {
            if table.isUsed(index) {
                slots.append(keys.count)
                keys.append(column.key)
            } else {
                slots.append(-1)
            }
        }
        types = table.columns.map(\.type)
        feed = nil  // a scan started again: the previous reader stops first
        width = keys.count
        feed = ProjectedRecordFeed(table: table, projection: FieldProjection(keys: keys, watch: table.watch))
        batch = ProjectedRecordFeed.Batch(width: width)
        position = 0
        offset = 0
        rowid = 0
        atEnd = false
        table.scans += 1
        table.completedScan = nil
        try advance()
    }

    func advance() throws {
        position += 1
        if position >= batch.count {
            guard let feed, let next = try feed.next(recycling: batch) else {
                if let outcome = feed?.outcome {
                    var types: [Int: SQLColumnType?] = [:]
                    for (index, slot) in slots.enumerated() where slot >= 0 { types[index] = outcome.types[slot] }
                    table.completedScan = LakeFileTable.CompletedScan(types: types, rows: outcome.rows, rejects: outcome.rejects,
                                                                      watchedKeySeen: table.watch?.seen ?? false)
                }
                atEnd = true
                self.feed = nil
                return
            }
            batch = next
            position = 0
        }
        offset = position * width
        rowid += 1
        if rowid & 0x3FFF == 0 { try Task.checkCancellation() }
    }

    /// Column `index` of the current record, as the copying loader would have stored it.
    func value(_ index: Int) -> SQLValue {
        let slot = slots[index]
        return slot < 0 ? .null : types[index].sqlValue(batch.values[offset + slot])
    }
}

/// Reads a table's files on its own thread into batches of projected records, a few batches ahead
/// of the scan; errors come out of `next` in order, after the records before them. Dropping it
/// stops the thread (a LIMIT reached, a query interrupted) and waits for it.
final class ProjectedRecordFeed {
    /// Records in a row: `count` records of `width` values each.
    /// The values sit in fixed memory (no array, no exclusivity check per access): the scan
    /// reads a few of them per record on SQLite's side, the reader writes them on its own.
    final class Batch: @unchecked Sendable {
        let values: UnsafeMutableBufferPointer<JSONValue>
        var count = 0
        init(width: Int) {
            values = .allocate(capacity: max(1, width * ProjectedRecordFeed.batchSize))
            values.initialize(repeating: .null)
        }
        deinit {
            values.deinitialize()
            values.deallocate()
        }
    }

    private final class State: @unchecked Sendable {
        let lock = NSCondition()
        var ready: [Batch] = []
        var spare: [Batch] = []
        var failure: Error?
        var finished = false
        var stopped = false
        var outcome: Outcome?
    }

    /// What a scan that read every file to its end saw: for each projected key the type its values
    /// widen to (nil: only nulls), the records and the rejects (`skip`), in order.
    struct Outcome {
        var types: [SQLColumnType?]
        var rows: Int
        var rejects: [RejectedRecord]
    }

    private final class RejectList {
        var items: [RejectedRecord] = []
    }

    /// Records per batch, and batches read ahead at most.
    static let batchSize = 2048
    static let depth = 4

    private let state = State()
    private let done = DispatchSemaphore(value: 0)

    init(table: LakeFileTable, projection: FieldProjection) {
        let state = state, done = done
        let files = table.files, policy = table.policy, inferTypes = table.inferCSVTypes
        // Only a provisional table's scan confirms its types and reports its rejects.
        let observing = table.provisional
        let width = projection.keys.count
        let thread = Thread {
            defer { done.signal() }
            // Hands a full batch over; false when the scan has stopped.
            func deliver(_ batch: Batch) -> Bool {
                state.lock.lock()
                defer { state.lock.unlock() }
                state.ready.append(batch)
                state.lock.broadcast()
                while state.ready.count >= Self.depth && !state.stopped { state.lock.wait() }
                return !state.stopped
            }
            func emptyBatch() -> Batch {
                state.lock.lock()
                let batch = state.spare.popLast() ?? Batch(width: width)
                state.lock.unlock()
                batch.count = 0
                return batch
            }
            var failure: Error?
            var batch = emptyBatch()
            var count = 0  // records in `batch`
            // The types, records and rejects of the whole files, for a table whose columns were
            // inferred from a prefix (a table surveyed whole reported its rejects then).
            var types = [SQLColumnType?](repeating: nil, count: width)
            var rows = 0
            let rejects = RejectList()
            var outcome: Outcome?
            var stoppedEarly = false
            do {
                var record = Array(repeating: JSONValue.null, count: width)
                reading: for file in files {
                    guard let type = RecordFileType(path: file.relative) else {
                        throw QueryError("cannot tell the format of \(file.relative): name it .csv, .jsonl or .ndjson (optionally .gz)")
                    }
                    // JSONL is read (and gunzipped) on one thread and parsed on one per core, ahead of
                    // SQLite on this one: the records and rejects come in input order as from one.
                    let reader = try RecordReader(path: file.absolute, displayPath: file.relative, type: type, policy: policy,
                                                  inferTypes: inferTypes, readAhead: true,
                                                  parseThreads: ProcessInfo.processInfo.activeProcessorCount) { bad in
                        if observing { rejects.items.append(bad) }
                    }
                    defer { rows += reader.recordCount }
                    while try reader.next(projecting: projection, into: &record) {
                        let values = batch.values, base = count * width
                        for k in 0..<width { values[base + k] = record[k] }
                        if observing {
                            for k in 0..<width {
                                if let type = SQLColumnType.of(record[k]), types[k] != type {
                                    types[k] = types[k].map { $0.widened(with: type) } ?? type
                                }
                            }
                        }
                        count += 1
                        if count == Self.batchSize {
                            batch.count = count
                            let more = deliver(batch)
                            batch = emptyBatch()
                            count = 0
                            guard more else {
                                stoppedEarly = true
                                break reading
                            }
                        }
                    }
                }
                // Every file read to its end (not stopped early by a LIMIT).
                if !stoppedEarly { outcome = Outcome(types: types, rows: 0, rejects: rejects.items) }
            } catch {
                failure = error
            }
            outcome?.rows = rows
            // The records read before an error come out before it.
            if count > 0 {
                batch.count = count
                _ = deliver(batch)
            }
            state.lock.lock()
            state.failure = failure
            state.outcome = outcome
            state.finished = true
            state.lock.broadcast()
            state.lock.unlock()
        }
        thread.name = "agentshop.scan"
        thread.start()
    }

    deinit {
        state.lock.lock()
        state.stopped = true
        state.lock.broadcast()
        state.lock.unlock()
        done.wait()  // the thread no longer reads the files
    }

    /// What the scan saw, once it has read every file to its end (after `next` returned nil).
    var outcome: Outcome? {
        state.lock.lock()
        defer { state.lock.unlock() }
        return state.outcome
    }

    /// The next batch, or nil at the end; throws the reader's error after the records before it.
    /// `recycling` is a batch the caller is done with, reused for later records.
    func next(recycling used: Batch) throws -> Batch? {
        state.lock.lock()
        defer { state.lock.unlock() }
        if used.count > 0 { state.spare.append(used) }
        while state.ready.isEmpty && !state.finished { state.lock.wait() }
        if state.ready.isEmpty {
            if let failure = state.failure { throw failure }
            return nil
        }
        let batch = state.ready.removeFirst()
        state.lock.broadcast()
        return batch
    }
}

/// The columns a statement reads, table by table, as SQLite's authorizer names them while it compiles
/// the statement (a `*` names every column of its tables), and whether the statement does anything
/// but read tables and call functions (a pragma reads a table's declaration).
final class StatementReads {
    /// Table name (lowercased) → the column names read.
    var columns: [String: Set<String>] = [:]
    var other = false

    /// Compiles `sql` on `database` with the authorizer recording what it reads.
    static func prepare(_ sql: String, on database: Database) throws -> (Statement, StatementReads) {
        let reads = StatementReads()
        let context = Unmanaged.passRetained(reads)
        let handle = database.connectionHandle
        sqlite3_set_authorizer(handle, recordRead, context.toOpaque())
        defer {
            sqlite3_set_authorizer(handle, nil, nil)
            context.release()
        }
        return (try database.prepareSingle(sql), reads)
    }
}

nonisolated(unsafe) private let recordRead: @convention(c) (UnsafeMutableRawPointer?, Int32, UnsafePointer<CChar>?, UnsafePointer<CChar>?,
                                                             UnsafePointer<CChar>?, UnsafePointer<CChar>?) -> Int32 = { context, action, first, second, _, _ in
    guard let context else { return SQLITE_OK }
    let reads = Unmanaged<StatementReads>.fromOpaque(context).takeUnretainedValue()
    switch action {
    case SQLITE_READ:
        if let first, let second { reads.columns[String(cString: first).lowercased(), default: []].insert(String(cString: second)) }
    case SQLITE_SELECT, SQLITE_FUNCTION, SQLITE_RECURSIVE:
        break
    default:
        reads.other = true
    }
    return SQLITE_OK
}

// MARK: - The module's C entry points

/// SQLite's structs followed by one retained Swift object: SQLite only ever sees the struct.
private func allocateOwned<T>(_ type: T.Type, zeroed value: T, owner: AnyObject) -> UnsafeMutablePointer<T> {
    let size = MemoryLayout<T>.stride
    let raw = UnsafeMutableRawPointer.allocate(byteCount: size + MemoryLayout<UnsafeMutableRawPointer>.stride, alignment: 16)
    let typed = raw.bindMemory(to: T.self, capacity: 1)
    typed.initialize(to: value)
    (raw + size).storeBytes(of: Unmanaged.passRetained(owner).toOpaque(), as: UnsafeMutableRawPointer.self)
    return typed
}

private func owner<T, O: AnyObject>(_ pointer: UnsafeMutablePointer<T>, as: O.Type) -> O {
    let opaque = (UnsafeMutableRawPointer(pointer) + MemoryLayout<T>.stride).load(as: UnsafeMutableRawPointer.self)
    return Unmanaged<O>.fromOpaque(opaque).takeUnretainedValue()
}

private func deallocate<T, O: AnyObject>(_ pointer: UnsafeMutablePointer<T>, owner: O.Type) {
    let opaque = (UnsafeMutableRawPointer(pointer) + MemoryLayout<T>.stride).load(as: UnsafeMutableRawPointer.self)
    Unmanaged<O>.fromOpaque(opaque).release()
    pointer.deinitialize(count: 1)
    UnsafeMutableRawPointer(pointer).deallocate()
}

/// `text` in memory SQLite owns (it frees error messages with sqlite3_free).
private func sqliteString(_ text: String) -> UnsafeMutablePointer<CChar>? {
    let bytes = Array(text.utf8CString)
    guard let memory = sqlite3_malloc(Int32(bytes.count)) else { return nil }
    let out = memory.bindMemory(to: CChar.self, capacity: bytes.count)
    out.update(from: bytes, count: bytes.count)
    return out
}

private func fail(_ cursor: UnsafeMutablePointer<sqlite3_vtab_cursor>, _ error: Error) -> Int32 {
    let state = owner(cursor, as: LakeFileCursor.self)
    if state.table.error == nil { state.table.error = error }
    if let vtab = cursor.pointee.pVtab {
        sqlite3_free(vtab.pointee.zErrMsg)
        vtab.pointee.zErrMsg = sqliteString("\(error)")
    }
    return SQLITE_ERROR
}

nonisolated(unsafe) private let lakeFileConnect: @convention(c) (OpaquePointer?, UnsafeMutableRawPointer?, Int32, UnsafePointer<UnsafePointer<CChar>?>?,
                                     UnsafeMutablePointer<UnsafeMutablePointer<sqlite3_vtab>?>?,
                                     UnsafeMutablePointer<UnsafeMutablePointer<CChar>?>?) -> Int32 = { db, context, argc, argv, table, error in
    guard let context, let argv, argc >= 4, let argument = argv[3] else { return SQLITE_ERROR }
    let registry = Unmanaged<LakeFileTables>.fromOpaque(context).takeUnretainedValue()
    guard let source = registry.tables[String(cString: argument)] else {
        error?.pointee = sqliteString("no lake dataset is registered as \(String(cString: argument))")
        return SQLITE_ERROR
    }
    // Record keys are data, not configuration: any text is a valid column name once quoted.
    let definitions = source.columns.isEmpty
        ? "\"_empty\" TEXT"  // SQLite wants at least one column; an empty input has no keys
        : source.columns.map { SQLLiteral.quoteName($0.name) + " " + $0.type.declaration }.joined(separator: ", ")
    let rc = sqlite3_declare_vtab(db, "CREATE TABLE x (\(definitions))")
    guard rc == SQLITE_OK else { return rc }
    table?.pointee = allocateOwned(sqlite3_vtab.self, zeroed: sqlite3_vtab(), owner: source)
    return SQLITE_OK
}

nonisolated(unsafe) private let lakeFileDisconnect: @convention(c) (UnsafeMutablePointer<sqlite3_vtab>?) -> Int32 = { vtab in
    if let vtab {
        sqlite3_free(vtab.pointee.zErrMsg)
        deallocate(vtab, owner: LakeFileTable.self)
    }
    return SQLITE_OK
}

nonisolated(unsafe) private let lakeFileBestIndex: @convention(c) (UnsafeMutablePointer<sqlite3_vtab>?, UnsafeMutablePointer<sqlite3_index_info>?) -> Int32 = { vtab, info in
    guard let vtab, let info else { return SQLITE_ERROR }
    let table = owner(vtab, as: LakeFileTable.self)
    table.usedColumns |= info.pointee.colUsed
    // Every plan is a full scan; its cost grows with the files so that SQLite keeps it outermost.
    info.pointee.estimatedCost = 1_000_000
    info.pointee.estimatedRows = 1_000_000
    return SQLITE_OK
}

nonisolated(unsafe) private let lakeFileOpen: @convention(c) (UnsafeMutablePointer<sqlite3_vtab>?,
                                  UnsafeMutablePointer<UnsafeMutablePointer<sqlite3_vtab_cursor>?>?) -> Int32 = { vtab, cursor in
    guard let vtab, let cursor else { return SQLITE_ERROR }
    let state = LakeFileCursor(table: owner(vtab, as: LakeFileTable.self))
    cursor.pointee = allocateOwned(sqlite3_vtab_cursor.self, zeroed: sqlite3_vtab_cursor(), owner: state)
    return SQLITE_OK
}

nonisolated(unsafe) private let lakeFileClose: @convention(c) (UnsafeMutablePointer<sqlite3_vtab_cursor>?) -> Int32 = { cursor in
    if let cursor { deallocate(cursor, owner: LakeFileCursor.self) }
    return SQLITE_OK
}

nonisolated(unsafe) private let lakeFileFilter: @convention(c) (UnsafeMutablePointer<sqlite3_vtab_cursor>?, Int32, UnsafePointer<CChar>?, Int32,
                                    UnsafeMutablePointer<OpaquePointer?>?) -> Int32 = { cursor, _, _, _, _ in
    guard let cursor else { return SQLITE_ERROR }
    do {
        try owner(cursor, as: LakeFileCursor.self).start()
        return SQLITE_OK
    } catch {
        return fail(cursor, error)
    }
}

nonisolated(unsafe) private let lakeFileNext: @convention(c) (UnsafeMutablePointer<sqlite3_vtab_cursor>?) -> Int32 = { cursor in
    guard let cursor else { return SQLITE_ERROR }
    do {
        try owner(cursor, as: LakeFileCursor.self).advance()
        return SQLITE_OK
    } catch {
        return fail(cursor, error)
    }
}

nonisolated(unsafe) private let lakeFileEOF: @convention(c) (UnsafeMutablePointer<sqlite3_vtab_cursor>?) -> Int32 = { cursor in
    guard let cursor else { return 1 }
    return owner(cursor, as: LakeFileCursor.self).atEnd ? 1 : 0
}

nonisolated(unsafe) private let lakeFileColumn: @convention(c) (UnsafeMutablePointer<sqlite3_vtab_cursor>?, OpaquePointer?, Int32) -> Int32 = { cursor, context, index in
    guard let cursor else { return SQLITE_ERROR }
    let state = owner(cursor, as: LakeFileCursor.self)
    guard index >= 0 && Int(index) < state.slots.count else {
        sqlite3_result_null(context)
        return SQLITE_OK
    }
    switch state.value(Int(index)) {
    case .null: sqlite3_result_null(context)
    case .integer(let i): sqlite3_result_int64(context, i)
    case .real(let d): sqlite3_result_double(context, d)
    case .text(var s):
        // Bound with its byte length: a NUL inside the text is data.
        s.withUTF8 { bytes in
            if let base = bytes.baseAddress, bytes.count > 0 {
                base.withMemoryRebound(to: CChar.self, capacity: bytes.count) {
                    sqlite3_result_text64(context, $0, sqlite3_uint64(bytes.count), agentshop_sqlite_transient(), UInt8(SQLITE_UTF8))
                }
            } else {
                sqlite3_result_text(context, "", 0, agentshop_sqlite_transient())
            }
        }
    case .blob(let b):
        b.withUnsafeBytes { sqlite3_result_blob64(context, $0.baseAddress, sqlite3_uint64($0.count), agentshop_sqlite_transient()) }
    }
    return SQLITE_OK
}

nonisolated(unsafe) private let lakeFileRowid: @convention(c) (UnsafeMutablePointer<sqlite3_vtab_cursor>?, UnsafeMutablePointer<sqlite3_int64>?) -> Int32 = { cursor, out in
    guard let cursor else { return SQLITE_ERROR }
    out?.pointee = owner(cursor, as: LakeFileCursor.self).rowid
    return SQLITE_OK
}

/// The module, alive as long as the process: SQLite keeps the pointer.
nonisolated(unsafe) private let lakeFileModule: UnsafeMutablePointer<sqlite3_module> = {
    var module = sqlite3_module()
    module.iVersion = 1
    module.xCreate = lakeFileConnect
    module.xConnect = lakeFileConnect
    module.xBestIndex = lakeFileBestIndex
    module.xDisconnect = lakeFileDisconnect
    module.xDestroy = lakeFileDisconnect
    module.xOpen = lakeFileOpen
    module.xClose = lakeFileClose
    module.xFilter = lakeFileFilter
    module.xNext = lakeFileNext
    module.xEof = lakeFileEOF
    module.xColumn = lakeFileColumn
    module.xRowid = lakeFileRowid
    let pointer = UnsafeMutablePointer<sqlite3_module>.allocate(capacity: 1)
    pointer.initialize(to: module)
    return pointer
}()
