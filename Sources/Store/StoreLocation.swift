import Foundation
import Lake
import Postgres

/// Where the marketplace store is: the lake's SQLite file (the default), another SQLite file, or a
/// PostgreSQL database.
///
/// Chosen by, first to last: `--store` (or a pipeline's `store:`), `AGENTSHOP_STORE_URL`, the lake's
/// `store/agentshop.sqlite`. A value starting `postgres://` or `postgresql://` is a PostgreSQL URL
/// (`${VAR}` expanded; its password never printed), anything else a SQLite file path.
public enum StoreLocation: Sendable, CustomStringConvertible {
    case sqlite(path: String)
    case postgres(PostgresURL)

    /// The environment variable naming the store when no option does.
    public static let environmentVariable = "AGENTSHOP_STORE_URL"

    /// The store `option` names, else the store this process chose (`choose`), else `AGENTSHOP_STORE_URL`,
    /// else `defaultPath` (the lake's store).
    public static func resolve(_ option: String?, environment: [String: String] = ProcessInfo.processInfo.environment,
                               defaultPath: String) throws -> StoreLocation {
        if let option, !option.isEmpty { return try parse(option, environment: environment) }
        if let chosen = chosen { return chosen }
        if let value = environment[environmentVariable], !value.isEmpty { return try parse(value, environment: environment) }
        return .sqlite(path: defaultPath)
    }

    /// `text` as a location: a PostgreSQL URL (after `${VAR}` expansion) or a SQLite path.
    public static func parse(_ text: String, environment: [String: String] = ProcessInfo.processInfo.environment) throws -> StoreLocation {
        let expanded = text.hasPrefix("${") ? try PostgresURL.expandForStore(text, environment: environment) : text
        if PostgresURL.isPostgres(expanded) {
            do { return .postgres(try PostgresURL(text, environment: environment)) } catch let error as PGError {
                throw StoreError(.open, error.message, path: PostgresURL.redact(expanded))
            }
        }
        return .sqlite(path: expanded)
    }

    /// Makes `location` this process's store (`agentshop run` does, from `--store`, the environment or the
    /// pipeline's `store:`), so that its stages and run records use it, with its password, while
    /// `AGENTSHOP_STORE_URL` is set to the URL *without* its password: a child process (a `command`
    /// stage) learns where the store is but not the secret (libpq then asks `PGPASSWORD` or `~/.pgpass`).
    public static func choose(_ location: StoreLocation) {
        chosenLock.lock()
        chosenValue = location
        chosenLock.unlock()
        if let url = location.postgresURL {
            setenv(environmentVariable, url.withoutPassword, 1)
        }
    }

    /// The store `choose` set, nil when none was.
    public static var chosen: StoreLocation? {
        chosenLock.lock()
        defer { chosenLock.unlock() }
        return chosenValue
    }

    private static let chosenLock = NSLock()
    nonisolated(unsafe) private static var chosenValue: StoreLocation?

    /// The PostgreSQL URL, when the store is one.
    public var postgresURL: PostgresURL? {
        if case .postgres(let url) = self { return url }
        return nil
    }

    /// The path or the redacted URL: what to print.
    public var description: String {
        switch self {
        case .sqlite(let path): return path
        case .postgres(let url): return url.redacted
        }
    }
}

extension PostgresURL {
    /// A `${VAR}`-only value expanded as it is (it may name a SQLite path as well as a URL).
    static func expandForStore(_ text: String, environment: [String: String]) throws -> String {
        do { return try expandWhole(text, environment: environment) } catch let error as PGError {
            throw StoreError(.open, error.message)
        }
    }
}
