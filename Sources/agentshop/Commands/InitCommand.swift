import ArgumentParser
import Foundation
import Lake
import Store

struct InitCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "init",
        abstract: "Create the lake tree (a README in every folder), an empty store, and an example pipeline in a project without one.",
        discussion: """
        Safe to run again: existing folders and files are left as they are. The example pipeline goes \
        to pipelines/ beside the lake, or, when the lake is the current folder (agentshop init .), to \
        pipelines/ here, where `agentshop run` looks for it.

        Examples:
          agentshop init                 # ./datalake and ./pipelines/example.yaml
          agentshop init .               # this folder is the lake
          agentshop init /srv/lake --pipelines /srv/project/pipelines
        """
    )

    @OptionGroup var global: GlobalOptions

    @Argument(help: ArgumentHelp("The lake folder to create (default: --lake, $AGENTSHOP_LAKE, or ./datalake).", valueName: "dir"))
    var directory: String?

    @Option(help: ArgumentHelp("Where to write the example pipeline (default: pipelines/ beside the lake).", valueName: "folder"))
    var pipelines: String?

    func run() async throws {
        let lake = Lake(root: directory ?? global.lakePath)
        var created = try LakeLayout.create(at: lake)
        if !FileManager.default.fileExists(atPath: lake.storePath) {
            _ = try Store.openMigrated(path: lake.storePath)
            created.append("store/agentshop.sqlite")
        }
        // A project that already has pipelines gets no example (and no example seed file).
        let pipelines = self.pipelines.map(Self.absolute) ?? Self.defaultPipelinesFolder(lake: lake)
        let example = pipelines + "/example.yaml"
        let existing = ((try? FileManager.default.contentsOfDirectory(atPath: pipelines)) ?? [])
            .filter { $0.hasSuffix(".yaml") || $0.hasSuffix(".yml") }
        var wroteExample = false
        if existing.isEmpty {
            let seed = lake.root + "/raw_data/imports/example/products.csv"
            if !FileManager.default.fileExists(atPath: seed) {
                try FileManager.default.createDirectory(atPath: (seed as NSString).deletingLastPathComponent, withIntermediateDirectories: true)
                try AtomicFile.write(ExamplePipeline.seedCSV, to: seed)
                created.append("raw_data/imports/example/products.csv")
            }
            try FileManager.default.createDirectory(atPath: pipelines, withIntermediateDirectories: true)
            try AtomicFile.write(ExamplePipeline.yaml, to: example)
            created.append(example)
            wroteExample = true
        }
        if global.json {
            Console.json(["lake": lake.root, "created": created.joined(separator: "\n")])
        } else if !global.quiet {
            Console.out(created.isEmpty ? "lake at \(lake.root) is already initialised" : "initialised lake at \(lake.root) (\(created.count) new entries)")
            if wroteExample { Console.out("try: agentshop run \(example) --lake \(directory ?? global.lakePath)") }
        }
    }

    static func absolute(_ path: String) -> String {
        URL(fileURLWithPath: path.hasPrefix("/") ? path : FileManager.default.currentDirectoryPath + "/" + path).standardizedFileURL.path
    }

    /// pipelines/ beside the lake; when the lake is where the user stands (or above it), pipelines/
    /// in the current folder: `init .` never writes into the parent folder.
    static func defaultPipelinesFolder(lake: Lake) -> String {
        let cwd = Lake(root: ".").root
        if cwd == lake.root || cwd.hasPrefix(lake.root + "/") { return cwd + "/pipelines" }
        return (lake.root as NSString).deletingLastPathComponent + "/pipelines"
    }
}

/// The pipeline `agentshop init` writes, and the seed file it reads.
enum ExamplePipeline {
    static let yaml = """
    # An example AgentShop pipeline: import a CSV of products, publish a JSON Lines dataset
    # partitioned by run date, and export it back to CSV. Run it with
    #   agentshop run pipelines/example.yaml
    pipeline: example
    stages:
      products:
        import: { from: raw_data/imports/example/products.csv, infer_types: true, on_error: skip }
        out: scraped_data/products/dt={run_date}/example.jsonl.gz
      export:
        import: { from: products }
        out: processed_data/exports/example_products.csv

    """

    static let seedCSV = """
    slug,name,category,price,currency,rating
    trail-shoe,Trail running shoe,shoes,89.90,USD,4.5
    rain-jacket,"Rain jacket, packable",outdoor,129.00,USD,4.1
    espresso-kit,Espresso starter kit,kitchen,59.50,USD,

    """
}
