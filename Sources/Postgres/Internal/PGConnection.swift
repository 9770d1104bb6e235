import Foundation
internal import CLibPQ

/// One connection to a PostgreSQL server through libpq.
///
/// Not `Sendable`: use it from one task at a time. Parameters are sent as text and cast by the server
/// (write `$1::bigint` where the type is not clear from the statement); results come back as text.
public final class PGConnection {
    public let url: PostgresURL
    private let handle: OpaquePointer
    private var transactionDepth = 0

    /// Connects to `url`. `connectTimeout` and `applicationName` apply unless the URL sets its own.
    public init(url: PostgresURL, connectTimeout: Int = 10, applicationName: String = "agentshop") throws {
        self.url = url
        // libpq is opened here, on first use, not at start: a missing one is a sentence naming the package.
        if let missing = agentshop_pq_load_error() { throw PGError(.connect, String(cString: missing), url: url.redacted) }
        // Keywords before `dbname` are defaults: the URL expanded from `dbname` overrides them.
        let keywords = ["connect_timeout", "application_name", "dbname"]
        let values = ["\(connectTimeout)", applicationName, url.conninfo]
        let connection = Self.withCStrings(keywords) { k in
            Self.withCStrings(values) { v in PQconnectdbParams(k, v, 1) }
        }
        guard let connection else { throw PGError(.connect, "out of memory", url: url.redacted) }
        guard PQstatus(connection) == CONNECTION_OK else {
            let message = Self.trimmed(PQerrorMessage(connection))
            PQfinish(connection)
            throw PGError(.connect, "cannot connect to PostgreSQL: " + message, url: url.redacted)
        }
        agentshop_pg_silence_notices(connection)
        handle = connection
    }

    /// Connects to the URL in `text` (`${VAR}` expanded from the environment).
    public convenience init(_ text: String) throws {
        try self.init(url: PostgresURL(text))
    }

    deinit { PQfinish(handle) }

    /// The server's version as a number: 150004 for 15.4.
    public var serverVersion: Int { Int(PQserverVersion(handle)) }

    /// libpq's version as a number.
    public static var libraryVersion: Int { Int(PQlibVersion()) }

    /// Runs one or more statements separated by `;`, without parameters (schema scripts).
    public func execute(_ sql: String) throws {
        _ = try Result(PQexec(handle, sql), sql: sql, connection: self)
    }

    /// Runs one statement with text parameters (`$1`, `$2`…; nil is NULL). Returns the rows affected.
    @discardableResult
    public func run(_ sql: String, _ parameters: [String?] = []) throws -> Int {
        try query(sql, parameters).affected
    }

    /// Runs one statement with text parameters and returns its rows.
    public func query(_ sql: String, _ parameters: [String?] = []) throws -> PGRows {
        let raw = Self.withOptionalCStrings(parameters) { values in
            PQexecParams(handle, sql, Int32(parameters.count), nil, values, nil, nil, 0)
        }
        return try Result(raw, sql: sql, connection: self).rows()
    }

    /// The first column of the first row, nil when there is no row or the value is NULL.
    public func scalar(_ sql: String, _ parameters: [String?] = []) throws -> String? {
        try query(sql, parameters).first?.first ?? nil
    }

    /// Runs `body` in a transaction (a savepoint when one is already open): committed when it returns,
    /// rolled back when it throws.
    public func transaction<T>(_ body: () throws -> T) throws -> T {
        let savepoint = transactionDepth > 0 ? "agentshop_sp\(transactionDepth)" : nil
        try execute(savepoint.map { "SAVEPOINT \($0)" } ?? "BEGIN")
        transactionDepth += 1
        do {
            let value = try body()
            transactionDepth -= 1
            try execute(savepoint.map { "RELEASE SAVEPOINT \($0)" } ?? "COMMIT")
            return value
        } catch {
            transactionDepth -= 1
            if let savepoint {
                try? execute("ROLLBACK TO SAVEPOINT \(savepoint); RELEASE SAVEPOINT \(savepoint)")
            } else {
                try? execute("ROLLBACK")
            }
            throw error
        }
    }

    /// Whether a transaction is open on this connection.
    public var inTransaction: Bool { PQtransactionStatus(handle) != PQTRANS_IDLE }

    /// `COPY … FROM STDIN` (text format) with `rows`, each a list of values (nil is NULL). Returns the rows copied.
    @discardableResult
    public func copy(_ sql: String, rows: some Sequence<[String?]>) throws -> Int {
        _ = try Result(PQexec(handle, sql), sql: sql, connection: self, expectCopyIn: true)
        var buffer: [UInt8] = []
        buffer.reserveCapacity(1 << 16)
        func flush() throws {
            guard !buffer.isEmpty else { return }
            let rc = buffer.withUnsafeBufferPointer { bytes in
                bytes.baseAddress!.withMemoryRebound(to: CChar.self, capacity: bytes.count) {
                    PQputCopyData(handle, $0, Int32(bytes.count))
                }
            }
            buffer.removeAll(keepingCapacity: true)
            if rc != 1 { throw PGError(.copy, Self.trimmed(PQerrorMessage(handle)), sql: sql, url: url.redacted) }
        }
        do {
            for row in rows {
                for (index, value) in row.enumerated() {
                    if index > 0 { buffer.append(0x09) }
                    guard let value else { buffer.append(contentsOf: [0x5C, 0x4E]); continue }  // \N
                    for byte in value.utf8 {
                        switch byte {
                        case 0x5C: buffer.append(contentsOf: [0x5C, 0x5C])
                        case 0x0A: buffer.append(contentsOf: [0x5C, 0x6E])
                        case 0x0D: buffer.append(contentsOf: [0x5C, 0x72])
                        case 0x09: buffer.append(contentsOf: [0x5C, 0x74])
                        default: buffer.append(byte)
                        }
                    }
                }
                buffer.append(0x0A)
                if buffer.count >= 1 << 16 { try flush() }
            }
            try flush()
        } catch {
            _ = PQputCopyEnd(handle, "aborted by the client")
            while let pending = PQgetResult(handle) { PQclear(pending) }
            throw error
        }
        guard PQputCopyEnd(handle, nil) == 1 else {
            throw PGError(.copy, Self.trimmed(PQerrorMessage(handle)), sql: sql, url: url.redacted)
        }
        var copied = 0
        var failure: (any Error)?
        while let pending = PQgetResult(handle) {
            do { copied = try Result(pending, sql: sql, connection: self).rows().affected } catch { failure = failure ?? error }
        }
        if let failure { throw failure }
        return copied
    }

    /// Quotes a name for SQL: `"name"` with inner quotes doubled.
    public static func quoteName(_ name: String) -> String { "\"" + name.replacingOccurrences(of: "\"", with: "\"\"") + "\"" }

    /// Quotes a value as a string literal: `'text'` with inner quotes doubled (standard_conforming_strings).
    public static func quoteText(_ text: String) -> String { "'" + text.replacingOccurrences(of: "'", with: "''") + "'" }

    // MARK: libpq

    /// Owns a `PGresult`; checks its status on creation.
    private final class Result {
        let pointer: OpaquePointer

        init(_ raw: OpaquePointer?, sql: String, connection: PGConnection, expectCopyIn: Bool = false) throws {
            guard let raw else {
                throw PGError(.query, PGConnection.trimmed(PQerrorMessage(connection.handle)), sql: sql,
                              url: connection.url.redacted)
            }
            pointer = raw
            let status = PQresultStatus(raw)
            switch status {
            case PGRES_COMMAND_OK, PGRES_TUPLES_OK, PGRES_EMPTY_QUERY:
                if expectCopyIn { throw PGError(.copy, "the statement did not start a COPY FROM STDIN", sql: sql) }
            case PGRES_COPY_IN where expectCopyIn:
                break
            default:
                func field(_ code: Int32) -> String? { PQresultErrorField(raw, code).map { String(cString: $0) } }
                let message = field(agentshop_pg_diag_message_primary()) ?? PGConnection.trimmed(PQresultErrorMessage(raw))
                throw PGError(.query, message, sqlState: field(agentshop_pg_diag_sqlstate()),
                              detail: field(agentshop_pg_diag_message_detail()), hint: field(agentshop_pg_diag_message_hint()),
                              sql: sql, url: connection.url.redacted)
            }
        }

        deinit { PQclear(pointer) }

        func rows() -> PGRows {
            let columnCount = Int(PQnfields(pointer))
            let rowCount = Int(PQntuples(pointer))
            let columns = (0..<columnCount).map { String(cString: PQfname(pointer, Int32($0))) }
            var rows: [[String?]] = []
            rows.reserveCapacity(rowCount)
            for r in 0..<rowCount {
                var row: [String?] = []
                row.reserveCapacity(columnCount)
                for c in 0..<columnCount {
                    if PQgetisnull(pointer, Int32(r), Int32(c)) != 0 {
                        row.append(nil)
                    } else {
                        row.append(String(cString: PQgetvalue(pointer, Int32(r), Int32(c))))
                    }
                }
                rows.append(row)
            }
            let tuples = String(cString: PQcmdTuples(pointer))
            return PGRows(columns: columns, rows: rows, affected: Int(tuples) ?? rowCount)
        }
    }

    static func trimmed(_ message: UnsafePointer<CChar>?) -> String {
        guard let message else { return "unknown error" }
        return String(cString: message).trimmingCharacters(in: .whitespacesAndNewlines)
    }

    private static func withCStrings<R>(_ strings: [String], _ body: (UnsafePointer<UnsafePointer<CChar>?>) -> R) -> R {
        withOptionalCStrings(strings) { body($0!) }
    }

    private static func withOptionalCStrings<R>(_ strings: [String?], _ body: (UnsafePointer<UnsafePointer<CChar>?>?) -> R) -> R {
        let copies: [UnsafeMutablePointer<CChar>?] = strings.map { $0.flatMap { strdup($0) } }
        defer { copies.forEach { free($0) } }
        var pointers: [UnsafePointer<CChar>?] = copies.map { $0.map { UnsafePointer($0) } }
        pointers.append(nil)
        return pointers.withUnsafeBufferPointer { body($0.baseAddress) }
    }
}
