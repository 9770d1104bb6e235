import Foundation
import Lake
import Pipeline
import Query

/// `aggregate`: group records and compute measures per group, in one streaming pass.
///
/// ```yaml
/// by_category:
///   aggregate:
///     from: enriched
///     group_by: [category]
///     where: "price > 0 and currency = 'USD'"
///     measures: { n: count(), avg_price: avg(price), p90_price: p90(price), avg_rating: avg(rating) }
///     having: "n >= 10"
///     order_by: [n desc]
///     limit: 100
///   out: processed_data/aggregations/by_category/dt={run_date}/part.csv
/// ```
///
/// A JSONL input is read on one thread and parsed on one per core (`RecordReader(parseThreads:)`);
/// the engine folds the records in input order, so the output is the same on any number of cores.
/// Memory grows with the number of groups, not of records, except for `median`/`pNN`, which keep
/// each group's values (8 bytes per non-null value, shared by every quantile of one field), and
/// `count_distinct`, which keeps each group's distinct values.
public enum AggregateStage {
    public static let kind = StageKind(spec: spec) { config, context in
        guard config.expectMapping() else { return nil }
        let inputs = context.inputs(config.value("from", required: true))
        let policy = config.choice("on_error", MalformedPolicy.allCases.map(\.rawValue)).flatMap(MalformedPolicy.init) ?? .fail
        let inferTypes = config.bool("infer_types") ?? true
        let nullCounts = config.bool("null_counts") ?? true
        let quantiles = config.choice("quantiles", QuantileMethod.allCases.map(\.rawValue)).flatMap(QuantileMethod.init) ?? .exact
        var ok = inputs != nil

        // Each part's text, beside the configuration value it came from (for the problems' positions).
        func texts(_ value: ConfigValue?) -> [(text: String, at: ConfigValue)] {
            guard let value else { return [] }
            return (value.isSequence ? value.asList() ?? [] : [value]).compactMap { item in
                guard let text = item.asString() else { ok = false; return nil }
                return (text, item)
            }
        }
        let groupBy = texts(config.value("group_by"))
        var measures: [(name: String, call: String, at: ConfigValue)] = []
        let measuresValue = config.value("measures", required: true)
        if let measuresValue, let entries = measuresValue.entries() {
            if entries.isEmpty { measuresValue.error("give at least one measure, e.g. { n: count() }"); ok = false }
            for (name, item) in entries {
                guard let text = item.asString() else { ok = false; continue }
                measures.append((name, text, item))
            }
        } else {
            ok = false
        }
        let filterValue = config.value("where"), filter = filterValue?.asString()
        let havingValue = config.value("having"), having = havingValue?.asString()
        let orderBy = texts(config.value("order_by"))
        let limit = config.int("limit", min: 0)
        if config.value("limit") != nil && limit == nil { ok = false }

        let settings = AggregationSettings(groupBy: groupBy.map(\.text), measures: measures.map { ($0.name, $0.call) },
                                           filter: filter, having: having, orderBy: orderBy.map(\.text), limit: limit,
                                           nullCounts: nullCounts, quantiles: quantiles)
        var plan: AggregationPlan?
        do throws(AggregationProblems) {
            plan = try AggregationPlan.parse(settings)
        } catch {
            ok = false
            for problem in error.problems {
                let value: ConfigValue? = switch problem.place {
                case .groupBy(let i): groupBy[i].at
                case .measure(let i): measures[i].at
                case .measures: measuresValue
                case .filter: filterValue
                case .having: havingValue
                case .orderBy(let i): orderBy[i].at
                }
                if let offset = problem.offset { value?.error(problem.message, atOffset: offset) } else { value?.error(problem.message) }
            }
        }
        guard ok, let inputs, let plan else { return nil }
        return Definition(inputs: inputs, plan: plan, policy: policy, inferTypes: inferTypes)
    }

    struct Definition: StageDefinition {
        let inputs: [StageInput]
        let plan: AggregationPlan
        let policy: MalformedPolicy
        let inferTypes: Bool

        /// The JSONL inputs: read whole, in order, through `RecordReader(sharing:)`.
        func sharedScanFiles(_ inputs: [ResolvedInput]) -> [LakePath] {
            var seen = Set<LakePath>()
            return inputs.flatMap(\.files).filter { RecordFileType(path: $0.relative)?.format == .jsonl && seen.insert($0).inserted }
        }

        func run(_ context: StageContext) async throws -> StageReport {
            let (output, outputType) = try context.singleRecordOutput(kind: "aggregate")
            let files = context.allInputFiles
            let rejects = RejectsFile(path: context.rejectsPath, stage: context.stage)
            let aggregation = Aggregation(plan)
            let writer = try context.recordWriter(path: output.absolute, type: outputType, columns: plan.columns)
            try writer.publish {
                try rejects.publish {
                    for (index, file) in files.enumerated() {
                        guard let type = RecordFileType(path: file.relative) else {
                            throw StageError("cannot tell the format of \(file.relative): name it .csv, .jsonl or .ndjson (optionally .gz)")
                        }
                        // JSONL: read (and gunzip) on one thread, parse on one per core, fold in input order.
                        // Another stage of the run reading the same file at the same time shares the read and the parse.
                        let reader = try RecordReader(path: file.absolute, displayPath: file.relative, type: type, policy: policy,
                                                      inferTypes: inferTypes, readAhead: true,
                                                      parseThreads: ProcessInfo.processInfo.activeProcessorCount,
                                                      sharing: (context.scans, context.stage), onReject: rejects.add)
                        try aggregation.consume(reader)
                        context.progress(index + 1, of: files.count)
                    }
                    for row in aggregation.finish() {
                        try writer.write(JSONObject(zip(plan.columns, row).map { ($0, $1) }))
                    }
                }
            }
            let stats = aggregation.stats
            if stats.rejected > 0 {
                context.logger.warning("records rejected", metadata: ["count": "\(stats.rejected)", "rejects": "\(context.rejectsPath.relative)"])
            }
            if let example = stats.firstNonNumeric {
                context.logger.warning("non-numeric values left out of numeric measures",
                                       metadata: ["count": "\(stats.nonNumeric)", "first": "\(example)"])
            }
            return StageReport(counts: ["files_in": files.count, "records_in": stats.recordsIn + stats.rejected,
                                        "rejected": stats.rejected, "filtered_out": stats.filteredOut,
                                        "groups": stats.groups, "records_out": stats.rowsOut,
                                        "non_numeric": stats.nonNumeric],
                               recordsPerOutput: [output.relative: stats.rowsOut])
        }
    }
}
