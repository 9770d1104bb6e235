import Foundation
import Lake
import Logging
import Pipeline
import Store

/// `dump`: a consistent, checksummed, compressed dump of the store into `db_dumps/<frequency>/`,
/// then retention.
///
/// ```yaml
/// backup:
///   dump:
///     after: store                   # stages to wait for (here or at the stage level)
///     to: daily                      # daily (default) | weekly | manual, or db_dumps/daily …
///     format: sqlite                 # sqlite (default) | sql | [sqlite, sql]
///     retention: { daily: 183d, weekly: 104w }   # the original AgentShop's 6 months / 2 years
/// ```
///
/// A daily dump runs once per UTC day and a weekly one once per ISO week, however often the
/// pipeline runs; a manual one on every run.
public enum DumpStage {
    public static let kind = StageKind(spec: spec) { config, context in DumpDefinition.read(config, context) }
}

struct DumpDefinition: StageDefinition {
    let inputs: [StageInput]
    let frequency: DumpFrequency
    let formats: [DumpFormat]
    let retention: RetentionPolicy

    static func read(_ config: ConfigValue, _ context: StageConfigContext) -> DumpDefinition? {
        if config.isNull {
            return DumpDefinition(inputs: [], frequency: .daily, formats: [.sqlite], retention: .default)
        }
        guard config.expectMapping() else { return nil }
        var ok = true
        let inputs = config.value("after").flatMap { value -> [StageInput]? in
            let read = context.inputs(value)
            if read == nil { ok = false }
            if let read, read.contains(where: { if case .files = $0 { return true }; return false }) {
                value.error("'after' names stages; a lake path is not one")
                ok = false
            }
            return read
        } ?? []

        var frequency = DumpFrequency.daily
        if let value = config.value("to"), let text = value.asString() {
            let word = text.hasPrefix("db_dumps/") ? String(text.dropFirst("db_dumps/".count)) : text
            if let parsed = DumpFrequency(rawValue: word.trimmingCharacters(in: CharacterSet(charactersIn: "/"))) {
                frequency = parsed
            } else {
                value.error("expected daily, weekly or manual (or db_dumps/daily …), found '\(text)'")
                ok = false
            }
        }

        var formats: [DumpFormat] = [.sqlite]
        if let value = config.value("format"), let words = value.asStrings() {
            formats = []
            for word in words {
                if word == "both" { formats += [.sqlite, .sql]; continue }
                guard let format = DumpFormat(rawValue: word) else {
                    value.error("expected sqlite, sql or both, found '\(word)'")
                    ok = false
                    continue
                }
                if !formats.contains(format) { formats.append(format) }
            }
            if words.isEmpty { value.error("name at least one format"); ok = false }
        }

        var retention = RetentionPolicy.default
        if let value = config.value("retention"), value.expectMapping() {
            if let daily = value.duration("daily") {
                if daily < 86_400 { value.value("daily")?.error("keep daily dumps at least 1d"); ok = false }
                retention.dailyDays = Int((daily / 86_400).rounded(.up))
            }
            if let weekly = value.duration("weekly") {
                if weekly < 7 * 86_400 { value.value("weekly")?.error("keep weekly dumps at least 1w"); ok = false }
                retention.weeklyWeeks = Int((weekly / (7 * 86_400)).rounded(.up))
            }
            value.rejectUnknownKeys()
        }
        return ok ? DumpDefinition(inputs: inputs, frequency: frequency, formats: formats, retention: retention) : nil
    }

    /// The period this dump belongs to: a new period makes the stage run again.
    func fingerprintExtra(lake: Lake) throws -> String {
        let now = Date()
        switch frequency {
        case .daily: return "day:" + Timestamp.day(now)
        case .weekly:
            var calendar = Calendar(identifier: .iso8601)
            calendar.timeZone = TimeZone(identifier: "UTC")!
            let parts = calendar.dateComponents([.yearForWeekOfYear, .weekOfYear], from: now)
            return "week:\(parts.yearForWeekOfYear ?? 0)-\(parts.weekOfYear ?? 0)"
        case .manual: return "at:" + Timestamp.iso(now)
        }
    }

    /// Dumps are written under no `out:`: the engine cleans what a killed dump left here.
    func sideFolders(lake: Lake) -> [String] { [DumpCatalog(lake: lake).folder(frequency)] }

    func run(_ context: StageContext) async throws -> StageReport {
        if let postgres = try MaterializeDefinition.postgresStore(context.environment.variables, lake: context.lake) {
            return try runPostgres(context, location: postgres)
        }
        // Bring the schema up to date first, so that a dump never records a half-migrated store;
        // the open store holds the store's lock, so that no restore swaps the file mid-dump.
        let store = try Store.openMigrated(path: context.lake.storePath, logger: context.logger)
        let catalog = DumpCatalog(lake: context.lake)
        let results = try StoreDumper(storePath: context.lake.storePath, logger: context.logger)
            .dump(to: catalog.folder(frequency), formats: formats)
        withExtendedLifetime(store) {}
        let removed = try catalog.applyRetention(retention, logger: context.logger)
        let rows = results.first.map { $0.sidecar.tables.values.reduce(0, +) } ?? 0
        let files: [JSONValue] = results.map { result in
            .object(JSONObject([
                ("path", .string("db_dumps/\(frequency.rawValue)/\(result.sidecar.file)")),
                ("format", .string(result.sidecar.format.rawValue)),
                ("sha256", .string(result.sidecar.sha256)),
                ("bytes", .int(result.sidecar.bytes)),
                ("schema_version", .int(Int64(result.sidecar.schemaVersion))),
            ]))
        }
        let removedNames = removed.filter { !$0.hasSuffix(DumpSidecar.suffix) }
            .map { JSONValue.string(($0 as NSString).lastPathComponent) }
        return StageReport(
            counts: ["dumps": results.count, "rows": rows, "bytes": Int(results.reduce(0) { $0 + $1.sidecar.bytes }),
                     "expired": removedNames.count],
            details: .object(JSONObject([("files", .array(files)), ("expired", .array(removedNames))])))
    }
}
