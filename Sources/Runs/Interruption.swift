import Dispatch
import Foundation

/// SIGINT and SIGTERM stop a run (or the scheduler) cleanly instead of killing the process mid-write.
public final class Interruption: @unchecked Sendable {
    private var sources: [DispatchSourceSignal] = []
    /// Signalled once per source when libdispatch is done with it (see `remove`).
    private let cancelled = DispatchSemaphore(value: 0)
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
            source.setCancelHandler { [cancelled] in cancelled.signal() }
            source.resume()
            sources.append(source)
        }
    }

    /// Gives SIGINT and SIGTERM back their default action: an ignored signal would otherwise outlive
    /// the run, in this process and in every process it starts later (dispositions are inherited).
    /// libdispatch registers a source (and installs its own handler for the signal) asynchronously, so
    /// the default action is set only once every source's cancel handler has run: set earlier, a source
    /// registered just after would leave libdispatch's handler in place. Never call it from `install`'s
    /// handler (the cancel handler waits for the event handler).
    public func remove() {
        guard !sources.isEmpty else { return }
        for source in sources { source.cancel() }
        for _ in sources { cancelled.wait() }
        sources.removeAll()
        for sig in [SIGINT, SIGTERM] { Foundation.signal(sig, SIG_DFL) }
    }
}
