import Foundation

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

/// How a schedule is written as crontab lines for a cron that reads every line in the system's time
/// zone. Debian's and Ubuntu's cron ignore `CRON_TZ`, so a `timezone:` (or the UTC default on a machine
/// that is not on UTC) cannot be left to cron.
///
/// The design: when the schedule's zone is the system's, or a fixed offset away from it all year (no
/// daylight-saving change in one that the other lacks), the schedule is translated into system-zone
/// lines that fire exactly when it is due, and cron's own daylight-saving rules (those of Vixie cron and
/// cronie, which `Schedule.nextRun` follows) give the same runs. Otherwise (Europe/Paris on a UTC
/// machine, a `once` schedule, a translation that would cross midnight with restricted days) no set of
/// system-zone fields is exact all year, so the line fires at every minute a run may fall on (each hour,
/// usually) and `agentshop schedule due` lets the run go only when the schedule, read in its own zone, is
/// due in that minute. That works on every cron, cronie included, whatever the machine's zone; the price is
/// a short check process at each candidate minute.
public enum SystemCronLine: Equatable, Sendable {
    /// Cron expressions (5 fields, system zone) that fire exactly at the schedule's runs.
    case exact([String])
    /// One cron expression that fires at least at every run; the run must be gated by `schedule due`.
    case gated(String)

    /// The lines for `schedule` on a cron running in `systemZone`, judged over the year from `now`.
    public static func lines(for schedule: Schedule, systemZone: TimeZone, now: Date) -> SystemCronLine {
        if let instant = schedule.onlyAt {
            var calendar = Calendar(identifier: .gregorian)
            calendar.timeZone = systemZone
            let c = calendar.dateComponents([.minute, .hour, .day, .month], from: instant)
            return .gated("\(c.minute!) \(c.hour!) \(c.day!) \(c.month!) *")
        }
        let (differences, springChanges) = offsetDifferences(schedule.timeZone, systemZone, from: now)
        if differences.count == 1, let difference = differences.first {
            if difference == 0 { return .exact([schedule.cron]) }
            if let lines = shifted(schedule, byMinutes: difference / 60) { return .exact(lines) }
        }
        // Every minute of the hour a run may fall on: a scheduled minute read with any of the year's
        // offsets, and (fixed-time jobs) the minute of a spring-forward change, when a job whose time the
        // clock skips runs.
        var minutes = Set<Int>()
        for minute in schedule.minutes {
            for difference in differences { minutes.insert(((minute - difference / 60) % 60 + 60) % 60) }
        }
        if schedule.fixedTime {
            var calendar = Calendar(identifier: .gregorian)
            calendar.timeZone = systemZone
            for change in springChanges { minutes.insert(calendar.component(.minute, from: change)) }
        }
        return .gated("\(listText(minutes, full: 60)) * * * *")
    }

    /// The differences (schedule zone minus system zone, seconds) in force in the year from `now`, and the
    /// instants in it when the schedule's zone moves its clock forward.
    static func offsetDifferences(_ zone: TimeZone, _ system: TimeZone, from now: Date) -> (Set<Int>, [Date]) {
        func offset(_ zone: TimeZone, _ at: Double) -> Int { zone.secondsFromGMT(for: Date(timeIntervalSince1970: at)) }
        /// The first second in (low, high] with another offset than at `low`.
        func change(_ zone: TimeZone, after low: Double, before high: Double) -> Double {
            var low = low, high = high
            let before = offset(zone, low)
            while high - low > 1 {
                let middle = ((low + high) / 2).rounded(.down)
                if offset(zone, middle) == before { low = middle } else { high = middle }
            }
            return high
        }
        var differences = Set<Int>()
        var springChanges: [Date] = []
        let start = (now.timeIntervalSince1970 / 3600).rounded(.down) * 3600
        // Samples every 3 hours over a year and a day (a zone changes at most twice a year); each change of
        // either zone is found to the second, so a difference that lasts less than 3 hours (zones changing
        // half an hour apart) is seen too.
        for step in 0...(367 * 8) {
            let at = start + Double(step) * 3 * 3600
            differences.insert(offset(zone, at) - offset(system, at))
            guard step > 0 else { continue }
            let previous = at - 3 * 3600
            for moved in [zone, system] where offset(moved, previous) != offset(moved, at) {
                let instant = change(moved, after: previous, before: at)
                differences.insert(offset(zone, instant) - offset(system, instant))
                if moved == zone && offset(zone, instant) > offset(zone, previous) {
                    springChanges.append(Date(timeIntervalSince1970: instant))
                }
            }
        }
        return (differences, springChanges)
    }

    /// The schedule moved by a fixed number of minutes, as system-zone lines; nil when that cannot be exact:
    /// a time crosses midnight while the day fields are restricted, or a wildcard field (`*/15`) would
    /// become a list, which cron treats as fixed-time when its clock changes.
    static func shifted(_ schedule: Schedule, byMinutes difference: Int) -> [String]? {
        let fields = schedule.cron.split(separator: " ").map(String.init)
        let allDays = fields[2] == "*" && fields[3] == "*" && fields[4] == "*"
        var byHour: [Int: Set<Int>] = [:]
        for hour in schedule.hours {
            for minute in schedule.minutes {
                let total = hour * 60 + minute - difference
                let day = Int((Double(total) / 1440).rounded(.down))
                if day != 0 && !allDays { return nil }
                let inDay = total - day * 1440
                byHour[inDay / 60, default: []].insert(inDay % 60)
            }
        }
        // Hours with the same minutes share a line.
        var groups: [[Int]: Set<Int>] = [:]
        for (hour, minutes) in byHour { groups[minutes.sorted(), default: []].insert(hour) }
        var lines: [String] = []
        for (minutes, hours) in groups {
            // A field whose values did not move keeps its text: `*/15` stays a wildcard for cron.
            let minuteText = Set(minutes) == schedule.minutes ? fields[0] : listText(Set(minutes), full: 60)
            let hourText = hours == schedule.hours ? fields[1] : listText(hours, full: 24)
            if (fields[0].hasPrefix("*") && !minuteText.hasPrefix("*")) || (fields[1].hasPrefix("*") && !hourText.hasPrefix("*")) {
                return nil
            }
            lines.append("\(minuteText) \(hourText) \(fields[2]) \(fields[3]) \(fields[4])")
        }
        lines.sort()
        return lines
    }

    /// `5,20,35`, or `*` when every value is there.
    static func listText(_ values: Set<Int>, full: Int) -> String {
        values.count == full ? "*" : values.sorted().map(String.init).joined(separator: ",")
    }
}
