import Crawl
import FlyingFox
import TestSupport
import Foundation
import Testing
import Transport

@Suite struct RobotsFetchTests {
    static func text(_ body: String, status: HTTPStatusCode = .ok) -> FlyingFox.HTTPResponse {
        FlyingFox.HTTPResponse(statusCode: status, headers: [HTTPHeader("Content-Type"): "text/plain"], body: Data(body.utf8))
    }

    @Test func fetchedFileIsParsed() async throws {
        try await LoopbackServer.with({ server in
            await server.appendRoute("GET /robots.txt") { _ in
                Self.text("User-agent: *\nDisallow: /private\nCrawl-delay: 3\nSitemap: http://x.example/s.xml\n")
            }
        }) { base in
            let policy = await RobotsPolicy.fetch(for: base + "/some/page", client: Transport.HTTPClient())
            #expect(policy.source == .parsed)
            #expect(!policy.isAllowed(base + "/private/1", userAgent: HTTPRequest.defaultUserAgent))
            #expect(policy.isAllowed(base + "/public", userAgent: HTTPRequest.defaultUserAgent))
            #expect(policy.crawlDelay(for: HTTPRequest.defaultUserAgent) == 3)
            #expect(policy.sitemaps == ["http://x.example/s.xml"])
        }
    }

    @Test func notFoundAllowsEverything() async throws {
        try await LoopbackServer.with({ server in
            await server.appendRoute("GET /robots.txt") { _ in Self.text("gone", status: .notFound) }
        }) { base in
            let policy = await RobotsPolicy.fetch(for: base + "/", client: Transport.HTTPClient())
            #expect(policy.source == .unavailable(status: 404))
            #expect(policy.isAllowed(base + "/anything", userAgent: "AgentShop"))
            #expect(!policy.shouldBackOff)
        }
    }

    @Test func serverErrorDisallowsEverythingAndBacksOff() async throws {
        try await LoopbackServer.with({ server in
            await server.appendRoute("GET /robots.txt") { _ in Self.text("User-agent: *\nDisallow:\n", status: .serviceUnavailable) }
        }) { base in
            let policy = await RobotsPolicy.fetch(for: base + "/", client: Transport.HTTPClient())
            #expect(policy.shouldBackOff)
            #expect(!policy.isAllowed(base + "/anything", userAgent: "AgentShop"))
            #expect(policy.isAllowed(base + "/robots.txt", userAgent: "AgentShop"))
        }
    }

    @Test func unreachableHostDisallowsEverything() async {
        let policy = await RobotsPolicy.fetch(for: closedPortBase + "/page", client: Transport.HTTPClient(), timeout: 5)
        #expect(policy.shouldBackOff)
        #expect(!policy.isAllowed(closedPortBase + "/page", userAgent: "AgentShop"))
    }

    /// RFC 9309 §2.3.1.2: at least five redirects are followed; past that, the file counts as unavailable.
    @Test(arguments: [(5, false), (6, true)])
    func redirectsAreFollowedUpToFive(hops: Int, unavailable: Bool) async throws {
        try await LoopbackServer.with({ server in
            await server.appendRoute("GET /robots.txt") { _ in
                FlyingFox.HTTPResponse(statusCode: .movedPermanently, headers: HTTPHeaders([.location: "/r/1"]))
            }
            for hop in 1..<hops {
                await server.appendRoute(HTTPRoute(stringLiteral: "GET /r/\(hop)")) { _ in
                    FlyingFox.HTTPResponse(statusCode: .found, headers: HTTPHeaders([.location: "/r/\(hop + 1)"]))
                }
            }
            await server.appendRoute(HTTPRoute(stringLiteral: "GET /r/\(hops)")) { _ in Self.text("User-agent: *\nDisallow: /private\n") }
        }) { base in
            let policy = await RobotsPolicy.fetch(for: base + "/", client: Transport.HTTPClient())
            if unavailable {
                #expect(policy.source == .unavailable(status: 310))
                #expect(policy.isAllowed(base + "/private", userAgent: "AgentShop"))
            } else {
                #expect(policy.source == .parsed)
                #expect(!policy.isAllowed(base + "/private", userAgent: "AgentShop"))
            }
        }
    }

    /// RFC 9309 §2.5: a robots.txt larger than the limit is read up to 500 KiB and parsed, not a
    /// reason to skip the host (issue #16: one over 8 MB made the host "unreachable").
    @Test(arguments: [9 * 1024 * 1024, RobotsPolicy.maxParseBytes + 1])
    func aHugeFileIsReadUpTo500KiB(size: Int) async throws {
        let head = "User-agent: *\nDisallow: /early\n"
        let tail = "Disallow: /late\n"
        var body = Data(head.utf8)
        let line = Data("# padding padding padding padding padding padding padding padding\n".utf8)
        while body.count + line.count <= size - tail.utf8.count { body.append(line) }
        body.append(Data(String(repeating: "#", count: size - tail.utf8.count - body.count).utf8))
        body.append(Data(tail.utf8))
        #expect(body.count == size)
        let served = body
        try await LoopbackServer.with({ server in
            await server.appendRoute("GET /robots.txt") { _ in
                FlyingFox.HTTPResponse(statusCode: .ok, headers: [HTTPHeader("Content-Type"): "text/plain"], body: served)
            }
        }) { base in
            let policy = await RobotsPolicy.fetch(for: base + "/page", client: Transport.HTTPClient())
            #expect(policy.source == .parsed)
            #expect(!policy.shouldBackOff)
            #expect(!policy.isAllowed(base + "/early", userAgent: HTTPRequest.defaultUserAgent))
            #expect(policy.isAllowed(base + "/late", userAgent: HTTPRequest.defaultUserAgent))
            #expect(policy.isAllowed(base + "/other", userAgent: HTTPRequest.defaultUserAgent))
        }
    }
}
