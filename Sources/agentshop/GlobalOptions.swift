import ArgumentParser
import Foundation
import Transport
import Lake
import Pipeline
import Stages
import Store

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

    /// The lake folder: --lake, then AGENTSHOP_LAKE, then ./datalake, then the lake the current
    /// directory is in (a command run from inside the lake folder finds it).
    var lakePath: String { Self.lakePath(flag: lake) }

    static func lakePath(flag: String?) -> String {
        if let explicit = flag ?? ProcessInfo.processInfo.environment["AGENTSHOP_LAKE"].flatMap({ $0.isEmpty ? nil : $0 }) {
            return explicit
        }
        if Lake(root: "datalake").exists { return "datalake" }
        return Self.enclosingLake(of: FileManager.default.currentDirectoryPath) ?? "datalake"
    }

    /// The nearest folder at or above `folder` laid out as a lake (raw_data/ beside
    /// processed_data/ or store/); nil when there is none.
    static func enclosingLake(of folder: String) -> String? {
        var current = URL(fileURLWithPath: folder).standardizedFileURL.path
        let fm = FileManager.default
        while true {
            if fm.fileExists(atPath: current + "/raw_data"),
               fm.fileExists(atPath: current + "/processed_data") || fm.fileExists(atPath: current + "/store") {
                return current
            }
            let parent = (current as NSString).deletingLastPathComponent
            if parent == current || parent.isEmpty { return nil }
            current = parent
        }
    }

    /// A lake path as the user typed it, from where they stand, made lake-relative: `datalake/x`
    /// from the project folder, `x` from inside the lake, and an absolute path into the lake all
    /// name `x`. Anything else (a `pipeline:stage`, a path that is not inside the lake from here)
    /// is returned as given and read as lake-relative.
    static func lakeRelative(_ typed: String, lake: Lake) -> String {
        if typed.isEmpty || DatasetReference.stageReference(typed) != nil { return typed }
        let cwd = FileManager.default.currentDirectoryPath
        let absolute = URL(fileURLWithPath: typed.hasPrefix("/") ? typed : cwd + "/" + typed).standardizedFileURL.path
        // Compare real paths, so that a lake reached through a symlinked folder still matches.
        let root = lake.root
        let folder = (absolute as NSString).deletingLastPathComponent
        let realFolder = realpath(folder, nil).map { p in defer { free(p) }; return String(cString: p) } ?? folder
        let resolved = realFolder + "/" + (absolute as NSString).lastPathComponent
        let isGlob = typed.contains { "*?[".contains($0) }
        let fm = FileManager.default
        for candidate in [resolved, absolute] {
            if candidate == root { return "." }
            guard candidate.hasPrefix(root + "/") else { continue }
            // From a folder inside the lake, a lake-relative path that exists keeps its meaning.
            if !isGlob && !typed.hasPrefix("/") && !fm.fileExists(atPath: candidate) && fm.fileExists(atPath: root + "/" + typed) {
                return typed
            }
            return String(candidate.dropFirst(root.count + 1))
        }
        return typed
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
        var environment = PipelineEnvironment.load(dotEnvFiles: files)
        environment = Self.withStoreSettings(environment, lake: Lake(root: lakePath))
        Secret.register(environment: environment.variables)
        return environment
    }

    /// `environment` over the store's `config_settings` (`StoreSettings`): a stored key gives its variable
    /// only when the environment and `.env` leave it unset. The store is `AGENTSHOP_STORE_URL`'s or the
    /// lake's (a pipeline's own `store:` is not known before its file is read); one that cannot be read
    /// adds nothing, with a warning.
    static func withStoreSettings(_ environment: PipelineEnvironment, lake: Lake) -> PipelineEnvironment {
        var variables = environment.variables
        do {
            let location = try StoreLocation.resolve(nil, environment: variables, defaultPath: lake.storePath)
            for (name, value) in try StoreSettings.variables(at: location) where (variables[name] ?? "").isEmpty {
                variables[name] = value
            }
        } catch {
            Console.error("warning: the store's config_settings were not read: \(error)")
        }
        return PipelineEnvironment(variables: variables)
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
