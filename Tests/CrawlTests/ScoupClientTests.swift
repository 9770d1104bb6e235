import Crawl
import Foundation
import TestSupport
import Testing
import Transport

@Suite struct ScoupClientTests {
    static let key = "sk-test-4f2a9c"

    static func client(_ base: String, key: String? = ScoupClientTests.key, recorder: DelayRecorder = DelayRecorder(),
                       maxAttempts: Int = 4, maxConcurrent: Int = 4) -> ScoupClient {
        let configuration = ScoupConfiguration(baseURL: base, apiKey: key.map(Secret.init),
                                               retry: RetryPolicy(maxAttempts: maxAttempts, initialDelay: 0.5, maxDelay: 30),
                                               maxConcurrentRequests: maxConcurrent)
        return ScoupClient(configuration: configuration, client: Transport.HTTPClient(), sleep: recorder.sleep)
    }

    /// Runs `body` and returns the ScoupError it throws; fails the test when it throws nothing else.
    static func scoupError(_ body: () async throws -> Void) async -> ScoupError? {
        do {
            try await body()
            Issue.record("expected a ScoupError")
        } catch let error as ScoupError {
            #expect(!error.description.contains(key), "the API key leaked: \(error.description)")
            #expect(!"\(error)".contains(key))
            return error
        } catch {
            Issue.record("expected a ScoupError, got \(error)")
        }
        return nil
    }

    @Test func healthSendsTheBearerToken() async throws {
        try await FakeScoup.with(token: Self.key) { base, fake in
            let health = try await Self.client(base).health()
            #expect(health.status == "ok")
            #expect(health.body?["version"] == "1.4.0")
            let call = try #require(await fake.calls.first)
            #expect(call.method == "GET" && call.path == "/health")
            #expect(call.authorization == "Bearer \(Self.key)")
        }
    }

    @Test func scrapeSendsOptionsAndDecodesTheResult() async throws {
        try await FakeScoup.with(token: Self.key) { base, fake in
            let options = ScrapeOptions(method: "GET", headers: ["Accept-Language": "en"], cookies: [["name": "s", "value": "1"]],
                                        userAgent: "AgentShop", waitFor: 500, screenshot: true, extractLinks: true,
                                        extractText: true, customSelectors: ["price": ".price"], javascript: false, mobile: true)
            let result = try await Self.client(base).scrape("https://shop.example/p/1", options: options)
            #expect(result.statusCode == 200)
            #expect(result.title == "Page")
            #expect(result.html?.contains("https://shop.example/p/1") == true)
            #expect(result.linkURLs == ["https://shop.example/a", "https://shop.example/b"])
            #expect(result.customData == ["price": "value of .price"] || result.customData == ["price": "value of price"])
            #expect(result.screenshotUrl == "https://scoup.local/shot.png")
            #expect(result.meta?["description"] == "A page")

            let call = try #require(await fake.calls.first)
            #expect(call.method == "POST" && call.path == "/scrape")
            #expect(call.contentType == "application/json")
            let body = try #require(call.body)
            #expect(body["url"] as? String == "https://shop.example/p/1")
            let sent = try #require(body["options"] as? [String: Any])
            #expect(sent["userAgent"] as? String == "AgentShop")
            #expect(sent["waitFor"] as? Double == 500)
            #expect(sent["screenshot"] as? Bool == true)
            #expect(sent["mobile"] as? Bool == true)
            #expect(sent["javascript"] as? Bool == false)
            #expect(sent["customSelectors"] as? [String: String] == ["price": ".price"])
            #expect(sent["headers"] as? [String: String] == ["Accept-Language": "en"])
            // Options not given are left out, so that Scoup applies its own defaults.
            #expect(sent["proxy"] == nil && sent["extractImages"] == nil)
        }
    }

    @Test func sitemapAndInfo() async throws {
        try await FakeScoup.with(token: Self.key) { base, fake in
            let client = Self.client(base)
            let sitemap = try await client.sitemap("https://shop.example/sitemap.xml", filters: ["include": ["/p/"]])
            #expect(sitemap.urls == ["https://shop.example/p/1", "https://shop.example/p/2"])
            let info = try await client.info("https://shop.example/p/1")
            #expect(info.page.title == "Info title")
            #expect(info.page.html == nil)

            let calls = await fake.calls
            #expect(calls.map(\.path) == ["/scrape/sitemap", "/info"])
            #expect(calls[0].body?["sitemapUrl"] as? String == "https://shop.example/sitemap.xml")
            #expect((calls[0].body?["filters"] as? [String: Any])?["include"] as? [String] == ["/p/"])
            #expect(calls[1].body?["url"] as? String == "https://shop.example/p/1")
            #expect(calls[1].body?["infoOnly"] as? Bool == true)
            #expect(calls.allSatisfy { $0.authorization == "Bearer \(Self.key)" })
        }
    }

    @Test func wrongTokenIsUnauthorizedWithoutRetryAndWithoutTheKey() async throws {
        try await FakeScoup.with(token: "the-real-key") { base, fake in
            let recorder = DelayRecorder()
            let client = Self.client(base, recorder: recorder)
            let error = try #require(await Self.scoupError { _ = try await client.scrape("https://shop.example/") })
            #expect(error.kind == .unauthorized)
            #expect(error.status == 401)
            #expect(error.attempts == 1)
            #expect(error.url == base + "/scrape")
            #expect(error.target == "https://shop.example/")
            #expect(error.description.contains("SCOUP_API_KEY"))
            // The fake echoed the token it got; the client blanked it out.
            #expect(error.description.contains("<redacted>"))
            #expect(await fake.callCount == 1)
            #expect(await recorder.delays.isEmpty)

            let healthError = try #require(await Self.scoupError { _ = try await client.health() })
            #expect(healthError.kind == .unauthorized)
        }
    }

    @Test func missingKeySendsNoAuthorizationAndSaysSo() async throws {
        try await FakeScoup.with(token: Self.key) { base, fake in
            let error = try #require(await Self.scoupError { _ = try await Self.client(base, key: nil).info("https://shop.example/") })
            #expect(error.kind == .unauthorized)
            #expect(error.description.contains("SCOUP_API_KEY is not set"))
            #expect(await fake.calls.first?.authorization == nil)
        }
    }

    @Test func serviceUnavailableThenSuccessIsRetried() async throws {
        try await FakeScoup.with(token: Self.key) { base, fake in
            let recorder = DelayRecorder()
            let result = try await Self.client(base, recorder: recorder).scrape("https://shop.example/flaky")
            #expect(result.statusCode == 200)
            #expect(await fake.callCount == 2)
            let delays = await recorder.delays
            #expect(delays.count == 1)
            // First backoff: 0.5 s with equal jitter, so between 0.25 and 0.5.
            #expect(delays.allSatisfy { (0.25...0.5).contains($0) })
        }
    }

    @Test func tooManyRequestsHonoursRetryAfterSeconds() async throws {
        try await FakeScoup.with(token: Self.key) { base, fake in
            let recorder = DelayRecorder()
            let result = try await Self.client(base, recorder: recorder).scrape("https://shop.example/ratelimited")
            #expect(result.statusCode == 200)
            #expect(await fake.callCount == 2)
            #expect(await recorder.delays == [7])
        }
    }

    @Test func tooManyRequestsHonoursRetryAfterDate() async throws {
        try await FakeScoup.with(token: Self.key) { base, _ in
            let recorder = DelayRecorder()
            _ = try await Self.client(base, recorder: recorder).scrape("https://shop.example/ratelimited-date")
            let delays = await recorder.delays
            #expect(delays.count == 1)
            // 3 s ahead, to the second, minus the time the exchange took.
            #expect(delays.allSatisfy { (1...4).contains($0) })
        }
    }

    @Test func retryAfterLongerThanAllowedFailsAtOnce() async throws {
        try await FakeScoup.with(token: Self.key) { base, fake in
            let recorder = DelayRecorder()
            let client = Self.client(base, recorder: recorder)
            let error = try #require(await Self.scoupError { _ = try await client.scrape("https://shop.example/ratelimited-long") })
            #expect(error.kind == .rateLimited)
            #expect(error.status == 429)
            #expect(error.description.contains("3600"))
            #expect(await fake.callCount == 1)
            #expect(await recorder.delays.isEmpty)
        }
    }

    @Test func persistentServerErrorsStopAfterMaxAttempts() async throws {
        try await FakeScoup.with(token: Self.key) { base, fake in
            let recorder = DelayRecorder()
            let client = Self.client(base, recorder: recorder, maxAttempts: 4)
            let error = try #require(await Self.scoupError { _ = try await client.scrape("https://shop.example/always503") })
            #expect(error.kind == .serverError)
            #expect(error.status == 503)
            #expect(error.attempts == 4)
            #expect(error.description.contains("overloaded"))
            #expect(error.description.contains("https://shop.example/always503"))
            #expect(await fake.callCount == 4)
            let delays = await recorder.delays
            #expect(delays.count == 3)
            // Exponential: 0.5, 1, 2 before jitter; each within [half, full].
            for (index, delay) in delays.enumerated() {
                let full = 0.5 * pow(2, Double(index))
                #expect((full / 2...full).contains(delay))
            }
        }
    }

    @Test func clientErrorsAreNotRetried() async throws {
        try await FakeScoup.with(token: Self.key) { base, fake in
            let client = Self.client(base)
            let error = try #require(await Self.scoupError { _ = try await client.scrape("https://shop.example/bad-request") })
            #expect(error.kind == .rejected)
            #expect(error.status == 400)
            #expect(error.description.contains("url must be absolute"))
            #expect(await fake.callCount == 1)
        }
    }

    @Test func scoupDownFailsFastWithAClearMessage() async throws {
        let started = Date()
        let client = Self.client(closedPortBase)
        let error = try #require(await Self.scoupError { _ = try await client.health() })
        #expect(error.kind == .unavailable)
        #expect(error.description.contains("not reachable at \(closedPortBase)"))
        #expect(error.description.contains("SCOUP_BASE_URL"))
        #expect(error.attempts == 1)
        #expect(Date().timeIntervalSince(started) < 5)
    }

    @Test func scoupDownDuringAScrapeIsRetriedThenUnavailable() async throws {
        let recorder = DelayRecorder()
        let client = Self.client(closedPortBase, recorder: recorder, maxAttempts: 3)
        let error = try #require(await Self.scoupError { _ = try await client.scrape("https://shop.example/") })
        #expect(error.kind == .unavailable)
        #expect(error.attempts == 3)
        #expect(error.target == "https://shop.example/")
        #expect(await recorder.delays.count == 2)
    }

    @Test func concurrencyIsCapped() async throws {
        try await FakeScoup.with(token: Self.key) { base, fake in
            let client = Self.client(base, maxConcurrent: 2)
            try await withThrowingTaskGroup(of: Void.self) { group in
                for index in 0..<6 {
                    group.addTask { _ = try await client.scrape("https://shop.example/slow/\(index)") }
                }
                try await group.waitForAll()
            }
            #expect(await fake.callCount == 6)
            #expect(await fake.maxInFlight == 2)
        }
    }

    @Test func configurationFromEnvironment() {
        let defaults = ScoupConfiguration.fromEnvironment([:])
        #expect(defaults.baseURL == "http://localhost:3001")
        #expect(defaults.apiKey == nil)
        #expect(defaults.timeout == 30)

        let set = ScoupConfiguration.fromEnvironment(["SCOUP_BASE_URL": "http://scoup.internal:8080/", "SCOUP_API_KEY": Self.key])
        #expect(set.baseURL == "http://scoup.internal:8080")
        #expect(set.apiKey == Secret(Self.key))
        // Printing or dumping the configuration never shows the key.
        #expect(!"\(set)".contains(Self.key))
        #expect(!String(reflecting: set).contains(Self.key))
        var dumped = ""
        dump(set, to: &dumped)
        #expect(!dumped.contains(Self.key))
    }
}

@Suite struct RetryPolicyTests {
    @Test(arguments: [
        (1, 0.0, 0.25), (1, 1.0, 0.5), (2, 0.0, 0.5), (2, 1.0, 1.0), (3, 0.5, 1.5),
        (10, 1.0, 30), (10, 0.0, 15),   // capped at maxDelay before jitter
    ])
    func backoff(attempt: Int, jitter: Double, expected: Double) {
        let policy = RetryPolicy(initialDelay: 0.5, maxDelay: 30)
        #expect(policy.backoff(afterAttempt: attempt, jitter: jitter) == expected)
    }

    @Test(arguments: [(408, true), (429, true), (500, true), (502, true), (503, true), (504, true),
                      (501, false), (505, false), (400, false), (401, false), (404, false), (200, false)])
    func retryableStatuses(status: Int, retryable: Bool) {
        #expect(RetryPolicy.isRetryable(status: status) == retryable)
    }

    @Test(arguments: [
        ("120", 120.0),
        (" 0 ", 0),
        ("Wed, 25 Nov 2026 18:00:30 GMT", 30),
        ("Wednesday, 25-Nov-26 18:01:00 GMT", 60),
        ("Wed Nov 25 18:00:10 2026", 10),
        ("Wed, 25 Nov 2026 17:00:00 GMT", 0),   // in the past: no wait
    ] as [(String, Double)])
    func retryAfter(value: String, expected: Double) throws {
        let now = try #require(ISO8601DateFormatter().date(from: "2026-11-25T18:00:00Z"))
        #expect(RetryAfter.seconds(value, now: now) == expected)
    }

    @Test(arguments: ["", "soon", "-5", "1.5"])
    func retryAfterRejectsGarbage(value: String) {
        #expect(RetryAfter.seconds(value) == nil)
    }
}

/// Scoup's answers in the shapes it sends: fields at the top, or in a `{success, data}` envelope with
/// `status` for the page's status. Decoded strictly, the envelope gave a result with every field nil
/// (`scoup info` printed `{}`).
@Suite struct ScoupAnswerTests {
    @Test func anEnvelopedAnswerKeepsItsFields() throws {
        let body = #"{"success":true,"data":{"url":"https://shop.example/","status":200,"title":"T","meta":{"lang":"en"},"# +
            #""customData":{"price":"9.99"},"screenshot_url":"https://s/1.png","responseTime":12}}"#
        let result = try JSONDecoder().decode(ScrapeResult.self, from: Data(body.utf8))
        #expect(result.statusCode == 200)
        #expect(result.title == "T")
        #expect(result.meta?["lang"] == "en")
        #expect(result.customData?["price"] == "9.99")
        #expect(result.screenshotUrl == "https://s/1.png")
        let info = ScoupPageInfo(answer: try JSONDecoder().decode(JSONValue.self, from: Data(body.utf8)))
        #expect(info.rows.map(\.name) == ["customData price", "meta lang", "responseTime", "screenshot_url", "status", "title", "url"])
    }

    @Test func aFlatAnswerReadsAsBefore() throws {
        let body = #"{"statusCode":404,"html":"<p>x</p>","links":["https://a/"],"customData":null}"#
        let result = try JSONDecoder().decode(ScrapeResult.self, from: Data(body.utf8))
        #expect(result.statusCode == 404 && result.html == "<p>x</p>" && result.linkURLs == ["https://a/"])
        #expect(result.customData == nil)
    }
}
