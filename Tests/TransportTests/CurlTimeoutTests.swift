import Testing
@testable import Transport

/// Timeouts reach libcurl as milliseconds in a C long: never a trap, and never a 0 ("no timeout")
/// made out of a short positive timeout.
@Suite struct CurlTimeoutTests {
    @Test(arguments: [
        (0.0, 0), (-3, 0), (0.0001, 1), (0.5, 500), (30, 30_000), (1e300, Int(Int32.max)), (.infinity, Int(Int32.max)),
        (.nan, Int(Int32.max)),
    ] as [(Double, Int)])
    func secondsBecomeMilliseconds(seconds: Double, expected: Int) {
        #expect(CurlGlobal.milliseconds(seconds) == expected)
    }
}
