import ArgumentParser
import Crawl
import Foundation
import HTML
import Lake
import LLM
import Pipeline
import Postgres
import Store
import Transport
import WorkQueue

struct DoctorCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "doctor",
        abstract: "Check that this machine and lake can run AgentShop: libraries, lake layout and permissions, disk, store, LLM providers, Scoup, crontab.",
        discussion: """
        Each check prints ok, warn or fail with a hint. Exits 1 when any check fails. Network checks (LLM \
        providers reachable, Scoup health) run only with --network. With a work queue (--queue, or \
        AGENTSHOP_QUEUE_URL), its connection, tables, items by state, runs by status, workers and expired leases are checked too.

        Examples:
          agentshop doctor
          agentshop doctor --json
          agentshop doctor --queue "$QUEUE_URL"
        """
    )

    @OptionGroup var global: GlobalOptions
    @OptionGroup var crontab: CrontabOptions

    @Flag(help: "Also check that configured LLM providers and the Scoup service answer.")
    var network = false

    @Option(help: ArgumentHelp("Also check this PostgreSQL work queue (default $AGENTSHOP_QUEUE_URL).", valueName: "postgres-url"))
    var queue: String?

    struct Check: Encodable {
        enum Status: String, Encodable { case ok, warn, fail }
        var check: String
        var status: Status
        var detail: String
        var hint: String?
        /// What the checked service said about itself (Scoup's `/health` answer), for `--json`.
        var data: Crawl.JSONValue?

        static func ok(_ check: String, _ detail: String) -> Check { Check(check: check, status: .ok, detail: detail) }
        static func warn(_ check: String, _ detail: String, hint: String) -> Check { Check(check: check, status: .warn, detail: detail, hint: hint) }
        static func fail(_ check: String, _ detail: String, hint: String) -> Check { Check(check: check, status: .fail, detail: detail, hint: hint) }
    }

    func run() async throws {
        var checks = Self.libraries()
        let lake = global.openLakeQuietly()
        checks += Self.lakeChecks(lake)
        let environment = global.environment(projectFolder: FileManager.default.currentDirectoryPath).variables
        checks.append(Self.store(lake, environment: environment))
        if let url = queue ?? environment["AGENTSHOP_QUEUE_URL"].flatMap({ $0.isEmpty ? nil : $0 }) {
            checks += Self.queue(url, environment: environment)
        }
        checks += await Self.llm(environment: environment, network: network)
        checks.append(await Self.scoup(environment: environment, network: network))
        checks += schedules(lake: lake)

        if global.json {
            Console.json(checks)
        } else {
            Console.out(Console.table([["STATUS", "CHECK", "DETAIL"]] + checks.map { [$0.status.rawValue, $0.check, $0.detail] }))
            // Hints after the table, one line each, so that the table stays narrow.
            for check in checks where check.hint != nil && check.status != .ok {
                Console.out("\(check.status.rawValue): \(check.check): \(check.hint!)")
            }
            let failed = checks.filter { $0.status == .fail }.count, warned = checks.filter { $0.status == .warn }.count
            Console.error("\(checks.count) checks: \(checks.count - failed - warned) ok, \(warned) warn, \(failed) fail")
        }
        if checks.contains(where: { $0.status == .fail }) { throw ExitStatus.checkFailed }
    }

    // MARK: Checks

    /// An error as a sentence: its own description, never a dump of its fields.
    static func describe(_ error: any Error) -> String {
        // The concrete type's own conformance: every error bridges to NSError, which would always pass a plain cast.
        if type(of: error) is CustomStringConvertible.Type { return String(describing: error) }
        return error.localizedDescription
    }

    static func libraries() -> [Check] {
        [
            TransportLibrary.libcurlLoadError.map { .fail("libcurl", $0, hint: "fetches, LLM calls and notices need it") }
                ?? .ok("libcurl", TransportLibrary.libcurlVersion),
            HTMLLibrary.libxml2LoadError.map { .fail("libxml2", $0, hint: "parse stages, extract and sitemaps need it") }
                ?? .ok("libxml2", HTMLLibrary.libxml2Version),
            .ok("sqlite", Database.sqliteVersion),
            .ok("zlib", ZlibLibrary.version),
        ]
    }

    static func lakeChecks(_ lake: Lake) -> [Check] {
        let fm = FileManager.default
        var isDirectory: ObjCBool = false
        guard fm.fileExists(atPath: lake.root, isDirectory: &isDirectory), isDirectory.boolValue else {
            return [.fail("lake", "no lake at \(lake.root)", hint: "run `agentshop init \(lake.root)`, or pass --lake / set AGENTSHOP_LAKE")]
        }
        var checks: [Check] = []
        let missing = LakeLayout.folders.map(\.path).filter { path in
            var dir: ObjCBool = false
            return !(fm.fileExists(atPath: lake.root + "/" + path, isDirectory: &dir) && dir.boolValue)
        }
        if missing.isEmpty {
            checks.append(.ok("lake layout", "\(lake.root): all \(LakeLayout.folders.count) folders present"))
        } else {
            checks.append(.warn("lake layout", "missing: " + missing.prefix(6).joined(separator: ", ") + (missing.count > 6 ? " and \(missing.count - 6) more" : ""),
                                hint: "`agentshop init \(lake.root)` creates missing folders and leaves existing files alone"))
        }
        let folders = [lake.root] + LakeLayout.folders.map { lake.root + "/" + $0.path } + [lake.stateFolder]
        let unwritable = folders.filter { fm.fileExists(atPath: $0) }.compactMap { path -> String? in
            Self.writeProblem(path).map { "\(path.dropFirst(lake.root.count).drop(while: { $0 == "/" }).isEmpty ? "." : String(path.dropFirst(lake.root.count + 1))) (\($0))" }
        }
        if unwritable.isEmpty {
            checks.append(.ok("lake permissions", "every folder is writable"))
        } else {
            checks.append(.fail("lake permissions", "not writable: " + unwritable.prefix(4).joined(separator: ", ") + (unwritable.count > 4 ? " and \(unwritable.count - 4) more" : ""),
                                hint: "give the user that runs pipelines (and cron) write access: `chmod -R u+w \(lake.root)` or fix the owner"))
        }
        checks.append(disk(lake))
        return checks
    }

    /// Why `path` cannot be written, or nil. Root may write anywhere, but a folder without any write bit
    /// is still wrong: cron jobs run as the lake's owner.
    static func writeProblem(_ path: String) -> String? {
        if access(path, W_OK) != 0 { return String(cString: strerror(errno)) }
        var info = stat()
        guard stat(path, &info) == 0 else { return String(cString: strerror(errno)) }
        if info.st_mode & (S_IWUSR | S_IWGRP | S_IWOTH) == 0 { return String(format: "mode %o", info.st_mode & 0o7777) }
        return nil
    }

    static func disk(_ lake: Lake) -> Check {
        var info = statvfs()
        guard statvfs(lake.root, &info) == 0 else {
            return .warn("disk", "cannot read free space: \(String(cString: strerror(errno)))", hint: "check the file system of \(lake.root)")
        }
        let free = Int64(info.f_bavail) * Int64(info.f_frsize)
        let total = Int64(info.f_blocks) * Int64(info.f_frsize)
        let detail = "\(ByteSize.text(free)) free of \(ByteSize.text(total))"
        if free < 256 << 20 { return .fail("disk", detail, hint: "free space under \(lake.root): runs write whole files before renaming them") }
        if free < 2 << 30 { return .warn("disk", detail, hint: "less than 2 GiB free; prune old partitions or dumps (`agentshop db backups`)") }
        return .ok("disk", detail)
    }

    static func store(_ lake: Lake, environment: [String: String] = [:]) -> Check {
        let location: StoreLocation
        do { location = try StoreLocation.resolve(nil, environment: environment, defaultPath: lake.storePath) } catch {
            return .fail("store", Secret.redact(describe(error)), hint: "AGENTSHOP_STORE_URL takes postgres://user@host:5432/database")
        }
        if let url = location.postgresURL {
            if let password = url.password { Secret.register(password) }
            do {
                let store = try PostgresStore.open(url: url)
                let version = try store.schemaVersion()
                let latest = PostgresSchema.latestVersion
                let server = try store.connection.scalar("SHOW server_version") ?? ""
                if version > latest {
                    return .fail("store", "\(location): schema version \(version) is newer than this agentshop's (\(latest))", hint: "upgrade agentshop")
                }
                if version < latest {
                    return .warn("store", "\(location): schema version \(version), \(latest) available", hint: "`agentshop db migrate`")
                }
                return .ok("store", "\(location): PostgreSQL \(server), schema version \(version)")
            } catch {
                return .fail("store", Secret.redact(describe(error)),
                             hint: "check that PostgreSQL runs and the URL, user and password are right (PGPASSWORD, ~/.pgpass)")
            }
        }
        let path = lake.storePath
        guard FileManager.default.fileExists(atPath: path) else {
            return .ok("store", "no store yet (`agentshop db init` creates it)")
        }
        do {
            let database = try Database(path: path, mode: .readOnly, busyTimeout: .seconds(5))
            let result = try database.rows("PRAGMA quick_check").compactMap { $0[0].string }
            guard result == ["ok"] else {
                return .fail("store", "quick_check: " + result.prefix(3).joined(separator: "; "),
                             hint: "restore a verified dump: `agentshop db backups`, then `agentshop db restore <dump>`")
            }
            let version = try database.userVersion()
            let latest = MarketplaceSchema.latestVersion
            if version > latest {
                return .fail("store", "schema version \(version) is newer than this agentshop's (\(latest))", hint: "upgrade agentshop")
            }
            if version < latest {
                return .warn("store", "schema version \(version), \(latest) available", hint: "`agentshop db migrate`")
            }
            return .ok("store", "\(path): quick_check ok, schema version \(version)")
        } catch {
            return .fail("store", "\(path): \(describe(error))",
                         hint: "restore a verified dump: `agentshop db backups`, then `agentshop db restore <dump>`")
        }
    }

    /// The work queue at `text`: connection and tables, items by state, the workers seen with their last
    /// heartbeat, expired leases; each with its figures as data (`--json`).
    static func queue(_ text: String, environment: [String: String]) -> [Check] {
        let url: PostgresURL
        do { url = try PostgresURL(text, environment: environment) } catch {
            return [.fail("queue", describe(error), hint: "--queue / AGENTSHOP_QUEUE_URL takes postgres://user@host:5432/database")]
        }
        if let password = url.password { Secret.register(password) }
        let health: QueueHealth
        do { health = try QueueHealth.inspect(url: url) } catch {
            return [.fail("queue", Secret.redact(describe(error)),
                          hint: "check that PostgreSQL runs and the URL, user and password are right (PGPASSWORD, ~/.pgpass)")]
        }
        var connection = Check.ok("queue", "\(url.redacted): PostgreSQL \(health.serverVersion), tables present")
        connection.data = .object(["url": .string(url.redacted), "server_version": .string(health.serverVersion),
                                   "missing_tables": .array(health.missingTables.map { .string($0) }),
                                   "optional_tables": .array(health.optionalTablesPresent.map { .string($0) })])
        if health.missingTables.count == QueueHealth.tables.count {
            connection.status = .warn
            connection.detail = "\(url.redacted): PostgreSQL \(health.serverVersion), no queue tables yet"
            connection.hint = "the first `agentshop worker URL` or `agentshop run … --queue URL` creates them"
            return [connection]
        }
        if !health.missingTables.isEmpty {
            connection.status = .fail
            connection.detail = "\(url.redacted): missing tables: " + health.missingTables.joined(separator: ", ")
            connection.hint = "start `agentshop worker URL` once (it creates what is missing), or check the URL's database and schema"
            return [connection]
        }
        let states = ["pending", "claimed", "done", "failed"]
        var items = Check.ok("queue items", states.map { "\(health.items[$0] ?? 0) \($0)" }.joined(separator: ", "))
        items.data = .object(Dictionary(uniqueKeysWithValues: health.items.map { ($0.key, Crawl.JSONValue.number(Double($0.value))) }))
        if (health.items["failed"] ?? 0) > 0 {
            items.status = .warn
            items.hint = "failed items failed on every attempt; their error is in agentshop_queue_items.error and the run's log"
        }

        if health.leftInEndedRuns > 0 {
            items.detail += "; \(health.leftInEndedRuns) pending in runs that ended (never claimed)"
        }

        let statuses = ["running", "succeeded", "failed", "interrupted"]
        var runs = Check.ok("queue runs", statuses.map { "\(health.runs[$0] ?? 0) \($0)" }.joined(separator: ", "))
        if !health.runningRuns.isEmpty { runs.detail += " (running: " + health.runningRuns.joined(separator: ", ") + ")" }
        var runsData = Dictionary(uniqueKeysWithValues: health.runs.map { ($0.key, Crawl.JSONValue.number(Double($0.value))) })
        runsData["running_runs"] = .array(health.runningRuns.map { .string($0) })
        runs.data = .object(runsData)

        let live = health.workers.filter { $0.isLive() }
        let lost = health.workers.filter { !$0.stopped && !$0.isLive() }
        func age(_ seconds: Double) -> String { DBCommand.formatAge(seconds) + " ago" }
        var workersDetail = "\(live.count) live"
        if !live.isEmpty { workersDetail += " (" + live.map { "\($0.id) beat \(age($0.heartbeatAge))" }.joined(separator: ", ") + ")" }
        if !lost.isEmpty { workersDetail += ", \(lost.count) lost (" + lost.map { "\($0.id) last beat \(age($0.heartbeatAge))" }.joined(separator: ", ") + ")" }
        let stopped = health.workers.count - live.count - lost.count
        if stopped > 0 { workersDetail += ", \(stopped) stopped" }
        var workers = Check.ok("queue workers", workersDetail)
        workers.data = .array(health.workers.map { worker in
            .object(["id": .string(worker.id), "host": .string(worker.host), "pid": worker.pid.map { .number(Double($0)) } ?? .null,
                     "heartbeat_at": .string(worker.heartbeatAt), "heartbeat_age_seconds": .number(worker.heartbeatAge.rounded()),
                     "items_done": .number(Double(worker.itemsDone)), "holding": .number(Double(worker.holding)),
                     "state": .string(worker.stopped ? "stopped" : worker.isLive() ? "live" : "lost")])
        })
        let waiting = health.waiting
        if live.isEmpty && waiting > 0 {
            workers.status = .warn
            workers.hint = "\(waiting) items wait and no worker has beaten in the last \(Int(QueueHealth.liveWithin / 60)) minutes: "
                + "start `agentshop worker URL` on a machine that mounts the lake"
        } else if !lost.isEmpty {
            workers.status = .warn
            workers.hint = "a lost worker stopped beating without leaving the queue (killed, machine gone); its leases expire "
                + "and other workers take its items over"
        }

        var leases = Check.ok("queue leases", health.staleLeases == 0 ? "no expired lease"
                                : "\(health.staleLeases) claimed items with an expired lease (\(health.staleOwners.joined(separator: ", ")))")
        leases.data = .object(["expired": .number(Double(health.staleLeases)),
                               "owners": .array(health.staleOwners.map { .string($0) })])
        if health.staleLeases > 0 {
            leases.status = .warn
            leases.hint = live.isEmpty ? "no live worker takes them over: start `agentshop worker URL`"
                : "a live worker takes them over on its next claim"
        }
        return [connection, items, runs, workers, leases]
    }

    /// LLM providers set up in the environment (the LLM module's provider catalogue: keys present,
    /// never shown), and with `--network` each one's health check.
    static func llm(environment: [String: String], network: Bool) async -> [Check] {
        let configurations: [ProviderConfiguration]
        do {
            configurations = try ProviderCatalogue(environment: environment,
                                                   projectFolder: FileManager.default.currentDirectoryPath).configurations()
        } catch {
            return [.fail("llm providers", describe(error), hint: "fix the variable it names (see `agentshop llm providers`)")]
        }
        let configured = configurations.filter { $0.kind != .offline && $0.isConfigured }
        guard !configured.isEmpty else {
            return [.warn("llm providers", "none configured: enrich stages can use the offline provider only",
                          hint: "set OPENAI_API_KEY, ANTHROPIC_API_KEY, GROQ_API_KEY, PERPLEXITY_API_KEY or OLLAMA_HOST (in .env)")]
        }
        var checks: [Check] = [.ok("llm providers", "configured: " + configured.map(\.kind.rawValue).joined(separator: ", "))]
        guard network else { return checks }
        for (configuration, result) in zip(configured, await ProviderHealth.check(configured, timeout: 10)) {
            let name = "llm \(configuration.kind.rawValue)"
            if result.status == "ok" {
                checks.append(.ok(name, "\(configuration.baseURL): \(result.detail)"))
            } else {
                checks.append(.fail(name, result.detail, hint: "check the key and the address; `agentshop llm health` shows more"))
            }
        }
        return checks
    }

    static func scoup(environment: [String: String], network: Bool) async -> Check {
        let configuration = ScoupConfiguration.fromEnvironment(environment)
        guard network else { return .ok("scoup", "\(configuration.baseURL) (not contacted; pass --network)") }
        do {
            let health = try await ScoupClient(configuration: configuration).health()
            var check = Check.ok("scoup", "\(configuration.baseURL): " + scoupHealthFields(health).joined(separator: ", "))
            check.data = health.body
            return check
        } catch {
            return .fail("scoup", describe(error), hint: "start Scoup or set SCOUP_BASE_URL / SCOUP_API_KEY; only `fetch: { via: scoup }` stages need it")
        }
    }

    /// Scoup's `/health` answer as `key value` pairs, status first (`status ok, version 1.4.0, uptime 3600`);
    /// a nested value on one line as JSON. A body that is not a JSON object says only that Scoup is up.
    static func scoupHealthFields(_ health: ScoupHealth) -> [String] {
        guard case .object(let fields)? = health.body, !fields.isEmpty else { return ["status \(health.status ?? "up")"] }
        let keys = fields.keys.sorted { a, b in a == "status" ? b != "status" : (b == "status" ? false : a < b) }
        return keys.map { "\($0) \(ScoupCommand.inline(fields[$0]!))" }
    }

    /// Pipelines valid, and the crontab block installed and current when pipelines are scheduled.
    func schedules(lake: Lake) -> [Check] {
        var checks: [Check] = []
        let files = ScheduleCommand.pipelineFiles([])
        var invalid: [String] = []
        var scheduled = 0
        for file in files {
            let (_, spec, _) = global.checkPipeline(file, lake: lake.exists ? lake : nil)
            if let spec { scheduled += spec.schedule == nil ? 0 : 1 } else { invalid.append(file) }
        }
        if files.isEmpty {
            checks.append(.ok("pipelines", "no pipelines in ./pipelines"))
        } else if invalid.isEmpty {
            checks.append(.ok("pipelines", "\(files.count) valid, \(scheduled) scheduled"))
        } else {
            checks.append(.fail("pipelines", "invalid: " + invalid.joined(separator: ", "), hint: "`agentshop validate` shows every problem"))
        }

        let project = FileManager.default.currentDirectoryPath
        let tab = crontab.crontab
        guard tab.isAvailable else {
            checks.append(scheduled == 0 ? .ok("crontab", "no crontab program; no pipeline scheduled")
                          : .warn("crontab", "no crontab program (\(tab.command))",
                                  hint: "install cron (Debian: apt-get install cron), or keep `agentshop scheduler` running"))
            return checks
        }
        let installed: [String]?
        do {
            installed = CrontabBlock.installedLines(project: project, in: try tab.read())
        } catch {
            checks.append(.warn("crontab", "\(error)", hint: "check `\(tab.command) -l`"))
            return checks
        }
        switch (installed, scheduled) {
        case (nil, 0):
            checks.append(.ok("crontab", "no block for this project; no pipeline scheduled"))
        case (nil, _):
            checks.append(.warn("crontab", "\(scheduled) pipeline(s) scheduled but no crontab block for \(project)",
                                hint: "`agentshop schedule install`, or keep `agentshop scheduler` running"))
        case (let lines?, _):
            let entries = lines.filter { !$0.hasPrefix("#") && !$0.hasPrefix("CRON_TZ=") && !$0.isEmpty }.count
            if let expected = try? ScheduleCommand.crontabLines(global: global, pipelines: [], wait: 300).lines.dropFirst(),
               !lines.dropFirst().elementsEqual(expected) {
                checks.append(.warn("crontab", "block installed (\(entries) entries) but out of date with the pipelines",
                                    hint: "`agentshop schedule install` (keep your --wait)"))
            } else {
                checks.append(.ok("crontab", "block installed for \(project) (\(entries) entries)"))
            }
        }
        // A crontab does nothing without a daemon reading it.
        if installed != nil && entries(installed) > 0 {
            let daemons = CronDaemon.running()
            checks.append(daemons.isEmpty
                ? .fail("cron daemon", "no cron daemon is running: the crontab block's pipelines will not run",
                        hint: "start it (Debian/Ubuntu: `service cron start` or `systemctl enable --now cron`), or keep `agentshop scheduler` running")
                : .ok("cron daemon", "running: " + daemons.joined(separator: ", ")))
        }
        return checks
    }
}

/// Crontab entries among a block's lines: not comments, variables (`CRON_TZ=`) or blank lines.
private func entries(_ lines: [String]?) -> Int {
    (lines ?? []).filter { $0.first.map { $0.isNumber || $0 == "*" || $0 == "@" } ?? false }.count
}

extension GlobalOptions {
    /// The lake, whether or not it exists (doctor reports on it either way).
    func openLakeQuietly() -> Lake { Lake(root: lakePath) }
}
