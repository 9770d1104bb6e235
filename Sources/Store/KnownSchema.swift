import Foundation
import Logging

/// One row of `sqlite_schema`: what a database defines.
struct SchemaObject: Hashable, Sendable, CustomStringConvertible {
    let type: String
    let name: String
    let table: String
    let sql: String?

    var description: String { type == "table" || type == "view" || name == table ? "\(type) \(name)" : "\(type) \(name) on \(table)" }
}

/// The marketplace schema as SQLite holds it, to hold a restored database against: a dump
/// may bring rows, never a trigger, view, table or index of its own.
enum KnownSchema {
    /// The `sqlite_schema` rows of a store created by this program's migrations up to `version`.
    static func objects(atVersion version: Int) throws -> [SchemaObject] {
        let database = try Database(path: ":memory:")
        for migration in MarketplaceSchema.migrations where migration.version <= version {
            try database.execute(migration.sql)
            try database.setUserVersion(migration.version)
        }
        return try objects(in: database)
    }

    /// The `sqlite_schema` rows of `database`, without the statistics `ANALYZE` keeps.
    static func objects(in database: Database) throws -> [SchemaObject] {
        try database.rows("SELECT type, name, tbl_name, sql FROM sqlite_schema ORDER BY type, name").map {
            SchemaObject(type: $0[0].string ?? "", name: $0[1].string ?? "", table: $0[2].string ?? "", sql: $0[3].string)
        }.filter { !($0.type == "table" && $0.name.lowercased().hasPrefix("sqlite_stat")) }
    }

    /// What differs between `restored` and `known`, one phrase each: extra objects first (the
    /// dangerous kind), then changed, then missing ones.
    static func differences(restored: [SchemaObject], known: [SchemaObject]) -> [String] {
        let key = { (o: SchemaObject) in o.type + " " + o.name.lowercased() }
        let knownByKey = Dictionary(known.map { (key($0), $0) }, uniquingKeysWith: { a, _ in a })
        let restoredByKey = Dictionary(restored.map { (key($0), $0) }, uniquingKeysWith: { a, _ in a })
        var out: [String] = []
        for object in restored where knownByKey[key(object)] == nil {
            out.append("an extra \(object) that the marketplace schema does not have")
        }
        for object in restored {
            guard let expected = knownByKey[key(object)], expected != object else { continue }
            out.append("\(object) differs from the marketplace schema's")
        }
        for object in known where restoredByKey[key(object)] == nil {
            out.append("\(object) is missing")
        }
        return out
    }
}

/// The authorizer a SQL dump is replayed under: it lets through the statements a dump of this
/// store holds (the known tables, indexes, views and triggers, rows inserted into known tables,
/// `BEGIN`/`COMMIT`, the pragmas the dump writes) and refuses everything else before it runs:
/// `ATTACH` and `VACUUM INTO` (which would write files anywhere), unknown objects, other pragmas.
final class DumpStatementPolicy {
    private let knownNames: Set<String>  // "type name", lowercased
    private let knownTables: Set<String>
    /// The first refused action.
    private(set) var refused: AuthorizerRequest?

    private static let pragmas: Set<String> = ["foreign_keys", "user_version", "data_version"]
    private static let internalTables: Set<String> = ["sqlite_master", "sqlite_schema", "sqlite_sequence"]
    private static let deniedFunctions: Set<String> = ["load_extension", "fts3_tokenizer"]

    init(known: [SchemaObject]) {
        knownNames = Set(known.map { $0.type + " " + $0.name.lowercased() })
        knownTables = Set(known.filter { $0.type == "table" }.map { $0.name.lowercased() })
    }

    func allow(_ request: AuthorizerRequest) -> Bool {
        let allowed = decide(request)
        if !allowed && refused == nil { refused = request }
        return allowed
    }

    private func decide(_ request: AuthorizerRequest) -> Bool {
        let first = request.first?.lowercased() ?? ""
        let inMain = request.database == nil || request.database == "main"
        switch request.action {
        case .transaction, .select, .read, .recursive:
            return true
        case .pragma:
            return Self.pragmas.contains(first) && inMain
        case .createTable, .createVirtualTable:
            return inMain && knownNames.contains("table " + first)
        case .createIndex, .reindex:
            return inMain && knownNames.contains("index " + first)
        case .createTrigger:
            return inMain && knownNames.contains("trigger " + first)
        case .createView:
            return inMain && knownNames.contains("view " + first)
        case .insert, .update, .delete:
            return inMain && (knownTables.contains(first) || Self.internalTables.contains(first))
        case .function:
            return !Self.deniedFunctions.contains(request.second?.lowercased() ?? "")
        case .createTemporary, .drop, .savepoint, .attach, .detach, .alterTable, .analyze, .other:
            return false
        }
    }
}
