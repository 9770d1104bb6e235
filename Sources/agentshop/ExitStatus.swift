import ArgumentParser

/// The exit codes AgentShop documents (README, "Exit codes"). Tests check each one.
enum ExitStatus {
    static let ok = ExitCode(0)
    /// A stage failed; earlier outputs are intact.
    static let runFailed = ExitCode(1)
    /// `agentshop doctor`: a check failed.
    static let checkFailed = ExitCode(1)
    /// The pipeline file, the lake, or another input is invalid or missing.
    static let invalidInput = ExitCode(2)
    /// Something AgentShop did not expect: a bug or a broken environment.
    static let internalError = ExitCode(70)
    /// Another run of the same pipeline holds the lock (EX_TEMPFAIL: try again later).
    static let lockBusy = ExitCode(75)
    static let interruptedBySIGINT = ExitCode(130)
    static let interruptedBySIGTERM = ExitCode(143)
}
