import Foundation
import Lake

/// Counts distinct values exactly up to `exactLimit`, then estimates with HyperLogLog
/// (2^14 registers, 16 KiB, standard error about 0.8%). Memory stays bounded either way.
public struct DistinctCounter: Sendable {
    public static let exactLimit = 10_000
    private static let precision = 14
    private var exact: Set<UInt64>? = []
    private var registers: [UInt8] = []

    public init() {}

    /// Whether the count is still exact.
    public var isExact: Bool { exact != nil }

    public mutating func add(_ value: JSONValue) {
        add(hash: Self.hash(value.canonicalText()))
    }

    mutating func add(hash: UInt64) {
        if exact != nil {
            exact!.insert(hash)
            if exact!.count > Self.exactLimit {
                registers = [UInt8](repeating: 0, count: 1 << Self.precision)
                for h in exact! { addToSketch(h) }
                exact = nil
            }
        } else {
            addToSketch(hash)
        }
    }

    private mutating func addToSketch(_ hash: UInt64) {
        let index = Int(hash >> UInt64(64 - Self.precision))
        let rest = hash << UInt64(Self.precision)
        let rank = UInt8(min(rest.leadingZeroBitCount, 64 - Self.precision) + 1)
        if rank > registers[index] { registers[index] = rank }
    }

    /// The number of distinct values (exact, or the HyperLogLog estimate).
    public var count: Int {
        if let exact { return exact.count }
        let m = Double(registers.count)
        var sum = 0.0
        var zeros = 0
        for r in registers {
            sum += pow(2, -Double(r))
            if r == 0 { zeros += 1 }
        }
        let alpha = 0.7213 / (1 + 1.079 / m)
        let estimate = alpha * m * m / sum
        if estimate <= 2.5 * m && zeros > 0 { return Int((m * log(m / Double(zeros))).rounded()) }  // small range
        return Int(estimate.rounded())
    }

    /// 64-bit FNV-1a, then a splitmix64 finaliser so that the high bits (the register index) mix well.
    static func hash(_ text: String) -> UInt64 {
        var h: UInt64 = 0xcbf2_9ce4_8422_2325
        for byte in text.utf8 {
            h ^= UInt64(byte)
            h = h &* 0x0000_0100_0000_01B3
        }
        h = (h ^ (h >> 30)) &* 0xbf58_476d_1ce4_e5b9
        h = (h ^ (h >> 27)) &* 0x94d0_49bb_1331_11eb
        return h ^ (h >> 31)
    }
}

/// What `lake schema` reports for one field, over every record.
public struct FieldProfile: Sendable {
    /// Dotted path (`offers.price`); `tags[]` for the elements of an array.
    public let path: String
    /// Records (or array elements) holding the field with a non-null value, by JSON type, in
    /// first-seen order: `string`, `integer`, `number`, `boolean`, `object`, `array`.
    public private(set) var types: [(name: String, count: Int)] = []
    /// Values that are null.
    public private(set) var nulls = 0
    /// Values seen (null included); records without the field are `rows - present` for top-level fields.
    public private(set) var present = 0
    public private(set) var distinct = DistinctCounter()
    /// The first non-null value, as JSON text.
    public private(set) var example: String?

    init(path: String) { self.path = path }

    mutating func add(_ value: JSONValue) {
        present += 1
        guard let type = Self.typeName(value) else { nulls += 1; return }
        if let i = types.firstIndex(where: { $0.name == type }) { types[i].count += 1 } else { types.append((type, 1)) }
        switch value {
        case .object, .array: break  // their members are profiled; whole objects are rarely worth counting
        default: distinct.add(value)
        }
        if example == nil {
            let text = value.serialized()
            example = text.count > 60 ? String(text.prefix(59)) + "…" : text
        }
    }

    static func typeName(_ value: JSONValue) -> String? {
        switch value {
        case .null: return nil
        case .bool: return "boolean"
        case .int, .bigInteger: return "integer"
        case .double: return "number"
        case .string: return "string"
        case .array: return "array"
        case .object: return "object"
        }
    }

    /// `string`, or `integer 3, number 2` when several.
    public var typesDescription: String {
        if types.isEmpty { return "null" }
        if types.count == 1 { return types[0].name }
        return types.map { "\($0.name) \($0.count)" }.joined(separator: ", ")
    }

    /// Whether the field is an object or array whose distinct count means nothing.
    public var isContainerOnly: Bool { !types.isEmpty && types.allSatisfy { $0.name == "object" || $0.name == "array" } }
}

/// The schema of a dataset as seen in every record, not a sample: each field by dotted path,
/// in first-seen order (a key first seen on the last record is there).
public struct SchemaProfile: Sendable {
    public private(set) var rows = 0
    private var index: [String: Int] = [:]
    public private(set) var fields: [FieldProfile] = []
    /// Nested objects deeper than this are profiled as whole values.
    public let maxDepth: Int

    public init(maxDepth: Int = 8) { self.maxDepth = maxDepth }

    public mutating func add(_ record: JSONObject) {
        rows += 1
        add(object: record, prefix: "", depth: 0)
    }

    private mutating func add(object: JSONObject, prefix: String, depth: Int) {
        for entry in object {
            add(value: entry.value, path: prefix.isEmpty ? entry.key : prefix + "." + entry.key, depth: depth)
        }
    }

    private mutating func add(value: JSONValue, path: String, depth: Int) {
        let slot: Int
        if let existing = index[path] { slot = existing } else {
            slot = fields.count
            index[path] = slot
            fields.append(FieldProfile(path: path))
        }
        fields[slot].add(value)
        guard depth < maxDepth else { return }
        switch value {
        case .object(let object): add(object: object, prefix: path, depth: depth + 1)
        case .array(let items): for item in items { add(value: item, path: path + "[]", depth: depth + 1) }
        default: break
        }
    }

    /// Records missing the field: `rows - present` for fields outside arrays (elements of an
    /// array can be more or fewer than the records).
    public func missing(_ field: FieldProfile) -> Int? {
        field.path.contains("[]") ? nil : rows - field.present
    }

    /// Profiles every record of the files.
    public static func of(_ files: [LakePath], policy: MalformedPolicy = .fail,
                          onReject: @escaping (RejectedRecord) -> Void = { _ in }) throws -> SchemaProfile {
        var profile = SchemaProfile()
        try RecordBrowser(files: files, policy: policy, onReject: onReject).forEach { profile.add($0) }
        return profile
    }
}
