import Foundation

/// Keys a projected read notices without building them: any key that equals one of `names` when
/// ASCII letters are folded to lower case (as SQLite compares column names), except the keys of
/// `exempt`. Made for a query over columns named from a prefix of its files: a key of such a
/// name past the prefix would change what the query means. Safe to share between parse threads.
public final class KeyWatch: @unchecked Sendable {
    /// Bit n is set when a name has n bytes (bit 63: 63 or more): most keys are passed over on their length.
    let lengths: UInt64
    /// The folded names one after the other, and where each starts (then the end of the last).
    private let folded: [UInt8]
    private let starts: [Int]
    private let exempt: [[UInt8]]
    private let lock = NSLock()
    private var noticed = false

    /// `names` are folded here; `exempt` keys are compared exactly.
    public init(names: [String], exempt: [String] = []) {
        var folded: [UInt8] = []
        var starts = [0]
        var lengths: UInt64 = 0
        for name in names {
            folded += name.utf8.map(Self.fold)
            starts.append(folded.count)
            lengths |= 1 << UInt64(min(name.utf8.count, 63))
        }
        self.folded = folded
        self.starts = starts
        self.lengths = lengths
        self.exempt = exempt.map { Array($0.utf8) }
    }

    /// Whether a watched key was read.
    public var seen: Bool {
        lock.lock()
        defer { lock.unlock() }
        return noticed
    }

    @inline(__always)
    static func fold(_ byte: UInt8) -> UInt8 { byte >= 0x41 && byte <= 0x5A ? byte | 0x20 : byte }

    /// Whether a name may have `count` bytes.
    @inline(__always)
    func mayHold(_ count: Int) -> Bool { lengths & (1 << UInt64(min(count, 63))) != 0 }

    func check(_ key: UnsafeRawBufferPointer) {
        let count = key.count
        let matched = folded.withUnsafeBufferPointer { names -> Bool in
            for n in 0..<(starts.count - 1) where starts[n + 1] - starts[n] == count {
                let start = starts[n]
                var same = true
                for j in 0..<count where names[start + j] != Self.fold(key[j]) {
                    same = false
                    break
                }
                if same && !exempt.contains(where: { $0.elementsEqual(key) }) { return true }
            }
            return false
        }
        guard matched else { return }
        lock.lock()
        noticed = true
        lock.unlock()
    }
}
