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
        ("daily", "2026-11-25T10:00:00Z", "2026-11-26T00:00:00Z"),
        ("weekly", "2026-11-25T10:00:00Z", "2026-11-29T00:00:00Z"),
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
        ("5-1 * * * *", "runs backwards"),
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
}
