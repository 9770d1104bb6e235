import Foundation
import Testing
@testable import Pipeline

@Suite struct CrontabBlockTests {
    let project = "/srv/shop"
    let foreign = "MAILTO=ops@example.com\n# nightly backup\n15 2 * * * /usr/local/bin/backup % weekly\n"

    @Test func installAppendsABlockAndKeepsForeignLines() throws {
        let installed = try CrontabBlock.installing(["0 3 * * * run a"], project: project, into: foreign)
        #expect(installed == foreign + "\n# BEGIN agentshop /srv/shop\n0 3 * * * run a\n# END agentshop /srv/shop\n")
        #expect(CrontabBlock.installedLines(project: project, in: installed) == ["0 3 * * * run a"])
    }

    @Test func installingTwiceGivesTheSameText() throws {
        let once = try CrontabBlock.installing(["0 3 * * * run a"], project: project, into: foreign)
        #expect(try CrontabBlock.installing(["0 3 * * * run a"], project: project, into: once) == once)
    }

    @Test func installReplacesTheBlockInPlace() throws {
        let text = "A=1\n# BEGIN agentshop /srv/shop\nold\n# END agentshop /srv/shop\n* * * * * after\n"
        let updated = try CrontabBlock.installing(["new 1", "new 2"], project: project, into: text)
        #expect(updated == "A=1\n# BEGIN agentshop /srv/shop\nnew 1\nnew 2\n# END agentshop /srv/shop\n* * * * * after\n")
    }

    @Test func removeRestoresTheOriginal() throws {
        let installed = try CrontabBlock.installing(["0 3 * * * run a"], project: project, into: foreign)
        #expect(try CrontabBlock.removing(project: project, from: installed) == foreign)
        #expect(try CrontabBlock.removing(project: project, from: foreign) == foreign)
        let fromEmpty = try CrontabBlock.installing(["x"], project: project, into: "")
        #expect(try CrontabBlock.removing(project: project, from: fromEmpty) == "")
    }

    @Test func otherProjectsBlocksAreLeftAlone() throws {
        let other = try CrontabBlock.installing(["other"], project: "/srv/other", into: foreign)
        let both = try CrontabBlock.installing(["mine"], project: project, into: other)
        #expect(CrontabBlock.installedLines(project: "/srv/other", in: both) == ["other"])
        #expect(try CrontabBlock.removing(project: project, from: both) == other)
        // A prefix of another project's path is another project.
        #expect(CrontabBlock.installedLines(project: "/srv", in: both) == nil)
    }

    @Test func aLastLineWithoutNewlineGetsOne() throws {
        let installed = try CrontabBlock.installing(["x"], project: project, into: "* * * * * a")
        #expect(installed.hasPrefix("* * * * * a\n\n# BEGIN"))
        #expect(installed.hasSuffix("\n"))
    }

    @Test(arguments: [
        "# BEGIN agentshop /srv/shop\nx\n",
        "x\n# END agentshop /srv/shop\n",
        "# END agentshop /srv/shop\n# BEGIN agentshop /srv/shop\n",
        "# BEGIN agentshop /srv/shop\n# END agentshop /srv/shop\n# BEGIN agentshop /srv/shop\n# END agentshop /srv/shop\n",
    ])
    func aBrokenBlockIsAnErrorNotAGuess(text: String) {
        #expect(throws: CrontabBlock.MalformedError.self) { try CrontabBlock.installing(["x"], project: project, into: text) }
        #expect(throws: CrontabBlock.MalformedError.self) { try CrontabBlock.removing(project: project, from: text) }
    }
}

/// Crontab lines for a cron that reads them in the system's zone and ignores CRON_TZ (Debian, Ubuntu).
@Suite struct SystemCronLineTests {
    static let now = ISO8601DateFormatter().date(from: "2026-06-01T00:00:00Z")!

    static func lines(_ expression: String, zone: String?, system: String) throws -> SystemCronLine {
        SystemCronLine.lines(for: try Schedule(expression, timeZone: zone), systemZone: TimeZone(identifier: system)!, now: now)
    }

    @Test(arguments: [
        // Same zone, or zones that never differ: the schedule as it is.
        ("0 3 * * *", nil, "UTC", SystemCronLine.exact(["0 3 * * *"])),
        ("0 3 * * *", "Europe/Paris", "Europe/Berlin", .exact(["0 3 * * *"])),
        ("*/15 * * * 1-5", "America/New_York", "America/New_York", .exact(["*/15 * * * 1-5"])),
        // A fixed offset all year: translated (India is UTC+5:30, no daylight saving).
        ("30 2 * * *", "Asia/Kolkata", "UTC", .exact(["0 21 * * *"])),
        ("0 9,18 * * *", "Asia/Tokyo", "UTC", .exact(["0 0,9 * * *"])),
        ("*/15 * * * *", "Asia/Tokyo", "UTC", .exact(["*/15 * * * *"])),
        ("0 3 * * *", nil, "Asia/Kolkata", .exact(["30 8 * * *"])),
        // Crossing midnight with a restricted day field: no exact form, gated.
        ("30 2 * * 1", "Asia/Kolkata", "UTC", .gated("0 * * * *")),
        // Daylight saving in one zone and not the other: gated, firing at every candidate minute, plus the
        // minute of a spring-forward change (when a job in the skipped hour runs).
        ("0 3 * * *", "Europe/Paris", "UTC", .gated("0 * * * *")),
        ("30 2 * * *", "America/New_York", "UTC", .gated("0,30 * * * *")),
        ("0 2 * * *", "Australia/Lord_Howe", "UTC", .gated("0,30 * * * *")),
        ("0 3 * * *", nil, "Europe/Paris", .gated("0 * * * *")),
        ("*/20 * * * *", "Australia/Lord_Howe", "UTC", .gated("0,10,20,30,40,50 * * * *")),
        // A fixed difference, but a wildcard field that cannot stay a wildcard: gated.
        ("0 */2 * * *", "Asia/Tokyo", "UTC", .gated("0 * * * *")),
        // Once: the instant's fields on the system clock, gated (cron has no year).
        ("once 2026-12-24T18:00", "Europe/Paris", "UTC", .gated("0 17 24 12 *")),
    ] as [(String, String?, String, SystemCronLine)])
    func linesInTheSystemZone(expression: String, zone: String?, system: String, expected: SystemCronLine) throws {
        #expect(try Self.lines(expression, zone: zone, system: system) == expected)
    }

    /// Every run of a zoned schedule over a year falls in a minute the gated line fires at (read on the
    /// system clock), and the gate (`dueRun`) lets exactly those minutes through.
    @Test(arguments: [("30 2 * * *", "America/New_York"), ("0 2 * * *", "Australia/Lord_Howe"), ("0 3 * * *", "Europe/Paris")])
    func theGatedLineFiresAtEveryRun(expression: String, zone: String) throws {
        let schedule = try Schedule(expression, timeZone: zone)
        guard case .gated(let line) = SystemCronLine.lines(for: schedule, systemZone: TimeZone(identifier: "UTC")!, now: Self.now) else {
            Issue.record("expected a gated line"); return
        }
        let fires = try Schedule(line)
        for run in schedule.nextRuns(after: Self.now, count: 366) {
            #expect(fires.dueRun(inMinuteOf: run) == run, "\(run)")
            #expect(schedule.dueRun(inMinuteOf: run.addingTimeInterval(30)) == run)
            #expect(schedule.dueRun(inMinuteOf: run.addingTimeInterval(60)) == nil)
        }
    }
}
