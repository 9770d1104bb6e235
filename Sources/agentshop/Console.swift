import Foundation
import Transport

/// Output for people and for scripts: stdout for results, stderr for progress and problems.
/// Everything printed goes through `Secret.redact`, so no configured secret reaches the terminal,
/// even when a server echoed it into an answer or an error.
enum Console {
    static let isTerminal = isatty(STDERR_FILENO) == 1 && ProcessInfo.processInfo.environment["TERM"] != "dumb"

    static func out(_ text: String, terminator: String = "\n") {
        FileHandle.standardOutput.write(Data(Secret.redact(text + terminator).utf8))
    }

    static func error(_ text: String) {
        FileHandle.standardError.write(Data(Secret.redact(text + "\n").utf8))
    }

    /// Rewrites the current stderr line (a terminal only).
    static func status(_ text: String) {
        guard isTerminal else { return }
        FileHandle.standardError.write(Data(("\r\u{1B}[K" + Secret.redact(text)).utf8))
    }

    static func clearStatus() {
        guard isTerminal else { return }
        FileHandle.standardError.write(Data("\r\u{1B}[K".utf8))
    }

    static func json<T: Encodable>(_ value: T) {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.prettyPrinted, .sortedKeys, .withoutEscapingSlashes]
        if let data = try? encoder.encode(value) { out(String(decoding: data, as: UTF8.self)) }
    }

    /// Columns padded to their widest cell.
    static func table(_ rows: [[String]]) -> String {
        guard let first = rows.first else { return "" }
        var widths = Array(repeating: 0, count: first.count)
        for row in rows { for (i, cell) in row.enumerated() where i < widths.count { widths[i] = max(widths[i], cell.count) } }
        return rows.map { row in
            row.enumerated().map { i, cell in
                i == row.count - 1 ? cell : cell.padding(toLength: widths[i], withPad: " ", startingAt: 0)
            }.joined(separator: "  ")
        }.joined(separator: "\n")
    }

    static func duration(ms: Int?) -> String {
        guard let ms else { return "" }
        if ms < 1000 { return "\(ms)ms" }
        if ms < 60_000 { return String(format: "%.1fs", Double(ms) / 1000) }
        return "\(ms / 60_000)m\(ms / 1000 % 60)s"
    }
}
