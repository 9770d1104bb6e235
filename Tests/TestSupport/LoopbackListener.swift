import Foundation
#if canImport(Glibc)
import Glibc
#endif

/// A TCP listening socket on 127.0.0.1 at a free port, for the raw test servers that an HTTP
/// server library cannot stand in for (a connection cut mid-body, SMTP).
public final class LoopbackListener: @unchecked Sendable {
    public let port: UInt16
    private let socketFD: Int32
    private let lock = NSLock()
    private var closed = false

    public init(backlog: Int32 = 64) throws {
        let socketFD = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
        guard socketFD >= 0 else { throw POSIXError(.EIO) }
        var address = sockaddr_in()
        address.sin_family = sa_family_t(AF_INET)
        address.sin_addr.s_addr = inet_addr("127.0.0.1")
        address.sin_port = 0
        var length = socklen_t(MemoryLayout<sockaddr_in>.size)
        let bound = withUnsafePointer(to: &address) { $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { bind(socketFD, $0, length) } }
        guard bound == 0, listen(socketFD, backlog) == 0 else {
            Glibc.close(socketFD)
            throw POSIXError(.EADDRINUSE)
        }
        _ = withUnsafeMutablePointer(to: &address) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { getsockname(socketFD, $0, &length) }
        }
        self.socketFD = socketFD
        port = UInt16(bigEndian: address.sin_port)
    }

    /// The next connection, or nil once the listener is closed.
    public func accept() -> Int32? {
        while true {
            let connection = Glibc.accept(socketFD, nil, nil)
            if connection >= 0 { return connection }
            if lock.withLock({ closed }) { return nil }
        }
    }

    /// Stops accepting; a thread waiting in `accept()` gets nil.
    public func close() {
        let first = lock.withLock { () -> Bool in
            defer { closed = true }
            return !closed
        }
        guard first else { return }
        shutdown(socketFD, Int32(SHUT_RDWR))
        Glibc.close(socketFD)
    }
}
