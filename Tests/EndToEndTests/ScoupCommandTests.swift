import FlyingFox
import Foundation
import TestSupport
import Testing

/// `agentshop scoup …` run as a user would, against the Scoup-compatible fake of TestSupport on loopback
/// (the four endpoints, the Bearer token checked, a wrong token echoed back).
@Suite struct ScoupCommandTests {
    static let key = "sk-scoup-e2e-4f9a1c"

    func env(_ base: String, key: String = ScoupCommandTests.key) -> [String: String] {
        ["SCOUP_BASE_URL": base, "SCOUP_API_KEY": key]
    }

    func jsonObject(_ text: String) -> [String: Any] {
        ((try? JSONSerialization.jsonObject(with: Data(text.utf8))) as? [String: Any]) ?? [:]
    }

    @Test func healthSendsTheBearerKeyAndNeverPrintsIt() async throws {
        let project = try Project()
        try await FakeScoup.with(token: Self.key) { base, fake in
            let human = try await project.runDetached(["scoup", "health"], environment: env(base), clearing: "SCOUP_")
            #expect(human.status == 0, "\(human.stderr)")
            #expect(human.stdout.contains("Scoup at \(base) is up (status: ok)"))
            #expect(human.stdout.contains("version: 1.4.0"))
            let json = try await project.runDetached(["scoup", "health", "--json"], environment: env(base), clearing: "SCOUP_")
            #expect(json.status == 0)
            let report = jsonObject(json.stdout)
            #expect(report["status"] as? String == "ok")
            #expect(report["base_url"] as? String == base)
            #expect((report["response"] as? [String: Any])?["version"] as? String == "1.4.0")
            let calls = await fake.calls
            #expect(calls.map(\.path) == ["/health", "/health"])
            #expect(calls.allSatisfy { $0.authorization == "Bearer \(Self.key)" })
            for output in [human.stdout, human.stderr, json.stdout, json.stderr] { #expect(!output.contains(Self.key)) }
        }
    }

    @Test func scrapeSendsEveryOptionAndShowsTheAnswer() async throws {
        let project = try Project()
        try await FakeScoup.with(token: Self.key) { base, fake in
            let result = try await project.runDetached([
                "scoup", "scrape", "https://shop.example/p/1", "--selector", "price=.price", "--selector", "name = h1",
                "--extract-links", "--extract-text", "--wait-for", "1500", "--javascript", "--mobile", "--screenshot",
                "--user-agent", "TestBot/1.0",
            ], environment: env(base), clearing: "SCOUP_")
            #expect(result.status == 0, "\(result.stderr)")
            let calls = await fake.calls
            #expect(calls.map(\.path) == ["/health", "/scrape"])
            let body = calls.last!.body ?? [:]
            #expect(body["url"] as? String == "https://shop.example/p/1")
            let options = body["options"] as? [String: Any] ?? [:]
            #expect(options["customSelectors"] as? [String: String] == ["price": ".price", "name": "h1"])
            #expect(options["extractLinks"] as? Bool == true)
            #expect(options["extractText"] as? Bool == true)
            #expect(options["javascript"] as? Bool == true)
            #expect(options["mobile"] as? Bool == true)
            #expect(options["screenshot"] as? Bool == true)
            #expect(options["waitFor"] as? Int == 1500)
            #expect(options["userAgent"] as? String == "TestBot/1.0")
            #expect(options["extractImages"] == nil, "options not asked for are left to Scoup's defaults")
            #expect(options["method"] == nil && options["headers"] == nil)
            let lines = result.stdout.split(separator: "\n").map { $0.split(separator: " ", omittingEmptySubsequences: true).joined(separator: " ") }
            #expect(lines.contains("status 200"))
            #expect(lines.contains("title Page"))
            #expect(lines.contains("price value of price"))
            #expect(lines.contains("name value of name"))
            #expect(lines.contains("text Page"))
            #expect(lines.contains("links 2"))
            #expect(lines.contains("link https://shop.example/b"))
            #expect(lines.contains("screenshot https://scoup.local/shot.png"))

            let json = try await project.runDetached(["scoup", "scrape", "https://shop.example/p/1", "--wait-for", "#app", "--json"], environment: env(base), clearing: "SCOUP_")
            #expect(json.status == 0)
            let answer = jsonObject(json.stdout)
            #expect(answer["statusCode"] as? Int == 200)
            #expect(answer["html"] as? String == "<html><title>Page</title><body>https://shop.example/p/1</body></html>")
            let waitFor = ((await fake.calls).last!.body?["options"] as? [String: Any])?["waitFor"]
            #expect(waitFor as? String == "#app", "a non-number --wait-for is a selector")
        }
    }

    @Test func sitemapAndInfo() async throws {
        let project = try Project()
        let listed = ["https://shop.example/p/1", "https://shop.example/p/2", "https://shop.example/p/3"]
        try await FakeScoup.with(token: Self.key, sitemapURLs: listed) { base, fake in
            let sitemap = try await project.runDetached(["scoup", "sitemap", "https://shop.example/sitemap.xml",
                                                  "--filters", #"{"include":["/p/"]}"#], environment: env(base), clearing: "SCOUP_")
            #expect(sitemap.status == 0, "\(sitemap.stderr)")
            #expect(sitemap.stdout == "https://shop.example/p/1\nhttps://shop.example/p/2\nhttps://shop.example/p/3\n")
            #expect(sitemap.stderr.contains("3 URLs in https://shop.example/sitemap.xml"))
            let sent = (await fake.calls).last!.body ?? [:]
            #expect(sent["sitemapUrl"] as? String == "https://shop.example/sitemap.xml")
            #expect((sent["filters"] as? [String: Any])?["include"] as? [String] == ["/p/"])

            let json = try await project.runDetached(["scoup", "sitemap", "https://shop.example/sitemap.xml", "--json"], environment: env(base), clearing: "SCOUP_")
            #expect((jsonObject(json.stdout)["urls"] as? [String])?.count == 3)

            let info = try await project.runDetached(["scoup", "info", "https://shop.example/p/1"], environment: env(base), clearing: "SCOUP_")
            #expect(info.status == 0, "\(info.stderr)")
            #expect(info.stdout.contains("Info title"))
            #expect(info.stdout.contains("meta lang"))
            let infoCall = (await fake.calls).last!
            #expect(infoCall.path == "/info")
            #expect(infoCall.body?["infoOnly"] as? Bool == true)
        }
    }

    @Test func aWrongKeyExits77WithoutPrintingIt() async throws {
        let project = try Project()
        try await FakeScoup.with(token: Self.key) { base, _ in
            let wrong = "sk-wrong-key-77d1"
            for arguments in [["scoup", "health"], ["scoup", "scrape", "https://shop.example/p/1"], ["scoup", "health", "--json"]] {
                let result = try await project.runDetached(arguments, environment: env(base, key: wrong), clearing: "SCOUP_")
                #expect(result.status == 77, "\(arguments): \(result.stderr)")
                #expect(result.stderr.contains("Scoup refused the API key (HTTP 401); check SCOUP_API_KEY"))
                #expect(!result.stderr.contains(wrong) && !result.stdout.contains(wrong), "the echoed key is redacted")
                #expect(result.stderr.contains("<redacted>"))
            }
            let none = try await project.runDetached(["scoup", "health"], environment: ["SCOUP_BASE_URL": base], clearing: "SCOUP_")
            #expect(none.status == 77)
            #expect(none.stderr.contains("SCOUP_API_KEY is not set"))
        }
    }

    @Test func scoupDownOrUnhealthyExits69() async throws {
        let project = try Project()
        // Port 1 on loopback refuses connections at once.
        let down = try await project.runDetached(["scoup", "scrape", "https://shop.example/p/1"], environment: env("http://127.0.0.1:1"), clearing: "SCOUP_")
        #expect(down.status == 69)
        #expect(down.stderr.contains("Scoup is not reachable at http://127.0.0.1:1"))
        #expect(down.stderr.contains("is it running?"))
        #expect(down.stdout.isEmpty)
        // A Scoup that answers but whose /health says it cannot work.
        try await LoopbackServer.with({ server in
            await server.appendRoute("GET /health") { _ in
                FakeScoup.json(["status": "degraded", "error": "browser pool exhausted"], status: .serviceUnavailable)
            }
            await server.appendRoute("POST /scrape") { _ in
                Issue.record("no scrape may be sent to an unhealthy Scoup")
                return FakeScoup.json([:])
            }
        }) { base in
            let result = try await project.runDetached(["scoup", "scrape", "https://shop.example/p/1"], environment: env(base), clearing: "SCOUP_")
            #expect(result.status == 69)
            #expect(result.stderr.contains("Scoup is unhealthy (HTTP 503): browser pool exhausted"))
        }
    }

    @Test func errorsFromScoupOrThePageExit1AndUsageErrors64() async throws {
        let project = try Project()
        // With a site, the fake serves its pages and answers any other URL as a 404 page.
        let site = ["https://shop.example/p/1": (html: "<html><body>p1</body></html>", links: [String]())]
        try await FakeScoup.with(token: Self.key, site: site) { base, _ in
            let rejected = try await project.runDetached(["scoup", "scrape", "https://shop.example/bad-request"], environment: env(base), clearing: "SCOUP_")
            #expect(rejected.status == 1)
            #expect(rejected.stderr.contains("HTTP 400: url must be absolute"))
            let missing = try await project.runDetached(["scoup", "scrape", "https://shop.example/missing"], environment: env(base), clearing: "SCOUP_")
            #expect(missing.status == 1)
            #expect(missing.stdout.contains("404"), "the answer is still shown")
            #expect(missing.stderr.contains("https://shop.example/missing answered HTTP 404"))
            for bad in [["scoup", "scrape", "https://shop.example/p/1", "--selector", "price"],
                        ["scoup", "scrape", "ftp://shop.example/p/1"],
                        ["scoup", "sitemap", "https://shop.example/s.xml", "--filters", "{nope"],
                        ["scoup", "info", "not a url"]] {
                let result = try await project.runDetached(bad, environment: env(base), clearing: "SCOUP_")
                #expect(result.status == 64, "\(bad): \(result.stderr)")
            }
        }
    }

    @Test func readsTheAddressAndKeyFromTheProjectsDotEnv() async throws {
        let project = try Project()
        try await FakeScoup.with(token: Self.key) { base, fake in
            try project.write(".env", "SCOUP_BASE_URL=\(base)\nSCOUP_API_KEY=\"\(Self.key)\"\n")
            let result = try await project.runDetached(["scoup", "health"], environment: [:], clearing: "SCOUP_")
            #expect(result.status == 0, "\(result.stderr)")
            #expect((await fake.calls).first?.authorization == "Bearer \(Self.key)")
        }
    }
}
