import Foundation
import Lake
import Logging

/// How long dumps are kept. Manual dumps are never removed by retention.
public struct RetentionPolicy: Sendable, Equatable {
    /// Daily dumps older than this many days are removed (the original AgentShop: 6 months).
    public var dailyDays: Int
    /// Weekly dumps older than this many weeks are removed (the original AgentShop: 2 years).
    public var weeklyWeeks: Int

    public init(dailyDays: Int = 183, weeklyWeeks: Int = 104) {
        self.dailyDays = dailyDays
        self.weeklyWeeks = weeklyWeeks
    }

    public static let `default` = RetentionPolicy()
}

/// The dumps under a lake's `db_dumps/` folder: listing, verification, `latest`, and retention.
public struct DumpCatalog: Sendable {
    /// The `db_dumps` folder.
    public let root: String

    public init(root: String) { self.root = root }

    /// The catalog of `lake`'s `db_dumps/` folder.
    public init(lake: Lake) { self.root = lake.root + "/db_dumps" }

    public func folder(_ frequency: DumpFrequency) -> String { root + "/" + frequency.rawValue }

    /// One dump file.
    public struct Entry: Sendable {
        public let path: String
        public let name: String
        public let frequency: DumpFrequency
        public let format: DumpFormat
        /// When the dump was taken, from its name (UTC, second precision).
        public let takenAt: Date
        public let bytes: Int64
        public var sidecarPath: String { path + DumpSidecar.suffix }
    }

    /// Whether a dump's bytes still match its sidecar. Says what was checked: the bytes, not
    /// whether they restore (`StoreRestorer.verifyRestores` proves that).
    public enum Verification: String, Sendable {
        case ok = "checksum ok"
        case checksumMismatch = "checksum mismatch"
        case noSidecar = "no sidecar"
        case unreadable
    }

    /// Parses `agentshop_20261125T154200Z.sqlite.gz` (or a second dump of that second,
    /// `agentshop_20261125T154200Z-2.sqlite.gz`) into its time and format.
    public static func parseName(_ name: String) -> (Date, DumpFormat)? {
        guard name.hasPrefix("agentshop_") else { return nil }
        let rest = name.dropFirst("agentshop_".count)
        guard let format = DumpFormat.allCases.first(where: { rest.hasSuffix($0.fileSuffix) }) else { return nil }
        var stamp = Substring(rest.dropLast(format.fileSuffix.count))
        if let dash = stamp.firstIndex(of: "-") {
            guard let n = Int(stamp[stamp.index(after: dash)...]), (2...99).contains(n) else { return nil }
            stamp = stamp[..<dash]
        }
        let digits = Array(stamp.utf8)
        guard digits.count == 16, digits[8] == UInt8(ascii: "T"), digits[15] == UInt8(ascii: "Z") else { return nil }
        func number(_ range: Range<Int>) -> Int? { Int(String(decoding: digits[range], as: UTF8.self)) }
        guard let year = number(0..<4), let month = number(4..<6), let day = number(6..<8),
              let hour = number(9..<11), let minute = number(11..<13), let second = number(13..<15) else { return nil }
        var parts = tm()
        parts.tm_year = Int32(year - 1900)
        parts.tm_mon = Int32(month - 1)
        parts.tm_mday = Int32(day)
        parts.tm_hour = Int32(hour)
        parts.tm_min = Int32(minute)
        parts.tm_sec = Int32(second)
        let seconds = timegm(&parts)
        guard seconds != -1 else { return nil }
        return (Date(timeIntervalSince1970: TimeInterval(seconds)), format)
    }

    /// Every dump, newest first.
    public func entries() -> [Entry] {
        var out: [Entry] = []
        let fm = FileManager.default
        for frequency in DumpFrequency.allCases {
            let folder = self.folder(frequency)
            for name in (try? fm.contentsOfDirectory(atPath: folder)) ?? [] {
                guard let (date, format) = Self.parseName(name) else { continue }
                let path = folder + "/" + name
                let size = (try? fm.attributesOfItem(atPath: path)[.size] as? Int64) ?? 0
                out.append(Entry(path: path, name: name, frequency: frequency, format: format, takenAt: date, bytes: size))
            }
        }
        // Newest first; at equal times the binary snapshot first (the faster restore), and of two
        // dumps in one second the later (`…Z-2` after `…Z`, `…Z-10` after `…Z-9`).
        return out.sorted {
            if $0.takenAt != $1.takenAt { return $0.takenAt > $1.takenAt }
            if $0.format != $1.format { return $0.format == .sqlite }
            if $0.name.count != $1.name.count { return $0.name.count > $1.name.count }
            return $0.name > $1.name
        }
    }

    /// The newest dump whose checksum verifies, or nil.
    public func latest(verified: Bool = true) -> Entry? {
        entries().first { !verified || verify($0) == .ok }
    }

    /// Recomputes the dump's SHA-256 and compares it with the sidecar's.
    public func verify(_ entry: Entry) -> Verification {
        guard FileManager.default.fileExists(atPath: entry.sidecarPath) else { return .noSidecar }
        guard let sidecar = try? DumpSidecar.read(path: entry.sidecarPath) else { return .unreadable }
        guard let actual = try? FileDigest.sha256(path: entry.path) else { return .unreadable }
        return actual == sidecar.sha256 ? .ok : .checksumMismatch
    }

    /// Removes what killed dumps, restores and checks left in the dump folders (snapshots, half
    /// written dumps, scratch databases: each up to a full store), when the process that wrote
    /// them is gone. Returns the removed files' paths.
    @discardableResult
    public func removeDeadTemporaries() -> [String] {
        DumpFrequency.allCases.flatMap { frequency in
            AtomicFile.removeStaleTemporaries(in: folder(frequency)).map { folder(frequency) + "/" + $0 }
        }
    }

    /// Removes daily and weekly dumps older than the policy allows, with their sidecars. The
    /// newest dump of each frequency is always kept, so a long pause never leaves none.
    /// Returns the paths removed.
    @discardableResult
    public func applyRetention(_ policy: RetentionPolicy = .default, now: Date = Date(),
                               logger: Logger = Logger(label: "agentshop.store.retention")) throws -> [String] {
        var removed: [String] = []
        let all = entries()
        for frequency in [DumpFrequency.daily, .weekly] {
            let maxAge: TimeInterval = frequency == .daily ? TimeInterval(policy.dailyDays) * 86_400
                : TimeInterval(policy.weeklyWeeks) * 7 * 86_400
            let ofFrequency = all.filter { $0.frequency == frequency }
            guard let newest = ofFrequency.first?.takenAt else { continue }
            for entry in ofFrequency where entry.takenAt != newest && now.timeIntervalSince(entry.takenAt) > maxAge {
                for path in [entry.path, entry.sidecarPath] where FileManager.default.fileExists(atPath: path) {
                    do { try FileManager.default.removeItem(atPath: path) } catch {
                        throw StoreError(.io, "cannot remove an expired dump", cause: "\(error)", path: path)
                    }
                    removed.append(path)
                }
                logger.info("expired dump removed", metadata: ["file": "\(entry.path)"])
            }
        }
        return removed
    }

    /// Resolves what `agentshop db restore` was given: `latest`, a path, or a dump's file name.
    public func resolve(_ argument: String) throws -> String {
        if argument == "latest" {
            guard let entry = latest() else {
                throw StoreError(.notFound, "no verified dump under \(root)")
            }
            return entry.path
        }
        if FileManager.default.fileExists(atPath: argument) { return argument }
        if let entry = entries().first(where: { $0.name == argument }) { return entry.path }
        throw StoreError(.notFound, "no such dump", path: argument)
    }
}
