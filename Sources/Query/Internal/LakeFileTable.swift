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

    init(files: [LakePath], columns: [SQLColumn], policy: MalformedPolicy, inferCSVTypes: Bool) {
        self.files = files
        self.columns = columns
        self.policy = policy
        self.inferCSVTypes = inferCSVTypes
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

/// A scan of one table: the files in order, each record's used fields projected.
final class LakeFileCursor {
    let table: LakeFileTable
    private var fileIndex = 0
    private var reader: RecordReader?
    private var projection = FieldProjection(keys: [])
    /// For each column, its slot in `values`, or -1 when the scan does not read it.
    private(set) var slots: [Int] = []
    var values: [JSONValue] = []
    private(set) var rowid: Int64 = 0
    private(set) var atEnd = true

    init(table: LakeFileTable) { self.table = table }

    func start() throws {
        var keys: [String] = []
        slots = []
        for (index, column) in table.columns.enumerated() {
            if table.isUsed(index) {
                slots.append(keys.count)
                keys.append(column.name)
            } else {
                slots.append(-1)
            }
        }
        projection = FieldProjection(keys: keys)
        values = Array(repeating: .null, count: keys.count)
        fileIndex = 0
        reader = nil
        rowid = 0
        atEnd = false
        table.scans += 1
        try advance()
    }

    func advance() throws {
        while true {
            if reader == nil {
                guard fileIndex < table.files.count else { atEnd = true; return }
                let file = table.files[fileIndex]
                guard let type = RecordFileType(path: file.relative) else {
                    throw QueryError("cannot tell the format of \(file.relative): name it .csv, .jsonl or .ndjson (optionally .gz)")
                }
                // Rejects were reported when the columns were inferred: a scan passes over them.
                reader = try RecordReader(path: file.absolute, displayPath: file.relative, type: type, policy: table.policy,
                                          inferTypes: table.inferCSVTypes) { _ in }
            }
            if try reader!.next(projecting: projection, into: &values) {
                rowid += 1
                if rowid & 0x3FFF == 0 { try Task.checkCancellation() }
                return
            }
            reader = nil
            fileIndex += 1
        }
    }

    /// Column `index` of the current record, as the copying loader would have stored it.
    func value(_ index: Int) -> SQLValue {
        let slot = slots[index]
        return slot < 0 ? .null : table.columns[index].type.sqlValue(values[slot])
    }
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
