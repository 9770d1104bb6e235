import Foundation
import Testing

/// `agentshop doctor` on healthy and broken lakes. The crontab it reads is a stand-in file, never the tester's.
@Suite struct DoctorTests {
    static func project() throws -> (Project, [String: String]) {
        let project = try Project()
        try project.run(["init", "datalake"])
        try project.write("fake-crontab", """
            #!/bin/sh
            file="$1"
            case "$2" in
              -l) if [ -f "$file" ]; then cat "$file"; else echo "no crontab for tester" >&2; exit 1; fi ;;
              -) cat > "$file" ;;
            esac
            """)
        chmod(project.folder + "/fake-crontab", 0o755)
        let environment = ["AGENTSHOP_CRONTAB_COMMAND": "\(project.folder)/fake-crontab \(project.folder)/tab",
                           "OPENAI_API_KEY": "", "ANTHROPIC_API_KEY": "", "GROQ_API_KEY": "", "PERPLEXITY_API_KEY": "",
                           "OLLAMA_HOST": ""]
            .merging(["OPENAI", "ANTHROPIC", "CLAUDE", "GROQ", "PERPLEXITY", "OLLAMA"].flatMap { provider in
                ["LLM_\(provider)_API_KEY", "LLM_\(provider)_BASE_URL"].map { ($0, "") }
            }) { $1 }
        return (project, environment)
    }

    /// check name → (status, detail)
    static func checks(_ result: Project.Result) -> [String: (status: String, detail: String)] {
        let array = (try? JSONSerialization.jsonObject(with: Data(result.stdout.utf8))) as? [[String: Any]] ?? []
        var out: [String: (String, String)] = [:]
        for item in array { out[item["check"] as? String ?? ""] = (item["status"] as? String ?? "", item["detail"] as? String ?? "") }
        return out
    }

    @Test func aHealthyLake() throws {
        let (project, environment) = try Self.project()
        try project.run(["db", "init"])
        var withKey = environment
        withKey["OPENAI_API_KEY"] = "sk-test-never-printed"
        let result = try project.run(["doctor", "--json"], environment: withKey)
        #expect(result.status == 0, "\(result.stdout)\(result.stderr)")
        let checks = Self.checks(result)
        for name in ["libcurl", "libxml2", "sqlite", "zlib", "lake layout", "lake permissions", "store", "llm providers", "scoup", "crontab"] {
            #expect(checks[name]?.status == "ok", "\(name): \(String(describing: checks[name]))")
        }
        #expect(checks["sqlite"]?.detail.hasPrefix("3.") == true)
        #expect(checks["libxml2"]?.detail.hasPrefix("2.") == true)
        #expect(checks["store"]?.detail.contains("quick_check ok, schema version") == true)
        #expect(checks["llm providers"]?.detail == "configured: openai")
        #expect(!result.stdout.contains("sk-test-never-printed"))

        let table = try project.run(["doctor"], environment: environment)
        #expect(table.status == 0)
        #expect(table.stdout.contains("STATUS  CHECK"))
        #expect(table.stdout.contains("warn: llm providers: set OPENAI_API_KEY"))
        #expect(table.stderr.contains("checks:"))
    }

    @Test func aBrokenLake() throws {
        let (project, environment) = try Self.project()
        let fm = FileManager.default
        try fm.removeItem(atPath: project.lake + "/db_dumps/weekly")
        try fm.removeItem(atPath: project.lake + "/scraped_data/reviews")
        chmod(project.lake + "/processed_data/exports", 0o555)
        defer { chmod(project.lake + "/processed_data/exports", 0o755) }
        try project.write("datalake/store/agentshop.sqlite", String(repeating: "not a database ", count: 400))

        let result = try project.run(["doctor", "--json"], environment: environment)
        #expect(result.status == 1, "\(result.stdout)\(result.stderr)")
        let checks = Self.checks(result)
        #expect(checks["lake layout"]?.status == "warn")
        #expect(checks["lake layout"]?.detail == "missing: scraped_data/reviews, db_dumps/weekly")
        #expect(checks["lake permissions"]?.status == "fail")
        #expect(checks["lake permissions"]?.detail.contains("processed_data/exports") == true)
        #expect(checks["store"]?.status == "fail")
        #expect(checks["libcurl"]?.status == "ok")

        let table = try project.run(["doctor"], environment: environment)
        #expect(table.status == 1)
        #expect(table.stdout.contains("fail: store: restore a verified dump"))
        #expect(table.stdout.contains("warn: lake layout: `agentshop init"))
    }

    @Test func noLakeAtAll() throws {
        let (project, environment) = try Self.project()
        let result = try project.run(["doctor", "--json", "--lake", project.folder + "/nowhere"], environment: environment)
        #expect(result.status == 1)
        #expect(Self.checks(result)["lake"]?.status == "fail")
    }

    @Test func aStoreBehindTheSchemaOrCorruptInside() throws {
        let (project, environment) = try Self.project()
        try project.run(["db", "init"])
        // A page of the database overwritten in the middle: the header stays readable, quick_check is not.
        let path = project.lake + "/store/agentshop.sqlite"
        var bytes = [UInt8](try Data(contentsOf: URL(fileURLWithPath: path)))
        #expect(bytes.count > 16384)
        for i in 8192..<min(bytes.count, 12288) { bytes[i] = 0x5A }
        try Data(bytes).write(to: URL(fileURLWithPath: path))
        let result = try project.run(["doctor", "--json"], environment: environment)
        #expect(Self.checks(result)["store"]?.status == "fail")
        #expect(result.status == 1)
    }

    @Test func theCrontabBlockIsCheckedAgainstThePipelines() throws {
        let (project, environment) = try Self.project()
        try project.write("pipelines/nightly.yaml", """
            schedule: "30 2 * * *"
            stages:
              hello:
                command: { run: "echo hi > {out}" }
                out: processed_data/hello.txt
            """)
        #expect(Self.checks(try project.run(["doctor", "--json"], environment: environment))["crontab"]?.status == "warn")
        #expect(try project.run(["schedule", "install"], environment: environment).status == 0)
        let installed = Self.checks(try project.run(["doctor", "--json"], environment: environment))
        #expect(installed["crontab"]?.status == "ok")
        #expect(installed["crontab"]?.detail.contains("(1 entries)") == true)
        try project.write("pipelines/nightly.yaml", try project.read("pipelines/nightly.yaml").replacingOccurrences(of: "30 2", with: "45 2"))
        let stale = Self.checks(try project.run(["doctor", "--json"], environment: environment))
        #expect(stale["crontab"]?.status == "warn")
        #expect(stale["crontab"]?.detail.contains("out of date") == true)
    }

    @Test func networkChecksOnlyWithNetwork() throws {
        let (project, environment) = try Self.project()
        var unreachable = environment
        unreachable["SCOUP_BASE_URL"] = "http://127.0.0.1:1"
        unreachable["OLLAMA_HOST"] = "127.0.0.1:1"
        let offline = try project.run(["doctor", "--json"], environment: unreachable)
        #expect(Self.checks(offline)["scoup"]?.status == "ok")
        #expect(Self.checks(offline)["llm ollama"] == nil)
        let online = try project.run(["doctor", "--json", "--network"], environment: unreachable)
        #expect(online.status == 1)
        #expect(Self.checks(online)["scoup"]?.status == "fail")
        #expect(Self.checks(online)["llm ollama"]?.status == "fail")
    }
}
