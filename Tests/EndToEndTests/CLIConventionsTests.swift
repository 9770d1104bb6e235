import Foundation
import Testing

/// End-to-end: conventions every command keeps — `--json` honoured or refused, tables that fit
/// the terminal, paths read from where the user stands, the version line, completion.
@Suite struct CLIConventionsTests {
    static let pipeline = """
    pipeline: shop
    stages:
      products:
        import: { from: raw_data/imports/products.csv, on_error: skip }
        out: scraped_data/products/dt={run_date}/products.jsonl.gz
      report:
        report: {}
        after: [products]
        out: processed_data/reports/dt={run_date}/shop.html
    """

    static let products = """
    slug,name,category,price
    a,Red shoe,shoes,10
    b,Blue shoe,shoes,20

    """

    func makeProject() throws -> (Project, runID: String) {
        let project = try Project()
        #expect(try project.run(["init", "--quiet"]).status == 0)
        try project.write("pipelines/shop.yaml", Self.pipeline)
        try project.write("datalake/raw_data/imports/products.csv", Self.products)
        let (result, manifest) = try project.runPipeline("shop", ["--date", "2026-11-25"])
        #expect(result.status == 0, "\(result.stderr)")
        return (project, manifest["run_id"] as? String ?? "")
    }

    /// Every command path under `agentshop`, read from the help output (SUBCOMMANDS sections).
    func commandPaths(_ project: Project, _ prefix: [String] = []) throws -> [[String]] {
        let help = try project.run(prefix + ["--help"]).stdout
        guard prefix.count < 3, let start = help.range(of: "SUBCOMMANDS:") else { return [prefix] }
        var paths: [[String]] = []
        for line in help[start.upperBound...].split(separator: "\n") {
            if !line.hasPrefix(" ") { break }
            guard line.hasPrefix("  "), !line.hasPrefix("   "), !line.hasPrefix("  See "),
                  let name = line.split(separator: " ").first, name.allSatisfy({ $0.isLowercase || $0 == "-" }),
                  name != "help" else { continue }
            paths += try commandPaths(project, prefix + [String(name)])
        }
        return paths
    }

    /// The arguments a command needs to get past parsing, in the test project.
    static func arguments(_ path: [String], runID: String) -> [String] {
        switch path.joined(separator: " ") {
        case "run", "plan", "validate", "schedule due": return ["shop"]
        case "runs show", "report": return [runID]
        case "query": return ["SELECT 1 AS one"]
        case "lake show", "lake schema": return ["scraped_data/products/*/products.jsonl.gz"]
        case "lake lineage": return ["scraped_data/products/dt=2026-11-25/products.jsonl.gz"]
        case "lake diff": return ["scraped_data/products/*/products.jsonl.gz", "scraped_data/products/*/products.jsonl.gz", "--key", "slug"]
        case "export": return ["shop:products", "--to", "processed_data/exports/x.csv"]
        case "extract": return ["raw_data/imports/products.csv"]
        case "db restore": return ["latest"]
        case "db admin": return ["--username", "ann", "--email", "ann@example.com", "--role", "admin"]
        case "llm enable", "llm disable": return ["offline"]
        case "llm test": return ["--provider", "offline"]
        default: return []
        }
    }

    @Test func everyCommandHonoursOrRefusesJSON() throws {
        let (project, runID) = try makeProject()
        let paths = try commandPaths(project)
        #expect(paths.count > 30, "\(paths)")
        var ignored: [String] = []
        for path in paths {
            let name = path.joined(separator: " ")
            // scoup talks to a crawler service (its --json is tested in ScoupCommandTests); the scheduler and
            // schedule install refuse --json before they loop or touch a crontab.
            if path.first == "scoup" { continue }
            let arguments = path + Self.arguments(path, runID: runID) + ["--json"]
            let result = try project.run(arguments, environment: ["SCOUP_URL": "http://127.0.0.1:9", "AGENTSHOP_OFFLINE": "1"])
            let refused = result.status == 64 && result.stderr.contains("--json")
            let stdout = result.stdout.trimmingCharacters(in: .whitespacesAndNewlines)
            let isJSON = !stdout.isEmpty && (try? JSONSerialization.jsonObject(with: Data(stdout.utf8), options: [.fragmentsAllowed])) != nil
            if refused { continue }
            if result.status == 0 ? !isJSON : !(stdout.isEmpty || isJSON) {
                ignored.append("\(name) (exit \(result.status)): \(stdout.prefix(80))")
            }
        }
        #expect(ignored.isEmpty, "commands that ignore --json: \(ignored)")
    }

    @Test func namedCommandsHonourJSON() throws {
        let (project, _) = try makeProject()
        let query = try project.run(["query", "SELECT slug FROM 'scraped_data/products/*/products.jsonl.gz' ORDER BY slug", "--json"])
        #expect(query.status == 0, "\(query.stderr)")
        let rows = try #require(try JSONSerialization.jsonObject(with: Data(query.stdout.utf8)) as? [[String: Any]])
        #expect(rows.map { $0["slug"] as? String } == ["a", "b"])
        #expect(try project.run(["query", "SELECT 1", "--json", "--format", "csv"]).status == 64)

        try project.write("pipelines/timed.yaml", "pipeline: timed\nschedule: \"0 3 * * *\"\n" + Self.pipeline.split(separator: "\n").dropFirst().joined(separator: "\n"))
        let list = try project.run(["schedule", "list", "timed", "--json", "--at", "2026-11-25T00:00:00Z"])
        #expect(list.status == 0, "\(list.stderr)")
        let entries = try #require(try JSONSerialization.jsonObject(with: Data(list.stdout.utf8)) as? [[String: Any]])
        #expect(entries.first?["pipeline"] as? String == "timed")
        #expect((entries.first?["next_runs"] as? [String])?.first?.hasPrefix("2026-11-25T03:00:00") == true)

        let print = try project.run(["schedule", "print", "timed", "--json"])
        #expect(print.status == 0, "\(print.stderr)")
        let lines = try #require(try JSONSerialization.jsonObject(with: Data(print.stdout.utf8)) as? [String])
        #expect(lines.contains { $0.contains("0 3 * * *") || $0.contains("agentshop") })

        let prune = try project.run(["runs", "prune", "--dry-run", "--json"])
        #expect(prune.status == 0, "\(prune.stderr)")
        let pruned = try #require(try JSONSerialization.jsonObject(with: Data(prune.stdout.utf8)) as? [String: Any])
        #expect(pruned["dry_run"] as? Bool == true && pruned["removed"] is [Any])

        let refused = try project.run(["db", "migrate", "--json"])
        #expect(refused.status == 64 && refused.stderr.contains("--json"), "\(refused.stderr)")
    }

    @Test func tablesFitTheTerminalWidthAndJSONKeepsFullValues() throws {
        let (project, runID) = try makeProject()
        for arguments in [["lake", "ls"], ["runs", "show", runID], ["runs", "list"]] {
            let result = try project.run(arguments, environment: ["COLUMNS": "80"])
            #expect(result.status == 0, "\(result.stderr)")
            // Tables only: the `label  value` lines above a run's table keep a full log path.
            let wide = result.stdout.split(separator: "\n").filter { $0.count > 80 && !$0.hasPrefix("log ") }
            #expect(wide.isEmpty, "\(arguments): \(wide)")
        }
        let narrow = try project.run(["lake", "ls"], environment: ["COLUMNS": "60"])
        #expect(narrow.stdout.contains("…"))
        let json = try project.run(["lake", "ls", "--json"], environment: ["COLUMNS": "60"])
        #expect(json.stdout.contains("\"scraped_data/products/*/products.jsonl.gz\""))
    }

    @Test func lakeLsGroupsTheLLMCacheAndTheDumps() throws {
        let (project, _) = try makeProject()
        for i in 0..<12 {
            let hash = String(format: "%02x", i) + String(repeating: "0", count: 62)
            try project.write("datalake/external_apis/llm_responses/cache/\(hash.prefix(2))/\(hash).json", "{\"answer\": \(i)}")
        }
        for day in 20...24 {
            try project.write("datalake/db_dumps/daily/agentshop-2026-11-\(day)T030000Z.sqlite.gz", "x")
            try project.write("datalake/db_dumps/daily/agentshop-2026-11-\(day)T030000Z.sqlite.gz.sha256", "y")
        }
        let ls = try project.run(["lake", "ls", "--json"])
        let datasets = try #require(try JSONSerialization.jsonObject(with: Data(ls.stdout.utf8)) as? [[String: Any]])
        let cache = datasets.filter { ($0["dataset"] as? String ?? "").hasPrefix("external_apis/llm_responses/cache") }
        #expect(cache.count == 1 && cache.first?["files"] as? Int == 12, "\(cache)")
        let dumps = datasets.filter { ($0["dataset"] as? String ?? "").hasPrefix("db_dumps/daily") }
        #expect(dumps.count == 1 && dumps.first?["files"] as? Int == 10, "\(dumps)")
    }

    @Test func pathsAreReadFromWhereTheUserStands() throws {
        let (project, _) = try makeProject()
        // From the project folder, with the lake folder's name in front.
        let show = try project.run(["lake", "show", "datalake/scraped_data/products/dt=2026-11-25/products.jsonl.gz", "--format", "jsonl"])
        #expect(show.status == 0, "\(show.stderr)")
        #expect(show.stdout.split(separator: "\n").count == 2)
        let lineage = try project.run(["lake", "lineage", "datalake/scraped_data/products/dt=2026-11-25/products.jsonl.gz"])
        #expect(lineage.status == 0, "\(lineage.stderr)")
        #expect(lineage.stdout.contains("products"))
        // An absolute path into the lake.
        let absolute = try project.run(["lake", "show", project.lake + "/scraped_data/products/dt=2026-11-25/products.jsonl.gz", "--format", "jsonl"])
        #expect(absolute.status == 0, "\(absolute.stderr)")

        // From inside the lake folder: query finds the lake it stands in.
        let inside = project.inFolder(project.lake)
        let query = try inside.run(["query", "SELECT count(*) AS n FROM 'scraped_data/products/*/products.jsonl.gz'", "--format", "csv"])
        #expect(query.status == 0, "\(query.stderr)")
        #expect(query.stdout.contains("2"))
        let fromSub = project.inFolder(project.lake + "/scraped_data")
        let show2 = try fromSub.run(["lake", "show", "products/dt=2026-11-25/products.jsonl.gz", "--format", "jsonl"])
        #expect(show2.status == 0, "\(show2.stderr)")
    }

    @Test func initDotMakesThisFolderTheLakeAndWritesPipelinesHere() throws {
        let project = try Project()
        let folder = project.folder + "/shop"
        try FileManager.default.createDirectory(atPath: folder, withIntermediateDirectories: true)
        let here = project.inFolder(folder)
        let result = try here.run(["init", "."])
        #expect(result.status == 0, "\(result.stderr)")
        #expect(FileManager.default.fileExists(atPath: folder + "/pipelines/example.yaml"))
        #expect(!FileManager.default.fileExists(atPath: project.folder + "/pipelines/example.yaml"))
        let run = try here.run(["run", "example", "--quiet"])
        #expect(run.status == 0, "\(run.stderr)")
        let ls = try here.run(["lake", "ls", "--json"])
        #expect(!ls.stdout.contains("pipelines/example.yaml"))
    }

    @Test func versionNamesTheCLibraries() throws {
        let project = try Project()
        let result = try project.run(["--version"])
        #expect(result.status == 0)
        for library in ["libcurl", "libxml2", "sqlite", "zlib"] { #expect(result.stdout.contains(library), "\(result.stdout)") }
        #expect(result.stdout.hasPrefix("agentshop 0.1.0"))
    }

    @Test func completionOffersPipelinesStagesAndRunIDs() throws {
        let (project, runID) = try makeProject()
        let script = try project.run(["--generate-completion-script", "bash"])
        #expect(script.status == 0 && script.stdout.contains("---completion"))
        // What the generated script calls: `agentshop ---completion <command path> -- <argument> <words…>`.
        let pipelines = try project.run(["---completion", "run", "--", "positional@0", "2", "0", "agentshop", "run", ""])
        #expect(pipelines.stdout.split(separator: "\n").contains("shop"), "\(pipelines)")
        let stages = try project.run(["---completion", "run", "--", "--stage", "4", "0", "agentshop", "run", "shop", "--stage", ""])
        #expect(stages.stdout.split(separator: "\n").map(String.init).sorted() == ["products", "report"], "\(stages)")
        let runs = try project.run(["---completion", "runs", "show", "--", "positional@0", "3", "0", "agentshop", "runs", "show", ""])
        #expect(runs.stdout.contains(runID), "\(runs)")
    }

    @Test func dbCommandsTakeAnySQLiteFileAndLeaveAForeignSchemaAlone() throws {
        let project = try Project()
        #expect(try project.run(["init", "--quiet"]).status == 0)
        let other = project.folder + "/other.sqlite"
        let python = Process()
        python.executableURL = URL(fileURLWithPath: "/usr/bin/python3")
        python.arguments = ["-c", "import sqlite3,sys; c=sqlite3.connect(sys.argv[1]); c.execute('create table t(x)');"
                            + " c.executemany('insert into t values (?)', [(1,),(2,),(3,)]); c.commit()", other]
        try python.run()
        python.waitUntilExit()
        let status = try project.run(["db", "status", "--store", "other.sqlite", "--json"])
        #expect(status.status == 0, "\(status.stderr)")
        let object = try #require(try JSONSerialization.jsonObject(with: Data(status.stdout.utf8)) as? [String: Any])
        #expect((object["tables"] as? [String: Any])?["t"] as? Int == 3, "\(object)")
        let dump = try project.run(["db", "dump", "--store", "other.sqlite"])
        #expect(dump.status == 0, "\(dump.stderr)")
        #expect(dump.stdout.contains("db_dumps/manual/"))
        // Not migrated: still one table, no AgentShop schema added.
        let after = try project.run(["db", "status", "--store", "other.sqlite", "--json"])
        let tables = try #require(try JSONSerialization.jsonObject(with: Data(after.stdout.utf8)) as? [String: Any])["tables"] as? [String: Any]
        #expect(tables?.keys.sorted() == ["t"], "\(String(describing: tables))")
    }

    @Test func lakeDiffGoesPastAMalformedLineWithOnErrorSkip() throws {
        let project = try Project()
        #expect(try project.run(["init", "--quiet"]).status == 0)
        try project.write("datalake/raw_data/uploads/a.csv", "slug,price\na,1\nb,2\n")
        try project.write("datalake/raw_data/uploads/b.csv", "slug,price\na,1\nbroken,3,extra,cells\nb,5\n")
        let strict = try project.run(["lake", "diff", "raw_data/uploads/a.csv", "raw_data/uploads/b.csv", "--key", "slug"])
        #expect(strict.status == 2, "\(strict.stderr)")
        #expect(strict.stderr.contains("--on-error skip"))
        let skip = try project.run(["lake", "diff", "datalake/raw_data/uploads/a.csv", "datalake/raw_data/uploads/b.csv",
                                    "--key", "slug", "--on-error", "skip"])
        #expect(skip.status == 0, "\(skip.stderr)")
        #expect(skip.stdout.contains("1 changed"), "\(skip.stdout)")
        #expect(skip.stderr.contains("(skipped)"))
    }

    /// A duration option takes the pipeline files' syntax and refuses what no clock can hold: `--timeout 1e300`
    /// trapped in the conversion to libcurl's milliseconds.
    @Test func durationOptionsTakeUnitsAndRefuseTheImpossible() throws {
        let project = try Project()
        for bad in ["1e300", "nan", "-5", "0", "soon"] {
            let result = try project.run(["llm", "health", "--timeout", bad])
            #expect(result.status == 64, "\(bad): \(result.status) \(result.stderr)")
            #expect(result.stderr.contains("--timeout"), "\(bad): \(result.stderr)")
        }
        #expect(try project.run(["scoup", "health", "--timeout", "1e300"]).status == 64)
        #expect(try project.run(["llm", "health", "--help"]).stdout.contains("500ms"))
    }

    @Test func everyCommandsHelpShowsAnExample() throws {
        let project = try Project()
        var missing: [String] = []
        for path in try commandPaths(project) {
            let help = try project.run(path + ["--help"]).stdout
            if !help.contains("Examples:") { missing.append(path.joined(separator: " ")) }
        }
        #expect(missing.isEmpty, "help without an example: \(missing)")
    }
}

extension Project {
    /// Runs the binary with its working directory in `directory` (inside this project), as a user
    /// standing there would.
    func inFolder(_ directory: String) -> FolderRunner { FolderRunner(project: self, directory: directory) }
}

struct FolderRunner {
    let project: Project
    let directory: String

    func run(_ arguments: [String], environment: [String: String] = [:]) throws -> Project.Result {
        try project.run(arguments, environment: environment, in: directory)
    }
}
