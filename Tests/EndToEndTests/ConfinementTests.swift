import FlyingFox
import Foundation
import Testing
import TestSupport
import Transport

/// Nothing outside the lake, nothing private on the network, through the built binary.
@Suite struct ConfinementTests {
    /// A name of this machine resolving to loopback that is not `localhost` (Debian maps the host name in
    /// /etc/hosts): only the connected address can tell it is internal.
    static let loopbackName: String? = {
        let name = ProcessInfo.processInfo.hostName.lowercased()
        guard !name.isEmpty, name != "localhost", !name.hasSuffix(".localhost") else { return nil }
        let found = AddressPolicy.internalAddresses(ofHost: name)
        return !found.isEmpty && found.allSatisfy { $0.kind == .loopback } ? name : nil
    }()

    static func fetchPipeline(seed: String, extra: String = "") -> String {
        """
        pipeline: confined
        stages:
          crawl:
            fetch:
              seeds: ["\(seed)"]
              robots: ignore
              timeout: 5s
              retry_backoff: 0.05s
        \(extra.isEmpty ? "" : "      " + extra + "\n")    out: scraped_data/confined/pages.warc.gz
        """
    }

    @Test(.enabled(if: loopbackName != nil, "this machine's name does not resolve to loopback"))
    func aSeedWhoseNameResolvesToLoopbackIsNotFetchedUnlessAllowed() throws {
        let server = try CuttingServer { _, _ in .init(body: Array("<html><h1>inside</h1></html>".utf8)) }
        defer { server.stop() }
        let seed = "http://\(Self.loopbackName!):\(server.port)/"
        let project = try Project()
        try project.run(["init", "datalake"])
        try project.write("pipelines/confined.yaml", Self.fetchPipeline(seed: seed))
        _ = try project.runPipeline("confined")
        #expect(server.requestCounts.isEmpty, "the loopback server was reached: \(server.requestCounts)")

        try project.write("pipelines/confined.yaml", Self.fetchPipeline(seed: seed, extra: "allow_private_addresses: true"))
        let (allowed, _) = try project.runPipeline("confined", ["--force"])
        #expect(allowed.status == 0, "\(allowed.stderr)")
        #expect(server.requestCounts["/"] == 1)
    }

    @Test(.enabled(if: loopbackName != nil, "this machine's name does not resolve to loopback"))
    func throughScoupAPageWhoseNameResolvesToLoopbackIsNotAskedForUnlessAllowed() async throws {
        try await FakeScoup.with(token: "scoup-token") { base, fake in
            let project = try Project()
            try project.run(["init", "datalake"])
            let seed = "http://\(Self.loopbackName!):9/page"
            let environment = ["SCOUP_BASE_URL": base, "SCOUP_API_KEY": "scoup-token"]
            try project.write("pipelines/confined.yaml", Self.fetchPipeline(seed: seed, extra: "via: scoup"))
            _ = try project.run(["run", "confined"], environment: environment)
            #expect(await fake.calls.contains { $0.path == "/health" }, "the Scoup server (named 127.0.0.1) was reachable")
            #expect(await !fake.calls.contains { $0.path == "/scrape" }, "Scoup was asked for an internal page")
            try project.write("pipelines/confined.yaml", Self.fetchPipeline(seed: seed, extra: "via: scoup\n      allow_private_addresses: true"))
            _ = try project.run(["run", "confined", "--force"], environment: environment)
            #expect(await fake.calls.contains { $0.path == "/scrape" })
        }
    }

    /// The webhook rule: an internal address only when the URL names it; a name resolving to one is refused.
    @Test(.enabled(if: loopbackName != nil, "this machine's name does not resolve to loopback"))
    func aWebhookReachesAnInternalAddressOnlyWhenItsURLNamesIt() async throws {
        let hits = HitCounter()
        try await LoopbackServer.with({ server in
            await server.appendRoute("POST /hook") { _ in
                await hits.add()
                return FlyingFox.HTTPResponse(statusCode: .ok)
            }
        }) { base in
            let port = base.split(separator: ":").last.map(String.init) ?? ""
            for (host, expected) in [(Self.loopbackName!, 0), ("127.0.0.1", 1)] {
                let project = try Project()
                try project.run(["init", "datalake"])
                try project.write("pipelines/confined.yaml", """
                    pipeline: confined
                    notify: { on: [success], webhook: "http://\(host):\(port)/hook" }
                    stages:
                      work:
                        command: { run: "echo ok > {out}" }
                        out: processed_data/work.txt
                    """)
                let before = await hits.count
                let result = try project.run(["run", "confined"])
                #expect(result.status == 0, "\(result.stderr)")
                #expect(await hits.count - before == expected, "webhook to \(host)")
            }
        }
    }

    @Test func aGzipPageCutShortIsRetriedAndNotStored() throws {
        let html = Array((0..<3000).map { "<p>row \($0) \($0 * 7919 % 1000)</p>" }.joined().utf8)
        let compressed = try gzipped(html)
        let server = try CuttingServer { _, _ in
            .init(body: compressed, cutAfter: compressed.count / 2, headers: ["Content-Encoding: gzip"], sendsLength: false)
        }
        defer { server.stop() }
        let project = try Project()
        try project.run(["init", "datalake"])
        try project.write("pipelines/confined.yaml", Self.fetchPipeline(seed: server.base + "/", extra: "allow_private_addresses: true\n      retries: 2"))
        _ = try project.runPipeline("confined")
        #expect(server.requestCounts["/"] == 3, "a cut body is retried like a reset: \(server.requestCounts)")
        let warc = project.lake + "/scraped_data/confined/pages.warc.gz"
        if FileManager.default.fileExists(atPath: warc) {
            let text = String(decoding: try gunzip(warc), as: UTF8.self)
            #expect(!text.contains("WARC-Type: response"), "the cut page was stored")
        }
    }

    @Test(arguments: [
        "file:../../../etc/passwd", "file:raw_data/%2e%2e/%2e%2e/%2e%2e/etc/passwd", "file:///proc/self/environ", "file:///etc/passwd",
    ])
    func fileSeedsLeavingTheLakeAreValidationErrors(seed: String) throws {
        let project = try Project()
        try project.run(["init", "datalake"])
        try project.write("pipelines/confined.yaml", Self.fetchPipeline(seed: seed))
        let result = try project.run(["validate", "pipelines/confined.yaml"])
        #expect(result.status != 0)
        let output = result.stdout + result.stderr
        #expect(output.contains("confined.yaml:5:") && output.contains("stages.crawl.fetch.seeds"), "\(output)")
    }

    @Test func aFileSeedThroughASymlinkFailsTheRunAndReadsNothing() throws {
        let project = try Project()
        try project.run(["init", "datalake"])
        let outside = project.folder + "/outside"
        try project.write("outside/secret.html", "<html>top secret</html>")
        try FileManager.default.createSymbolicLink(atPath: project.lake + "/raw_data/imports/site", withDestinationPath: outside)
        try project.write("datalake/raw_data/imports/seeds.txt", "file:raw_data/imports/site/secret.html\nfile:///proc/self/environ\n")
        try project.write("pipelines/confined.yaml", """
            pipeline: confined
            stages:
              crawl:
                fetch: { seeds: raw_data/imports/seeds.txt }
                out: scraped_data/confined/pages.warc.gz
            """)
        let (result, manifest) = try project.runPipeline("confined")
        #expect(result.status != 0, "\(result.stdout)")
        #expect(Project.statuses(manifest)["crawl"] == "failed", "\(manifest)")
        #expect("\(manifest)".contains("outside the lake") || result.stderr.contains("outside the lake"), "\(manifest) \(result.stderr)")
        #expect(!FileManager.default.fileExists(atPath: project.lake + "/scraped_data/confined/pages.warc.gz"))
    }

    @Test func aStageWritingTheStoreIsRefusedBeforeItRuns() throws {
        let project = try Project()
        try project.run(["init", "datalake"])
        try project.write("pipelines/confined.yaml", """
            pipeline: confined
            stages:
              clobber:
                command: { run: "echo gone > {out}" }
                out: store/agentshop.sqlite
            """)
        let result = try project.run(["validate", "pipelines/confined.yaml"])
        #expect(result.status != 0)
        #expect((result.stdout + result.stderr).contains("confined.yaml:5:10: stages.clobber.out: a stage cannot write store/"),
                "\(result.stdout)\(result.stderr)")
        let run = try project.run(["run", "confined"])
        #expect(run.status != 0)
    }

    @Test func aLogsFolderLinkedOutsideIsRefusedByTheRun() throws {
        let project = try Project()
        try project.run(["init", "datalake"])
        try FileManager.default.createDirectory(atPath: project.folder + "/elsewhere", withIntermediateDirectories: true)
        try FileManager.default.removeItem(atPath: project.lake + "/raw_data/logs")
        try FileManager.default.createSymbolicLink(atPath: project.lake + "/raw_data/logs", withDestinationPath: project.folder + "/elsewhere")
        try project.write("pipelines/confined.yaml", """
            pipeline: confined
            stages:
              work:
                command: { run: "echo ok > {out}" }
                out: processed_data/work.txt
            """)
        let result = try project.run(["run", "confined"])
        #expect(result.status != 0, "\(result.stdout)")
        #expect(result.stderr.contains("outside the lake"), "\(result.stderr)")
        #expect((try FileManager.default.contentsOfDirectory(atPath: project.folder + "/elsewhere")).isEmpty)
    }

    private func gunzip(_ path: String) throws -> Data {
        let process = Process()
        process.executableURL = URL(fileURLWithPath: "/bin/gzip")
        process.arguments = ["-dc", path]
        let pipe = Pipe()
        process.standardOutput = pipe
        try process.run()
        let data = pipe.fileHandleForReading.readDataToEndOfFile()
        process.waitUntilExit()
        return data
    }
}

private actor HitCounter {
    private(set) var count = 0
    func add() { count += 1 }
}
