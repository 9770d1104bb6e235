import Foundation
import Transport

/// The SMTP server and sender for e-mail notifications, from the original AgentShop's
/// `NOTIFICATION_EMAIL_*` variables:
///
/// | variable | meaning | default |
/// |---|---|---|
/// | `NOTIFICATION_EMAIL_SMTP_HOST` | SMTP server (required for e-mail) | |
/// | `NOTIFICATION_EMAIL_SMTP_PORT` | port | 587; 465 with `USE_TLS=ssl`; 25 with `false` |
/// | `NOTIFICATION_EMAIL_USE_TLS` | `true`/`starttls` (STARTTLS, required), `ssl`/`tls` (SMTPS), `false`/`none` (plain) | `true` |
/// | `NOTIFICATION_EMAIL_USERNAME`, `NOTIFICATION_EMAIL_PASSWORD` | AUTH credentials | none |
/// | `NOTIFICATION_EMAIL_FROM` | sender address | the user name when it is an address |
/// | `NOTIFICATION_EMAIL_TO` | comma-separated recipients added to every pipeline's `email:` list | none |
/// | `NOTIFICATION_EMAIL_CA_FILE` | PEM file of CA certificates that verify the server (a private CA); verification stays on | the system's CAs |
public struct EmailSettings: Sendable, Equatable {
    public var smtp: SMTPConfiguration
    public var from: String
    public var defaultRecipients: [String]

    public init(smtp: SMTPConfiguration, from: String, defaultRecipients: [String] = []) {
        self.smtp = smtp
        self.from = from
        self.defaultRecipients = defaultRecipients
    }

    public struct Problem: Error, CustomStringConvertible, Sendable {
        public let description: String
    }

    public static let prefix = "NOTIFICATION_EMAIL_"

    /// The settings, or nil when no SMTP host is set. Throws for values that are set but wrong.
    public static func fromEnvironment(_ environment: [String: String]) throws(Problem) -> EmailSettings? {
        func value(_ name: String) -> String? {
            environment[prefix + name].map { $0.trimmingCharacters(in: .whitespaces) }.flatMap { $0.isEmpty ? nil : $0 }
        }
        guard let host = value("SMTP_HOST") else { return nil }
        let security: SMTPConfiguration.Security
        switch (value("USE_TLS") ?? "true").lowercased() {
        case "true", "yes", "1", "starttls": security = .startTLS
        case "ssl", "tls", "smtps": security = .implicitTLS
        case "false", "no", "0", "none": security = .none
        case let other: throw Problem(description: "\(prefix)USE_TLS: expected true, starttls, ssl or false, found '\(other)'")
        }
        var port: Int
        switch security {
        case .startTLS: port = 587
        case .implicitTLS: port = 465
        case .none: port = 25
        }
        if let text = value("SMTP_PORT") {
            guard let n = Int(text), (1...65535).contains(n) else {
                throw Problem(description: "\(prefix)SMTP_PORT: expected a port number, found '\(text)'")
            }
            port = n
        }
        let username = value("USERNAME")
        let password = environment[prefix + "PASSWORD"].flatMap { $0.isEmpty ? nil : Secret($0) }
        if password != nil && username == nil {
            throw Problem(description: "\(prefix)PASSWORD is set without \(prefix)USERNAME")
        }
        guard let from = value("FROM") ?? username.flatMap({ $0.contains("@") ? $0 : nil }) else {
            throw Problem(description: "\(prefix)FROM: the sender address is not set")
        }
        let caFile = value("CA_FILE")
        if let caFile, !FileManager.default.isReadableFile(atPath: caFile) {
            throw Problem(description: "\(prefix)CA_FILE: no readable file at '\(caFile)'")
        }
        if caFile != nil && security == .none {
            throw Problem(description: "\(prefix)CA_FILE is set but \(prefix)USE_TLS is false: plain SMTP checks no certificate")
        }
        let to = (value("TO") ?? "").split(separator: ",").map { $0.trimmingCharacters(in: .whitespaces) }.filter { !$0.isEmpty }
        return EmailSettings(smtp: SMTPConfiguration(host: host, port: port, security: security, username: username, password: password,
                                                     caFile: caFile),
                             from: from, defaultRecipients: to)
    }
}
