import Foundation
import Testing
@testable import Transport

@Suite struct MailMessageTests {
    static func text(_ message: MailMessage) -> String { String(decoding: message.rendered(), as: UTF8.self) }

    @Test func headersAndA7bitBody() {
        let message = MailMessage(from: "bot@example.com", to: ["a@example.com", "b@example.com"], subject: "Nightly failed",
                                  text: "line one\nline two\n", date: Date(timeIntervalSince1970: 0), messageID: "<id-1@example.com>")
        let text = Self.text(message)
        #expect(text.hasPrefix("Date: Thu, 01 Jan 1970 00:00:00 +0000\r\nFrom: bot@example.com\r\nTo: a@example.com, b@example.com\r\n"))
        #expect(text.contains("\r\nSubject: Nightly failed\r\nMessage-ID: <id-1@example.com>\r\nMIME-Version: 1.0\r\n"))
        #expect(text.contains("Content-Type: text/plain; charset=UTF-8\r\nContent-Transfer-Encoding: 7bit\r\n\r\nline one\r\nline two\r\n"))
        #expect(!text.replacingOccurrences(of: "\r\n", with: "").contains("\n"))  // every line ends in CRLF
    }

    @Test func longAndNonASCIISubjectsAreEncodedWordsUnder76Columns() {
        let subject = String(repeating: "Pipeline «nightly» a échoué — ", count: 4)
        let encoded = MailMessage.encodedWord(subject)
        let words = encoded.split(separator: " ")
        #expect(words.count > 1 && words.allSatisfy { $0.hasPrefix("=?UTF-8?B?") && $0.hasSuffix("?=") && $0.count <= 75 })
        let decoded = words.map { String(decoding: Data(base64Encoded: String($0.dropFirst(10).dropLast(2)))!, as: UTF8.self) }.joined()
        #expect(decoded == subject)
        let rendered = Self.text(MailMessage(from: "bot@example.com", to: ["a@example.com"], subject: subject, text: "x"))
        let head = rendered.components(separatedBy: "\r\n\r\n")[0]
        #expect(head.components(separatedBy: "\r\n").allSatisfy { $0.count <= 78 })
        #expect(MailMessage.encodedWord("plain") == "plain")
    }

    @Test func smtpURLsCarryNoCredentials() {
        let configuration = SMTPConfiguration(host: "mail.example.com", port: 465, security: .implicitTLS, username: "u",
                                              password: Secret("p4ss"))
        #expect(configuration.url == "smtps://mail.example.com:465")
        #expect(!"\(configuration)".contains("p4ss"))
        #expect(SMTPConfiguration(host: "::1", port: 25, security: .none).url == "smtp://[::1]:25")
    }
}
