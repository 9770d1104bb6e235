import Foundation
import LLM
import Testing

/// `Budget.shared`: a budget other processes spend from too (a queue's budget row) is consulted
/// after the run's own limits, and settled with the actual cost.
@Suite struct SharedBudgetTests {
    final class Ledger: SharedBudget, @unchecked Sendable {
        private let lock = NSLock()
        private var spent = 0.0
        private(set) var settled: [(Double, Double)] = []
        let limit: Double
        init(limit: Double, spent: Double) { self.limit = limit; self.spent = spent }
        var total: Double { lock.withLock { spent } }
        func reserve(_ estimate: Double) -> Bool {
            lock.withLock {
                guard spent + estimate <= limit else { return false }
                spent += estimate
                return true
            }
        }
        func settle(reserved estimate: Double, actual: Double) {
            lock.withLock { spent += actual - estimate; settled.append((estimate, actual)) }
        }
    }

    @Test func theSharedBudgetStopsSendingWhenOtherProcessesSpentIt() async {
        // Other workers already spent 0.9 of the run's 1.0; this process's own limit alone would allow more.
        let ledger = Ledger(limit: 1.0, spent: 0.9)
        let budget = Budget(stageLimit: 1.0, dailyLimit: nil)
        let first = await Budget.$shared.withValue(ledger) { await budget.reserve(0.06) }
        #expect(first)
        await Budget.$shared.withValue(ledger) { await budget.settle(reserved: 0.06, actual: 0.05) }
        #expect(abs(ledger.total - 0.95) < 1e-9)
        let second = await Budget.$shared.withValue(ledger) { await budget.reserve(0.06) }
        #expect(!second)
        #expect(await budget.stopReason?.contains("shared budget_usd reached") == true)
        // Once stopped, nothing more is sent, even a call that would fit.
        #expect(await !Budget.$shared.withValue(ledger) { await budget.reserve(0.01) })
    }

    @Test func aDailyCapReservesFromItsSharedLedgerAndNeverFromTheStagesBudget() async {
        // Other workers already spent 0.9 of the provider's 1.0 today; this process's own daily limit alone would allow more.
        let stage = Ledger(limit: 10, spent: 0)
        let day = Ledger(limit: 1.0, spent: 0.9)
        let budget = Budget(stageLimit: nil, dailyLimit: 1.0, spentBefore: 0, sharedDaily: day)
        #expect(await Budget.$shared.withValue(stage) { await budget.reserve(0.06) })
        await Budget.$shared.withValue(stage) { await budget.settle(reserved: 0.06, actual: 0.05) }
        #expect(abs(day.total - 0.95) < 1e-9)
        #expect(stage.total == 0)  // the stage's budget is spent by the stage's Budget, once, not by every provider's too
        #expect(await !Budget.$shared.withValue(stage) { await budget.reserve(0.06) })
        #expect(await budget.stopReason?.contains("daily cap 1.0000 reached across the queue's workers") == true)
        #expect(stage.total == 0)
    }

    @Test func withoutASharedBudgetOnlyTheOwnLimitsApply() async {
        let budget = Budget(stageLimit: 1.0, dailyLimit: nil)
        #expect(await budget.reserve(0.9))
        #expect(await !budget.reserve(0.2))
    }
}
