import Foundation

/// The record of one pipeline run: what ran, what it read and wrote, how long it took, what failed.
///
/// Written as JSON to `raw_data/logs/<pipeline>/<run id>.manifest.json` when the run starts and
/// again when it ends, atomically both times, so that jq and `agentshop runs` can read it.
public struct RunManifest: Codable, Sendable, Equatable {
    public enum Status: String, Codable, Sendable {
        case running, succeeded, failed, interrupted
    }

    public var runID: String
    public var pipeline: String
    public var pipelineFile: String
    public var status: Status
    public var startedAt: String
    public var finishedAt: String?
    public var runDate: String
    public var pid: Int32
    public var toolVersion: String
    public var options: [String]
    public var stages: [StageRun]
    public var error: String?
    public var logFile: String

    public init(runID: String, pipeline: String, pipelineFile: String, startedAt: Date, runDate: String,
                toolVersion: String, options: [String], logFile: String) {
        self.runID = runID
        self.pipeline = pipeline
        self.pipelineFile = pipelineFile
        status = .running
        self.startedAt = Timestamp.iso(startedAt)
        self.runDate = runDate
        pid = getpid()
        self.toolVersion = toolVersion
        self.options = options
        stages = []
        self.logFile = logFile
    }

    /// One stage's part in a run.
    public struct StageRun: Codable, Sendable, Equatable {
        public enum Status: String, Codable, Sendable {
            /// Ran and succeeded.
            case ran
            /// Fingerprint and outputs unchanged: not run.
            case skipped
            case failed
            /// Not run because a stage it depends on failed, or the run was stopped.
            case blocked
            /// `--dry-run`: would run.
            case planned
        }

        public var name: String
        public var kind: String
        public var status: Status
        public var reason: String
        public var fingerprint: String
        public var startedAt: String?
        public var durationMs: Int?
        public var inputs: [FileEntry]
        public var outputs: [FileEntry]
        /// Stage-specific counts: records read, written, rejected, inserted…
        public var counts: [String: Int]
        /// Stage-specific detail (LLM calls and cost, crawl status codes…), as JSON.
        public var details: JSONValue?
        public var error: String?
        /// `plan` only: what the stage says running would send or cost (an LLM stage's estimate).
        public var note: String?

        public init(name: String, kind: String, status: Status, reason: String, fingerprint: String) {
            self.name = name
            self.kind = kind
            self.status = status
            self.reason = reason
            self.fingerprint = fingerprint
            inputs = []
            outputs = []
            counts = [:]
        }
    }

    /// A file a stage read or wrote.
    public struct FileEntry: Codable, Sendable, Equatable, Hashable {
        /// Lake-relative path.
        public var path: String
        public var sha256: String
        public var bytes: Int64
        /// Records in the file, for record formats.
        public var records: Int?

        public init(path: String, sha256: String, bytes: Int64, records: Int? = nil) {
            self.path = path
            self.sha256 = sha256
            self.bytes = bytes
            self.records = records
        }
    }
}

// Keys are snake_case; manifests of earlier versions (camelCase) still read.
extension RunManifest {
    enum CodingKeys: String, CodingKey {
        case runID = "run_id", pipeline, pipelineFile = "pipeline_file", status, startedAt = "started_at"
        case finishedAt = "finished_at", runDate = "run_date", pid, toolVersion = "tool_version", options, stages, error
        case logFile = "log_file"
    }

    public init(from decoder: any Decoder) throws {
        let c = try RenamedKeysContainer(decoder, keyedBy: CodingKeys.self)
        runID = try c.decode(String.self, forKey: .runID, orLegacy: "runID")
        pipeline = try c.decode(String.self, forKey: .pipeline)
        pipelineFile = try c.decode(String.self, forKey: .pipelineFile, orLegacy: "pipelineFile")
        status = try c.decode(Status.self, forKey: .status)
        startedAt = try c.decode(String.self, forKey: .startedAt, orLegacy: "startedAt")
        finishedAt = try c.decodeIfPresent(String.self, forKey: .finishedAt, orLegacy: "finishedAt")
        runDate = try c.decode(String.self, forKey: .runDate, orLegacy: "runDate")
        pid = try c.decode(Int32.self, forKey: .pid)
        toolVersion = try c.decode(String.self, forKey: .toolVersion, orLegacy: "toolVersion")
        options = try c.decode([String].self, forKey: .options)
        stages = try c.decode([StageRun].self, forKey: .stages)
        error = try c.decodeIfPresent(String.self, forKey: .error)
        logFile = try c.decode(String.self, forKey: .logFile, orLegacy: "logFile")
    }
}

extension RunManifest.StageRun {
    enum CodingKeys: String, CodingKey {
        case name, kind, status, reason, fingerprint, startedAt = "started_at", durationMs = "duration_ms", inputs, outputs
        case counts, details, error, note
    }

    public init(from decoder: any Decoder) throws {
        let c = try RenamedKeysContainer(decoder, keyedBy: CodingKeys.self)
        name = try c.decode(String.self, forKey: .name)
        kind = try c.decode(String.self, forKey: .kind)
        status = try c.decode(Status.self, forKey: .status)
        reason = try c.decode(String.self, forKey: .reason)
        fingerprint = try c.decode(String.self, forKey: .fingerprint)
        startedAt = try c.decodeIfPresent(String.self, forKey: .startedAt, orLegacy: "startedAt")
        durationMs = try c.decodeIfPresent(Int.self, forKey: .durationMs, orLegacy: "durationMs")
        inputs = try c.decode([RunManifest.FileEntry].self, forKey: .inputs)
        outputs = try c.decode([RunManifest.FileEntry].self, forKey: .outputs)
        counts = try c.decode([String: Int].self, forKey: .counts)
        details = try c.decodeIfPresent(JSONValue.self, forKey: .details)
        error = try c.decodeIfPresent(String.self, forKey: .error)
        note = try c.decodeIfPresent(String.self, forKey: .note)
    }
}

/// Reads and writes run manifests in a lake.
public struct ManifestStore: Sendable {
    public let lake: Lake

    public init(lake: Lake) { self.lake = lake }

    public static let suffix = ".manifest.json"

    public func folder(pipeline: String) -> String { lake.root + "/raw_data/logs/" + pipeline }

    public func path(pipeline: String, runID: String) -> String {
        folder(pipeline: pipeline) + "/" + runID + Self.suffix
    }

    public func write(_ manifest: RunManifest) throws {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.prettyPrinted, .sortedKeys, .withoutEscapingSlashes]
        let data = try encoder.encode(manifest)
        try AtomicFile.write(Array(data) + [0x0A], to: path(pipeline: manifest.pipeline, runID: manifest.runID))
    }

    public func read(path: String) throws -> RunManifest {
        let bytes = try FileInput.readAll(path: path)
        do {
            return try JSONDecoder().decode(RunManifest.self, from: Data(bytes))
        } catch {
            throw LakeError(.manifest, "unreadable run manifest", path: path, cause: "\(error)")
        }
    }

    /// Every manifest in the lake, oldest first. Unreadable ones are skipped and returned apart.
    public func all(pipeline: String? = nil) -> (manifests: [RunManifest], unreadable: [String]) {
        let logs = lake.root + "/raw_data/logs"
        let fm = FileManager.default
        let pipelines = pipeline.map { [$0] } ?? ((try? fm.contentsOfDirectory(atPath: logs)) ?? []).filter { !$0.hasPrefix(".") }
        var manifests: [RunManifest] = []
        var unreadable: [String] = []
        for name in pipelines {
            let folder = logs + "/" + name
            for file in ((try? fm.contentsOfDirectory(atPath: folder)) ?? []) where file.hasSuffix(Self.suffix) && !file.hasPrefix(".") {
                do { manifests.append(try read(path: folder + "/" + file)) } catch { unreadable.append(folder + "/" + file) }
            }
        }
        manifests.sort { ($0.startedAt, $0.runID) < ($1.startedAt, $1.runID) }
        return (manifests, unreadable)
    }

    /// Marks as interrupted every run of `pipeline` whose manifest still says running: called by the
    /// holder of the pipeline's run lock, so such a run's process is gone (killed, or the machine went
    /// down) and nothing else will ever finish its manifest. Its finish time is the manifest's last
    /// write. Returns the settled manifests, oldest first, so the caller can record them.
    public func settleAbandoned(pipeline: String, except runID: String? = nil) throws -> [RunManifest] {
        var settled: [RunManifest] = []
        for var manifest in unfinished(pipeline: pipeline) where manifest.runID != runID {
            let file = path(pipeline: pipeline, runID: manifest.runID)
            let written = (try? FileManager.default.attributesOfItem(atPath: file)[.modificationDate] as? Date) ?? nil
            manifest.status = .interrupted
            manifest.finishedAt = manifest.finishedAt ?? written.map(Timestamp.iso)
            manifest.error = manifest.error ?? "the run's process (pid \(manifest.pid)) ended before the run finished"
            try write(manifest)
            settled.append(manifest)
        }
        return settled
    }

    /// The manifests of `pipeline` that still say running, oldest first. Every run calls this under its lock, so
    /// it must not grow with the pipeline's history: a manifest is decoded only when its bytes hold `"running"`
    /// (a finished run's statuses are succeeded, failed or interrupted, its stages' ran, skipped, failed, blocked
    /// or planned), and the finished ones, nearly all of them, are only scanned.
    public func unfinished(pipeline: String) -> [RunManifest] {
        let folder = folder(pipeline: pipeline)
        let marker = Array("\"running\"".utf8)
        var manifests: [RunManifest] = []
        for file in ((try? FileManager.default.contentsOfDirectory(atPath: folder)) ?? [])
        where file.hasSuffix(Self.suffix) && !file.hasPrefix(".") {
            guard let bytes = try? FileInput.readAll(path: folder + "/" + file), Self.contains(bytes, marker),
                  let manifest = try? JSONDecoder().decode(RunManifest.self, from: Data(bytes)),
                  manifest.status == .running else { continue }
            manifests.append(manifest)
        }
        return manifests.sorted { ($0.startedAt, $0.runID) < ($1.startedAt, $1.runID) }
    }

    static func contains(_ bytes: [UInt8], _ needle: [UInt8]) -> Bool {
        guard let first = needle.first, bytes.count >= needle.count else { return false }
        return bytes.withUnsafeBufferPointer { buffer in
            var index = 0
            let last = buffer.count - needle.count
            while index <= last {
                if buffer[index] == first && buffer[index..<index + needle.count].elementsEqual(needle) { return true }
                index += 1
            }
            return false
        }
    }

    /// The manifest of one run; a unique prefix of the run id is enough.
    public func find(runID: String) throws -> RunManifest {
        let matches = all().manifests.filter { $0.runID == runID || $0.runID.hasPrefix(runID) }
        if let exact = matches.first(where: { $0.runID == runID }) { return exact }
        guard matches.count == 1 else {
            throw LakeError(.notFound, matches.isEmpty ? "no run with id '\(runID)'" : "run id '\(runID)' is ambiguous (\(matches.count) runs)")
        }
        return matches[0]
    }
}

/// UTC timestamps as ISO 8601 text with milliseconds, and run ids that sort by time.
public enum Timestamp {
    public static func iso(_ date: Date) -> String {
        let ms = Int64((date.timeIntervalSince1970 * 1000).rounded(.down))
        let seconds = ms >= 0 ? ms / 1000 : (ms - 999) / 1000  // rounded down before 1970 too, so that ms stays 0-999
        var t = time_t(seconds)
        var parts = tm()
        gmtime_r(&t, &parts)
        return String(format: "%04d-%02d-%02dT%02d:%02d:%02d.%03dZ", parts.tm_year + 1900, parts.tm_mon + 1, parts.tm_mday,
                      parts.tm_hour, parts.tm_min, parts.tm_sec, Int(ms - seconds * 1000))
    }

    /// Parses ISO 8601 internet date-time text (`2026-11-25T15:42:00.123Z`, `…+01:00`), as Foundation's
    /// `ISO8601DateFormatter` does. The shape every timestamp here has (the one `iso` writes, and RFC 3339 with 0-3
    /// fraction digits) is read directly: the formatter runs on ICU, and its first use maps ~4.5 MB of ICU code and
    /// locale data into the process (bench/CRAWL_RESULTS.md, "Peak RSS"). Anything else goes to the formatter.
    public static func parse(_ text: String) -> Date? {
        if let date = internetDateTime(text) { return date }
        let formatter = ISO8601DateFormatter()
        formatter.formatOptions = [.withInternetDateTime, .withFractionalSeconds]
        if let date = formatter.date(from: text) { return date }
        formatter.formatOptions = [.withInternetDateTime]
        return formatter.date(from: text)
    }

    /// `YYYY-MM-DDTHH:MM:SS[.f|.ff|.fff](Z|±HH:MM)` with every field plainly valid (years 1601-9999, where the
    /// formatter's Gregorian calendar needs no Julian cutover; no leap second), as the date `ISO8601DateFormatter`
    /// gives for it, to the bit (`TimestampTests` compares the two); nil for any other text, which the formatter decides.
    static func internetDateTime(_ text: String) -> Date? {
        let b = Array(text.utf8.prefix(30))  // the longest accepted is 29 bytes: "…:SS.fff+HH:MM"
        guard b.count <= 29 else { return nil }
        func digits(_ at: Int, _ count: Int) -> Int? {
            guard at + count <= b.count else { return nil }
            var value = 0
            for i in at..<at + count {
                guard b[i] >= 48 && b[i] <= 57 else { return nil }
                value = value * 10 + Int(b[i] - 48)
            }
            return value
        }
        guard b.count >= 20, b[4] == 45, b[7] == 45, b[10] == 84, b[13] == 58, b[16] == 58,  // - - T : :
              let year = digits(0, 4), let month = digits(5, 2), let day = digits(8, 2),
              let hour = digits(11, 2), let minute = digits(14, 2), let second = digits(17, 2),
              (1601...9999).contains(year), (1...12).contains(month), hour < 24, minute < 60, second < 60
        else { return nil }
        let leap = year % 4 == 0 && (year % 100 != 0 || year % 400 == 0)
        let monthDays = [31, leap ? 29 : 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31]
        guard day >= 1 && day <= monthDays[month - 1] else { return nil }
        var index = 19
        var milliseconds = 0
        if b[index] == 46 {  // "."
            var count = 0
            index += 1
            while index < b.count, let digit = digits(index, 1) {
                guard count < 3 else { return nil }
                milliseconds = milliseconds * 10 + digit
                count += 1
                index += 1
            }
            guard count > 0 else { return nil }
            for _ in count..<3 { milliseconds *= 10 }
        }
        var offset = 0
        if index == b.count - 1 && b[index] == 90 {  // "Z"
            offset = 0
        } else if index == b.count - 6, b[index] == 43 || b[index] == 45, b[index + 3] == 58,  // + - :
                  let hours = digits(index + 1, 2), let minutes = digits(index + 4, 2), hours < 24, minutes < 60 {
            offset = (hours * 60 + minutes) * 60 * (b[index] == 45 ? -1 : 1)
        } else {
            return nil
        }
        // Days since 1970-01-01 of a proleptic Gregorian date (H. Hinnant's days_from_civil).
        let y = month <= 2 ? year - 1 : year
        let era = y / 400
        let yearOfEra = y - era * 400
        let dayOfYear = (153 * (month > 2 ? month - 3 : month + 9) + 2) / 5 + day - 1
        let dayOfEra = yearOfEra * 365 + yearOfEra / 4 - yearOfEra / 100 + dayOfYear
        let days = era * 146_097 + dayOfEra - 719_468
        let seconds = days * 86_400 + hour * 3_600 + minute * 60 + second - offset
        // What CoreFoundation does with ICU's milliseconds: UDate / 1000 - kCFAbsoluteTimeIntervalSince1970.
        return Date(timeIntervalSinceReferenceDate: Double(seconds * 1_000 + milliseconds) / 1_000.0 - 978_307_200.0)
    }

    /// `YYYY-MM-DD` in UTC.
    public static func day(_ date: Date) -> String { String(iso(date).prefix(10)) }

    /// `20261125T154200Z-3fa9c1`: sorts by start time; the suffix keeps two runs in one second apart.
    public static func runID(_ date: Date) -> String {
        let iso = iso(date)
        let compact = iso.prefix(19).replacingOccurrences(of: "-", with: "").replacingOccurrences(of: ":", with: "")
        return compact + "Z-" + String(format: "%06x", UInt32.random(in: 0..<0x1000000))
    }
}

extension JSONValue: Codable {
    public init(from decoder: Decoder) throws {
        let container = try decoder.singleValueContainer()
        if container.decodeNil() { self = .null; return }
        if let b = try? container.decode(Bool.self) { self = .bool(b); return }
        if let i = try? container.decode(Int64.self) { self = .int(i); return }
        if let d = try? container.decode(Double.self) { self = .double(d); return }
        if let s = try? container.decode(String.self) { self = .string(s); return }
        if let a = try? container.decode([JSONValue].self) { self = .array(a); return }
        // Keyed decoding loses order; manifests only use detail objects for display.
        let dict = try container.decode([String: JSONValue].self)
        self = .object(JSONObject(dict.sorted { $0.key < $1.key }.map { ($0.key, $0.value) }))
    }

    public func encode(to encoder: Encoder) throws {
        var container = encoder.singleValueContainer()
        switch self {
        case .null: try container.encodeNil()
        case .bool(let b): try container.encode(b)
        case .int(let i): try container.encode(i)
        case .bigInteger(let digits):
            // Decimal keeps up to 38 digits exactly; past that the nearest double is all Codable can say.
            if let decimal = Decimal(string: digits), decimal.description == digits { try container.encode(decimal) }
            else { try container.encode(Double(digits) ?? 0) }
        case .double(let d): try container.encode(d)
        case .string(let s): try container.encode(s)
        case .array(let a): try container.encode(a)
        case .object(let o):
            try container.encode(Dictionary(o.entries.map { ($0.key, $0.value) }, uniquingKeysWith: { $1 }))
        }
    }
}
