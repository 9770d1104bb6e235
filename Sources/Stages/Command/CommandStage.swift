import Foundation
import Lake
import Pipeline
import Postgres
import Store
import Transport

/// `command`: runs an external program with declared inputs and outputs, like DVC's `cmd`.
///
/// `{in}` expands to the input files and `{out}` to the output files (absolute, shell-quoted).
/// The program writes its outputs under temporary names that AgentShop renames into place only
/// when it exits with status 0, so a failing or killed command never replaces an earlier output.
///
/// ```yaml
/// summary:
///   command: { run: "python3 scripts/summarise.py {in} > {out}", from: products, deps: [scripts/summarise.py] }
///   out: processed_data/reports/summary.txt
/// ```
public enum CommandStage {
    public static let kind = StageKind(spec: spec) { config, context in
        guard config.expectMapping() else { return nil }
        let run = config.string("run", required: true)
        let inputs = config.value("from").map { context.inputs($0) } ?? []
        let deps = config.strings("deps") ?? []
        let timeout = config.duration("timeout")
        var environment: [String: String] = [:]
        if let env = config.value("env"), let entries = env.entries() {
            for (key, value) in entries { if let text = value.asString() { environment[key] = text } }
        }
        let folder = config.string("cwd")
        guard let run, let inputs else { return nil }
        if !run.contains("{out}") {
            config.value("run")?.warning("the command does not mention {out}; it must write the stage's outputs itself at their temporary names")
        }
        let workingDirectory = folder.map { $0.hasPrefix("/") ? $0 : context.projectFolder + "/" + $0 } ?? context.projectFolder
        return Definition(command: run, inputs: inputs, deps: deps, timeout: timeout, extraEnvironment: environment,
                          workingDirectory: workingDirectory)
    }

    struct Definition: StageDefinition {
        let command: String
        let inputs: [StageInput]
        /// Files outside the lake (scripts, configs), relative to the working directory, whose content
        /// is part of the fingerprint.
        let deps: [String]
        let timeout: Double?
        let extraEnvironment: [String: String]
        let workingDirectory: String

        func fingerprintExtra(lake: Lake) throws -> String {
            var text = ""
            for dep in deps.sorted() {
                let path = dep.hasPrefix("/") ? dep : workingDirectory + "/" + dep
                guard FileManager.default.fileExists(atPath: path) else {
                    throw StageError("dependency \(dep) not found (looked in \(workingDirectory))")
                }
                text += "\(dep) \(try FileDigest.sha256(path: path))\n"
            }
            return text
        }

        func run(_ context: StageContext) async throws -> StageReport {
            let temporaries = context.outputs.map { AtomicFile.temporaryPath(for: $0.absolute) }
            for output in context.outputs {
                try FileManager.default.createDirectory(atPath: output.folder, withIntermediateDirectories: true)
            }
            let expanded = command
                .replacingOccurrences(of: "{in}", with: context.allInputFiles.map { shellQuote($0.absolute) }.joined(separator: " "))
                .replacingOccurrences(of: "{out}", with: temporaries.map(shellQuote).joined(separator: " "))
                .replacingOccurrences(of: "{lake}", with: shellQuote(context.lake.root))

            try FileManager.default.createDirectory(atPath: context.stateFolder, withIntermediateDirectories: true)
            let orphans = context.childProcessGuard
            let stdoutPath = context.stateFolder + "/\(context.runID).stdout"
            let stderrPath = context.stateFolder + "/\(context.runID).stderr"
            var environment = ProcessInfo.processInfo.environment
            environment["AGENTSHOP_LAKE"] = context.lake.root
            environment["AGENTSHOP_RUN_ID"] = context.runID
            environment["AGENTSHOP_RUN_DATE"] = context.runDate
            environment["AGENTSHOP_PIPELINE"] = context.pipeline
            environment["AGENTSHOP_STAGE"] = context.stage
            // The child learns where the store and the queue are, never their passwords (libpq asks PGPASSWORD or ~/.pgpass).
            for key in [StoreLocation.environmentVariable, QueuedEnrich.queueVariable] {
                if let value = environment[key], let url = try? PostgresURL(value, environment: [:]) { environment[key] = url.withoutPassword }
            }
            for (key, value) in extraEnvironment { environment[key] = value }

            context.logger.info("running command", metadata: ["command": "\(command)"])
            let child = ChildProcess(command: expanded, workingDirectory: workingDirectory, environment: environment,
                                     stdoutPath: stdoutPath, stderrPath: stderrPath, timeout: timeout)
            defer {
                orphans.clear()
                for temporary in temporaries { unlink(temporary) }
                unlink(stdoutPath)
                unlink(stderrPath)
            }
            let outcome = try await child.run(onStart: orphans.record)
            // The tails reach the log, the error and the manifest: a command that prints a secret has it blanked.
            let stderr = Secret.redact(tail(of: stderrPath))
            let stdout = Secret.redact(tail(of: stdoutPath))
            if !stdout.isEmpty { context.logger.info("command stdout", metadata: ["tail": "\(stdout)"]) }
            if !stderr.isEmpty { context.logger.info("command stderr", metadata: ["tail": "\(stderr)"]) }
            if outcome.timedOut {
                let limit = (timeout ?? 0) < 10 ? String(format: "%.1fs", timeout ?? 0) : "\(Int(timeout ?? 0))s"
                throw StageError("command timed out after \(limit)" + (stderr.isEmpty ? "" : ": \(stderr)"))
            }
            if let signal = outcome.signal {
                throw StageError("command was killed by signal \(signal)" + (stderr.isEmpty ? "" : ": \(stderr)"))
            }
            guard outcome.exitCode == 0 else {
                throw StageError("command exited with status \(outcome.exitCode)" + (stderr.isEmpty ? "" : ": \(stderr)"))
            }
            for (temporary, output) in zip(temporaries, context.outputs) {
                guard FileManager.default.fileExists(atPath: temporary) else {
                    throw StageError("command succeeded but did not write {out} for \(output.relative)")
                }
            }
            for (temporary, output) in zip(temporaries, context.outputs) {
                try AtomicFile.publish(temporaryPath: temporary, to: output.absolute)
            }
            return StageReport(counts: ["exit_code": Int(outcome.exitCode), "files_in": context.allInputFiles.count])
        }

        /// The last 2 KB of a file, trimmed: enough to see why a command failed.
        private func tail(of path: String) -> String {
            guard let handle = FileHandle(forReadingAtPath: path) else { return "" }
            defer { try? handle.close() }
            let size = (try? handle.seekToEnd()) ?? 0
            try? handle.seek(toOffset: size > 2048 ? size - 2048 : 0)
            let data = (try? handle.readToEnd()) ?? Data()
            return String(decoding: data, as: UTF8.self).trimmingCharacters(in: .whitespacesAndNewlines)
        }
    }
}

/// `text` as one /bin/sh word: bare when it is plainly safe, single-quoted otherwise.
public func shellQuote(_ text: String) -> String {
    if !text.isEmpty && text.allSatisfy({ $0.isLetter || $0.isNumber || "/._-=:+,@".contains($0) }) { return text }
    return "'" + text.replacingOccurrences(of: "'", with: "'\\''") + "'"
}
