import FlyingFox
import Foundation
import TestSupport
import Testing

/// A source that could not be read is a failed run: `agentshop run` exits non-zero, the manifest
/// says failed, the failure is notified, and the day's earlier outputs stay as they were.
@Suite struct FailedSourceTests {
    static let key = "sk-scoup-failsafe-77"

    /// What the loopback server answers, switched between runs; and the notifications it got.
    actor Switch {
        var scrapeStatus: HTTPStatusCode = .ok
        var hooks: [String] = []
        func set(_ status: HTTPStatusCode) { scrapeStatus = status }
        func hook(_ body: String) { hooks.append(body) }
    }

    func manifest(_ result: Project.Result) -> [String: Any] {
        (try? JSONSerialization.jsonObject(with: Data(result.stdout.utf8))) as? [String: Any] ?? [:]
    }

    func stageError(_ manifest: [String: Any], _ name: String) -> String {
        let stages = manifest["stages"] as? [[String: Any]] ?? []
        return stages.first { $0["name"] as? String == name }?["error"] as? String ?? ""
    }

    func bytes(_ project: Project, _ relative: String) -> Data? {
        FileManager.default.contents(atPath: project.folder + "/" + relative)
    }

    static let warc = "datalake/scraped_data/products/dt=2026-11-20/pages.warc.gz"
    static let log = "datalake/raw_data/logs/crawl/dt=2026-11-20/crawl.jsonl.gz"
    static let products = "datalake/scraped_data/products/dt=2026-11-20/products.jsonl"

    static func pipeline(fetch: String, hook: String) -> String {
        """
        pipeline: shop
        notify: { on: [failure], webhook: "\(hook)" }
        stages:
          crawl:
            fetch: \(fetch)
            out:
              - scraped_data/products/dt={run_date}/pages.warc.gz
              - raw_data/logs/crawl/dt={run_date}/crawl.jsonl.gz
          products:
            parse: { from: crawl, fields: { title: "title::text" } }
            out: scraped_data/products/dt={run_date}/products.jsonl
        """
    }

    /// Scoup's `/health` is open but `/scrape` answers 401 (a revoked key): the run fails, nothing is replaced.
    @Test(arguments: [HTTPStatusCode.unauthorized, .forbidden])
    func aScoupThatRefusesTheKeyFailsTheRunAndKeepsTheDaysData(status: HTTPStatusCode) async throws {
        let project = try Project()
        #expect(try project.run(["init"]).status == 0)
        let state = Switch()
        try await LoopbackServer.with({ server in
            await server.appendRoute("GET /health") { _ in FakeScoup.json(["status": "ok"]) }
            await server.appendRoute("POST /scrape") { request in
                let status = await state.scrapeStatus
                if status != .ok { return FakeScoup.json(["error": "invalid token"], status: status) }
                return FakeScoup.json(["statusCode": 200, "html": "<html><title>Red shoe</title><body>shoe</body></html>", "links": []])
            }
            await server.appendRoute("POST /hook") { request in
                await state.hook(String(decoding: try await request.bodyData, as: UTF8.self))
                return FlyingFox.HTTPResponse(statusCode: .ok)
            }
        }) { base in
            try project.write("pipelines/shop.yaml", Self.pipeline(
                fetch: "{ via: scoup, seeds: [\"https://shop.example/p/1\", \"https://shop.example/p/2\"] }", hook: base + "/hook"))
            let environment = ["SCOUP_BASE_URL": base, "SCOUP_API_KEY": Self.key]
            let first = try await project.runDetached(["run", "shop", "--json", "--date", "2026-11-20"], environment: environment, clearing: "SCOUP_")
            #expect(first.status == 0, "\(first.stderr)")
            let warc = try #require(bytes(project, Self.warc))
            let log = try #require(bytes(project, Self.log))
            let products = try #require(bytes(project, Self.products))

            await state.set(status)
            let second = try await project.runDetached(["run", "shop", "--json", "--date", "2026-11-20"], environment: environment, clearing: "SCOUP_")
            #expect(second.status == 1, "\(second.stdout)\n\(second.stderr)")
            let manifest = manifest(second)
            #expect(manifest["status"] as? String == "failed")
            #expect(Project.statuses(manifest)["crawl"] == "failed")
            #expect(Project.statuses(manifest)["products"] == "blocked")
            let error = stageError(manifest, "crawl")
            #expect(error.contains("refused the API key") && error.contains("SCOUP_API_KEY"), "\(error)")
            #expect(!error.contains(Self.key))
            #expect(bytes(project, Self.warc) == warc)
            #expect(bytes(project, Self.log) == log)
            #expect(bytes(project, Self.products) == products)
            let hooks = await state.hooks
            #expect(hooks.count == 1)
            #expect(hooks.first?.contains("failed") == true, "\(hooks)")
            #expect(project.temporaryFiles().isEmpty)
        }
    }

    /// The shop's server is down on the second run of the day: robots.txt is unreachable and the host is
    /// skipped. Zero pages is not a day's crawl: the run fails and the morning's pages stay.
    @Test func aDirectCrawlWhoseHostIsDownFailsTheRunAndKeepsTheDaysData() async throws {
        let project = try Project()
        #expect(try project.run(["init"]).status == 0)
        let state = Switch()
        var seedBase = ""
        try await LoopbackServer.with({ server in
            await server.appendRoute("GET /robots.txt") { _ in FlyingFox.HTTPResponse(statusCode: .ok, body: Data("User-agent: *\nAllow: /\n".utf8)) }
            await server.appendRoute("GET /p/*") { request in
                FlyingFox.HTTPResponse(statusCode: .ok, headers: [HTTPHeader("Content-Type"): "text/html"],
                                       body: Data("<html><title>\(request.path)</title></html>".utf8))
            }
        }) { base in
            seedBase = base
            try await LoopbackServer.with({ server in
                await server.appendRoute("POST /hook") { request in
                    await state.hook(String(decoding: try await request.bodyData, as: UTF8.self))
                    return FlyingFox.HTTPResponse(statusCode: .ok)
                }
            }) { hook in
                try project.write("pipelines/shop.yaml", Self.pipeline(
                    fetch: "{ seeds: [\"\(base)/p/1\", \"\(base)/p/2\"], allow_private_addresses: true, per_host: { delay: 0s }, retries: 0 }",
                    hook: hook + "/hook"))
                let first = try await project.runDetached(["run", "shop", "--json", "--date", "2026-11-20"], clearing: "SCOUP_")
                #expect(first.status == 0, "\(first.stderr)")
            }
        }
        let warc = try #require(bytes(project, Self.warc))
        let products = try #require(bytes(project, Self.products))
        #expect(!seedBase.isEmpty)

        // The site's server has stopped: nothing listens on its port any more.
        try await LoopbackServer.with({ server in
            await server.appendRoute("POST /hook") { request in
                await state.hook(String(decoding: try await request.bodyData, as: UTF8.self))
                return FlyingFox.HTTPResponse(statusCode: .ok)
            }
        }) { hook in
            try project.write("pipelines/shop.yaml", Self.pipeline(
                fetch: "{ seeds: [\"\(seedBase)/p/1\", \"\(seedBase)/p/2\"], allow_private_addresses: true, per_host: { delay: 0s }, retries: 0 }",
                hook: hook + "/hook"))
            let second = try await project.runDetached(["run", "shop", "--json", "--date", "2026-11-20"], clearing: "SCOUP_")
            #expect(second.status == 1, "\(second.stdout)\n\(second.stderr)")
            let manifest = manifest(second)
            #expect(manifest["status"] as? String == "failed")
            #expect(Project.statuses(manifest)["crawl"] == "failed")
            let error = stageError(manifest, "crawl")
            #expect(error.contains("every seed failed") && error.contains("robots.txt unreachable"), "\(error)")
            #expect(bytes(project, Self.warc) == warc)
            #expect(bytes(project, Self.products) == products)
            let hooks = await state.hooks
            #expect(hooks.count == 1)
        }
    }

    /// A new day whose every seed answers an error publishes no WARC at all, and fails.
    @Test func everySeedFailingOnANewDayPublishesNothing() async throws {
        let project = try Project()
        #expect(try project.run(["init"]).status == 0)
        try await LoopbackServer.with({ server in
            await server.appendRoute("GET /*") { _ in FlyingFox.HTTPResponse(statusCode: .notFound) }
        }) { base in
            try project.write("pipelines/shop.yaml", Self.pipeline(
                fetch: "{ seeds: [\"\(base)/p/1\"], robots: ignore, allow_private_addresses: true, retries: 0 }",
                hook: "http://127.0.0.1:1/hook"))
            let result = try await project.runDetached(["run", "shop", "--json", "--date", "2026-11-20"], clearing: "SCOUP_")
            #expect(result.status == 1, "\(result.stdout)\n\(result.stderr)")
            let error = stageError(manifest(result), "crawl")
            #expect(error.contains("every seed failed") && error.contains("HTTP 404"), "\(error)")
            #expect(!project.exists(Self.warc))
            #expect(!project.exists(Self.log))
        }
    }
}
