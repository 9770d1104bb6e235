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

/// The marketplace schema as SQLite holds it, to hold a restored database against: a dump may
/// bring rows, and the plain tables of the user's own that `materialize` with `create:` makes
/// (with their indexes), never a trigger, view or virtual table, nor a changed known object.
enum KnownSchema {
    /// A table the marketplace schema does not define, kept as data: an ordinary table (no
    /// virtual table, whose module is code), not SQLite's own.
    static func isUserTable(_ object: SchemaObject, known: Set<String>) -> Bool {
        object.type == "table" && !known.contains(object.name.lowercased()) && !object.name.lowercased().hasPrefix("sqlite_")
            && (object.sql ?? "").range(of: #"^\s*CREATE\s+TABLE\s"#, options: [.regularExpression, .caseInsensitive]) != nil
    }

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
        let knownTables = Set(known.filter { $0.type == "table" }.map { $0.name.lowercased() })
        let userTables = Set(restored.filter { isUserTable($0, known: knownTables) }.map { $0.name.lowercased() })
        var out: [String] = []
        for object in restored where knownByKey[key(object)] == nil {
            // A table of the user's own, and an index on one, are data; anything else is not ours.
            if userTables.contains(object.name.lowercased()) && object.type == "table" { continue }
            if object.type == "index" && userTables.contains(object.table.lowercased()) { continue }
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
/// store holds (the known tables, indexes, views and triggers, plain tables of the user's own and
/// their indexes, rows inserted into those tables,
/// `BEGIN`/`COMMIT`, the pragmas the dump writes) and refuses everything else before it runs:
/// `ATTACH` and `VACUUM INTO` (which would write files anywhere), unknown objects, other pragmas.
final class DumpStatementPolicy {
    private let knownNames: Set<String>  // "type name", lowercased
    private let knownTables: Set<String>
    /// Plain tables of the user's own the dump created (materialize `create:`): rows and indexes go in.
    private var userTables: Set<String> = []
    private var userIndexes: Set<String> = []
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
        case .createTable:
            guard inMain else { return false }
            if knownNames.contains("table " + first) { return true }
            guard !first.hasPrefix("sqlite_") else { return false }
            userTables.insert(first)  // a table of the user's own; the schema check looks at it again
            return true
        case .createVirtualTable:
            return inMain && knownNames.contains("table " + first)
        case .createIndex:
            guard inMain else { return false }
            if knownNames.contains("index " + first) { return true }
            guard userTables.contains(request.second?.lowercased() ?? "") else { return false }
            userIndexes.insert(first)
            return true
        case .reindex:  // SQLite asks this too while it builds an index the dump creates
            return inMain && (knownNames.contains("index " + first) || userIndexes.contains(first))
        case .createTrigger:
            return inMain && knownNames.contains("trigger " + first)
        case .createView:
            return inMain && knownNames.contains("view " + first)
        case .insert, .update, .delete:
            return inMain && (knownTables.contains(first) || userTables.contains(first) || Self.internalTables.contains(first))
        case .function:
            return !Self.deniedFunctions.contains(request.second?.lowercased() ?? "")
        case .createTemporary, .drop, .savepoint, .attach, .detach, .alterTable, .analyze, .other:
            return false
        }
    }
}
