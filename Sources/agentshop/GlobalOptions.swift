import ArgumentParser
import Foundation
import Transport
import Lake
import Pipeline
import Stages

/// Flags every command takes.
struct GlobalOptions: ParsableArguments {
    @Option(name: .long, help: ArgumentHelp("The lake folder (default: $AGENTSHOP_LAKE, else ./datalake).", valueName: "dir"))
    var lake: String?

    @Flag(name: .shortAndLong, help: "Print one summary line and no progress.")
    var quiet = false

    @Flag(name: .long, help: "Print machine-readable JSON on stdout.")
    var json = false

    @Option(name: .long, help: ArgumentHelp("A .env file with variables for ${VAR} (default: ./.env and the project's .env).", valueName: "file"))
    var envFile: [String] = []

    /// The lake folder: --lake, then AGENTSHOP_LAKE, then ./datalake.
    var lakePath: String {
        lake ?? ProcessInfo.processInfo.environment["AGENTSHOP_LAKE"].flatMap { $0.isEmpty ? nil : $0 } ?? "datalake"
    }

    func openLake(mustExist: Bool = true) throws -> Lake {
        let lake = Lake(root: lakePath)
        if mustExist && !lake.exists {
            Console.error("no lake at \(lake.root): run `agentshop init \(lakePath)` first, or pass --lake")
            throw ExitStatus.invalidInput
        }
        return lake
    }

    /// Variables for pipeline files: the environment over the given .env files (or the defaults).
    func environment(projectFolder: String?) -> PipelineEnvironment {
        var files = envFile
        if files.isEmpty {
            files.append(FileManager.default.currentDirectoryPath + "/.env")
            if let projectFolder { files.append(projectFolder + "/.env") }
        }
        let environment = PipelineEnvironment.load(dotEnvFiles: files)
        Secret.register(environment: environment.variables)
        return environment
    }

    /// Finds a pipeline by path, or by name in ./pipelines, and validates it: the spec when it
    /// is valid, and every problem and warning found.
    func checkPipeline(_ nameOrPath: String, lake: Lake?) -> (file: String, spec: PipelineSpec?, diagnostics: [Diagnostic]) {
        let file = Self.pipelineFile(nameOrPath)
        let loader = PipelineLoader(registry: BuiltinStages.registry,
                                    environment: environment(forPipelineFile: file), lake: lake)
        do {
            let (spec, warnings) = try loader.load(file: file)
            // The notification channels' URLs and secret are hidden from the run's first line on.
            for secret in spec.notify?.secrets ?? [] { Secret.register(url: secret) }
            return (file, spec, warnings)
        } catch {
            return (file, nil, error.diagnostics)
        }
    }

    /// `checkPipeline`, printing every problem; exits 2 when the pipeline is invalid.
    func loadPipeline(_ nameOrPath: String, lake: Lake?) throws -> PipelineSpec {
        let (file, spec, diagnostics) = checkPipeline(nameOrPath, lake: lake)
        for diagnostic in diagnostics { Console.error(diagnostic.description) }
        guard let spec else {
            let count = diagnostics.filter { $0.severity == .error }.count
            Console.error("\(file): \(count) problem\(count == 1 ? "" : "s")")
            throw ExitStatus.invalidInput
        }
        return spec
    }

    /// The variables a pipeline file's `${VAR}` and its stages see: the environment over the
    /// project's `.env`.
    func environment(forPipelineFile file: String) -> PipelineEnvironment {
        environment(projectFolder: PipelineLoader.projectFolder(ofPipelineFile: file))
    }

    static func pipelineFile(_ nameOrPath: String) -> String {
        if FileManager.default.fileExists(atPath: nameOrPath) || nameOrPath.contains("/") { return nameOrPath }
        for candidate in ["pipelines/\(nameOrPath).yaml", "pipelines/\(nameOrPath).yml"]
        where FileManager.default.fileExists(atPath: candidate) {
            return candidate
        }
        return nameOrPath
    }
}
