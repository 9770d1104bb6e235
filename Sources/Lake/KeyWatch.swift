import Foundation

/// Keys a projected read notices without building them: any key that equals one of `names` when
/// ASCII letters are folded to lower case (as SQLite compares column names), except the keys of
/// `exempt`. Made for a query over columns named from a prefix of its files: a key of such a
/// name past the prefix would change what the query means. Safe to share between parse threads.
public final class KeyWatch: @unchecked Sendable {
    private let names: [[UInt8]]
    private let exempt: [[UInt8]]
    private let lock = NSLock()
    private var noticed = false

    /// `names` are folded here; `exempt` keys are compared exactly.
    public init(names: [String], exempt: [String] = []) {
        self.names = names.map { $0.utf8.map(Self.fold) }
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

    func check<Bytes: Collection>(_ key: Bytes) where Bytes.Element == UInt8 {
        let count = key.count
        for name in names where name.count == count {
            guard zip(name, key).allSatisfy({ $0 == Self.fold($1) }) else { continue }
            if exempt.contains(where: { $0.elementsEqual(key) }) { continue }
            lock.lock()
            noticed = true
            lock.unlock()
            return
        }
    }
}
