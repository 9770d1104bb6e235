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
    /// Why sending stopped, once it has.
    public private(set) var stopReason: String?

    public init(stageLimit: Double?, dailyLimit: Double?, spentBefore: Double = 0) {
        self.stageLimit = stageLimit
        self.dailyLimit = dailyLimit
        self.spentBefore = spentBefore
    }

    public var isLimited: Bool { stageLimit != nil || dailyLimit != nil }

    /// Whether a call estimated at `estimate` USD may be sent; reserves it if so.
    public func reserve(_ estimate: Double) -> Bool {
        if stopReason != nil { return false }
        let next = spent + reserved + estimate
        if let stageLimit, next > stageLimit {
            stopReason = String(format: "budget_usd %.4f reached (spent %.4f)", stageLimit, spent)
            return false
        }
        if let dailyLimit, spentBefore + next > dailyLimit {
            stopReason = String(format: "daily cap %.4f reached (spent today %.4f)", dailyLimit, spentBefore + spent)
            return false
        }
        reserved += estimate
        return true
    }

    /// Replaces a reservation with what the call actually cost.
    public func settle(reserved estimate: Double, actual: Double) {
        reserved = max(0, reserved - estimate)
        spent += actual
    }

}
