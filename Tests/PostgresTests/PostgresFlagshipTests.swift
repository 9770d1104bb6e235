import Foundation
import Postgres
import TestSupport
import Testing

/// The flagship pipeline (pipelines/marketplace.yaml) run by the built binary with its store in
/// PostgreSQL (`AGENTSHOP_STORE_URL`): the same rows as in SQLite, run records included, a forced
/// rerun writes nothing, `db status` reads it, and no output shows the password.
@Suite(.serialized) struct PostgresFlagshipTests {
    static let repository = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
        .deletingLastPathComponent().path

    static let binary: String = {
        let candidates = [
            URL(fileURLWithPath: CommandLine.arguments[0]).deletingLastPathComponent().appendingPathComponent("agentshop").path,
            Bundle.main.bundleURL.appendingPathComponent("agentshop").path,
            Bundle.main.bundleURL.deletingLastPathComponent().appendingPathComponent("agentshop").path,
        ]
        return candidates.first { FileManager.default.isExecutableFile(atPath: $0) } ?? candidates[0]
    }()

    struct Output {
        let status: Int32
        let stdout: String
        let stderr: String
    }

    static func agentshop(_ arguments: [String], in folder: String, environment: [String: String] = [:]) throws -> Output {
        let process = Process()
        process.executableURL = URL(fileURLWithPath: binary)
        process.arguments = arguments
        process.currentDirectoryURL = URL(fileURLWithPath: folder)
        var env = ProcessInfo.processInfo.environment.filter { !$0.key.hasPrefix("AGENTSHOP_") }
        for (key, value) in environment { env[key] = value }
        process.environment = env
        let out = Pipe(), err = Pipe()
        process.standardOutput = out
        process.standardError = err
        try process.run()
        let stdout = out.fileHandleForReading.readDataToEndOfFile()
        let stderr = err.fileHandleForReading.readDataToEndOfFile()
        process.waitUntilExit()
        return Output(status: process.terminationStatus, stdout: String(decoding: stdout, as: UTF8.self),
                      stderr: String(decoding: stderr, as: UTF8.self))
    }

    struct OneShot {
        let url: String
        func scalar(_ sql: String) throws -> String? { try PGConnection(url).scalar(sql) }
    }

    @Test func marketplacePipelineIntoPostgres() throws {
        guard let database = try PostgresServer.database() else { return }
        defer { database.drop() }
        let password = try #require(try PostgresURL(database.url).password)
        let folder = NSTemporaryDirectory() + "agentshop-pg-flagship-" + UUID().uuidString
        try FileManager.default.createDirectory(atPath: folder + "/pipelines", withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(atPath: folder) }
        try FileManager.default.copyItem(atPath: Self.repository + "/pipelines/marketplace.yaml", toPath: folder + "/pipelines/marketplace.yaml")
        #expect(try Self.agentshop(["init", "datalake", "--quiet"], in: folder).status == 0)
        let generator = Process()
        generator.executableURL = URL(fileURLWithPath: "/usr/bin/env")
        generator.arguments = ["python3", Self.repository + "/scripts/make_fixture_site.py", folder + "/datalake/raw_data/imports/demo",
                               "--count", "16", "--per-page", "6"]
        generator.standardOutput = FileHandle.nullDevice
        try generator.run()
        generator.waitUntilExit()
        try #require(generator.terminationStatus == 0)

        // The password comes from the environment through ${VAR}, as a user would write it.
        let url = database.url.replacingOccurrences(of: ":" + password + "@", with: ":${SHOP_DB_PASSWORD}@")
        let environment = ["AGENTSHOP_STORE_URL": url, "SHOP_DB_PASSWORD": password]
        let run = try Self.agentshop(["run", "pipelines/marketplace.yaml", "--lake", "datalake"], in: folder, environment: environment)
        #expect(run.status == 0, "\(run.stderr)")

        // A connection per query: a restore renames the database, which no open connection may hold.
        let db = OneShot(url: database.url)
        #expect(try db.scalar("SELECT count(*) FROM products") == "16")
        #expect(try db.scalar("SELECT count(*) FROM products WHERE category_id IS NULL OR price_cents IS NULL") == "0")
        #expect(try db.scalar("SELECT count(*) FROM product_reviews") == "21")
        #expect(try db.scalar("SELECT count(*) FROM product_categories WHERE parent_id IS NOT NULL") != "0")
        // The run is recorded there too: one task per stage, the crawl job and its pages, the LLM calls.
        #expect(try db.scalar("SELECT count(*) FROM data_processing_tasks WHERE pipeline = 'marketplace'") == "14")
        #expect(try db.scalar("SELECT count(*) FROM webcrawler_jobs WHERE job_key = 'marketplace/crawl'") == "1")
        #expect(Int(try db.scalar("SELECT count(*) FROM scraped_data WHERE crawler_job_id IS NOT NULL") ?? "0") ?? 0 > 0)
        #expect(try db.scalar("SELECT count(*) FROM llm_requests") == (try db.scalar("SELECT count(*) FROM llm_responses")))
        for period in ["hour", "day", "month"] {
            #expect(try db.scalar("SELECT sum(requests + cache_hits) FROM llm_usage_stats WHERE period_type = '\(period)'")
                == (try db.scalar("SELECT count(*) FROM llm_requests")), "\(period)")
        }
        #expect(try db.scalar("""
            SELECT details_json->'counts'->>'inserted' FROM data_processing_tasks WHERE task_key = 'marketplace/store_products'
            """) == "16")

        // Forced: every stage runs again, and the loads write nothing.
        let again = try Self.agentshop(["run", "pipelines/marketplace.yaml", "--lake", "datalake", "--force"], in: folder,
                                       environment: environment)
        #expect(again.status == 0, "\(again.stderr)")
        #expect(try db.scalar("""
            SELECT details_json->'counts'->>'unchanged' || '/' || (details_json->'counts'->>'inserted') || '/' || (details_json->'counts'->>'updated')
            FROM data_processing_tasks WHERE task_key = 'marketplace/store_products'
            """) == "16/0/0")
        #expect(try db.scalar("SELECT count(*) FROM data_processing_tasks WHERE pipeline = 'marketplace'") == "14")

        // The backup stage dumped the PostgreSQL store with pg_dump, beside a sidecar.
        let dumps = try FileManager.default.contentsOfDirectory(atPath: folder + "/datalake/db_dumps/daily")
        #expect(dumps.filter { $0.hasSuffix(".pgdump") }.count == 2)
        #expect(dumps.filter { $0.hasSuffix(".pgdump.json") }.count == 2)
        // A restore of the newest one swaps it in and keeps the previous database.
        let restore = try Self.agentshop(["db", "restore", "latest", "--lake", "datalake"], in: folder, environment: environment)
        #expect(restore.status == 0, "\(restore.stderr)")
        if let previous = restore.stdout.split(separator: "\n").first(where: { $0.hasPrefix("previous database kept as ") })?
            .dropFirst("previous database kept as ".count) {
            _ = try? PostgresServer.psql(PostgresServer.url(database.url, database: "postgres"),
                                         "DROP DATABASE IF EXISTS \"\(previous)\" WITH (FORCE)")
        } else {
            Issue.record("no previous database named: \(restore.stdout)")
        }
        #expect(try PGConnection(database.url).scalar("SELECT count(*) FROM products") == "16")

        let status = try Self.agentshop(["db", "status", "--json"], in: folder, environment: environment)
        #expect(status.status == 0, "\(status.stderr)")
        #expect(status.stdout.contains("\"products\":16"))
        #expect(status.stdout.contains(":***@"))
        for output in [run.stdout, run.stderr, again.stdout, again.stderr, status.stdout, status.stderr, restore.stdout, restore.stderr] {
            #expect(!output.contains(password))
        }
        // Nothing of it in the lake's logs and manifests either.
        let logs = try FileManager.default.subpathsOfDirectory(atPath: folder + "/datalake/raw_data/logs")
        for log in logs where log.hasSuffix(".log") || log.hasSuffix(".json") {
            let text = (try? String(contentsOfFile: folder + "/datalake/raw_data/logs/" + log, encoding: .utf8)) ?? ""
            #expect(!text.contains(password), "\(log)")
        }
    }

    @Test func aPipelinesStoreKeyAndRunStoreOption() throws {
        guard let first = try PostgresServer.database(), let second = try PostgresServer.database() else { return }
        defer { first.drop(); second.drop() }
        let password = try #require(try PostgresURL(first.url).password)
        let folder = NSTemporaryDirectory() + "agentshop-pg-storekey-" + UUID().uuidString
        try FileManager.default.createDirectory(atPath: folder + "/pipelines", withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(atPath: folder) }
        #expect(try Self.agentshop(["init", "datalake", "--quiet"], in: folder).status == 0)
        try Data("{\"slug\": \"toys\", \"name\": \"Toys\"}\n{\"slug\": \"games\", \"name\": \"Games\"}\n".utf8)
            .write(to: URL(fileURLWithPath: folder + "/datalake/raw_data/imports/cats.jsonl"))
        let storeKey = first.url.replacingOccurrences(of: ":" + password + "@", with: ":${SHOP_DB_PASSWORD}@")
        try Data("""
            pipeline: cats
            store: "\(storeKey)"
            stages:
              cats:
                materialize: { from: raw_data/imports/cats.jsonl, table: product_categories, key: slug }
            """.utf8).write(to: URL(fileURLWithPath: folder + "/pipelines/cats.yaml"))
        let environment = ["SHOP_DB_PASSWORD": password]
        let run = try Self.agentshop(["run", "pipelines/cats.yaml", "--lake", "datalake"], in: folder, environment: environment)
        #expect(run.status == 0, "\(run.stderr)")
        #expect(try PGConnection(first.url).scalar("SELECT count(*) FROM product_categories") == "7")
        // --store wins over the pipeline's store:.
        let other = try Self.agentshop(["run", "pipelines/cats.yaml", "--lake", "datalake", "--force", "--store", second.url],
                                       in: folder, environment: environment)
        #expect(other.status == 0, "\(other.stderr)")
        #expect(try PGConnection(second.url).scalar("SELECT string_agg(slug, ',' ORDER BY slug) FROM product_categories WHERE slug IN ('toys', 'games')") == "games,toys")
        #expect(try PGConnection(second.url).scalar("SELECT count(*) FROM data_processing_tasks WHERE task_key = 'cats/cats'") == "1")
        for output in [run.stdout, run.stderr, other.stdout, other.stderr] { #expect(!output.contains(password)) }
    }

    @Test func aStoreThatCannotBeReachedFailsWithoutShowingItsPassword() throws {
        guard try PostgresServer.adminURL() != nil else { return }
        let folder = NSTemporaryDirectory() + "agentshop-pg-unreachable-" + UUID().uuidString
        try FileManager.default.createDirectory(atPath: folder, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(atPath: folder) }
        let status = try Self.agentshop(["db", "status", "--store", "postgres://shop:topsecret-42@127.0.0.1:1/market"], in: folder)
        #expect(status.status != 0)
        #expect(status.stderr.contains("postgres://shop:***@127.0.0.1:1/market"))
        #expect(!status.stderr.contains("topsecret-42"))
    }
}
