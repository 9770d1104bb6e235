import Dispatch
import Foundation

/// SIGINT and SIGTERM stop a run (or the scheduler) cleanly instead of killing the process mid-write.
public final class Interruption: @unchecked Sendable {
    private var sources: [DispatchSourceSignal] = []
    /// The first signal received; 0 when none.
    public private(set) var signal: Int32 = 0

    public init() {}

    public func install(_ handler: @escaping @Sendable (Int32) -> Void) {
        for sig in [SIGINT, SIGTERM] {
            Foundation.signal(sig, SIG_IGN)
            let source = DispatchSource.makeSignalSource(signal: sig, queue: .global())
            source.setEventHandler { [weak self] in
                guard let self else { return }
                if self.signal == 0 { self.signal = sig }
                handler(sig)
            }
            source.resume()
            sources.append(source)
        }
    }

    /// Gives SIGINT and SIGTERM back their default action: an ignored signal would otherwise outlive
    /// the run, in this process and in every process it starts later (dispositions are inherited).
    public func remove() {
        guard !sources.isEmpty else { return }
        for source in sources { source.cancel() }
        sources.removeAll()
        for sig in [SIGINT, SIGTERM] { Foundation.signal(sig, SIG_DFL) }
    }
}
