import Foundation
import Postgres

/// The settings AgentShop reads from the store's `config_settings`: the lowest layer of settings, under
/// the built-in defaults only. Each key stands for an environment variable; a key with a value gives that
/// variable when neither the process environment nor a `.env` file sets it, so the pipeline file, the
/// environment and `.env` all win over the store (docs/store.md, "Settings: which value wins").
///
/// Migration 5 seeds exactly these keys, with no value (the built-in default applies until one is set).
public enum StoreSettings {
    /// One setting: the store's key, the variable it stands for, its type and what it does.
    public struct Key: Sendable, Equatable {
        public let key: String
        public let variable: String
        public let valueType: String
        public let description: String
    }

    public static let keys: [Key] = [
        Key(key: "llm.default_provider", variable: "AGENTSHOP_LLM_PROVIDER", valueType: "string",
            description: "Provider (or comma-separated fallback list) of an enrich stage that names none; "
                + "built-in: offline. AGENTSHOP_LLM_PROVIDER and the stage's provider win"),
        Key(key: "llm.daily_cost_limit_usd", variable: "LLM_COST_LIMIT_DAILY", valueType: "string",
            description: "US dollars each provider may spend per UTC day when its LLM_<P>_COST_LIMIT_DAILY is not set; "
                + "built-in: no cap. LLM_COST_LIMIT_DAILY wins"),
        Key(key: "site.admin_email", variable: "NOTIFICATION_EMAIL_TO", valueType: "string",
            description: "Comma-separated addresses added to every pipeline's notify e-mail list (with an SMTP server set); "
                + "NOTIFICATION_EMAIL_TO wins"),
    ]

    /// The key standing for `variable`, for messages.
    public static func key(forVariable variable: String) -> String? {
        keys.first { $0.variable == variable }?.key
    }

    /// Migration 5's rows: every key, no value. A key already there (set by a user) is kept.
    static var seedSQL: String {
        "INSERT INTO config_settings (key, value, value_type, description) VALUES\n"
            + keys.map { "    (\(SQLLiteral.quoteText($0.key)), NULL, \(SQLLiteral.quoteText($0.valueType)), \(SQLLiteral.quoteText($0.description)))" }
            .joined(separator: ",\n")
    }

    /// The variables the store's settings give: variable name to value, for the keys set to a non-empty value.
    public static func variables(in database: Database) throws -> [String: String] {
        guard try database.scalar("SELECT count(*) FROM sqlite_schema WHERE type = 'table' AND name = 'config_settings'")?.int64 == 1
        else { return [:] }
        var out: [String: String] = [:]
        for row in try database.rows("SELECT key, value FROM config_settings WHERE value IS NOT NULL") {
            if let key = row[0].string, let value = row[1].string, let variable = keys.first(where: { $0.key == key })?.variable {
                let trimmed = value.trimmingCharacters(in: .whitespaces)
                if !trimmed.isEmpty { out[variable] = trimmed }
            }
        }
        return out
    }

    /// The variables of the store at `location`: none when a SQLite store does not exist yet. Opens a
    /// SQLite store read-only and changes nothing.
    public static func variables(at location: StoreLocation) throws -> [String: String] {
        switch location {
        case .sqlite(let path):
            guard FileManager.default.fileExists(atPath: path) else { return [:] }
            let database = try Database(path: path, mode: .readOnly, busyTimeout: .seconds(2))
            return try variables(in: database)
        case .postgres(let url):
            let connection = try PGConnection(url: url, connectTimeout: 5, applicationName: "agentshop")
            guard try connection.scalar("SELECT to_regclass('config_settings') IS NOT NULL") == "t" else { return [:] }
            var out: [String: String] = [:]
            for row in try connection.query("SELECT key, value FROM config_settings WHERE value IS NOT NULL") {
                if let key = row[0], let value = row[1]?.trimmingCharacters(in: .whitespaces), !value.isEmpty,
                   let variable = keys.first(where: { $0.key == key })?.variable {
                    out[variable] = value
                }
            }
            return out
        }
    }
}
