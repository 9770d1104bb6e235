import Foundation
import Pipeline
import Testing

@Suite struct ScheduleTests {
    static func date(_ text: String) -> Date {
        let formatter = ISO8601DateFormatter()
        return formatter.date(from: text)!
    }

    static func iso(_ date: Date?) -> String {
        guard let date else { return "never" }
        let formatter = ISO8601DateFormatter()
        formatter.timeZone = TimeZone(identifier: "UTC")
        return formatter.string(from: date)
    }

    @Test(arguments: [
        // expression, after, expected next run (UTC)
        ("0 3 * * *", "2026-11-25T02:59:00Z", "2026-11-25T03:00:00Z"),
        ("0 3 * * *", "2026-11-25T03:00:00Z", "2026-11-26T03:00:00Z"),          // strictly after
        ("*/15 * * * *", "2026-11-25T10:07:30Z", "2026-11-25T10:15:00Z"),
        ("0 3 * * *", "2026-11-25T02:59:20Z", "2026-11-25T03:00:00Z"),          // mid-minute: the next minute counts
        ("* * * * *", "2026-11-25T10:07:59Z", "2026-11-25T10:08:00Z"),
        ("5-10/2 * * * *", "2026-11-25T10:08:00Z", "2026-11-25T10:09:00Z"),
        ("0 9-17/4 * * *", "2026-11-25T14:00:00Z", "2026-11-25T17:00:00Z"),
        ("0 0 1,15 * *", "2026-11-16T00:00:00Z", "2026-12-01T00:00:00Z"),
        ("0 0 31 * *", "2026-11-01T00:00:00Z", "2026-12-31T00:00:00Z"),         // November has no 31st
        ("0 12 29 feb *", "2026-03-01T00:00:00Z", "2028-02-29T12:00:00Z"),      // next leap year
        ("30 2 * * mon-fri", "2026-11-27T03:00:00Z", "2026-11-30T02:30:00Z"),   // Friday -> Monday
        ("0 0 * * 7", "2026-11-25T00:00:00Z", "2026-11-29T00:00:00Z"),          // 7 is Sunday
        ("0 0 * jan-mar sun", "2026-11-25T00:00:00Z", "2027-01-03T00:00:00Z"),
        ("0 0 13 * fri", "2026-11-25T00:00:00Z", "2026-11-27T00:00:00Z"),       // OR rule: Friday before the 13th
        ("0 0 13 * fri", "2026-11-28T00:00:00Z", "2026-12-04T00:00:00Z"),
        ("59 23 31 dec *", "2026-12-31T23:59:00Z", "2027-12-31T23:59:00Z"),
        ("@hourly", "2026-11-25T10:00:00Z", "2026-11-25T11:00:00Z"),
        ("@daily", "2026-11-25T10:00:00Z", "2026-11-26T00:00:00Z"),
        ("@weekly", "2026-11-25T10:00:00Z", "2026-11-29T00:00:00Z"),
        ("@monthly", "2026-11-25T10:00:00Z", "2026-12-01T00:00:00Z"),
        ("@yearly", "2026-11-25T10:00:00Z", "2027-01-01T00:00:00Z"),
        // The original AgentShop's words keep their times (its scheduler ran daily at 02:00, weekly on Sunday at 01:00).
        ("daily", "2026-11-25T10:00:00Z", "2026-11-26T02:00:00Z"),
        ("daily", "2026-11-25T01:00:00Z", "2026-11-25T02:00:00Z"),
        ("weekly", "2026-11-25T10:00:00Z", "2026-11-29T01:00:00Z"),
        ("monthly", "2026-11-25T10:00:00Z", "2026-12-01T00:00:00Z"),
        ("once 2026-12-24T18:00", "2026-11-25T10:00:00Z", "2026-12-24T18:00:00Z"),
        ("once 2026-12-24 18:00", "2026-12-24T18:00:00Z", "never"),
        ("once 2026-12-24T18:00:00+01:00", "2026-11-25T10:00:00Z", "2026-12-24T17:00:00Z"),
        ("hourly", "2026-11-25T10:30:00Z", "2026-11-25T11:00:00Z"),
        ("every 20 minutes", "2026-11-25T10:41:00Z", "2026-11-25T11:00:00Z"),
        ("every 6 hours", "2026-11-25T13:00:00Z", "2026-11-25T18:00:00Z"),
    ])
    func nextRun(expression: String, after: String, expected: String) throws {
        let schedule = try Schedule(expression)
        #expect(Self.iso(schedule.nextRun(after: Self.date(after))) == expected)
    }

    @Test func timeZonesShiftTheWallClock() throws {
        let paris = try Schedule("0 3 * * *", timeZone: "Europe/Paris")
        // 03:00 in Paris is 02:00 UTC in winter.
        #expect(Self.iso(paris.nextRun(after: Self.date("2026-11-25T00:00:00Z"))) == "2026-11-25T02:00:00Z")
        #expect(Self.iso(paris.nextRun(after: Self.date("2026-07-01T00:00:00Z"))) == "2026-07-01T01:00:00Z")
        #expect(paris.timeZoneName == "Europe/Paris")
        #expect(try Schedule("@daily").timeZoneName == "UTC")
    }

    @Test func nextRunsAreIncreasing() throws {
        let runs = try Schedule("*/10 * * * *").nextRuns(after: Self.date("2026-11-25T10:05:00Z"), count: 4)
        #expect(runs.map(Self.iso) == ["2026-11-25T10:10:00Z", "2026-11-25T10:20:00Z", "2026-11-25T10:30:00Z", "2026-11-25T10:40:00Z"])
    }

    @Test(arguments: [
        ("61 * * * *", "minute: 61 is outside 0-59"),
        ("* * * *", "expected 5 cron fields"),
        ("0 0 30 feb *", "never runs"),
        ("0 0 * * funday", "day of week: 'funday' is not a number or a name"),
        ("once", "expected 'once YYYY-MM-DDTHH:MM'"),
        ("once 99999-01-01T00:00", "expected 'once YYYY-MM-DDTHH:MM'"),
        ("once 2026-02-30T10:00", "expected 'once YYYY-MM-DDTHH:MM'"),
        ("0 0 31 2 *", "never runs"),
        ("0 0 31 feb */2", "never runs"),   // a `*` day-of-week field makes it AND: still never
        ("*/0 * * * *", "invalid step"),
        ("every 90 minutes", "longer than an hour"),
        ("every day", "expected 'every N minutes' or 'every N hours'"),
        ("@reboot", "@reboot is not a schedule"),
        ("@sometimes", "unknown shortcut"),
        ("fortnightly", "unknown schedule 'fortnightly'"),
    ])
    func invalidSchedulesAreErrorsNeverAFallback(expression: String, message: String) {
        #expect {
            _ = try Schedule(expression)
        } throws: { error in
            "\(error)".contains(message)
        }
    }

    @Test func unknownTimeZoneIsAnError() {
        #expect(throws: Schedule.ParseError.self) { _ = try Schedule("@daily", timeZone: "Mars/Olympus") }
    }

    // MARK: Conformance with Vixie cron and cronie (expected values from a brute-force, minute-by-minute
    // reading of cronie's rules, independent of the search in Schedule.nextRun).

    @Test(arguments: [
        // A day field starting with `*` keeps its step; the `*` makes the two day fields AND, not OR.
        ("0 0 */2 * *", "2026-11-28T12:00:00Z", ["2026-11-29T00:00:00Z", "2026-12-01T00:00:00Z", "2026-12-03T00:00:00Z"]),
        ("0 0 * * */3", "2026-11-25T12:00:00Z", ["2026-11-28T00:00:00Z", "2026-11-29T00:00:00Z", "2026-12-02T00:00:00Z"]),
        ("0 0 */2 * 1", "2026-11-25T12:00:00Z", ["2026-12-07T00:00:00Z", "2026-12-21T00:00:00Z", "2027-01-11T00:00:00Z"]),
        ("0 0 1 * */2", "2026-11-25T12:00:00Z", ["2026-12-01T00:00:00Z", "2027-04-01T00:00:00Z", "2027-05-01T00:00:00Z"]),
        // Neither starts with `*`: OR (the 1st, and every Friday).
        ("0 0 1 * 5", "2026-11-25T12:00:00Z", ["2026-11-27T00:00:00Z", "2026-12-01T00:00:00Z", "2026-12-04T00:00:00Z"]),
        // Wrapping ranges: to the end of the field and on from its start.
        ("0 0 * * fri-sun", "2026-11-25T12:00:00Z", ["2026-11-27T00:00:00Z", "2026-11-28T00:00:00Z", "2026-11-29T00:00:00Z"]),
        ("0 0 * * sat-mon", "2026-11-25T12:00:00Z", ["2026-11-28T00:00:00Z", "2026-11-29T00:00:00Z", "2026-11-30T00:00:00Z"]),
        ("0 0 * * 5-1", "2026-12-01T12:00:00Z", ["2026-12-04T00:00:00Z", "2026-12-05T00:00:00Z", "2026-12-06T00:00:00Z"]),
        ("0 0 * * 7-1", "2026-12-01T12:00:00Z", ["2026-12-06T00:00:00Z", "2026-12-07T00:00:00Z", "2026-12-13T00:00:00Z"]),
        ("0 22-2 25 11 *", "2026-11-25T00:30:00Z", ["2026-11-25T01:00:00Z", "2026-11-25T02:00:00Z", "2026-11-25T22:00:00Z"]),
        ("0 0 1 nov-feb *", "2026-03-01T00:00:00Z", ["2026-11-01T00:00:00Z", "2026-12-01T00:00:00Z", "2027-01-01T00:00:00Z"]),
    ])
    func cronDayFields(expression: String, after: String, expected: [String]) throws {
        let runs = try Schedule(expression).nextRuns(after: Self.date(after), count: 3)
        #expect(runs.map(Self.iso) == expected)
    }

    /// Both daylight-saving changes of 2026 in three zones, one with a 30-minute change.
    @Test(arguments: [
        // America/New_York falls back on 1 Nov 2026 (02:00 EDT -> 01:00 EST): the search used to spin forever here.
        ("0 3 * * *", "America/New_York", "2026-10-31T12:00:00Z", ["2026-11-01T08:00:00Z", "2026-11-02T08:00:00Z", "2026-11-03T08:00:00Z"]),
        // A fixed time in the repeated hour runs once, at the first 01:30 (EDT)...
        ("30 1 * * *", "America/New_York", "2026-11-01T00:00:00Z", ["2026-11-01T05:30:00Z", "2026-11-02T06:30:00Z", "2026-11-03T06:30:00Z"]),
        // ...a wildcard-hour job runs every hour, so both 01:30s.
        ("30 * * * *", "America/New_York", "2026-11-01T05:00:00Z", ["2026-11-01T05:30:00Z", "2026-11-01T06:30:00Z", "2026-11-01T07:30:00Z"]),
        // Springs forward on 8 Mar 2026 (02:00 EST -> 03:00 EDT): 02:30 runs at the change, 03:00 EDT.
        ("30 2 * * *", "America/New_York", "2026-03-08T00:00:00Z", ["2026-03-08T07:00:00Z", "2026-03-09T06:30:00Z", "2026-03-10T06:30:00Z"]),
        ("30 * * * *", "America/New_York", "2026-03-08T06:00:00Z", ["2026-03-08T06:30:00Z", "2026-03-08T07:30:00Z", "2026-03-08T08:30:00Z"]),
        // Europe/Paris springs forward on 29 Mar 2026 (02:00 CET -> 03:00 CEST), falls back on 25 Oct (03:00 CEST -> 02:00 CET).
        ("30 2 * * *", "Europe/Paris", "2026-03-28T23:00:00Z", ["2026-03-29T01:00:00Z", "2026-03-30T00:30:00Z", "2026-03-31T00:30:00Z"]),
        ("30 2 * * *", "Europe/Paris", "2026-10-24T23:00:00Z", ["2026-10-25T00:30:00Z", "2026-10-26T01:30:00Z", "2026-10-27T01:30:00Z"]),
        ("0 3 * * *", "Europe/Paris", "2026-10-24T12:00:00Z", ["2026-10-25T02:00:00Z", "2026-10-26T02:00:00Z", "2026-10-27T02:00:00Z"]),
        // Australia/Lord_Howe moves 30 minutes: 02:00 -> 02:30 on 4 Oct 2026, 02:00 -> 01:30 on 5 Apr 2026.
        ("0 2 * * *", "Australia/Lord_Howe", "2026-10-03T12:00:00Z", ["2026-10-03T15:30:00Z", "2026-10-04T15:00:00Z", "2026-10-05T15:00:00Z"]),
        ("15 2 * * *", "Australia/Lord_Howe", "2026-10-03T12:00:00Z", ["2026-10-03T15:30:00Z", "2026-10-04T15:15:00Z", "2026-10-05T15:15:00Z"]),
        ("45 1 * * *", "Australia/Lord_Howe", "2026-04-04T12:00:00Z", ["2026-04-04T14:45:00Z", "2026-04-05T15:15:00Z", "2026-04-06T15:15:00Z"]),
        ("15 * * * *", "Australia/Lord_Howe", "2026-04-04T13:00:00Z", ["2026-04-04T13:15:00Z", "2026-04-04T14:15:00Z", "2026-04-04T15:45:00Z"]),
    ])
    func daylightSavingChanges(expression: String, zone: String, after: String, expected: [String]) throws {
        let runs = try Schedule(expression, timeZone: zone).nextRuns(after: Self.date(after), count: 3)
        #expect(runs.map(Self.iso) == expected)
    }

    /// Every zone, every run of a year: the search always advances, never repeats, and is quick.
    @Test(arguments: ["America/New_York", "Europe/Paris", "Australia/Lord_Howe"])
    func aYearOfRunsAlwaysAdvances(zone: String) throws {
        // (Every-30-minutes jobs across the changes are in the table above: a year of them is slow in a debug build.)
        for expression in ["0 3 * * *", "30 2 * * *", "0 1-3 * * *"] {
            let schedule = try Schedule(expression, timeZone: zone)
            let started = Date()
            var cursor = Self.date("2026-01-01T00:00:00Z")
            var count = 0
            while cursor < Self.date("2027-01-01T00:00:00Z") {
                let next = try #require(schedule.nextRun(after: cursor), "\(expression) in \(zone) after \(Self.iso(cursor))")
                #expect(next > cursor)
                cursor = next
                count += 1
            }
            #expect(Date().timeIntervalSince(started) < 10, "\(expression) in \(zone): \(count) runs")
            if expression == "0 3 * * *" || expression == "30 2 * * *" {
                // One run a day, every day: none lost at the spring change, none doubled at the autumn one.
                #expect(count == 365 || count == 366, "\(expression) in \(zone): \(count) runs")
            }
        }
    }

    @Test func dueRunIsTheScheduledMinute() throws {
        let paris = try Schedule("0 3 * * *", timeZone: "Europe/Paris")
        #expect(paris.dueRun(inMinuteOf: Self.date("2026-11-25T02:00:40Z")) == Self.date("2026-11-25T02:00:00Z"))
        #expect(paris.dueRun(inMinuteOf: Self.date("2026-11-25T03:00:00Z")) == nil)
        #expect(paris.dueRun(inMinuteOf: Self.date("2026-07-01T01:00:05Z")) == Self.date("2026-07-01T01:00:00Z"))
        #expect(paris.dueRun(inMinuteOf: Self.date("2026-07-01T02:00:05Z")) == nil)
    }
}
