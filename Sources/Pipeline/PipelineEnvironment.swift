import Foundation

/// Variables for `${VAR}` and `${VAR:-default}` in pipeline files: the process environment,
/// over a `.env` file (the environment wins, as with docker compose and dotenv).
public struct PipelineEnvironment: Sendable {
    public private(set) var variables: [String: String]

    public init(variables: [String: String]) { self.variables = variables }

    /// The process environment plus the `.env` files given (earlier files win over later ones).
    public static func load(dotEnvFiles: [String]) -> PipelineEnvironment {
        var merged: [String: String] = [:]
        for file in dotEnvFiles.reversed() {
            if let text = try? String(contentsOfFile: file, encoding: .utf8) {
                for (k, v) in parseDotEnv(text) { merged[k] = v }
            }
        }
        for (k, v) in ProcessInfo.processInfo.environment { merged[k] = v }
        return PipelineEnvironment(variables: merged)
    }

    /// `KEY=value` lines; `#` comments, `export ` prefixes and single or double quotes allowed.
    public static func parseDotEnv(_ text: String) -> [(String, String)] {
        var out: [(String, String)] = []
        for raw in text.split(whereSeparator: \.isNewline) {
            var line = raw.trimmingCharacters(in: .whitespaces)
            if line.isEmpty || line.hasPrefix("#") { continue }
            if line.hasPrefix("export ") { line = String(line.dropFirst(7)).trimmingCharacters(in: .whitespaces) }
            guard let eq = line.firstIndex(of: "=") else { continue }
            let key = line[..<eq].trimmingCharacters(in: .whitespaces)
            var value = line[line.index(after: eq)...].trimmingCharacters(in: .whitespaces)
            if let first = value.first, first == "\"" || first == "'",
               let close = value.dropFirst().firstIndex(of: first) {
                // A quoted value ends at its closing quote; anything after it (a comment) is dropped.
                value = String(value[value.index(after: value.startIndex)..<close])
            } else if let hash = value.range(of: " #") {
                value = value[..<hash.lowerBound].trimmingCharacters(in: .whitespaces)
            }
            if !key.isEmpty { out.append((key, value)) }
        }
        return out
    }

    /// Expands `${VAR}`, `${VAR:-default}` and `$$` (a literal `$`), reporting unset variables at `value`.
    func expand(_ text: String, at value: ConfigValue) -> String? {
        var failed = false
        let result = expand(text) { name in
            value.error("environment variable \(name) is not set (set it, add it to .env, or write ${\(name):-default})")
            failed = true
        }
        return failed ? nil : result
    }

    /// Expands without reporting; unset variables become empty.
    func expandQuietly(_ text: String) -> String { expand(text) { _ in } }

    private func expand(_ text: String, missing: (String) -> Void) -> String {
        guard text.contains("$") else { return text }
        var out = ""
        var i = text.startIndex
        while i < text.endIndex {
            let c = text[i]
            let next = text.index(after: i)
            if c == "$", next < text.endIndex, text[next] == "$" {
                out.append("$"); i = text.index(after: next); continue
            }
            if c == "$", next < text.endIndex, text[next] == "{", let close = text[next...].firstIndex(of: "}") {
                let body = text[text.index(after: next)..<close]
                let (name, fallback): (Substring, Substring?) = {
                    if let sep = body.range(of: ":-") { return (body[..<sep.lowerBound], body[sep.upperBound...]) }
                    return (body, nil)
                }()
                if let v = variables[String(name)], !(fallback != nil && v.isEmpty) {
                    out += v
                } else if let fallback {
                    out += fallback
                } else {
                    missing(String(name))
                }
                i = text.index(after: close)
                continue
            }
            out.append(c)
            i = next
        }
        return out
    }
}
