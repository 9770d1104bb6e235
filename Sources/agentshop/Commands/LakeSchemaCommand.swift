import ArgumentParser
import Foundation
import Inspect
import Lake

struct LakeSchemaCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "schema",
        abstract: "Each field's types, null count, distinct values and an example, over every record (not a sample).",
        discussion: """
        Nested objects are listed by dotted path (offers.price), array elements as tags[]. MISSING \
        counts records without the field, NULLS those where it is null. DISTINCT is exact up to \
        10,000 values per field, then a HyperLogLog estimate (about 0.8% standard error), shown \
        with ~. CSV cells are typed (numbers, booleans, empty as null) as import's infer_types does.

        Examples:
          agentshop lake schema demo:products
          agentshop lake schema 'scraped_data/reviews/*/reviews.jsonl.gz' --json
        """
    )

    @OptionGroup var global: GlobalOptions

    @Argument(help: ArgumentHelp("A lake file, glob or PIPELINE:STAGE (JSONL or CSV, gzip or not).", valueName: "file|dataset"))
    var dataset: String

    @Option(name: .customLong("on-error"), help: ArgumentHelp("fail: stop at the first malformed record; skip: report it on stderr and go on.", valueName: "fail|skip"))
    var onError: String = "fail"

    func validate() throws {
        guard MalformedPolicy(rawValue: onError) != nil else { throw ValidationError("--on-error takes fail or skip, found '\(onError)'") }
    }

    func run() async throws {
        let lake = try global.openLake()
        let files = try LakeCommand.resolve(dataset, in: lake)
        if let other = files.first(where: { RecordFileType(path: $0.relative) == nil }) {
            Console.error("\(other.relative): not a record file (.jsonl, .ndjson or .csv, optionally .gz)")
            throw ExitStatus.invalidInput
        }
        let profile: SchemaProfile
        do {
            profile = try SchemaProfile.of(files, policy: MalformedPolicy(rawValue: onError)!) { bad in
                Console.error("\(bad.file): line \(bad.line): \(bad.reason) (skipped)")
            }
        } catch {
            throw LakeCommand.fail(error)
        }
        if global.json {
            Console.json(Summary(rows: profile.rows, files: files.map(\.relative), fields: profile.fields.map { field in
                Field(path: field.path, types: Dictionary(uniqueKeysWithValues: field.types.map { ($0.name, $0.count) }),
                      nulls: field.nulls, missing: profile.missing(field), distinct: field.isContainerOnly ? nil : field.distinct.count,
                      distinctExact: field.distinct.isExact, example: field.example)
            }))
            return
        }
        Console.out("\(profile.rows) record\(profile.rows == 1 ? "" : "s") in \(files.count) file\(files.count == 1 ? "" : "s")")
        var rows = [["FIELD", "TYPES", "NULLS", "MISSING", "DISTINCT", "EXAMPLE"]]
        for field in profile.fields {
            let distinct = field.isContainerOnly ? "" : (field.distinct.isExact ? "" : "~") + "\(field.distinct.count)"
            rows.append([field.path, field.typesDescription, "\(field.nulls)", profile.missing(field).map(String.init) ?? "",
                         distinct, field.example ?? ""])
        }
        Console.out(RecordPrinter.table(rows, maxWidth: RecordPrinter.terminalWidth))
    }

    struct Summary: Encodable {
        let rows: Int
        let files: [String]
        let fields: [Field]
    }

    struct Field: Encodable {
        let path: String
        let types: [String: Int]
        let nulls: Int
        let missing: Int?
        let distinct: Int?
        let distinctExact: Bool
        let example: String?

        enum CodingKeys: String, CodingKey {
            case path, types, nulls, missing, distinct, distinctExact = "distinct_exact", example
        }
    }
}
