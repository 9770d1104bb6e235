import Foundation
import Transport

/// Output for people and for scripts: stdout for results, stderr for progress and problems.
/// Everything printed goes through `Secret.redact`, so no configured secret reaches the terminal,
/// even when a server echoed it into an answer or an error.
enum Console {
    static let isTerminal = isatty(STDERR_FILENO) == 1 && ProcessInfo.processInfo.environment["TERM"] != "dumb"

    static let stdoutIsTerminal = isatty(STDOUT_FILENO) == 1

    /// Results on stdout: escaped (`escaped`) on a terminal, byte for byte into a pipe or file,
    /// where they are data.
    static func out(_ text: String, terminator: String = "\n") {
        let shown = stdoutIsTerminal ? escaped(text, keepingLines: true) : text
        FileHandle.standardOutput.write(Data(Secret.redact(shown + terminator).utf8))
    }

    /// Problems and progress on stderr, always escaped: they are read by people, in a terminal
    /// or later in a log, and echo names and values that came from configuration and input.
    static func error(_ text: String) {
        FileHandle.standardError.write(Data(Secret.redact(escaped(text, keepingLines: true) + "\n").utf8))
    }

    /// Rewrites the current stderr line (a terminal only).
    static func status(_ text: String) {
        guard isTerminal else { return }
        FileHandle.standardError.write(Data(("\r\u{1B}[K" + Secret.redact(escaped(text))).utf8))
    }

    /// `text` safe to show on a terminal: control characters (escape sequences, carriage
    /// returns, backspaces, C1 controls) and the bidirectional formatting characters that make a
    /// terminal show something other than the bytes (Trojan Source) written as `\u{…}`. With
    /// `keepingLines`, line feeds and tabs stay (multi-line messages, tables).
    static func escaped(_ text: String, keepingLines: Bool = false) -> String {
        guard text.unicodeScalars.contains(where: { needsEscape($0, keepingLines: keepingLines) }) else { return text }
        var out = String.UnicodeScalarView()
        for scalar in text.unicodeScalars {
            if needsEscape(scalar, keepingLines: keepingLines) {
                out.append(contentsOf: "\\u{\(String(scalar.value, radix: 16, uppercase: true))}".unicodeScalars)
            } else {
                out.append(scalar)
            }
        }
        return String(out)
    }

    private static func needsEscape(_ scalar: Unicode.Scalar, keepingLines: Bool) -> Bool {
        switch scalar.value {
        case 0x0A, 0x09: return !keepingLines
        case 0x00...0x1F, 0x7F...0x9F: return true
        // Arabic letter mark, LRM/RLM, embeddings and overrides, isolates, line/paragraph separators.
        case 0x061C, 0x200E, 0x200F, 0x202A...0x202E, 0x2066...0x2069, 0x2028, 0x2029: return true
        default: return false
        }
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

    /// Columns padded to their widest cell, fitted to the terminal ($COLUMNS or its width; cut cells end in …).
    static func table(_ rows: [[String]]) -> String {
        RecordPrinter.table(rows, maxWidth: RecordPrinter.terminalWidth, rule: false)
    }

    static func duration(ms: Int?) -> String {
        guard let ms else { return "" }
        if ms < 1000 { return "\(ms)ms" }
        if ms < 60_000 { return String(format: "%.1fs", Double(ms) / 1000) }
        return "\(ms / 60_000)m\(ms / 1000 % 60)s"
    }
}
