import Foundation
import PackagePlugin

/// Compiles the data files of a target's `Resources/` folder into Swift string constants, so
/// that a binary carries them wherever it is copied (SwiftPM resource bundles must sit beside
/// the executable). `Resources/llm_prices.json` becomes `let embedded_llm_prices_json: String`.
@main
struct EmbedData: BuildToolPlugin {
    func createBuildCommands(context: PluginContext, target: Target) throws -> [Command] {
        // `Target.directoryURL` needs tools version 6.1; the package's folder and the target's name give the same path.
        let folder = context.package.directoryURL.appending(path: "Sources/\(target.name)/Resources")
        let names = (try? FileManager.default.contentsOfDirectory(atPath: folder.path)) ?? []
        let tool = try context.tool(named: "embed-data")
        return names.filter { $0.hasSuffix(".json") }.sorted().map { name in
            let input = folder.appending(path: name)
            let output = context.pluginWorkDirectoryURL.appending(path: "Embedded_" + name.replacingOccurrences(of: ".", with: "_") + ".swift")
            return .buildCommand(displayName: "Embedding \(name)", executable: tool.url,
                                 arguments: [input.path, output.path], inputFiles: [input], outputFiles: [output])
        }
    }
}
