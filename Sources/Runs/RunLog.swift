import Foundation
import Lake
import Logging
import Transport

/// Writes a run's log lines to `raw_data/logs/<pipeline>/<run id>.log` (or the scheduler's log), one
/// `write` per line (O_APPEND), so a killed run leaves whole lines; optionally echoes them to stderr.
/// Each line, metadata included, goes through `Secret.redact`.
public struct RunLogHandler: LogHandler {
    public final class Sink: @unchecked Sendable {
        private let fd: Int32
        let echo: Bool
        private let escape: @Sendable (String) -> String
        private let lock = NSLock()

        /// - Parameter escape: makes a line safe for a terminal (names and values from configuration and
        ///   pages may hold control characters); the executable's `Console.escaped`, keeping line breaks.
        public init(path: String, echo: Bool, escape: @escaping @Sendable (String) -> String) throws {
            try LakeConfinement.checkWrite(to: path)
            try FileManager.default.createDirectory(atPath: (path as NSString).deletingLastPathComponent,
                                                    withIntermediateDirectories: true)
            fd = open(path, O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0o644)
            if fd < 0 { throw LakeError.notFound }
            self.echo = echo
            self.escape = escape
        }

        deinit { close(fd) }

        func write(_ line: String) {
            lock.lock()
            defer { lock.unlock() }
            // The log is read in terminals too.
            var copy = escape(line)
            copy.withUTF8 { _ = Foundation.write(fd, $0.baseAddress, $0.count) }
            if echo { FileHandle.standardError.write(Data(copy.utf8)) }
        }
    }

    let sink: Sink
    public var metadata: Logger.Metadata = [:]
    public var logLevel: Logger.Level = .info

    public init(sink: Sink) { self.sink = sink }

    /// A logger that writes to `sink`.
    public static func logger(label: String, sink: Sink) -> Logger {
        Logger(label: label, factory: { _ in RunLogHandler(sink: sink) })
    }

    public subscript(metadataKey key: String) -> Logger.Metadata.Value? {
        get { metadata[key] }
        set { metadata[key] = newValue }
    }

    public func log(event: LogEvent) {
        var merged = metadata
        if let extra = event.metadata { merged.merge(extra) { $1 } }
        let fields = merged.sorted { $0.key < $1.key }.map { "\($0.key)=\(Self.quote("\($0.value)"))" }.joined(separator: " ")
        sink.write(Secret.redact("\(Timestamp.iso(Date())) \(event.level) \(event.message)\(fields.isEmpty ? "" : " " + fields)\n"))
    }

    static func quote(_ text: String) -> String {
        text.contains(where: { $0 == " " || $0 == "\"" || $0 == "\n" })
            ? "\"" + text.replacingOccurrences(of: "\\", with: "\\\\").replacingOccurrences(of: "\"", with: "\\\"")
                .replacingOccurrences(of: "\n", with: "\\n") + "\""
            : text
    }
}
