import Foundation
import Testing
import TestSupport
import Transport

/// TLS against loopback servers with a throwaway CA: verification refuses a certificate the system does
/// not trust, and a `caFile` naming its CA makes it trusted (verification itself never turns off).
@Suite(.serialized) struct TLSTests {
    @Test func anHTTPSServerWithAPrivateCAIsRefusedByDefaultAndAcceptedWithItsCAFile() async throws {
        let certificates = try TestCertificates()
        let server = try LoopbackTLSServer(.https, certificates: certificates)
        defer { server.stop() }
        let client = Transport.HTTPClient()

        let refused = await #expect(throws: TransportError.self) {
            _ = try await client.send(Transport.HTTPRequest(url: server.base + "/page", timeout: 10))
        }
        #expect(refused?.kind == .tls, "\(String(describing: refused))")
        #expect(refused?.message.lowercased().contains("certificate") == true, "not a certificate verification error: \(String(describing: refused))")
        #expect(server.requests("/page") == 0)

        var request = Transport.HTTPRequest(url: server.base + "/page", timeout: 10)
        request.caFile = certificates.caFile
        let response = try await client.send(request)
        #expect(response.status == 200)
        #expect(response.text.contains("served over TLS"))
        #expect(server.requests("/page") == 1)
    }

    @Test func aClientCAFileVerifiesEveryRequestThatNamesNone() async throws {
        let certificates = try TestCertificates()
        let server = try LoopbackTLSServer(.https, certificates: certificates)
        defer { server.stop() }
        let client = Transport.HTTPClient(caFile: certificates.caFile)
        let response = try await client.send(Transport.HTTPRequest(url: "https://localhost:\(server.port)/by-name", timeout: 10))
        #expect(response.status == 200 && response.text.contains("served over TLS"))
    }

    @Test func theCAOfAnotherAuthorityDoesNotVerifyTheServer() async throws {
        let certificates = try TestCertificates()
        let other = try TestCertificates()
        let server = try LoopbackTLSServer(.https, certificates: certificates)
        defer { server.stop() }
        var request = Transport.HTTPRequest(url: server.base + "/page", timeout: 10)
        request.caFile = other.caFile
        let refused = await #expect(throws: TransportError.self) { _ = try await Transport.HTTPClient().send(request) }
        #expect(refused?.kind == .tls, "\(String(describing: refused))")
        #expect(server.requests("/page") == 0)
    }

    @Test func aMissingCAFileIsATLSErrorNotAFallbackToTheSystemCAs() async throws {
        let certificates = try TestCertificates()
        let server = try LoopbackTLSServer(.https, certificates: certificates)
        defer { server.stop() }
        var request = Transport.HTTPRequest(url: server.base + "/page", timeout: 10)
        request.caFile = certificates.folder + "/no-such-ca.pem"
        let refused = await #expect(throws: TransportError.self) { _ = try await Transport.HTTPClient().send(request) }
        #expect(refused?.kind == .tls, "\(String(describing: refused))")
        #expect(server.requests("/page") == 0)
    }

    static func message() -> MailMessage {
        MailMessage(from: "pipeline@agentshop.example", to: ["ops@agentshop.example"], subject: "Run finished",
                    text: "sent over STARTTLS")
    }

    @Test func mailOverSTARTTLSIsRefusedWithoutTheCAAndDeliveredWithIt() async throws {
        let certificates = try TestCertificates()
        let server = try LoopbackTLSServer(.smtpStartTLS, certificates: certificates)
        defer { server.stop() }
        var configuration = SMTPConfiguration(host: "127.0.0.1", port: server.port, security: .startTLS,
                                              username: "mailer", password: Secret("hunter2"), timeout: 10)

        let refused = await #expect(throws: TransportError.self) { try await SMTPClient.send(Self.message(), using: configuration) }
        #expect(refused?.kind == .tls, "\(String(describing: refused))")
        #expect(refused?.message.lowercased().contains("certificate") == true, "\(String(describing: refused))")
        var sessions = server.sessions(atLeast: 1)
        #expect(sessions.count == 1)
        #expect(sessions.first?.commands.contains("STARTTLS") == true, "the client did not ask for STARTTLS: \(String(describing: sessions.first))")
        #expect(sessions.first?.tls == false && sessions.first?.data == nil && sessions.first?.user == nil, "\(String(describing: sessions.first))")

        configuration.caFile = certificates.caFile
        try await SMTPClient.send(Self.message(), using: configuration)
        sessions = server.sessions(atLeast: 2)
        #expect(sessions.count == 2)
        let delivered = try #require(sessions.last)
        #expect(delivered.tls, "the session was not upgraded")
        // Credentials and the message went only after the upgrade.
        let upgrade = try #require(delivered.commands.firstIndex(of: "STARTTLS"))
        let auth = try #require(delivered.commands.firstIndex { $0.uppercased().hasPrefix("AUTH") })
        #expect(upgrade < auth)
        #expect(delivered.user == "mailer")
        #expect(delivered.mailFrom == "<pipeline@agentshop.example>")
        #expect(delivered.recipients == ["<ops@agentshop.example>"])
        #expect(delivered.data?.contains("sent over STARTTLS") == true)
    }
}
