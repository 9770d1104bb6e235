import ArgumentParser
import Foundation
import Inspect
import Lake

struct LakeDiffCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "diff",
        abstract: "Records added, removed and changed between two datasets (partitions, runs), matched by --key.",
        discussion: """
        A and B are lake files, globs or PIPELINE:STAGE (two partitions: \
        'scraped_data/products/dt=2026-11-24/*.jsonl.gz' and 'scraped_data/products/dt=2026-11-25/*.jsonl.gz'). \
        Changed records list each changed field by dotted path with its old and new value; 10 and \
        10.0 are equal. A's records are held in memory (one line per key); B is streamed. A key \
        that is missing or repeated on one side is an error. Exit status 0 whether or not they differ.

        Examples:
          agentshop lake diff 'scraped_data/products/dt=2026-11-24/*.jsonl.gz' 'scraped_data/products/dt=2026-11-25/*.jsonl.gz' --key slug
          agentshop lake diff a.csv b.csv --key sku --on-error skip
        """
    )

    @OptionGroup var global: GlobalOptions

    @Argument(help: ArgumentHelp("The old side.", valueName: "a"))
    var old: String

    @Argument(help: ArgumentHelp("The new side.", valueName: "b"))
    var new: String

    @Option(help: ArgumentHelp("The key field(s), comma-separated; dotted paths reach into objects.", valueName: "k"))
    var key: String

    @Option(help: ArgumentHelp("List at most N records per kind of change (0: all).", valueName: "n"))
    var limit: Int = 20

    @Option(name: .customLong("on-error"), help: ArgumentHelp("fail: stop at the first malformed record; skip: report it on stderr and go on.", valueName: "fail|skip"))
    var onError: String = "fail"

    func validate() throws {
        guard MalformedPolicy(rawValue: onError) != nil else { throw ValidationError("--on-error takes fail or skip, found '\(onError)'") }
        if keyFields.isEmpty { throw ValidationError("--key names at least one field") }
    }

    var keyFields: [String] { key.split(separator: ",").map { $0.trimmingCharacters(in: .whitespaces) }.filter { !$0.isEmpty } }

    func run() async throws {
        let lake = try global.openLake()
        let a = try LakeCommand.resolve(old, in: lake)
        let b = try LakeCommand.resolve(new, in: lake)
        let diff: LakeDiff
        do {
            diff = try LakeDiff(old: a, new: b, key: keyFields, policy: MalformedPolicy(rawValue: onError)!) { bad in
                Console.error("\(bad.file): line \(bad.line): \(bad.reason) (skipped)")
            }
        } catch {
            let code = LakeCommand.fail(error)
            if onError == "fail", error is LakeError {
                Console.error("hint: --on-error skip reports malformed records on stderr and compares the rest")
            }
            throw code
        }
        let keyOf = { (record: JSONObject) -> JSONValue in
            let values = keyFields.map { DottedPath(dotted: $0).value(in: record) }
            return values.count == 1 ? values[0] : .array(values)
        }
        if global.json {
            func change(_ c: LakeDiff.Change) -> JSONValue {
                .object(JSONObject([("key", c.key), ("fields", .array(c.fields.map { f in
                    .object(JSONObject([("field", .string(f.field)), ("old", f.old ?? .null), ("new", f.new ?? .null),
                                        ("old_missing", .bool(f.old == nil)), ("new_missing", .bool(f.new == nil))]))
                }))]))
            }
            let out = JSONObject([
                ("key", .array(keyFields.map { .string($0) })),
                ("added", .array(diff.added.map { .object($0) })), ("removed", .array(diff.removed.map { .object($0) })),
                ("changed", .array(diff.changed.map(change))), ("unchanged", .int(Int64(diff.unchanged))),
            ])
            Console.out(JSONValue.object(out).serialized())
            return
        }
        Console.out("\(diff.added.count) added, \(diff.removed.count) removed, \(diff.changed.count) changed, \(diff.unchanged) unchanged (key: \(keyFields.joined(separator: ", ")))")
        let cap = limit == 0 ? Int.max : limit
        func more(_ n: Int) { if n > cap { Console.out("  … and \(n - cap) more (--limit 0 for all)") } }
        if !diff.added.isEmpty {
            Console.out("\nadded:")
            for record in diff.added.prefix(cap) { Console.out("+ \(keyOf(record).plainText)  \(JSONValue.object(record).serialized())") }
            more(diff.added.count)
        }
        if !diff.removed.isEmpty {
            Console.out("\nremoved:")
            for record in diff.removed.prefix(cap) { Console.out("- \(keyOf(record).plainText)  \(JSONValue.object(record).serialized())") }
            more(diff.removed.count)
        }
        if !diff.changed.isEmpty {
            Console.out("\nchanged:")
            for change in diff.changed.prefix(cap) {
                Console.out("~ \(change.key.plainText)")
                for field in change.fields {
                    Console.out("    \(field.field): \(field.old.map { $0.serialized() } ?? "(missing)") → \(field.new.map { $0.serialized() } ?? "(missing)")")
                }
            }
            more(diff.changed.count)
        }
    }
}
