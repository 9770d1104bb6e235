import ArgumentParser
import Foundation
import Logging
import Transport

@main
struct AgentShop: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "agentshop",
        abstract: "A file-based data-lake pipeline toolkit: fetch, parse, enrich, aggregate and load marketplace data.",
        discussion: """
        Pipelines are YAML files in pipelines/. Every stage reads and writes the lake folder (--lake, \
        AGENTSHOP_LAKE, or ./datalake). Exit codes: 0 ok, 1 a stage failed, 2 invalid pipeline or input, \
        64 usage error, 70 internal error, 75 another run holds the lock, 130/143 interrupted by \
        SIGINT/SIGTERM. Every command takes --json (a JSON document on stdout) or refuses it.

        Examples:
          agentshop init && agentshop run example
          agentshop lake ls
          agentshop --generate-completion-script bash > /etc/bash_completion.d/agentshop
        """,
        subcommands: [
            InitCommand.self,
            ValidateCommand.self,
            StagesCommand.self,
            PlanCommand.self,
            RunCommand.self,
            WorkerCommand.self,
            RunsCommand.self,
            DigestCommand.self,
            ScheduleCommand.self,
            SchedulerCommand.self,
            DoctorCommand.self,
            DBCommand.self,
            ExtractCommand.self,
            ExportCommand.self,
            QueryCommand.self,
            ScoupCommand.self,
            LLMCommand.self,
            LakeCommand.self,
            ReportCommand.self,
        ]
    )

    /// A flag of its own rather than the configuration's `version`, which every command would compute at
    /// start: the text loads libcurl to name its version, and libcurl is loaded on first use only.
    @Flag(help: "Show the version.") var version = false

    mutating func run() async throws {
        guard version else { throw CleanExit.helpRequest(self) }
        print(VersionInfo.text)
    }

    /// Library loggers that are not a run's own (the store, migrations) print warnings and
    /// errors only; a run's log goes to its file through RunLogHandler.
    static func main() async {
        // SIGTERM and SIGINT must reach us even when the parent handed them down blocked, or SIGTERM
        // ignored (both are inherited): a run, the scheduler and a worker stop cleanly on them.
        var stopSignals = sigset_t()
        sigemptyset(&stopSignals)
        sigaddset(&stopSignals, SIGINT)
        sigaddset(&stopSignals, SIGTERM)
        pthread_sigmask(SIG_UNBLOCK, &stopSignals, nil)
        signal(SIGTERM, SIG_DFL)
        // Secret values in the environment are hidden from everything printed or written from here on.
        Secret.register(environment: ProcessInfo.processInfo.environment)
        LoggingSystem.bootstrap { label in
            var handler = StreamLogHandler.standardError(label: label)
            handler.logLevel = .warning
            return RedactingLogHandler(wrapped: handler)
        }
        do {
            var command = try parseAsRoot()
            if let refusal = JSONOutput.refusal(for: command) { exit(withError: refusal) }
            if var command = command as? any AsyncParsableCommand {
                try await command.run()
            } else {
                try command.run()
            }
        } catch {
            exit(withError: error)
        }
    }
}
