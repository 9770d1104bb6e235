import Crawl
import Foundation
import TestSupport
import Testing
import Transport

/// One URL at a time against a loopback site: statuses, retries, redirects, limits, encodings.
@Suite struct PageFetcherTests {
    static func fetcher(maxAttempts: Int = 3, timeout: Double = 5, maxBytes: Int = 1 << 20,
                        refusal: @escaping @Sendable (String) -> String? = { _ in nil }) -> PageFetcher {
        PageFetcher(client: HTTPClient(), settings: FetchSettings(timeout: timeout, maxBodyBytes: maxBytes, userAgent: "TestBot/1.0",
                                                                  retry: RetryPolicy(maxAttempts: maxAttempts, initialDelay: 0.05, maxDelay: 0.2)),
                    redirectRefusal: refusal)
    }

    @Test func pageWithItsHeadersAndUserAgent() async throws {
        try await ScriptedSite.with({ await $0.page("/a", "<html>A</html>") }) { base, site in
            let page = await Self.fetcher().fetch(base + "/a", headers: [Header("If-None-Match", "\"v1\"")])
            #expect(page.status == 200)
            #expect(page.body == Array("<html>A</html>".utf8))
            #expect(page.header("content-type") == "text/html; charset=utf-8")
            #expect(page.error == nil && page.attempts == 1)
            let request = try #require(await site.requests.first)
            #expect(request.header("User-Agent") == "TestBot/1.0")
            #expect(request.header("If-None-Match") == "\"v1\"")
        }
    }

    @Test func redirectsAreFollowedAndRecorded() async throws {
        try await ScriptedSite.with({ site in
            await site.route("/old") { _, _ in .redirect("/middle", status: 301) }
            await site.route("/middle") { _, _ in .redirect("/new") }
            await site.page("/new", "new")
        }) { base, site in
            let page = await Self.fetcher().fetch(base + "/old")
            #expect(page.status == 200)
            #expect(page.finalURL == base + "/new")
            #expect(page.redirects.map(\.url) == [base + "/old", base + "/middle"])
            #expect(page.redirects.map(\.status) == [301, 302])
            #expect(await site.paths == ["/old", "/middle", "/new"])
        }
    }

    @Test func redirectLoopIsAnErrorNotAHang() async throws {
        try await ScriptedSite.with({ site in
            await site.route("/x") { _, _ in .redirect("/y") }
            await site.route("/y") { _, _ in .redirect("/x") }
        }) { base, site in
            let page = await Self.fetcher().fetch(base + "/x")
            #expect(page.status == nil)
            #expect(page.error?.contains("redirect loop") == true)
            #expect(page.attempts == 1)  // not retried: it will not get better
            #expect(await site.paths == ["/x", "/y"])
        }
    }

    @Test func redirectIntoAForbiddenPlaceIsRefused() async throws {
        try await ScriptedSite.with({ site in
            await site.route("/go") { _, _ in .redirect("http://169.254.169.254/latest/meta-data") }
        }) { base, _ in
            let page = await Self.fetcher(refusal: { $0.contains("169.254") ? "link-local address" : nil }).fetch(base + "/go")
            #expect(page.status == nil)
            #expect(page.error?.contains("refused: link-local address") == true)
        }
    }

    @Test func notFoundIsAResponseAndNotRetried() async throws {
        try await ScriptedSite.with({ _ in }) { base, site in
            let page = await Self.fetcher().fetch(base + "/missing")
            #expect(page.status == 404)
            #expect(page.error == nil)
            #expect(await site.paths.count == 1)
        }
    }

    @Test func serverErrorThenSuccessIsRetriedWithBackoff() async throws {
        try await ScriptedSite.with({ site in
            await site.route("/flaky") { _, hit in hit == 1 ? .text("oops", status: 500) : .html("ok") }
        }) { base, site in
            let page = await Self.fetcher().fetch(base + "/flaky")
            #expect(page.status == 200)
            #expect(page.attempts == 2)
            let times = await site.requests.map(\.at)
            #expect(times[1] - times[0] >= 0.02)  // equal jitter: at least half of the 50 ms backoff
        }
    }

    @Test func persistentServerErrorGivesUpAfterTheRetries() async throws {
        try await ScriptedSite.with({ site in await site.route("/down") { _, _ in .text("down", status: 503) } }) { base, site in
            let page = await Self.fetcher(maxAttempts: 3).fetch(base + "/down")
            #expect(page.status == 503)
            #expect(page.error == "HTTP 503")
            #expect(page.attempts == 3)
            #expect(await site.paths.count == 3)
        }
    }

    @Test func tooManyRequestsWaitsForRetryAfterAndPausesTheHost() async throws {
        try await ScriptedSite.with({ site in
            await site.route("/busy") { _, hit in
                hit == 1 ? ScriptedSite.Response(status: 429, headers: ["Retry-After": "1"]) : .html("ok")
            }
        }) { base, site in
            let gate = HostGate(concurrency: 1, delay: 0)
            let page = await Self.fetcher().fetch(base + "/busy", gate: gate)
            #expect(page.status == 200)
            #expect(page.attempts == 2)
            let times = await site.requests.map(\.at)
            #expect(times[1] - times[0] >= 0.95)
        }
    }

    @Test func slowResponsePastTheTimeoutFails() async throws {
        try await ScriptedSite.with({ site in
            await site.route("/slow") { _, _ in ScriptedSite.Response(status: 200, body: Array("late".utf8), delay: 2) }
        }) { base, site in
            let started = Date()
            let page = await Self.fetcher(maxAttempts: 2, timeout: 0.3).fetch(base + "/slow")
            #expect(page.status == nil)
            #expect(page.error?.hasPrefix("timeout") == true)
            #expect(page.attempts == 2)  // a timeout is worth another try
            #expect(Date().timeIntervalSince(started) < 1.8)
            #expect(await site.paths.count == 2)
        }
    }

    @Test func oversizedPageIsAborted() async throws {
        try await ScriptedSite.with({ site in
            await site.route("/huge") { _, _ in .html(String(repeating: "x", count: 200_000)) }
        }) { base, _ in
            let page = await Self.fetcher(maxBytes: 50_000).fetch(base + "/huge")
            #expect(page.status == nil)
            #expect(page.error?.hasPrefix("tooLarge") == true)
            #expect(page.attempts == 1)
        }
    }

    @Test func gzipEncodedBodiesArriveDecoded() async throws {
        let html = "<html>" + String(repeating: "compressible ", count: 500) + "</html>"
        let compressed = try gzipped(Array(html.utf8))
        try await ScriptedSite.with({ site in
            await site.route("/z") { _, _ in
                ScriptedSite.Response(status: 200, headers: ["Content-Type": "text/html", "Content-Encoding": "gzip"], body: compressed)
            }
        }) { base, site in
            let page = await Self.fetcher().fetch(base + "/z")
            #expect(page.status == 200)
            #expect(page.body == Array(html.utf8))
            #expect(await site.requests.first?.header("Accept-Encoding")?.contains("gzip") == true)
        }
    }
}
