import ArgumentParser
import Lake
import Pipeline
import Stages

/// `agentshop stages [KIND]`: the stage kinds' reference, from their declared specs.
struct StagesCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "stages",
        abstract: "List the stage kinds, or show one kind's settings (type, default, fingerprint, description).",
        discussion: """
        The reference comes from each kind's declared settings, the same declaration that validates pipeline \
        files and makes stage fingerprints. --markdown prints the generated part of docs/stages/<kind>.md \
        (without KIND: of docs/stages/README.md); scripts/gen_stage_docs.sh writes those pages.

        Examples:
          agentshop stages
          agentshop stages fetch
          agentshop stages fetch --json
        """
    )

    @OptionGroup var global: GlobalOptions

    @Argument(help: ArgumentHelp("A stage kind, e.g. fetch.", valueName: "kind"))
    var kind: String?

    @Flag(name: .long, help: "Print the generated Markdown of the kind's page in docs/stages/.")
    var markdown = false

    func validate() throws {
        if markdown && global.json { throw ValidationError("--markdown and --json: choose one") }
        if let kind, BuiltinStages.registry.kind(named: kind) == nil {
            let names = BuiltinStages.registry.names
            throw ValidationError("no stage kind '\(kind)'\(Suggestion.didYouMean(kind, in: names)); kinds: \(names.joined(separator: ", "))")
        }
    }

    func run() throws {
        let registry = BuiltinStages.registry
        guard let name = kind, let spec = registry.kind(named: name)?.spec else {
            if global.json {
                Console.out(JSONValue.array(registry.names.compactMap { registry.kind(named: $0) }.map { kind in
                    .object(JSONObject([("kind", .string(kind.name)), ("summary", .string(kind.summary)),
                                        ("writes_out", .bool(kind.outputs == .required))]))
                }).serialized())
            } else if markdown {
                Console.out(StageReference.markdownIndex(registry), terminator: "")
            } else {
                Console.out(StageReference.kindsTable(registry), terminator: "")
            }
            return
        }
        if global.json {
            Console.out(StageReference.json(spec).serialized())
        } else if markdown {
            Console.out(StageReference.markdown(spec), terminator: "")
        } else {
            Console.out(StageReference.text(spec), terminator: "")
        }
    }
}
