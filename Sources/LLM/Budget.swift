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
    private enum Limit { case stage(Double), daily(Double), shared, sharedDaily(Double) }
    /// The provider's daily cap shared with other processes (a queue's row for the provider and UTC
    /// day), consulted after this budget's own daily limit.
    let sharedDaily: (any SharedBudget)?

    /// The stage's budget shared with other processes (a queue's budget row), consulted after a stage
    /// budget's own limit, for the calls of the task that sets it (`Budget.$shared.withValue(ledger) { … }`).
    /// A budget without a stage limit (a provider's daily cap) never spends from it.
    @TaskLocal public static var shared: (any SharedBudget)?

    /// Where the providers' daily caps are shared with other processes (a queue), for the enrichment
    /// runs of the task that sets it: each provider's daily budget then reserves from its ledger too.
    @TaskLocal public static var sharedDailyCaps: (any SharedDailyCaps)?

    /// Why sending stopped, once it has, with what was spent so far: read once the calls in flight
    /// have settled, it gives the run's real spend, not what had settled when the limit was hit.
    public var stopReason: String? {
        switch stoppedBy {
        case nil: return nil
        case .stage(let limit): return String(format: "budget_usd %.4f reached (spent %.4f)", limit, spent)
        case .daily(let limit): return String(format: "daily cap %.4f reached (spent today %.4f)", limit, spentBefore + spent)
        case .shared: return String(format: "the run's shared budget_usd reached (this process spent %.4f)", spent)
        case .sharedDaily(let limit):
            return String(format: "daily cap %.4f reached across the queue's workers (this process spent %.4f)", limit, spent)
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
        case .sharedDaily(let limit): return String(format: "daily cap %.4f reached across the queue's workers", limit)
        }
    }

    /// `sharedDaily`: the ledger of the provider's day shared with other processes (see `SharedDailyCaps`).
    public init(stageLimit: Double?, dailyLimit: Double?, spentBefore: Double = 0, sharedDaily: (any SharedBudget)? = nil) {
        self.stageLimit = stageLimit
        self.dailyLimit = dailyLimit
        self.spentBefore = spentBefore
        self.sharedDaily = dailyLimit == nil ? nil : sharedDaily
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
        let shared = stageLimit == nil ? nil : Self.shared
        if let shared, !shared.reserve(estimate) {
            stoppedBy = .shared
            return false
        }
        if let dailyLimit, let sharedDaily, !sharedDaily.reserve(estimate) {
            shared?.settle(reserved: estimate, actual: 0)
            stoppedBy = .sharedDaily(dailyLimit)
            return false
        }
        reserved += estimate
        return true
    }

    /// Replaces a reservation with what the call actually cost.
    public func settle(reserved estimate: Double, actual: Double) {
        reserved = max(0, reserved - estimate)
        spent += actual
        if stageLimit != nil { Self.shared?.settle(reserved: estimate, actual: actual) }
        sharedDaily?.settle(reserved: estimate, actual: actual)
    }

}

/// Money shared by every process of a distributed run: `reserve` grants an estimate only while the
/// total stays within the budget, atomically across processes; `settle` replaces it by the actual cost.
public protocol SharedBudget: Sendable {
    func reserve(_ estimate: Double) -> Bool
    func settle(reserved estimate: Double, actual: Double)
}

/// The providers' daily caps (`LLM_<P>_COST_LIMIT_DAILY`) shared by every process of a distributed
/// run: one ledger per provider and UTC day, which other processes reserve from too.
public protocol SharedDailyCaps: Sendable {
    /// The ledger of `provider`'s `day` (YYYY-MM-DD, UTC) under `cap` USD, counting at least
    /// `spentBefore` (what the lake's call records say was spent that day). Throws when the shared
    /// ledger cannot be reached: the caller must not send then.
    func ledger(provider: ProviderKind, day: String, cap: Double, spentBefore: Double) throws -> any SharedBudget
}
