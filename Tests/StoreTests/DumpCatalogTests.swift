import Foundation
import Lake
import Testing
import TestSupport
@testable import Store

@Suite struct DumpCatalogTests {
    static let now = Date(timeIntervalSince1970: 1_795_000_000)  // 2026-11-18T11:06:40Z

    func makeDump(_ catalog: DumpCatalog, _ frequency: DumpFrequency, daysAgo: Double, format: DumpFormat = .sqlite) throws -> String {
        let name = StoreDumper.baseName(for: Self.now.addingTimeInterval(-daysAgo * 86_400)) + format.fileSuffix
        let path = catalog.folder(frequency) + "/" + name
        try AtomicFile.write("dump", to: path)
        try AtomicFile.write("{}", to: path + ".json")
        return path
    }

    @Test func namesParseBackToTheirTime() throws {
        let date = Date(timeIntervalSince1970: 1_795_000_123)
        let name = StoreDumper.baseName(for: date) + ".sql.gz"
        #expect(name == "agentshop_20261118T110843Z.sql.gz")
        let parsed = try #require(DumpCatalog.parseName(name))
        #expect(parsed.0 == date)
        #expect(parsed.1 == .sql)
        #expect(DumpCatalog.parseName("agentshop_2026.sql.gz") == nil)
        #expect(DumpCatalog.parseName("other_20261119T094843Z.sql.gz") == nil)
        #expect(DumpCatalog.parseName("agentshop_20261118T110843Z-2.sqlite.gz")?.0 == date)
        #expect(DumpCatalog.parseName("agentshop_20261118T110843Z-1.sqlite.gz") == nil)
        #expect(DumpCatalog.parseName("agentshop_20261118T110843Z-x.sqlite.gz") == nil)
    }

    /// A rerun right after a crash can dump twice in one second: the second dump gets `-2`, and
    /// both are listed, the later first.
    @Test func twoDumpsInOneSecondBothLand() throws {
        let dir = try TemporaryDirectory()
        _ = try makePopulatedStore(at: dir.file("store.sqlite"), products: 3)
        let dumper = StoreDumper(storePath: dir.file("store.sqlite"))
        let date = Date(timeIntervalSince1970: 1_795_000_123)
        let first = try dumper.dump(to: dir.file("db_dumps/daily"), formats: [.sqlite, .sql], at: date)
        let second = try dumper.dump(to: dir.file("db_dumps/daily"), formats: [.sqlite, .sql], at: date)
        #expect(first.map { ($0.path as NSString).lastPathComponent } == ["agentshop_20261118T110843Z.sqlite.gz", "agentshop_20261118T110843Z.sql.gz"])
        #expect(second.map { ($0.path as NSString).lastPathComponent } == ["agentshop_20261118T110843Z-2.sqlite.gz", "agentshop_20261118T110843Z-2.sql.gz"])
        let listed = DumpCatalog(root: dir.file("db_dumps")).entries().map(\.name)
        #expect(listed == ["agentshop_20261118T110843Z-2.sqlite.gz", "agentshop_20261118T110843Z.sqlite.gz",
                           "agentshop_20261118T110843Z-2.sql.gz", "agentshop_20261118T110843Z.sql.gz"])
    }

    @Test func retentionRemovesOnlyExpiredDailyAndWeeklyDumps() throws {
        let dir = try TemporaryDirectory()
        let catalog = DumpCatalog(root: dir.file("db_dumps"))
        let policy = RetentionPolicy(dailyDays: 7, weeklyWeeks: 4)
        let keptDaily = try [0.5, 3, 6.9].map { try makeDump(catalog, .daily, daysAgo: $0) }
        let expiredDaily = try [7.1, 30, 400].map { try makeDump(catalog, .daily, daysAgo: $0) }
        let expiredDailySQL = try makeDump(catalog, .daily, daysAgo: 8, format: .sql)
        let keptWeekly = try [7, 27].map { try makeDump(catalog, .weekly, daysAgo: $0) }
        let expiredWeekly = try makeDump(catalog, .weekly, daysAgo: 29)
        let manual = try makeDump(catalog, .manual, daysAgo: 5000)

        let removed = Set(try catalog.applyRetention(policy, now: Self.now))
        let expected = Set((expiredDaily + [expiredDailySQL, expiredWeekly]).flatMap { [$0, $0 + ".json"] })
        #expect(removed == expected)
        for path in keptDaily + keptWeekly + [manual] {
            #expect(FileManager.default.fileExists(atPath: path))
            #expect(FileManager.default.fileExists(atPath: path + ".json"))
        }
        for path in expected { #expect(!FileManager.default.fileExists(atPath: path)) }
    }

    @Test func retentionNeverRemovesTheNewestDumpOfAFrequency() throws {
        let dir = try TemporaryDirectory()
        let catalog = DumpCatalog(root: dir.file("db_dumps"))
        let newest = try makeDump(catalog, .daily, daysAgo: 300)
        let older = try makeDump(catalog, .daily, daysAgo: 301)
        let removed = try catalog.applyRetention(RetentionPolicy(dailyDays: 7, weeklyWeeks: 4), now: Self.now)
        #expect(removed.sorted() == [older, older + ".json"].sorted())
        #expect(FileManager.default.fileExists(atPath: newest))
    }

    @Test func latestSkipsDumpsThatDoNotVerify() throws {
        let dir = try TemporaryDirectory()
        let live = dir.file("a.sqlite")
        _ = try makePopulatedStore(at: live)
        let catalog = DumpCatalog(root: dir.file("db_dumps"))
        let dumper = StoreDumper(storePath: live)
        let good = try dumper.dump(to: catalog.folder(.daily), formats: [.sqlite], at: Self.now)[0]
        let bad = try dumper.dump(to: catalog.folder(.manual), formats: [.sqlite], at: Self.now.addingTimeInterval(60))[0]
        var bytes = try FileInput.readAll(path: bad.path)
        bytes[bytes.count / 2] ^= 0xFF
        try AtomicFile.write(bytes, to: bad.path)

        let entries = catalog.entries()
        #expect(entries.map(\.path) == [bad.path, good.path])
        #expect(catalog.verify(entries[0]) == .checksumMismatch)
        #expect(catalog.verify(entries[1]) == .ok)
        #expect(catalog.latest()?.path == good.path)
        #expect(try catalog.resolve("latest") == good.path)
        #expect(try catalog.resolve(bad.sidecar.file) == bad.path)
    }
}
