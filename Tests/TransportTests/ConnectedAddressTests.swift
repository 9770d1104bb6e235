import Foundation
import Testing
import TestSupport
import Transport

/// The connected-address guard: checked on the address libcurl connects to, so a host *name* that
/// resolves to loopback is refused like the literal address (`localhost` resolves to 127.0.0.1, and no
/// name check exists in Transport: only the socket's address decides).
@Suite struct ConnectedAddressTests {
    static func page() throws -> CuttingServer {
        try CuttingServer { _, _ in .init(body: Array("<html>hi</html>".utf8)) }
    }

    @Test func aNameResolvingToLoopbackIsRefusedWithTheAddressNamed() async throws {
        let server = try Self.page()
        defer { server.stop() }
        let url = "http://localhost:\(server.port)/page"
        let error = await #expect(throws: TransportError.self) {
            _ = try await Transport.HTTPClient(addressPolicy: .publicOnly).send(Transport.HTTPRequest(url: url))
        }
        #expect(error?.kind == .internalAddress)
        #expect(error?.url == url)
        #expect(error?.message.contains("loopback") == true)
        #expect(error?.message.contains("127.0.0.1") == true || error?.message.contains("::1") == true)
        #expect(error?.isTransient == false)
        #expect(server.requestCounts.isEmpty)
    }

    @Test func theLiteralAddressIsRefusedToo() async throws {
        let server = try Self.page()
        defer { server.stop() }
        let error = await #expect(throws: TransportError.self) {
            _ = try await Transport.HTTPClient(addressPolicy: .publicOnly).send(Transport.HTTPRequest(url: server.base + "/"))
        }
        #expect(error?.kind == .internalAddress)
        #expect(error?.message.contains("127.0.0.1") == true)
    }

    /// A name of this machine that resolves to loopback and is not `localhost` (Debian's /etc/hosts maps the
    /// host name to 127.0.1.1 or 127.0.0.1), so that nothing but the connected address can tell.
    static let loopbackName: String? = {
        let name = ProcessInfo.processInfo.hostName.lowercased()
        guard !name.isEmpty, name != "localhost", !name.hasSuffix(".localhost") else { return nil }
        let found = AddressPolicy.internalAddresses(ofHost: name)
        return !found.isEmpty && found.allSatisfy { $0.kind == .loopback } ? name : nil
    }()

    @Test(.enabled(if: loopbackName != nil, "this machine's name does not resolve to loopback"))
    func aRedirectToANameResolvingToLoopbackIsRefusedAtTheHop() async throws {
        // The first hop names its address literally (as a webhook or Scoup URL may); the redirect's name does not.
        let target = try Self.page()
        defer { target.stop() }
        let inside = "http://\(Self.loopbackName!):\(target.port)/inside"
        let redirector = try CuttingServer { _, _ in .init(status: 302, body: [], headers: ["Location: \(inside)"]) }
        defer { redirector.stop() }
        let error = await #expect(throws: TransportError.self) {
            _ = try await Transport.HTTPClient(addressPolicy: .publicOrNamedInternal).send(Transport.HTTPRequest(url: redirector.base + "/"))
        }
        #expect(error?.kind == .internalAddress)
        #expect(error?.url == inside)
        #expect(target.requestCounts.isEmpty)
        let allowed = try await Transport.HTTPClient(addressPolicy: .any).send(Transport.HTTPRequest(url: redirector.base + "/"))
        #expect(allowed.status == 200)
        #expect(allowed.redirects.count == 1)
    }

    @Test func allowedWhenThePolicyAllows() async throws {
        let server = try Self.page()
        defer { server.stop() }
        for policy in [AddressPolicy.any, .publicOrNamedInternal] {
            let response = try await Transport.HTTPClient(addressPolicy: policy)
                .send(Transport.HTTPRequest(url: "http://localhost:\(server.port)/page"))
            #expect(response.status == 200)
            #expect(response.text == "<html>hi</html>")
        }
    }

    @Test(arguments: [
        ("127.0.0.1", "loopback"), ("127.9.9.9", "loopback"), ("10.1.2.3", "private"), ("172.16.0.1", "private"),
        ("172.31.255.255", "private"), ("192.168.1.1", "private"), ("100.64.0.1", "private"), ("169.254.169.254", "link-local"),
        ("0.0.0.0", "unspecified"), ("::1", "loopback"), ("::", "unspecified"), ("fc00::1", "private"), ("fd12::1", "private"),
        ("fe80::1", "link-local"), ("::ffff:127.0.0.1", "loopback"), ("::ffff:169.254.169.254", "link-local"),
        ("8.8.8.8", nil), ("172.32.0.1", nil), ("100.128.0.1", nil), ("2001:db8::1", nil), ("::ffff:8.8.8.8", nil),
    ] as [(String, String?)])
    func classification(address: String, kind: String?) {
        #expect(AddressPolicy.internalAddresses(ofHost: address).first?.kind.rawValue == kind)
    }

    @Test func resolvingANameFindsItsLoopbackAddress() {
        #expect(AddressPolicy.internalAddresses(ofHost: "localhost").contains { $0.kind == .loopback })
    }
}

/// A gzip page cut short on a connection that simply closes (no Content-Length to betray it) was
/// stored as a complete 200: libcurl's decoder does not notice the compressed stream never ended.
@Suite struct TruncatedBodyTests {
    static let html = Array((0..<4000).map { "<p>row \($0) \($0 * 7919 % 1000)</p>" }.joined().utf8)

    @Test func aGzipBodyCutShortIsATransientError() async throws {
        let compressed = try gzipped(Self.html)
        let server = try CuttingServer { _, _ in
            .init(body: compressed, cutAfter: compressed.count / 2, headers: ["Content-Encoding: gzip"], sendsLength: false)
        }
        defer { server.stop() }
        let error = await #expect(throws: TransportError.self) {
            _ = try await Transport.HTTPClient().send(Transport.HTTPRequest(url: server.base + "/cut"))
        }
        #expect(error?.kind == .truncated)
        #expect(error?.isTransient == true)
        #expect(error?.message.contains("cut short") == true)
    }

    @Test func aCompleteGzipBodyWithoutLengthArrivesDecoded() async throws {
        let compressed = try gzipped(Self.html)
        let server = try CuttingServer { _, _ in
            .init(body: compressed, headers: ["Content-Encoding: gzip"], sendsLength: false)
        }
        defer { server.stop() }
        let response = try await Transport.HTTPClient().send(Transport.HTTPRequest(url: server.base + "/whole"))
        #expect(response.body == Self.html)
    }

    @Test func aGzipBodyCutShortWithALengthIsAnErrorToo() async throws {
        let compressed = try gzipped(Self.html)
        let server = try CuttingServer { _, _ in
            .init(body: compressed, cutAfter: compressed.count / 2, headers: ["Content-Encoding: gzip"])
        }
        defer { server.stop() }
        let error = await #expect(throws: TransportError.self) {
            _ = try await Transport.HTTPClient().send(Transport.HTTPRequest(url: server.base + "/cut"))
        }
        #expect(error?.isTransient == true)
    }

    @Test func garbageThatIsNotGzipIsAnError() async throws {
        let server = try CuttingServer { _, _ in .init(body: Array("not gzip at all".utf8), headers: ["Content-Encoding: gzip"]) }
        defer { server.stop() }
        await #expect(throws: TransportError.self) {
            _ = try await Transport.HTTPClient().send(Transport.HTTPRequest(url: server.base + "/bad"))
        }
    }

    @Test func aGzipBombStopsAtTheBodyLimit() async throws {
        let compressed = try gzipped([UInt8](repeating: 0x41, count: 4 * 1024 * 1024))
        let server = try CuttingServer { _, _ in .init(body: compressed, headers: ["Content-Encoding: gzip"]) }
        defer { server.stop() }
        let error = await #expect(throws: TransportError.self) {
            _ = try await Transport.HTTPClient().send(Transport.HTTPRequest(url: server.base + "/bomb", maxBodyBytes: 1024 * 1024))
        }
        #expect(error?.kind == .tooLarge)
    }
}
