/// The marked block `agentshop schedule install` keeps in a user's crontab, one per project:
///
/// ```
/// # BEGIN agentshop /srv/shop
/// …lines from `agentshop schedule print`…
/// # END agentshop /srv/shop
/// ```
/// Pure text in, text out: every line outside the block is kept byte for byte.
public enum CrontabBlock {
    public static func beginMarker(project: String) -> String { "# BEGIN agentshop \(project)" }
    public static func endMarker(project: String) -> String { "# END agentshop \(project)" }

    public struct MalformedError: Error, CustomStringConvertible, Sendable {
        public let description: String
    }

    /// The crontab with the project's block set to `lines`: replaced where it is, appended when absent.
    /// Idempotent: installing the same lines again gives the same text.
    public static func installing(_ lines: [String], project: String, into crontab: String) throws(MalformedError) -> String {
        var (before, _, after) = try split(crontab, project: project)
        let block = [beginMarker(project: project)] + lines + [endMarker(project: project)]
        if after == nil {
            // Appended: a blank line apart from foreign lines, for people reading `crontab -l`.
            if let last = before.last, !last.isEmpty { before.append("") }
            after = []
        }
        return join(before + block + (after ?? []))
    }

    /// The crontab without the project's block (and without the blank line `installing` put before it).
    public static func removing(project: String, from crontab: String) throws(MalformedError) -> String {
        var (before, block, after) = try split(crontab, project: project)
        guard block != nil, let after else { return crontab }
        if before.last == "" && (after.first ?? "") == "" { before.removeLast() }
        return join(before + after)
    }

    /// The block's lines (markers excluded), or nil when the project has none.
    public static func installedLines(project: String, in crontab: String) -> [String]? {
        (try? split(crontab, project: project))?.block
    }

    /// (lines before, block lines or nil, lines after or nil)
    private static func split(_ crontab: String, project: String) throws(MalformedError)
        -> (before: [String], block: [String]?, after: [String]?) {
        var lines = crontab.split(separator: "\n", omittingEmptySubsequences: false).map(String.init)
        if lines.last == "" { lines.removeLast() }
        let begin = beginMarker(project: project), end = endMarker(project: project)
        let begins = lines.indices.filter { lines[$0] == begin }
        let ends = lines.indices.filter { lines[$0] == end }
        if begins.isEmpty && ends.isEmpty { return (lines, nil, nil) }
        guard begins.count == 1, ends.count == 1, begins[0] < ends[0] else {
            throw MalformedError(description: "the crontab holds \(begins.count) '\(begin)' and \(ends.count) '\(end)' lines, "
                                 + "not one block; fix it with `crontab -e`")
        }
        return (Array(lines[..<begins[0]]), Array(lines[(begins[0] + 1)..<ends[0]]), Array(lines[(ends[0] + 1)...]))
    }

    /// cron ignores a last line without a newline: always end with one.
    private static func join(_ lines: [String]) -> String {
        lines.isEmpty ? "" : lines.joined(separator: "\n") + "\n"
    }
}
