import Foundation
import Lake
import Logging
import Transport

/// Writes a run's log lines to `raw_data/logs/<pipeline>/<run id>.log`, one `write` per line
/// (O_APPEND), so a killed run leaves whole lines; optionally echoes them to stderr. Each line,
/// metadata included, goes through `Secret.redact`.
struct RunLogHandler: LogHandler {
    final class Sink: @unchecked Sendable {
        private let fd: Int32
        let echo: Bool
        private let lock = NSLock()

        init(path: String, echo: Bool) throws {
            try LakeConfinement.checkWrite(to: path)
            try FileManager.default.createDirectory(atPath: (path as NSString).deletingLastPathComponent,
                                                    withIntermediateDirectories: true)
            fd = open(path, O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0o644)
            if fd < 0 { throw LakeError.notFound }
            self.echo = echo
        }

        deinit { close(fd) }

        func write(_ line: String) {
            lock.lock()
            defer { lock.unlock() }
            // Names and values from configuration and pages are escaped: the log is read in terminals too.
            var copy = Console.escaped(line, keepingLines: true)
            copy.withUTF8 { _ = Foundation.write(fd, $0.baseAddress, $0.count) }
            if echo { FileHandle.standardError.write(Data(copy.utf8)) }
        }
    }

    let sink: Sink
    var metadata: Logger.Metadata = [:]
    var logLevel: Logger.Level = .info

    subscript(metadataKey key: String) -> Logger.Metadata.Value? {
        get { metadata[key] }
        set { metadata[key] = newValue }
    }

    func log(event: LogEvent) {
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

/// The handler of library loggers that print to stderr (the store, migrations): the message and
/// metadata with every secret blanked, then the wrapped handler.
struct RedactingLogHandler: LogHandler {
    var wrapped: any LogHandler

    var metadata: Logger.Metadata {
        get { wrapped.metadata }
        set { wrapped.metadata = newValue }
    }

    var logLevel: Logger.Level {
        get { wrapped.logLevel }
        set { wrapped.logLevel = newValue }
    }

    subscript(metadataKey key: String) -> Logger.Metadata.Value? {
        get { wrapped[metadataKey: key] }
        set { wrapped[metadataKey: key] = newValue }
    }

    func log(event: LogEvent) {
        var event = event
        event.message = Logger.Message(stringLiteral: Secret.redact(event.message.description))
        event.metadata = event.metadata?.mapValues { .string(Secret.redact("\($0)")) }
        if let error = event.error {
            event.metadata = (event.metadata ?? [:]).merging(["error": .string(Secret.redact("\(error)"))]) { $1 }
            event.error = nil
        }
        wrapped.log(event: event)
    }
}
