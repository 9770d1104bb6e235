import Foundation

/// Where and how to submit mail.
public struct SMTPConfiguration: Sendable, Equatable {
    public enum Security: String, Sendable {
        /// `smtp://` upgraded with STARTTLS; the transfer fails if the server cannot (never plain text).
        case startTLS = "starttls"
        /// `smtps://`: TLS from the first byte (port 465).
        case implicitTLS = "tls"
        /// Plain `smtp://`, for a relay on localhost only.
        case none
    }

    public var host: String
    public var port: Int
    public var security: Security
    public var username: String?
    public var password: Secret?
    /// Seconds for the whole exchange.
    public var timeout: Double
    /// A PEM file of CA certificates that verify the server, in place of the system's bundle (a relay
    /// with a private CA). Verification itself is always on.
    public var caFile: String?

    public init(host: String, port: Int, security: Security = .startTLS, username: String? = nil,
                password: Secret? = nil, timeout: Double = 30, caFile: String? = nil) {
        self.host = host
        self.port = port
        self.security = security
        self.username = username
        self.password = password
        self.timeout = timeout
        self.caFile = caFile
    }

    /// `smtp://host:port` or `smtps://host:port`: no credentials, safe to log.
    public var url: String {
        let bracketed = host.contains(":") ? "[\(host)]" : host
        return (security == .implicitTLS ? "smtps://" : "smtp://") + "\(bracketed):\(port)"
    }
}

/// An RFC 5322 message with one UTF-8 text part.
public struct MailMessage: Sendable {
    public var from: String
    /// A display name for From, encoded as RFC 2047 when it is not ASCII.
    public var fromName: String?
    public var to: [String]
    public var subject: String
    public var text: String
    public var date: Date
    /// `<…@host>`; made from a random part and the sender's domain when nil.
    public var messageID: String?
    public var extraHeaders: [(name: String, value: String)]

    public init(from: String, fromName: String? = nil, to: [String], subject: String, text: String, date: Date = Date(),
                messageID: String? = nil, extraHeaders: [(name: String, value: String)] = []) {
        self.from = from
        self.fromName = fromName
        self.to = to
        self.subject = subject
        self.text = text
        self.date = date
        self.messageID = messageID
        self.extraHeaders = extraHeaders
    }

    /// The message as sent: CRLF line ends, headers folded under 78 columns, the body in 7bit when it is
    /// plain short-lined ASCII, else base64 (safe through any relay, 8BITMIME or not).
    public func rendered() -> [UInt8] {
        let domain = from.split(separator: "@").last.map(String.init) ?? "localhost"
        let id = messageID ?? "<\(UUID().uuidString.lowercased())@\(domain)>"
        var headers: [(String, String)] = [
            ("Date", Self.rfc5322Date(date)),
            ("From", fromName.map { "\(Self.encodedWord($0)) <\(from)>" } ?? from),
            ("To", to.joined(separator: ", ")),
            ("Subject", Self.encodedWord(subject)),
            ("Message-ID", id),
            ("MIME-Version", "1.0"),
            ("Content-Type", "text/plain; charset=UTF-8"),
        ]
        let normalized = text.replacingOccurrences(of: "\r\n", with: "\n").replacingOccurrences(of: "\r", with: "\n")
        let lines = normalized.split(separator: "\n", omittingEmptySubsequences: false)
        let body: String
        if normalized.allSatisfy({ $0.isASCII }) && lines.allSatisfy({ $0.utf8.count <= 998 }) {
            headers.append(("Content-Transfer-Encoding", "7bit"))
            // A line holding a single "." would end DATA; libcurl dot-stuffs, but leading dots stay safe either way.
            body = lines.joined(separator: "\r\n")
        } else {
            headers.append(("Content-Transfer-Encoding", "base64"))
            body = Data(normalized.utf8).base64EncodedString(options: [.lineLength76Characters, .endLineWithCarriageReturn, .endLineWithLineFeed])
        }
        headers += extraHeaders.map { ($0.name, $0.value) }
        let head = headers.map { Self.fold("\($0.0): \($0.1)") }.joined(separator: "\r\n")
        return Array((head + "\r\n\r\n" + body + "\r\n").utf8)
    }

    /// `Wed, 25 Nov 2026 18:40:00 +0000`
    public static func rfc5322Date(_ date: Date) -> String {
        let formatter = DateFormatter()
        formatter.locale = Locale(identifier: "en_US_POSIX")
        formatter.timeZone = TimeZone(identifier: "UTC")
        formatter.dateFormat = "EEE, dd MMM yyyy HH:mm:ss Z"
        return formatter.string(from: date)
    }

    /// ASCII as is; anything else as RFC 2047 `=?UTF-8?B?…?=` words of at most 75 characters.
    public static func encodedWord(_ text: String) -> String {
        if text.allSatisfy({ $0.isASCII && !$0.isNewline }) { return text }
        var words: [String] = []
        var chunk = ""
        for character in text where !character.isNewline {
            // 45 bytes of UTF-8 make 60 base64 characters: with `=?UTF-8?B?` and `?=`, 72.
            if chunk.utf8.count + String(character).utf8.count > 45 {
                words.append(chunk)
                chunk = ""
            }
            chunk.append(character)
        }
        if !chunk.isEmpty { words.append(chunk) }
        return words.map { "=?UTF-8?B?" + Data($0.utf8).base64EncodedString() + "?=" }.joined(separator: " ")
    }

    /// Folds a header line at spaces so that no line passes 78 characters where it can be helped.
    static func fold(_ line: String) -> String {
        guard line.count > 78 else { return line }
        var out: [String] = []
        var current = ""
        for word in line.split(separator: " ", omittingEmptySubsequences: false) {
            if !current.isEmpty && current.count + 1 + word.count > 78 {
                out.append(current)
                current = " " + word
            } else {
                current += current.isEmpty ? String(word) : " " + word
            }
        }
        out.append(current)
        return out.joined(separator: "\r\n")
    }
}

/// Submits mail over SMTP with libcurl: STARTTLS or implicit TLS, AUTH with a user and password,
/// MAIL FROM and one RCPT TO per recipient.
public enum SMTPClient {
    public static func send(_ message: MailMessage, using configuration: SMTPConfiguration) async throws {
        guard !message.to.isEmpty else { throw TransportError(.invalidURL, url: configuration.url, message: "no recipients") }
        let payload = message.rendered()
        let url = configuration.url
        let failure: (TransportError.Kind, String)? = await withCheckedContinuation { continuation in
            // libcurl's easy interface blocks: keep it off Swift's cooperative threads.
            Thread.detachNewThread {
                guard let transfer = CurlSMTPTransfer(url: url, configuration: configuration, from: message.from,
                                                      to: message.to, payload: payload) else {
                    continuation.resume(returning: (.io, CurlGlobal.loadError ?? "cannot create a libcurl handle"))
                    return
                }
                continuation.resume(returning: transfer.perform())
            }
        }
        if let (kind, text) = failure {
            throw TransportError(kind, url: url, message: text)
        }
    }
}

/// Versions of the C libraries this module runs with.
public enum TransportLibrary {
    /// `8.x.y (OpenSSL/3.0.z)`
    public static var libcurlVersion: String { CurlVersion.text }
    /// The libcurl version of the headers this binary was built against (`8.x.y`). Reading it does
    /// not load libcurl, which is opened on first use.
    public static var libcurlBuiltVersion: String { CurlVersion.built }
    /// Why libcurl cannot be loaded (naming the package to install), nil when it can. Loads it.
    public static var libcurlLoadError: String? { CurlGlobal.loadError }
}
