/// Runs work concurrently and hands the results to `deliver` in the order the work was submitted,
/// so that what a stage writes is the same whatever the number of cores or the order tasks finish in.
///
/// `produce` submits the work, one closure at a time; `submit` waits first while `window` results
/// are in flight or waiting for an earlier one, which bounds memory. A throw from `produce`,
/// `deliver` or a work item cancels the rest and is rethrown.
///
/// ```swift
/// try await orderedConcurrentMap(window: 16, deliver: { try writer.write($0) }) { submit in
///     for batch in batches { try await submit { parse(batch) } }
/// }
/// ```
public func orderedConcurrentMap<Output: Sendable>(
    window: Int,
    deliver: (Output) throws -> Void,
    _ produce: (_ submit: (_ work: @escaping @Sendable () async throws -> Output) async throws -> Void) async throws -> Void
) async throws {
    precondition(window > 0, "orderedConcurrentMap needs a window of at least one")
    // `deliver` runs only while this function does; the compiler cannot see that through `produce`.
    try await withoutActuallyEscaping(deliver) { deliver in
        try await withThrowingTaskGroup(of: (Int, Output).self) { group in
            var submitted = 0
            var delivered = 0
            var finished: [Int: Output] = [:]
            func receive() async throws -> Bool {
                guard let (index, output) = try await group.next() else { return false }
                finished[index] = output
                while let next = finished.removeValue(forKey: delivered) {
                    delivered += 1
                    try deliver(next)
                }
                return true
            }
            try await produce { work in
                while submitted - delivered >= window, try await receive() {}
                let index = submitted
                group.addTask { (index, try await work()) }
                submitted += 1
            }
            while try await receive() {}
        }
    }
}
