import Foundation
import Lake
import Pipeline
import Store
import Transport

/// `agentshop db init | migrate | status` against a PostgreSQL store (`--store postgres://…` or
/// `AGENTSHOP_STORE_URL`). The URL is printed redacted, and its password is registered as a secret so
/// that no log line or error shows it.
extension DBCommand {
    /// The PostgreSQL store `option` or `AGENTSHOP_STORE_URL` names; nil when the store is a SQLite file.
    static func postgresLocation(_ option: String?) throws -> StoreLocation? {
        var found: StoreLocation?
        try guarded {
            let location = try StoreLocation.resolve(option, defaultPath: "")
            guard let url = location.postgresURL else { return }
            if let password = url.password { Secret.register(password) }
            found = location
        }
        return found
    }

    /// Chooses the store of this run (its stages and the run records) from `--store`, else from the
    /// environment (`.env` included), else from the pipeline's `store:`; registers the password as a secret.
    /// The run's environment (what a `command` stage's child sees) gets the URL without its password.
    static func chooseStore(_ option: String?, pipeline: PipelineSpec, environment: [String: String]) throws {
        guard let choice = option ?? environment[StoreLocation.environmentVariable] ?? pipeline.store else { return }
        let location: StoreLocation
        do { location = try StoreLocation.parse(choice, environment: environment) } catch {
            printError("\(pipeline.file): store: \(error)")
            throw ExitStatus.invalidInput
        }
        guard let url = location.postgresURL else {
            printError("\(pipeline.file): store: expected a PostgreSQL URL (postgres://…); the SQLite store is the lake's")
            throw ExitStatus.invalidInput
        }
        if let password = url.password { Secret.register(password) }
        StoreLocation.choose(location)
    }

    /// Runs `body` with the store at `location`; a PostgreSQL failure prints (redacted) and exits 1.
    static func withPostgres(_ location: StoreLocation, migrate: Bool, _ body: (PostgresStore) throws -> Void) throws {
        try guardedPostgres {
            guard let url = location.postgresURL else { return }
            let store = try migrate ? PostgresStore.openMigrated(url: url) : PostgresStore.open(url: url)
            try body(store)
        }
    }

    /// `guarded`, for work on a PostgreSQL store that holds no connection to it (a restore renames it).
    static func guardedPostgres(_ body: () throws -> Void) throws {
        try guarded {
            do {
                try body()
            } catch let error as StoreError {
                throw error
            } catch {
                printError(Secret.redact("\(error)"))
                throw ExitStatus.runFailed
            }
        }
    }

    static func printPostgresStatus(_ status: PostgresStore.Status, json: Bool) {
        if json {
            let object = JSONObject([
                ("path", .string(status.url)),
                ("backend", .string("postgresql")),
                ("schema_version", .int(Int64(status.schemaVersion))),
                ("latest_version", .int(Int64(status.latestVersion))),
                ("pending_migrations", .array(status.pendingMigrations.map { .int(Int64($0)) })),
                ("bytes", .int(status.bytes)),
                ("server_version", .string(status.serverVersion)),
                ("tables", .object(JSONObject(status.tables.map { ($0.name, .int(Int64($0.rows))) }))),
                ("views", .array(status.views.map { .string($0) })),
            ])
            print(JSONValue.object(object).serialized())
            return
        }
        print("store:           \(status.url)")
        print("schema version:  \(status.schemaVersion) (this program: \(status.latestVersion))"
              + (status.pendingMigrations.isEmpty ? "" : "; pending: \(status.pendingMigrations.map(String.init).joined(separator: ", ")) — run `agentshop db migrate`"))
        print("size:            \(ByteSize.text(status.bytes)) (PostgreSQL \(status.serverVersion))")
        print("tables:")
        let width = status.tables.map(\.name.count).max() ?? 0
        for table in status.tables {
            print("  " + table.name.padding(toLength: width, withPad: " ", startingAt: 0) + "  \(table.rows)")
        }
        print("views:           \(status.views.joined(separator: ", "))")
    }
}
