import Foundation
#if canImport(Glibc)
import Glibc
#endif

/// A raw HTTP/1.1 server on 127.0.0.1 that can drop a connection in the middle of a body, as a
/// network that fails mid-transfer does. (An HTTP server library always finishes its responses.)
///
/// Each connection serves one request: the handler gets the path and the how-manieth request for
/// it this is (from 1) and answers with a body and, optionally, how many of its bytes to send
/// before closing. The headers always promise the whole body.
public final class CuttingServer: @unchecked Sendable {
    public struct Answer: Sendable {
        public var status: Int
        public var body: [UInt8]
        public var cutAfter: Int?
        /// Extra header lines (`Content-Encoding: gzip`).
        public var headers: [String]
        /// false: no Content-Length, the body ends when the connection closes (HTTP/1.0 style).
        public var sendsLength: Bool

        public init(status: Int = 200, body: [UInt8], cutAfter: Int? = nil, headers: [String] = [], sendsLength: Bool = true) {
            self.status = status
            self.body = body
            self.cutAfter = cutAfter
            self.headers = headers
            self.sendsLength = sendsLength
        }
    }

    public typealias Handler = @Sendable (_ path: String, _ hit: Int) -> Answer

    private let handler: Handler
    private let lock = NSLock()
    private var hits: [String: Int] = [:]
    private let listener: LoopbackListener
    public var port: UInt16 { listener.port }
    public var base: String { "http://127.0.0.1:\(port)" }

    public init(_ handler: @escaping Handler) throws {
        self.handler = handler
        listener = try LoopbackListener()
        let thread = Thread { [self] in
            while let connection = listener.accept() {
                Thread { [self] in serve(connection) }.start()
            }
        }
        thread.start()
    }

    /// How many requests each path has had.
    public var requestCounts: [String: Int] { lock.withLock { hits } }

    /// Closes the listener; the accepting thread (which keeps the server alive until then) ends.
    public func stop() { listener.close() }

    private func serve(_ connection: Int32) {
        defer { close(connection) }
        var request: [UInt8] = []
        var buffer = [UInt8](repeating: 0, count: 4096)
        while !request.ends(with: [13, 10, 13, 10]) {
            let count = recv(connection, &buffer, buffer.count, 0)
            guard count > 0 else { return }
            request += buffer[0..<count]
        }
        let line = String(decoding: request.prefix { $0 != 13 }, as: UTF8.self).split(separator: " ")
        let path = line.count > 1 ? String(line[1]) : "/"
        let hit = lock.withLock { () -> Int in
            hits[path, default: 0] += 1
            return hits[path]!
        }
        let answer = handler(path, hit)
        let head = "HTTP/1.1 \(answer.status) X\r\nContent-Type: text/html; charset=utf-8\r\n"
            + answer.headers.map { $0 + "\r\n" }.joined()
            + (answer.sendsLength ? "Content-Length: \(answer.body.count)\r\n" : "") + "Connection: close\r\n\r\n"
        let sent = Array(head.utf8) + answer.body.prefix(answer.cutAfter ?? answer.body.count)
        sent.withUnsafeBytes { bytes in
            var offset = 0
            while offset < bytes.count {
                let count = send(connection, bytes.baseAddress! + offset, bytes.count - offset, Int32(MSG_NOSIGNAL))
                if count <= 0 { return }
                offset += count
            }
        }
        if answer.cutAfter != nil && answer.sendsLength {
            // A reset rather than an orderly close: what a dropped link looks like to the client.
            var reset = linger(l_onoff: 1, l_linger: 0)
            setsockopt(connection, SOL_SOCKET, SO_LINGER, &reset, socklen_t(MemoryLayout<linger>.size))
        }
    }
}

private extension Array where Element == UInt8 {
    func ends(with suffix: [UInt8]) -> Bool { count >= suffix.count && Array(self[(count - suffix.count)...]) == suffix }
}
