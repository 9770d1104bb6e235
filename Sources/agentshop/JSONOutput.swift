import ArgumentParser

/// `--json` is honoured or refused, never ignored: the commands below take the shared flags but
/// print no JSON, so `--json` on them is a usage error (exit 64) instead of text a script then
/// fails to parse. `CLIConventionsTests` walks every subcommand with `--json` to keep this true.
enum JSONOutput {
    static let refusing: [any ParsableCommand.Type] = [
        DBCommand.Init.self, DBCommand.Migrate.self, DBCommand.Dump.self, DBCommand.Restore.self,
        DBCommand.Rebuild.self, DBCommand.Admin.self, DBCommand.SyncRuns.self,
        LLMCommand.Enable.self, LLMCommand.Disable.self,
        ScheduleCommand.Due.self, ScheduleCommand.Install.self,
        SchedulerCommand.self,
    ]

    /// The error for a command that was given `--json` and prints none; nil otherwise.
    static func refusal(for command: any ParsableCommand) -> ValidationError? {
        let kind = ObjectIdentifier(type(of: command))
        guard refusing.contains(where: { ObjectIdentifier($0) == kind }), asksForJSON(command) else { return nil }
        let name = type(of: command).configuration.commandName ?? "this command"
        return ValidationError("--json: `\(name)` prints no JSON (its result is its exit status and a line on stderr); drop --json")
    }

    /// Whether the command's shared options (or its own `json` flag) ask for JSON.
    static func asksForJSON(_ command: any ParsableCommand) -> Bool {
        for child in Mirror(reflecting: command).children {
            if let group = child.value as? OptionGroup<GlobalOptions>, group.wrappedValue.json { return true }
            if child.label == "_json", let flag = child.value as? Flag<Bool>, flag.wrappedValue { return true }
        }
        return false
    }
}
