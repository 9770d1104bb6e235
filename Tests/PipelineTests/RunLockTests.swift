import Foundation
import Testing
import TestSupport
@testable import Lake
@testable import Pipeline

struct RunLockTests {
    /// Holds a lock so that another thread can release it.
    private final class Holder: @unchecked Sendable {
        private let lock = NSLock()
        private var held: RunLock?
        init(_ held: RunLock) { self.held = held }
        func release() { lock.withLock { held = nil } }
    }

    private func expectBusy(_ lake: Lake, _ pipeline: String, wait: Double, sourceLocation: SourceLocation = #_sourceLocation) -> String? {
        do throws(RunLock.Failure) {
            _ = try RunLock(lake: lake, pipeline: pipeline, wait: wait, owner: "second")
            Issue.record("the second lock was granted", sourceLocation: sourceLocation)
            return nil
        } catch {
            guard case .busy(let holder) = error else {
                Issue.record("expected busy, got \(error)", sourceLocation: sourceLocation)
                return nil
            }
            return holder.description
        }
    }

    @Test func secondLockFailsBusyNamingTheHolder() throws {
        let tmp = try TemporaryDirectory()
        let lake = Lake(root: tmp.path)
        let first = try RunLock(lake: lake, pipeline: "daily", wait: 0, owner: "pid 123 run R1")
        #expect(first.path == lake.stateFolder + "/locks/daily.lock")
        #expect(expectBusy(lake, "daily", wait: 0) == "pid 123 run R1")
        withExtendedLifetime(first) {}
    }

    @Test func succeedsAfterTheFirstIsReleased() throws {
        let tmp = try TemporaryDirectory()
        let lake = Lake(root: tmp.path)
        var first: RunLock? = try RunLock(lake: lake, pipeline: "daily", wait: 0, owner: "first")
        #expect(expectBusy(lake, "daily", wait: 0) == "first")
        first = nil
        _ = first
        let second = try RunLock(lake: lake, pipeline: "daily", wait: 0, owner: "second")
        #expect(try String(contentsOfFile: second.path, encoding: .utf8) == "second\n")
    }

    @Test func waitsAndSucceedsWhenTheHolderReleases() throws {
        let tmp = try TemporaryDirectory()
        let lake = Lake(root: tmp.path)
        let holder = Holder(try RunLock(lake: lake, pipeline: "daily", wait: 0, owner: "first"))
        let began = Date()
        DispatchQueue.global().asyncAfter(deadline: .now() + 0.3) { holder.release() }
        let second = try RunLock(lake: lake, pipeline: "daily", wait: 10, owner: "second")
        let waited = Date().timeIntervalSince(began)
        #expect(waited >= 0.25, "it cannot have the lock before the holder let go")
        #expect(waited < 9, "it took the lock when released, not at the end of the 10s wait")
        withExtendedLifetime(second) {}
    }

    @Test func givesUpAfterTheWait() throws {
        let tmp = try TemporaryDirectory()
        let lake = Lake(root: tmp.path)
        let first = try RunLock(lake: lake, pipeline: "daily", wait: 0, owner: "first")
        let began = Date()
        #expect(expectBusy(lake, "daily", wait: 0.3) == "first")
        #expect(Date().timeIntervalSince(began) >= 0.3)
        withExtendedLifetime(first) {}
    }

    @Test func pipelinesLockSeparately() throws {
        let tmp = try TemporaryDirectory()
        let lake = Lake(root: tmp.path)
        let a = try RunLock(lake: lake, pipeline: "a", wait: 0, owner: "a")
        let b = try RunLock(lake: lake, pipeline: "b", wait: 0, owner: "b")
        #expect(a.path != b.path)
    }

    @Test func emptyHolderTextReadsAsAnotherProcess() {
        #expect(RunLock.Holder(text: "").description == "another process")
    }
}
