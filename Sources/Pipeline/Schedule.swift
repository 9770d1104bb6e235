import Foundation

/// When a pipeline runs: 5-field cron (`0 3 * * *`), `@daily`-style shortcuts, the original
/// AgentShop's words (`daily` at 02:00, `weekly` on Sunday at 01:00, `hourly`, `every 15 minutes`,
/// `every 2 hours`), `monthly` (the 1st at 00:00) and `once 2026-12-24T18:00`, in UTC unless a time
/// zone is given.
///
/// Fields follow Vixie cron and cronie: lists, ranges, steps, names; `*/2` in a day field keeps its
/// step and its leading `*` makes the two day fields combine with AND (see `dayMatches`). A range may
/// wrap (`fri-sun`, `sat-mon`, `22-2`, `nov-feb`): it runs to the end of the field and on from its start.
/// Anything else is an error with the reason, never a silent fallback to "daily".
public struct Schedule: Sendable, Equatable, CustomStringConvertible {
    /// Allowed values of each field, as sets (minute, hour, day of month, month, day of week 0-6).
    let minutes: Set<Int>
    let hours: Set<Int>
    let daysOfMonth: Set<Int>
    let months: Set<Int>
    let daysOfWeek: Set<Int>
    private let sortedMinutes: [Int], sortedHours: [Int], sortedMonths: [Int]
    /// Whether the day-of-month / day-of-week field starts with `*`: cronie's AND-or-OR rule needs it.
    let domStar: Bool
    let dowStar: Bool
    /// Neither minute nor hour starts with `*`: cronie's "fixed-time" job, which runs once when the
    /// clock falls back and at the change when it springs forward over the job's time.
    public let fixedTime: Bool
    /// `once …`: the single instant.
    public let onlyAt: Date?
    /// The schedule as a crontab expression (for `once`, the instant's fields in its zone).
    public let cron: String
    public let timeZone: TimeZone
    /// `UTC`, or the IANA name given.
    public var timeZoneName: String { zoneName ?? "UTC" }
    private let zoneName: String?
    /// The text it was read from.
    public let source: String

    public var description: String { source }

    public struct ParseError: Error, CustomStringConvertible, Sendable {
        public let message: String
        public var description: String { message }
    }

    /// Parses `text`; `timeZone` is an IANA name (`Europe/Paris`), UTC when nil.
    public init(_ text: String, timeZone zoneName: String? = nil) throws(ParseError) {
        source = text
        self.zoneName = zoneName
        if let zoneName {
            guard let zone = TimeZone(identifier: zoneName) else {
                throw ParseError(message: "unknown time zone '\(zoneName)' (use an IANA name such as Europe/Paris)")
            }
            timeZone = zone
        } else {
            timeZone = TimeZone(identifier: "UTC")!
        }
        let trimmed = text.trimmingCharacters(in: .whitespaces)
        let expression: String
        if let instant = try Self.onceInstant(trimmed, zone: timeZone) {
            onlyAt = instant
            var calendar = Calendar(identifier: .gregorian)
            calendar.timeZone = timeZone
            let c = calendar.dateComponents([.month, .day, .hour, .minute], from: instant)
            expression = "\(c.minute!) \(c.hour!) \(c.day!) \(c.month!) *"
        } else {
            onlyAt = nil
            expression = try Self.cronExpression(for: trimmed)
        }
        let fields = expression.split(separator: " ", omittingEmptySubsequences: true).map(String.init)
        guard fields.count == 5 else {
            throw ParseError(message: "expected 5 cron fields (minute hour day-of-month month day-of-week), found \(fields.count) in '\(text)'")
        }
        minutes = try Self.field(fields[0], name: "minute", range: 0...59)
        hours = try Self.field(fields[1], name: "hour", range: 0...23)
        daysOfMonth = try Self.field(fields[2], name: "day of month", range: 1...31)
        months = try Self.field(fields[3], name: "month", range: 1...12, names: Self.monthNames)
        // 7 is Sunday too.
        daysOfWeek = Set(try Self.field(fields[4], name: "day of week", range: 0...7, names: Self.dayNames).map { $0 % 7 })
        sortedMinutes = minutes.sorted(); sortedHours = hours.sorted(); sortedMonths = months.sorted()
        domStar = fields[2].hasPrefix("*")
        dowStar = fields[4].hasPrefix("*")
        fixedTime = !fields[0].hasPrefix("*") && !fields[1].hasPrefix("*")
        cron = fields.joined(separator: " ")
        // With AND (a day field starts with `*`), a day of month that no listed month has never runs;
        // a `*`-field always holds the 1st, and the weekdays of a date cycle within 28 years.
        if (domStar || dowStar) && !months.contains(where: { month in daysOfMonth.contains { $0 <= Self.maxDays[month - 1] } }) {
            throw ParseError(message: "'\(text)' never runs: no listed month has the listed day")
        }
    }

    /// `once 2026-12-24T18:00` (or `once 2026-12-24 18:00`, seconds and a `Z` or `+01:00` offset allowed):
    /// the instant, read in the schedule's zone when no offset is given; nil when `text` is not `once …`.
    static func onceInstant(_ text: String, zone: TimeZone) throws(ParseError) -> Date? {
        let lower = text.lowercased()
        guard lower == "once" || lower.hasPrefix("once ") else { return nil }
        let value = text.dropFirst(4).trimmingCharacters(in: .whitespaces).replacingOccurrences(of: " ", with: "T")
        let usage = "expected 'once YYYY-MM-DDTHH:MM' (in the schedule's time zone, or with Z or an offset), found '\(text)'"
        let formatter = ISO8601DateFormatter()
        formatter.formatOptions = [.withInternetDateTime]
        if let date = formatter.date(from: value) {
            guard (0...253_402_300_799).contains(date.timeIntervalSince1970) else { throw ParseError(message: usage) }
            return date
        }
        // No offset: the wall clock of the schedule's zone, seconds optional.
        let parts = value.split(whereSeparator: { "-T:".contains($0) }).map { Int($0) }
        guard value.count >= 16, parts.count == 5 || parts.count == 6, !parts.contains(nil) else { throw ParseError(message: usage) }
        let n = parts.map { $0! }
        guard (1970...9999).contains(n[0]), (1...12).contains(n[1]), (1...Civil.daysIn(year: n[0], month: n[1])).contains(n[2]), (0...23).contains(n[3]),
              (0...59).contains(n[4]), n.count == 5 || (0...59).contains(n[5]) else { throw ParseError(message: usage) }
        var calendar = Calendar(identifier: .gregorian)
        calendar.timeZone = zone
        // A wall time the clock skips becomes the change itself, as for cron.
        guard let date = calendar.date(from: DateComponents(year: n[0], month: n[1], day: n[2], hour: n[3], minute: n[4],
                                                            second: n.count == 6 ? n[5] : 0)) else { throw ParseError(message: usage) }
        return date
    }

    /// The first run time strictly after `date`, or nil when there is none in the next 28 years (a
    /// `once` schedule already past; no valid cron expression gets there, since the day-of-week and leap
    /// year cycles repeat within 28 years).
    ///
    /// The search walks the zone's wall clock (every day 24 hours long) from one matching minute to the
    /// next, skipping whole months, days and hours, then turns each matching wall-clock minute into
    /// instants. It always advances and is bounded by `maxSearchSteps`, so it cannot hang. Around a
    /// daylight-saving change it behaves as cronie and Vixie cron do:
    /// - spring forward: a fixed-time job (minute and hour not starting with `*`) whose time falls in
    ///   the skipped interval runs at the first valid instant after it (the change itself), so no day is
    ///   lost, in 30-minute zones too; a wildcard job (`*/15 * * * *`, `30 * * * *`) has no run there;
    /// - fall back: a fixed-time job runs once, at the first of the two instants its wall-clock time
    ///   has; a wildcard job runs at both, since it runs every hour (or minute) anyway.
    public func nextRun(after date: Date) -> Date? {
        if let onlyAt { return onlyAt > date ? onlyAt : nil }
        let zone = timeZone
        func offset(_ seconds: Int) -> Int { zone.secondsFromGMT(for: Date(timeIntervalSince1970: Double(seconds))) }
        let after = Int((date.timeIntervalSince1970).rounded(.down))
        // Whether the zone's offset changes within 4 hours of an instant: then wall-clock order and
        // instant order may differ, and candidates a few hours either side must be compared.
        func nearChange(_ t: Int) -> Bool {
            let o = offset(t)
            return offset(t - 4 * 3600) != o || offset(t + 4 * 3600) != o
        }
        let window = 3 * 3600
        var wall = (after + offset(after)).floorDiv(60) * 60
        let near = nearChange(after)
        if near { wall -= window }
        let limit = wall + 28 * 366 * 86400
        var best: (instant: Int, wall: Int)?
        var steps = 0
        while steps < Self.maxSearchSteps {
            steps += 1
            guard let candidate = nextMatchingMinute(from: wall, limit: limit, steps: &steps) else { break }
            for instant in instants(ofWall: candidate, offset: offset) where instant > after {
                if best == nil || instant < best!.instant { best = (instant, candidate) }
            }
            if let found = best, !nearChange(found.instant) || candidate >= found.wall + window {
                return Date(timeIntervalSince1970: Double(found.instant))
            }
            wall = candidate + 60
        }
        return best.map { Date(timeIntervalSince1970: Double($0.instant)) }
    }

    /// Bounds the work of one `nextRun` (each step skips at least a minute, usually a day or a month).
    static let maxSearchSteps = 200_000

    /// The instants (seconds since 1970) a wall-clock time has in the zone: one; two in a repeated
    /// interval (a fixed-time job takes only the first); none in a skipped one (a fixed-time job takes
    /// the change itself, the first valid instant after it).
    private func instants(ofWall wall: Int, offset: (Int) -> Int) -> [Int] {
        // Offsets in force a few hours either side: a change lies between them.
        var offsets = Set([offset(wall - 15 * 3600), offset(wall + 15 * 3600)])
        for o in Array(offsets) { offsets.insert(offset(wall - o)) }
        let valid = offsets.map { wall - $0 }.filter { offset($0) == wall - $0 }.sorted()
        let unique = valid.reduce(into: [Int]()) { if $0.last != $1 { $0.append($1) } }
        if !fixedTime { return unique }
        if let first = unique.first { return [first] }
        // Skipped: the change lies between the wall time read with the later offset and with the earlier one.
        guard let low = offsets.max(), let high = offsets.min(), low != high else { return [] }
        var before = wall - low, after = wall - high
        let start = offset(before)
        guard offset(after) != start, before < after else { return [] }
        while after - before > 1 {
            let mid = before + (after - before) / 2
            if offset(mid) == start { before = mid } else { after = mid }
        }
        return [after]
    }

    /// The first wall-clock minute (seconds on the zone's clock, every day 86400 s) at or after `wall`
    /// whose month, day, hour and minute match; nil past `limit`.
    private func nextMatchingMinute(from wall: Int, limit: Int, steps: inout Int) -> Int? {
        var (days, secondOfDay) = wall.floorDivMod(86400)
        var (year, month, day) = Civil.date(days: days)
        var hour = secondOfDay / 3600, minute = (secondOfDay % 3600) / 60
        while steps < Self.maxSearchSteps {
            steps += 1
            let now = Civil.days(year: year, month: month, day: day) * 86400 + hour * 3600 + minute * 60
            if now > limit { return nil }
            if !months.contains(month) {
                if let next = sortedMonths.first(where: { $0 > month }) { month = next } else { year += 1; month = sortedMonths[0] }
                day = 1; hour = 0; minute = 0
                continue
            }
            let weekday = Civil.weekday(days: Civil.days(year: year, month: month, day: day))
            if day > Civil.daysIn(year: year, month: month) || !dayMatches(day: day, weekday: weekday) {
                days = Civil.days(year: year, month: month, day: day) + 1
                (year, month, day) = Civil.date(days: days)
                hour = 0; minute = 0
                continue
            }
            if !hours.contains(hour) {
                if let next = sortedHours.first(where: { $0 > hour }) {
                    hour = next; minute = 0
                } else {
                    (year, month, day) = Civil.date(days: Civil.days(year: year, month: month, day: day) + 1)
                    hour = 0; minute = 0
                }
                continue
            }
            if !minutes.contains(minute) {
                if let next = sortedMinutes.first(where: { $0 > minute }) {
                    minute = next
                } else if hour < 23 {
                    hour += 1; minute = 0
                } else {
                    (year, month, day) = Civil.date(days: Civil.days(year: year, month: month, day: day) + 1)
                    hour = 0; minute = 0
                }
                continue
            }
            return now
        }
        return nil
    }

    /// The next `count` run times after `date`.
    public func nextRuns(after date: Date, count: Int) -> [Date] {
        var out: [Date] = []
        var cursor = date
        while out.count < count, let next = nextRun(after: cursor) {
            out.append(next)
            cursor = next
        }
        return out
    }

    /// Whether a run is due in the minute that holds `date` (what a crontab line that fires every
    /// candidate minute asks before it runs the pipeline: `agentshop schedule due`).
    public func dueRun(inMinuteOf date: Date) -> Date? {
        let minute = Date(timeIntervalSince1970: (date.timeIntervalSince1970 / 60).rounded(.down) * 60)
        guard let next = nextRun(after: minute.addingTimeInterval(-0.5)), next < minute.addingTimeInterval(60) else { return nil }
        return next
    }

    /// cronie's rule: when either day field starts with `*` (`*`, `*/2`), a day must match both fields;
    /// when neither does, either field may match. A `*` field matches every day, so this is the usual
    /// "the restricted one decides" for plain `*`, and lets `*/2` keep its step.
    private func dayMatches(day: Int, weekday: Int) -> Bool {
        let dom = daysOfMonth.contains(day)
        let dow = daysOfWeek.contains(weekday)
        return domStar || dowStar ? dom && dow : dom || dow
    }

    static let monthNames = ["jan", "feb", "mar", "apr", "may", "jun", "jul", "aug", "sep", "oct", "nov", "dec"]
    static let dayNames = ["sun", "mon", "tue", "wed", "thu", "fri", "sat"]
    static let maxDays = [31, 29, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31]

    /// Shortcuts and the original AgentShop's words, as cron.
    static func cronExpression(for text: String) throws(ParseError) -> String {
        let lower = text.lowercased()
        switch lower {
        case "@yearly", "@annually": return "0 0 1 1 *"
        case "@monthly": return "0 0 1 * *"
        case "monthly": return "0 0 1 * *"
        case "@weekly": return "0 0 * * 0"
        // The original AgentShop's words keep their times: daily at 02:00, weekly on Sunday at 01:00.
        case "weekly": return "0 1 * * 0"
        case "@daily", "@midnight": return "0 0 * * *"
        case "daily": return "0 2 * * *"
        case "@hourly", "hourly": return "0 * * * *"
        case "@reboot": throw ParseError(message: "@reboot is not a schedule AgentShop can run (use a system service)")
        default: break
        }
        let words = lower.split(separator: " ").map(String.init)
        if words.first == "every" {
            guard words.count == 3, let n = Int(words[1]), n > 0 else {
                throw ParseError(message: "expected 'every N minutes' or 'every N hours', found '\(text)'")
            }
            switch words[2] {
            case "minute", "minutes":
                guard n <= 59 else { throw ParseError(message: "'every \(n) minutes' is longer than an hour; use 'every N hours' or cron") }
                return n == 1 ? "* * * * *" : "*/\(n) * * * *"
            case "hour", "hours":
                guard n <= 23 else { throw ParseError(message: "'every \(n) hours' is longer than a day; use cron") }
                return n == 1 ? "0 * * * *" : "0 */\(n) * * *"
            default:
                throw ParseError(message: "expected 'every N minutes' or 'every N hours', found '\(text)'")
            }
        }
        if lower.hasPrefix("@") { throw ParseError(message: "unknown shortcut '\(text)' (known: @yearly, @monthly, @weekly, @daily, @hourly)") }
        if !lower.contains(" ") {
            throw ParseError(message: "unknown schedule '\(text)' (expected cron like '0 3 * * *', @daily, daily, weekly, monthly, hourly, 'every 15 minutes', 'once 2026-12-24T18:00')")
        }
        return text
    }

    /// One cron field: `*`, `*/n`, `a`, `a-b`, `a-b/n`, `a/n`, lists of those; names for months and days;
    /// `a-b` with `a > b` wraps.
    static func field(_ text: String, name: String, range: ClosedRange<Int>, names: [String] = []) throws(ParseError) -> Set<Int> {
        var values = Set<Int>()
        for item in text.lowercased().split(separator: ",", omittingEmptySubsequences: false) {
            let parts = item.split(separator: "/", omittingEmptySubsequences: false)
            guard parts.count <= 2, !parts[0].isEmpty else { throw ParseError(message: "\(name): invalid '\(item)'") }
            var step = 1
            if parts.count == 2 {
                guard let s = Int(parts[1]), s > 0 else { throw ParseError(message: "\(name): invalid step in '\(item)'") }
                step = s
            }
            var low: Int, high: Int
            if parts[0] == "*" {
                low = range.lowerBound; high = range.upperBound
            } else {
                let bounds = parts[0].split(separator: "-", omittingEmptySubsequences: false)
                guard bounds.count <= 2 else { throw ParseError(message: "\(name): invalid range '\(item)'") }
                low = try value(String(bounds[0]), name: name, range: range, names: names)
                high = bounds.count == 2 ? try value(String(bounds[1]), name: name, range: range, names: names)
                    : (parts.count == 2 ? range.upperBound : low)
            }
            // Day of week: 7 is Sunday, so `7-1` is Sunday to Monday, not a wrap from 7.
            if range.upperBound == 7 && low == 7 && high < 7 { low = 0 }
            if low <= high {
                values.formUnion(stride(from: low, through: high, by: step))
            } else {
                // A wrapping range (`fri-sun`, `22-2`): to the end of the field, then on from its start; the
                // step counts across the wrap. Day of week wraps at 6 (7 is Sunday again).
                let top = range.upperBound == 7 ? 6 : range.upperBound
                let sequence = Array(low...top) + Array(range.lowerBound...high)
                values.formUnion(stride(from: 0, to: sequence.count, by: step).map { sequence[$0] })
            }
        }
        return values
    }

    private static func value(_ text: String, name: String, range: ClosedRange<Int>, names: [String]) throws(ParseError) -> Int {
        if let index = names.firstIndex(of: text) { return index + (range.lowerBound == 1 ? 1 : 0) }
        guard let n = Int(text) else {
            throw ParseError(message: "\(name): '\(text)' is not a number\(names.isEmpty ? "" : " or a name (\(names.joined(separator: ", ")))")")
        }
        guard range.contains(n) else { throw ParseError(message: "\(name): \(n) is outside \(range.lowerBound)-\(range.upperBound)") }
        return n
    }
}

/// Proleptic Gregorian dates as day numbers (days since 1970-01-01), without time zones: the
/// scheduler's wall-clock arithmetic, where every day has 24 hours. (Howard Hinnant's algorithms.)
enum Civil {
    static func days(year: Int, month: Int, day: Int) -> Int {
        let y = month <= 2 ? year - 1 : year
        let era = (y >= 0 ? y : y - 399) / 400
        let yoe = y - era * 400
        let doy = (153 * (month + (month > 2 ? -3 : 9)) + 2) / 5 + day - 1
        let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy
        return era * 146097 + doe - 719468
    }

    static func date(days: Int) -> (year: Int, month: Int, day: Int) {
        let z = days + 719468
        let era = (z >= 0 ? z : z - 146096) / 146097
        let doe = z - era * 146097
        let yoe = (doe - doe / 1460 + doe / 36524 - doe / 146096) / 365
        let doy = doe - (365 * yoe + yoe / 4 - yoe / 100)
        let mp = (5 * doy + 2) / 153
        let day = doy - (153 * mp + 2) / 5 + 1
        let month = mp < 10 ? mp + 3 : mp - 9
        return (yoe + era * 400 + (month <= 2 ? 1 : 0), month, day)
    }

    /// 0 is Sunday (1970-01-01 was a Thursday).
    static func weekday(days: Int) -> Int { ((days % 7) + 11) % 7 }

    static func daysIn(year: Int, month: Int) -> Int {
        if month == 2 { return year % 4 == 0 && (year % 100 != 0 || year % 400 == 0) ? 29 : 28 }
        return [4, 6, 9, 11].contains(month) ? 30 : 31
    }
}

fileprivate extension Int {
    func floorDiv(_ d: Int) -> Int { (self >= 0 ? self : self - d + 1) / d }
    func floorDivMod(_ d: Int) -> (Int, Int) { let q = floorDiv(d); return (q, self - q * d) }
}
