import Foundation

/// A minimal SMTP server on 127.0.0.1 for one test: EHLO, AUTH PLAIN, MAIL, RCPT, DATA, QUIT, one session at
/// a time, recording what it was told. Enough to check what libcurl sends; no TLS.
public final class LoopbackSMTPServer: @unchecked Sendable {
    public struct Session {
        public var commands: [String] = []
        public var authentication: (user: String, password: String)?
        public var mailFrom: String?
        public var recipients: [String] = []
        public var data: String?
    }

    public var port: UInt16 { listener.port }
    private let listener: LoopbackListener
    private let lock = NSLock()
    private var sessionsStore: [Session] = []
    private let extensions: [String]
    private let rejectRecipients: Bool

    public var sessions: [Session] { lock.withLock { sessionsStore } }

    /// - Parameter extensions: the EHLO keywords to advertise (`AUTH PLAIN`, `STARTTLS`…).
    public init(extensions: [String] = ["AUTH PLAIN"], rejectRecipients: Bool = false) throws {
        self.extensions = extensions
        self.rejectRecipients = rejectRecipients
        listener = try LoopbackListener(backlog: 8)
        let thread = Thread { [self] in acceptLoop() }
        thread.start()
    }

    deinit { listener.close() }

    private func acceptLoop() {
        while let connection = listener.accept() {
            serve(connection)
            close(connection)
        }
    }

    private func serve(_ fd: Int32) {
        var session = Session()
        var buffer: [UInt8] = []
        func send(_ line: String) { _ = line.withCString { Glibc.send(fd, $0, strlen($0), Int32(MSG_NOSIGNAL)) } }
        func readLine() -> String? {
            while true {
                if let end = buffer.firstIndex(of: 0x0A) {
                    let line = String(decoding: buffer[..<end], as: UTF8.self).trimmingCharacters(in: CharacterSet(charactersIn: "\r"))
                    buffer.removeSubrange(...end)
                    return line
                }
                var chunk = [UInt8](repeating: 0, count: 4096)
                let n = recv(fd, &chunk, chunk.count, 0)
                if n <= 0 { return nil }
                buffer += chunk[..<n]
            }
        }
        send("220 loopback ESMTP ready\r\n")
        // Kept as soon as the message is in (libcurl may say QUIT only when its handle is cleaned up), or at the end.
        var kept = false
        func keep() { if !kept { kept = true; lock.withLock { sessionsStore.append(session) } } }
        defer { keep() }
        while let line = readLine() {
            session.commands.append(line)
            let upper = line.uppercased()
            if upper.hasPrefix("EHLO") {
                let lines = ["loopback"] + extensions
                for (i, text) in lines.enumerated() { send("250\(i == lines.count - 1 ? " " : "-")\(text)\r\n") }
            } else if upper.hasPrefix("HELO") {
                send("250 loopback\r\n")
            } else if upper.hasPrefix("AUTH PLAIN") {
                // With an initial response (SASL-IR) or, as libcurl does by default, after a 334 challenge.
                var encoded = line.split(separator: " ").dropFirst(2).first.map(String.init) ?? ""
                if encoded.isEmpty {
                    send("334 \r\n")
                    encoded = readLine() ?? ""
                }
                let decoded = Data(base64Encoded: encoded).map { [UInt8]($0) } ?? []
                let parts = decoded.split(separator: 0, omittingEmptySubsequences: false).map { String(decoding: $0, as: UTF8.self) }
                if parts.count == 3 { session.authentication = (parts[1], parts[2]) }
                send(parts.count == 3 && parts[2] == "right" ? "235 2.7.0 accepted\r\n" : "535 5.7.8 bad credentials\r\n")
            } else if upper.hasPrefix("MAIL FROM:") {
                session.mailFrom = String(line.dropFirst(10))
                send("250 2.1.0 ok\r\n")
            } else if upper.hasPrefix("RCPT TO:") {
                session.recipients.append(String(line.dropFirst(8)))
                send(rejectRecipients ? "550 5.1.1 no such user\r\n" : "250 2.1.5 ok\r\n")
            } else if upper == "DATA" {
                send("354 end with <CRLF>.<CRLF>\r\n")
                var lines: [String] = []
                while let dataLine = readLine(), dataLine != "." { lines.append(dataLine) }
                session.data = lines.joined(separator: "\r\n")
                keep()
                send("250 2.0.0 queued\r\n")
            } else if upper == "QUIT" {
                send("221 2.0.0 bye\r\n")
                return
            } else if upper == "RSET" || upper == "NOOP" {
                send("250 ok\r\n")
            } else {
                send("502 5.5.2 not implemented\r\n")
            }
        }
    }
}
