import Foundation

/// The store's `email_templates` rows, read for notifications. Runs adapts this to Notify's
/// `NotificationTemplates`, so that neither Notify nor the executable runs SQL.
public enum EmailTemplateRecords {
    /// One active template row.
    public struct Template: Sendable, Equatable {
        public var name: String
        public var subject: String
        public var body: String
        /// `variables_json`: the names the template expects, as the row lists them.
        public var variables: [String]
    }

    /// Every active template, by name.
    public static func active(in database: Database) throws -> [String: Template] {
        var out: [String: Template] = [:]
        for row in try database.rows("SELECT name, subject, body_text, variables_json FROM email_templates WHERE is_active = 1") {
            guard let name = row[0].string, let subject = row[1].string, let body = row[2].string else { continue }
            let variables = row[3].string.flatMap { try? JSONSerialization.jsonObject(with: Data($0.utf8)) as? [String] } ?? []
            out[name] = Template(name: name, subject: subject, body: body, variables: variables)
        }
        return out
    }

    /// Every active template of a PostgreSQL store, by name.
    public static func active(in store: PostgresStore) throws -> [String: Template] {
        var out: [String: Template] = [:]
        for row in try store.connection.query("""
            SELECT name, subject, body_text, variables_json::text FROM email_templates WHERE is_active
            """).rows {
            guard let name = row[0], let subject = row[1], let body = row[2] else { continue }
            let variables = row[3].flatMap { try? JSONSerialization.jsonObject(with: Data($0.utf8)) as? [String] } ?? []
            out[name] = Template(name: name, subject: subject, body: body, variables: variables)
        }
        return out
    }

    /// The active templates of the store at `location` (a SQLite file or a PostgreSQL database), or nil
    /// when there is no SQLite store there.
    public static func active(at location: StoreLocation) throws -> [String: Template]? {
        switch location {
        case .sqlite(let path): return try active(storePath: path)
        case .postgres(let url): return try active(in: PostgresStore.open(url: url))
        }
    }

    /// The active templates of the store at `path`, or nil when there is no store there.
    public static func active(storePath path: String) throws -> [String: Template]? {
        guard FileManager.default.fileExists(atPath: path) else { return nil }
        let store = try Store.open(path: path, create: false)
        return try active(in: store.database)
    }
}
