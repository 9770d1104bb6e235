import Foundation

/// When a pipeline runs: 5-field cron (`0 3 * * *`), `@daily`-style shortcuts, or the original
/// AgentShop's words (`daily`, `weekly`, `hourly`, `every 15 minutes`, `every 2 hours`),
/// in UTC unless a time zone is given.
///
/// Anything else is an error with the reason, never a silent fallback to "daily".
public struct Schedule: Sendable, Equatable, CustomStringConvertible {
    /// Allowed values of each field, as sets (minute, hour, day of month, month, day of week 0-6).
    let minutes: Set<Int>
    let hours: Set<Int>
    let daysOfMonth: Set<Int>
    let months: Set<Int>
    let daysOfWeek: Set<Int>
    /// Whether day of month / day of week were restricted (not `*`): cron's OR rule needs it.
    let domRestricted: Bool
    let dowRestricted: Bool
    /// The schedule as a crontab expression.
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
        let expression = try Self.cronExpression(for: text.trimmingCharacters(in: .whitespaces))
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
        domRestricted = !fields[2].hasPrefix("*")
        dowRestricted = !fields[4].hasPrefix("*")
        cron = fields.joined(separator: " ")
        if !domRestricted || dowRestricted {
            // Fine: either day of month is free, or the OR rule lets day of week fire.
        } else if !months.contains(where: { month in daysOfMonth.contains { $0 <= Self.maxDays[month - 1] } }) {
            throw ParseError(message: "'\(text)' never runs: no listed month has the listed day")
        }
    }

    /// The first run time strictly after `date`.
    public func nextRun(after date: Date) -> Date? {
        var calendar = Calendar(identifier: .gregorian)
        calendar.timeZone = timeZone
        // Start at the next whole minute. (Calendar.date(bySetting: .second, value: 0, …) would round
        // 02:59:20 + 60s up to 03:01 and skip 03:00.) Zone offsets are whole minutes.
        var t = Date(timeIntervalSince1970: (date.timeIntervalSince1970 / 60).rounded(.down) * 60 + 60)
        let limit = date.addingTimeInterval(5 * 366 * 86400)
        while t < limit {
            let c = calendar.dateComponents([.year, .month, .day, .hour, .minute, .weekday], from: t)
            guard let month = c.month, let day = c.day, let hour = c.hour, let minute = c.minute, let weekday = c.weekday else { return nil }
            if !months.contains(month) {
                t = calendar.date(from: DateComponents(year: c.year, month: month + 1, day: 1, hour: 0, minute: 0))
                    ?? t.addingTimeInterval(86400)
                continue
            }
            if !dayMatches(day: day, weekday: weekday - 1) {
                t = calendar.date(byAdding: .day, value: 1, to: calendar.startOfDay(for: t)) ?? t.addingTimeInterval(86400)
                continue
            }
            if !hours.contains(hour) {
                let nextHour = calendar.date(bySettingHour: hour, minute: 0, second: 0, of: t) ?? t
                t = calendar.date(byAdding: .hour, value: 1, to: nextHour) ?? t.addingTimeInterval(3600)
                continue
            }
            if !minutes.contains(minute) {
                t = t.addingTimeInterval(60)
                continue
            }
            return t
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

    /// Cron's rule: when both day fields are restricted, either may match.
    private func dayMatches(day: Int, weekday: Int) -> Bool {
        let dom = daysOfMonth.contains(day)
        let dow = daysOfWeek.contains(weekday)
        if domRestricted && dowRestricted { return dom || dow }
        if domRestricted { return dom }
        if dowRestricted { return dow }
        return true
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
        case "@weekly", "weekly": return "0 0 * * 0"
        case "@daily", "@midnight", "daily": return "0 0 * * *"
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
            throw ParseError(message: "unknown schedule '\(text)' (expected cron like '0 3 * * *', @daily, daily, weekly, hourly, 'every 15 minutes')")
        }
        return text
    }

    /// One cron field: `*`, `*/n`, `a`, `a-b`, `a-b/n`, `a/n`, lists of those; names for months and days.
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
                guard low <= high else { throw ParseError(message: "\(name): range '\(item)' runs backwards") }
            }
            values.formUnion(stride(from: low, through: high, by: step))
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
