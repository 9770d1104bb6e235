import Testing
@testable import LLM

/// The stop message gives what was really spent once the calls in flight settled, not what had
/// settled when the limit was hit (it said "spent 0.0000" after three calls that cost 0.21).
@Suite struct BudgetStopReasonTests {
    @Test func theStopReasonGivesTheSpendOfCallsThatSettleAfterTheStop() async {
        let budget = Budget(stageLimit: 0.35, dailyLimit: nil)
        for _ in 0..<3 { #expect(await budget.reserve(0.10)) }
        #expect(await !budget.reserve(0.10))
        #expect(await budget.stopReason == "budget_usd 0.3500 reached (spent 0.0000)")
        for _ in 0..<3 { await budget.settle(reserved: 0.10, actual: 0.07) }
        #expect(await budget.stopReason == "budget_usd 0.3500 reached (spent 0.2100)")
    }

    @Test func theDailyCapReasonCountsTodaysEarlierSpend() async {
        let budget = Budget(stageLimit: nil, dailyLimit: 1.0, spentBefore: 0.5)
        #expect(await budget.reserve(0.4))
        #expect(await !budget.reserve(0.4))
        await budget.settle(reserved: 0.4, actual: 0.3)
        #expect(await budget.stopReason == "daily cap 1.0000 reached (spent today 0.8000)")
    }
}
