import Foundation
import Lake
import Logging
import Postgres
import Runs
import Store
import TestSupport
import Testing

/// What used to work on SQLite only, against a real PostgreSQL store, through the built binary:
/// `materialize` with `create: true`, `db admin`, `db sync-runs`, `db rebuild`, `db backups`, `query`'s
/// answer for `store.`, the notification templates; and the store's password kept out of a command
/// stage's environment, the manifests and the logs.
@Suite(.serialized) struct PostgresParityTests {
    typealias Flagship = PostgresFlagshipTests

    static let pipeline = """
        pipeline: parity
        stages:
          env:
            command: { run: "env | sort > {out}" }
            out: processed_data/reports/env.txt
          cats:
            materialize: { from: raw_data/imports/cats.jsonl, table: product_categories, key: slug }
          things:
            materialize:
              from: raw_data/imports/things-*.jsonl
              table: my_things
              key: sku
              create: true
              columns: { sku: sku, name: name, price: price, qty: qty, tags: tags, color: color, added: { from: added, type: date } }
          loose:
            materialize: { from: raw_data/imports/things-*.jsonl, table: loose_things, key: sku, create: true }
        """

    static func project() throws -> String {
        let folder = NSTemporaryDirectory() + "agentshop-pg-parity-" + UUID().uuidString
        try FileManager.default.createDirectory(atPath: folder + "/pipelines", withIntermediateDirectories: true)
        try pipeline.write(toFile: folder + "/pipelines/parity.yaml", atomically: true, encoding: .utf8)
        #expect(try Flagship.agentshop(["init", "datalake", "--quiet"], in: folder).status == 0)
        try "{\"slug\": \"toys\", \"name\": \"Toys\"}\n{\"slug\": \"games\", \"name\": \"Games\"}\n"
            .write(toFile: folder + "/datalake/raw_data/imports/cats.jsonl", atomically: true, encoding: .utf8)
        try """
            {"sku": "a1", "name": "Apple", "price": 1.5, "qty": 3, "tags": ["fruit", "red"], "added": "2026-12-01"}
            {"sku": "b2", "name": "Bread", "price": 2, "qty": 1, "tags": [], "added": "2026-12-02"}

            """.write(toFile: folder + "/datalake/raw_data/imports/things-1.jsonl", atomically: true, encoding: .utf8)
        return folder
    }

    static func columns(_ url: String, _ table: String) throws -> [String: String] {
        var out: [String: String] = [:]
        for row in try PGConnection(url).query("""
            SELECT column_name, data_type FROM information_schema.columns WHERE table_name = $1
            """, [table]).rows {
            out[row[0] ?? ""] = row[1] ?? ""
        }
        return out
    }

    static func scalar(_ url: String, _ sql: String) throws -> String? { try PGConnection(url).scalar(sql) }

    @Test func createTablesAdminSyncRebuildAndNoPasswordInTheRunsEnvironment() throws {
        guard let database = try PostgresServer.database() else { return }
        defer { database.drop() }
        let url = database.url
        let password = try #require(try PostgresURL(url).password)
        let folder = try Self.project()
        defer { try? FileManager.default.removeItem(atPath: folder) }
        // The URL with its password, exported as a user would: the child of the command stage must not see it.
        let environment = ["AGENTSHOP_STORE_URL": url]

        let run = try Flagship.agentshop(["run", "pipelines/parity.yaml", "--lake", "datalake"], in: folder, environment: environment)
        #expect(run.status == 0, "\(run.stderr)")
        // Tables of the user's own, created in PostgreSQL's types: declared and inferred.
        let declared = try Self.columns(url, "my_things")
        #expect(declared["sku"] == "text" && declared["name"] == "text" && declared["price"] == "double precision")
        #expect(declared["qty"] == "bigint" && declared["tags"] == "text" && declared["added"] == "text")
        #expect(declared["color"] == "text")  // declared, no value yet
        let inferred = try Self.columns(url, "loose_things")
        #expect(inferred == ["sku": "text", "name": "text", "price": "double precision", "qty": "bigint", "tags": "text",
                             "added": "text"])
        #expect(try Self.scalar(url, "SELECT string_agg(sku || '=' || price || '/' || qty || '/' || tags, ',' ORDER BY sku) FROM loose_things")
                == "a1=1.5/3/[\"fruit\",\"red\"],b2=2/1/[]")

        // The command stage's child knows where the store is, not its password.
        let env = try String(contentsOfFile: folder + "/datalake/processed_data/reports/env.txt", encoding: .utf8)
        let withoutPassword = try PostgresURL(url).withoutPassword
        #expect(!withoutPassword.contains(password))
        #expect(env.contains("AGENTSHOP_STORE_URL=" + withoutPassword + "\n"), "\(env)")
        #expect(!env.contains(password))

        // A second file: a new field becomes a new column; the first run's input is unchanged (for the rebuild).
        try "{\"sku\": \"c3\", \"name\": \"Cheese\", \"price\": 7.25, \"qty\": 2, \"tags\": [\"dairy\"], \"grade\": \"A\"}\n"
            .write(toFile: folder + "/datalake/raw_data/imports/things-2.jsonl", atomically: true, encoding: .utf8)
        let second = try Flagship.agentshop(["run", "pipelines/parity.yaml", "--lake", "datalake"], in: folder, environment: environment)
        #expect(second.status == 0, "\(second.stderr)")
        #expect(try Self.columns(url, "loose_things")["grade"] == "text")
        #expect(try Self.scalar(url, "SELECT count(*) FROM loose_things") == "3")
        #expect(try Self.scalar(url, "SELECT grade FROM loose_things WHERE sku = 'c3'") == "A")

        // db admin into PostgreSQL; the hash verifies there.
        let admin = try Flagship.agentshop(["db", "admin", "--username", "root", "--email", "root@shop.example", "--lake", "datalake"],
                                           in: folder, environment: environment.merging(["AGENTSHOP_ADMIN_PASSWORD": "correct horse battery"]) { $1 })
        #expect(admin.status == 0, "\(admin.stderr)")
        #expect(admin.stdout.contains(":***@"))
        let store = try PostgresStore.open(url: PostgresURL(url))
        #expect(try AdminAccounts.verify(in: store, username: "root", password: "correct horse battery"))
        #expect(try !AdminAccounts.verify(in: store, username: "root", password: "wrong horse battery"))

        // db sync-runs records every manifest again: nothing new.
        let tasks = try Self.scalar(url, "SELECT count(*) FROM data_processing_tasks")
        let sync = try Flagship.agentshop(["db", "sync-runs", "--lake", "datalake"], in: folder, environment: environment)
        #expect(sync.status == 0, "\(sync.stderr)")
        #expect(sync.stdout.contains("from 2 manifests"), "\(sync.stdout)")
        #expect(try Self.scalar(url, "SELECT count(*) FROM data_processing_tasks") == tasks)

        // db rebuild replays both runs: the same rows with the same ids, the admin (a kept table) kept.
        let snapshot = """
            SELECT (SELECT string_agg(id || ':' || slug, ',' ORDER BY id) FROM product_categories) || ' | ' ||
                   (SELECT string_agg(sku || ':' || coalesce(grade, '-'), ',' ORDER BY sku) FROM loose_things) || ' | ' ||
                   (SELECT string_agg(sku || ':' || price, ',' ORDER BY sku) FROM my_things) || ' | ' ||
                   (SELECT string_agg(task_key || ':' || status, ',' ORDER BY task_key) FROM data_processing_tasks) || ' | ' ||
                   (SELECT count(*) FROM admin_users)
            """
        let before = try Self.scalar(url, snapshot)
        let rebuild = try Flagship.agentshop(["db", "rebuild", "--lake", "datalake"], in: folder, environment: environment)
        #expect(rebuild.status == 0, "\(rebuild.stderr)")
        #expect(rebuild.stdout.contains("2 run manifests"), "\(rebuild.stdout)")
        #expect(try Self.scalar(url, snapshot) == before)

        // A kept table that refers to a rebuilt one keeps its reference: the rebuilt row has the same natural key.
        try PGConnection(url).execute("""
            INSERT INTO products (slug, name, category_id) VALUES ('kept', 'Kept', (SELECT id FROM product_categories WHERE slug = 'toys'))
            """)
        let kept = try Flagship.agentshop(["db", "rebuild", "--lake", "datalake"], in: folder, environment: environment)
        #expect(kept.status == 0, "\(kept.stderr)")
        #expect(try Self.scalar(url, "SELECT c.slug FROM products p JOIN product_categories c ON c.id = p.category_id WHERE p.slug = 'kept'")
                == "toys")
        #expect(try Self.scalar(url, snapshot) == before)
        #expect(try Self.scalar(url, """
            SELECT count(*) FROM pg_constraint WHERE conrelid = 'products'::regclass AND confrelid = 'product_categories'::regclass
            """) == "1", "the foreign key is back")

        // One that refers to a row the replay does not bring back: refused, nothing changed.
        try PGConnection(url).execute("""
            INSERT INTO product_categories (name, slug) VALUES ('Ghost', 'ghost');
            INSERT INTO products (slug, name, category_id) VALUES ('haunted', 'Haunted', (SELECT id FROM product_categories WHERE slug = 'ghost'))
            """)
        let categoriesBefore = try Self.scalar(url, "SELECT string_agg(id || ':' || slug, ',' ORDER BY id) FROM product_categories")
        let refused = try Flagship.agentshop(["db", "rebuild", "--lake", "datalake"], in: folder, environment: environment)
        #expect(refused.status == 1)
        #expect(refused.stderr.contains("products.category_id") && refused.stderr.contains("slug ghost")
                && refused.stderr.contains("nothing was changed"), "\(refused.stderr)")
        #expect(try Self.scalar(url, "SELECT count(*) FROM products") == "2")
        #expect(try Self.scalar(url, "SELECT string_agg(id || ':' || slug, ',' ORDER BY id) FROM product_categories") == categoriesBefore)

        // db backups lists PostgreSQL dumps with their checksum.
        #expect(try Flagship.agentshop(["db", "dump", "--lake", "datalake"], in: folder, environment: environment).status == 0)
        let backups = try Flagship.agentshop(["db", "backups", "--lake", "datalake"], in: folder, environment: environment)
        #expect(backups.status == 0, "\(backups.stderr)")
        #expect(backups.stdout.contains(".pgdump") && backups.stdout.contains("checksum ok"), "\(backups.stdout)")

        // query: `store.` with a PostgreSQL store is refused with a way out; lake datasets still work.
        let query = try Flagship.agentshop(["query", "SELECT count(*) FROM store.products", "--lake", "datalake"], in: folder,
                                           environment: environment)
        #expect(query.status == 2)
        #expect(query.stderr.contains("the store is PostgreSQL") && query.stderr.contains("psql"), "\(query.stderr)")
        let lake = try Flagship.agentshop(["query", "SELECT count(*) AS n FROM 'raw_data/imports/cats.jsonl'", "--lake", "datalake",
                                           "--format", "csv"], in: folder, environment: environment)
        #expect(lake.status == 0 && lake.stdout == "n\n2\n", "\(lake.stdout)\(lake.stderr)")

        for output in [run, second, admin, sync, rebuild, kept, refused, backups, query] {
            #expect(!output.stdout.contains(password) && !output.stderr.contains(password))
        }
        // Nothing of it in the lake's manifests and logs.
        let logs = folder + "/datalake/raw_data/logs"
        for file in try FileManager.default.subpathsOfDirectory(atPath: logs) where file.hasSuffix(".log") || file.hasSuffix(".json") {
            let text = (try? String(contentsOfFile: logs + "/" + file, encoding: .utf8)) ?? ""
            #expect(!text.contains(password), "\(file)")
        }
    }

    /// `llm_provider_status` follows the catalogue in a PostgreSQL store as in SQLite: `db init --store`
    /// writes a row per provider, `llm disable` and `run` (with `AGENTSHOP_STORE_URL`) keep it in step.
    @Test func providerStatusFollowsTheCatalogueInThePostgresStore() throws {
        guard let database = try PostgresServer.database() else { return }
        defer { database.drop() }
        let url = database.url
        let folder = try Self.project()
        defer { try? FileManager.default.removeItem(atPath: folder) }
        let initialised = try Flagship.agentshop(["db", "init", "--store", url, "--lake", "datalake"], in: folder, environment: [:])
        #expect(initialised.status == 0, "\(initialised.stderr)")
        #expect(!initialised.stderr.contains("not updated"), "\(initialised.stderr)")
        let providers = "SELECT string_agg(provider || ':' || is_enabled, ',' ORDER BY provider) FROM llm_provider_status"
        let rows = try #require(try Self.scalar(url, providers))
        #expect(rows.contains("offline:true") && rows.contains("groq:"), "\(rows)")

        let disabled = try Flagship.agentshop(["llm", "disable", "groq", "--lake", "datalake"], in: folder,
                                              environment: ["AGENTSHOP_STORE_URL": url])
        #expect(disabled.status == 0, "\(disabled.stderr)")
        #expect(try Self.scalar(url, "SELECT is_enabled FROM llm_provider_status WHERE provider = 'groq'") == "f")
        let enabled = try Flagship.agentshop(["llm", "enable", "groq", "--lake", "datalake"], in: folder,
                                             environment: ["AGENTSHOP_STORE_URL": url])
        #expect(enabled.status == 0, "\(enabled.stderr)")
        #expect(try Self.scalar(url, "SELECT is_enabled FROM llm_provider_status WHERE provider = 'groq'") == "t")
        // Nothing changed, nothing written: a second sync leaves updated_at alone.
        let stamp = try Self.scalar(url, "SELECT max(updated_at)::text FROM llm_provider_status")
        #expect(try Flagship.agentshop(["db", "migrate", "--store", url, "--lake", "datalake"], in: folder, environment: [:]).status == 0)
        #expect(try Self.scalar(url, "SELECT max(updated_at)::text FROM llm_provider_status") == stamp)
    }

    @Test func notificationsReadTheTemplatesOfThePostgresStore() throws {
        guard let database = try PostgresServer.database() else { return }
        defer { database.drop() }
        let store = try PostgresStore.openMigrated(url: PostgresURL(database.url))
        try store.connection.execute("UPDATE email_templates SET subject = 'From PostgreSQL {{pipeline}}' WHERE name = 'automation_error'")
        let folder = NSTemporaryDirectory() + "agentshop-pg-templates-" + UUID().uuidString
        defer { try? FileManager.default.removeItem(atPath: folder) }
        let lake = Lake(root: folder)
        let templates = StoredEmailTemplates(lake: lake, environment: ["AGENTSHOP_STORE_URL": database.url],
                                             logger: Logger(label: "test"))
        #expect(templates.template(named: "automation_error")?.subject == "From PostgreSQL {{pipeline}}")
        try store.connection.execute("UPDATE email_templates SET is_active = false WHERE name = 'automation_error'")
        #expect(StoredEmailTemplates(lake: lake, environment: ["AGENTSHOP_STORE_URL": database.url], logger: Logger(label: "test"))
            .template(named: "automation_error") == nil)
        // Without a PostgreSQL store, the lake's (absent) SQLite store: none.
        #expect(StoredEmailTemplates(lake: lake, environment: [:], logger: Logger(label: "test")).template(named: "automation_error") == nil)
    }
}
