import Foundation

/// Money a stage run may spend: its own `budget_usd` and what is left of the provider's daily cap.
///
/// A call reserves its estimated cost before it is sent and settles with the actual cost when it
/// returns, so that concurrent calls cannot overshoot together. The first call refused closes the
/// budget: nothing more is sent in this run, even a cheaper call, so that the records left over are
/// exactly the tail that the next run completes.
public actor Budget {
    public let stageLimit: Double?
    public let dailyLimit: Double?
    /// Spent today before this run started (from the lake's call records).
    public let spentBefore: Double
    public private(set) var spent: Double = 0
    private var reserved: Double = 0
    /// Which limit stopped sending, once one has.
    private var stoppedBy: Limit?
    private enum Limit { case stage(Double), daily(Double), shared }

    /// A budget shared with other processes (a queue's budget row), consulted after this one's own
    /// limits, for the calls of the task that sets it (`Budget.$shared.withValue(ledger) { … }`).
    @TaskLocal public static var shared: (any SharedBudget)?

    /// Why sending stopped, once it has, with what was spent so far: read once the calls in flight
    /// have settled, it gives the run's real spend, not what had settled when the limit was hit.
    public var stopReason: String? {
        switch stoppedBy {
        case nil: return nil
        case .stage(let limit): return String(format: "budget_usd %.4f reached (spent %.4f)", limit, spent)
        case .daily(let limit): return String(format: "daily cap %.4f reached (spent today %.4f)", limit, spentBefore + spent)
        case .shared: return String(format: "the run's shared budget_usd reached (this process spent %.4f)", spent)
        }
    }

    /// Which limit stopped sending, once one has, without a spend: what a record held back says, since
    /// the calls still in flight when it was held back have not settled yet.
    public var limitReached: String? {
        switch stoppedBy {
        case nil: return nil
        case .stage(let limit): return String(format: "budget_usd %.4f reached", limit)
        case .daily(let limit): return String(format: "daily cap %.4f reached", limit)
        case .shared: return "the run's shared budget_usd reached"
        }
    }

    public init(stageLimit: Double?, dailyLimit: Double?, spentBefore: Double = 0) {
        self.stageLimit = stageLimit
        self.dailyLimit = dailyLimit
        self.spentBefore = spentBefore
    }

    public var isLimited: Bool { stageLimit != nil || dailyLimit != nil }

    /// Whether a call estimated at `estimate` USD may be sent; reserves it if so.
    public func reserve(_ estimate: Double) -> Bool {
        if stoppedBy != nil { return false }
        let next = spent + reserved + estimate
        if let stageLimit, next > stageLimit {
            stoppedBy = .stage(stageLimit)
            return false
        }
        if let dailyLimit, spentBefore + next > dailyLimit {
            stoppedBy = .daily(dailyLimit)
            return false
        }
        if let shared = Self.shared, !shared.reserve(estimate) {
            stoppedBy = .shared
            return false
        }
        reserved += estimate
        return true
    }

    /// Replaces a reservation with what the call actually cost.
    public func settle(reserved estimate: Double, actual: Double) {
        reserved = max(0, reserved - estimate)
        spent += actual
        Self.shared?.settle(reserved: estimate, actual: actual)
    }

}

/// Money shared by every process of a distributed run: `reserve` grants an estimate only while the
/// total stays within the budget, atomically across processes; `settle` replaces it by the actual cost.
public protocol SharedBudget: Sendable {
    func reserve(_ estimate: Double) -> Bool
    func settle(reserved estimate: Double, actual: Double)
}
