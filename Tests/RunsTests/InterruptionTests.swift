import Foundation
import Runs
import Testing

/// A run ignores SIGINT and SIGTERM while it lasts (they stop it cleanly instead); afterwards they
/// get their default action back, or every process the run's process starts later would inherit
/// them ignored (a worker started after a run would not stop on SIGTERM).
@Suite(.serialized) struct InterruptionTests {
    @Test func removingTheHandlersGivesTheSignalsTheirDefaultActionBack() {
        let interruption = Interruption()
        interruption.install { _ in }
        interruption.remove()
        for sig in [SIGINT, SIGTERM] {
            let previous = signal(sig, SIG_DFL)
            #expect(unsafeBitCast(previous, to: Int.self) == unsafeBitCast(SIG_DFL, to: Int.self), "signal \(sig) is left ignored")
        }
    }
}
