import Foundation
import Lake

/// The JSON Schema subset AgentShop checks model output against: `type` (one name or a list;
/// integer, number, string, boolean, array, object, null), `properties`, `required`,
/// `additionalProperties: false`, `enum`, `items`, `minimum`/`maximum`, `minLength`/`maxLength`,
/// `minItems`/`maxItems`. `description` and `title` are allowed and ignored. Any other keyword is
/// refused when the schema is read, so that a schema never promises a check that is not made.
public struct JSONSchema: Sendable, Equatable {
    public indirect enum Items: Sendable, Equatable { case schema(JSONSchema) }

    public var types: [String]?
    public var properties: [(String, JSONSchema)]
    public var required: [String]
    public var additionalProperties: Bool
    public var enumValues: [JSONValue]?
    public var items: Items?
    public var minimum: Double?
    public var maximum: Double?
    public var minLength: Int?
    public var maxLength: Int?
    public var minItems: Int?
    public var maxItems: Int?
    /// The schema as written, for prompts and cache keys.
    public let source: JSONValue

    public static let typeNames = ["integer", "number", "string", "boolean", "array", "object", "null"]
    static let keywords: Set<String> = ["type", "properties", "required", "additionalProperties", "enum", "items",
                                        "minimum", "maximum", "minLength", "maxLength", "minItems", "maxItems",
                                        "description", "title"]

    public static func == (a: JSONSchema, b: JSONSchema) -> Bool { a.source == b.source }

    /// Reads a schema; the error names the keyword path that is wrong (`properties.score.minimum`).
    public init(_ value: JSONValue) throws(SchemaError) {
        try self.init(value, path: "")
    }

    private init(_ value: JSONValue, path: String) throws(SchemaError) {
        source = value
        properties = []
        required = []
        additionalProperties = true
        guard let object = value.objectValue else {
            throw SchemaError(path: path, reason: "a schema is an object, found \(Self.describe(value))")
        }
        func at(_ key: String) -> String { path.isEmpty ? key : path + "." + key }
        for entry in object where !Self.keywords.contains(entry.key) {
            throw SchemaError(path: at(entry.key), reason: "unsupported keyword '\(entry.key)' (supported: \(Self.keywords.sorted().joined(separator: ", ")))")
        }
        if let type = object["type"] {
            let names: [String]
            switch type {
            case .string(let s): names = [s]
            case .array(let list): names = list.compactMap(\.stringValue)
                if names.count != list.count { throw SchemaError(path: at("type"), reason: "a list of type names holds only strings") }
            default: throw SchemaError(path: at("type"), reason: "expected a type name or a list of them")
            }
            for name in names where !Self.typeNames.contains(name) {
                throw SchemaError(path: at("type"), reason: "unknown type '\(name)' (one of \(Self.typeNames.joined(separator: ", ")))")
            }
            types = names
        }
        if let props = object["properties"] {
            guard let map = props.objectValue else { throw SchemaError(path: at("properties"), reason: "expected an object of schemas") }
            for entry in map {
                properties.append((entry.key, try JSONSchema(entry.value, path: at("properties") + "." + entry.key)))
            }
        }
        if let req = object["required"] {
            guard let list = req.arrayValue, list.allSatisfy({ $0.stringValue != nil }) else {
                throw SchemaError(path: at("required"), reason: "expected a list of property names")
            }
            required = list.compactMap(\.stringValue)
        }
        if let extra = object["additionalProperties"] {
            guard case .bool(let allowed) = extra else {
                throw SchemaError(path: at("additionalProperties"), reason: "only true or false is supported")
            }
            additionalProperties = allowed
        }
        if let values = object["enum"] {
            guard let list = values.arrayValue, !list.isEmpty else { throw SchemaError(path: at("enum"), reason: "expected a non-empty list") }
            enumValues = list
        }
        if let item = object["items"] { items = .schema(try JSONSchema(item, path: at("items"))) }
        func number(_ key: String) throws(SchemaError) -> Double? {
            guard let v = object[key] else { return nil }
            guard let d = v.doubleValue else { throw SchemaError(path: at(key), reason: "expected a number") }
            return d
        }
        func count(_ key: String) throws(SchemaError) -> Int? {
            guard let v = object[key] else { return nil }
            guard case .int(let i) = v, i >= 0 else { throw SchemaError(path: at(key), reason: "expected a non-negative integer") }
            return Int(i)
        }
        minimum = try number("minimum")
        maximum = try number("maximum")
        minLength = try count("minLength")
        maxLength = try count("maxLength")
        minItems = try count("minItems")
        maxItems = try count("maxItems")
    }

    /// Every violation, in document order; empty when the value conforms. `limit` stops early.
    public func validate(_ value: JSONValue, limit: Int = 20) -> [SchemaViolation] {
        var out: [SchemaViolation] = []
        check(value, path: "$", into: &out, limit: limit)
        return out
    }

    private func check(_ value: JSONValue, path: String, into out: inout [SchemaViolation], limit: Int) {
        guard out.count < limit else { return }
        if let types, !types.contains(where: { Self.matches(value, type: $0) }) {
            out.append(SchemaViolation(path: path, reason: "expected \(types.joined(separator: " or ")), found \(Self.describe(value))"))
            return
        }
        if let enumValues, !enumValues.contains(where: { Self.equal($0, value) }) {
            let choices = enumValues.map { $0.serialized() }.joined(separator: ", ")
            out.append(SchemaViolation(path: path, reason: "expected one of \(choices), found \(value.serialized())"))
        }
        switch value {
        case .int, .bigInteger, .double:
            let d = value.doubleValue!
            if let minimum, d < minimum { out.append(SchemaViolation(path: path, reason: "\(Self.format(d)) is below the minimum \(Self.format(minimum))")) }
            if let maximum, d > maximum { out.append(SchemaViolation(path: path, reason: "\(Self.format(d)) is above the maximum \(Self.format(maximum))")) }
        case .string(let s):
            let length = s.count
            if let minLength, length < minLength { out.append(SchemaViolation(path: path, reason: "\(length) characters, fewer than minLength \(minLength)")) }
            if let maxLength, length > maxLength { out.append(SchemaViolation(path: path, reason: "\(length) characters, more than maxLength \(maxLength)")) }
        case .array(let list):
            if let minItems, list.count < minItems { out.append(SchemaViolation(path: path, reason: "\(list.count) items, fewer than minItems \(minItems)")) }
            if let maxItems, list.count > maxItems { out.append(SchemaViolation(path: path, reason: "\(list.count) items, more than maxItems \(maxItems)")) }
            if case .schema(let itemSchema) = items {
                for (i, item) in list.enumerated() { itemSchema.check(item, path: "\(path)[\(i)]", into: &out, limit: limit) }
            }
        case .object(let object):
            for name in required where object[name] == nil {
                out.append(SchemaViolation(path: path, reason: "missing required property '\(name)'"))
            }
            for entry in object {
                if let schema = properties.first(where: { $0.0 == entry.key })?.1 {
                    schema.check(entry.value, path: path + "." + entry.key, into: &out, limit: limit)
                } else if !additionalProperties {
                    out.append(SchemaViolation(path: path + "." + entry.key, reason: "property '\(entry.key)' is not allowed (additionalProperties is false)"))
                }
            }
        default: break
        }
        if out.count > limit { out.removeLast(out.count - limit) }
    }

    static func matches(_ value: JSONValue, type: String) -> Bool {
        switch (type, value) {
        case ("null", .null), ("boolean", .bool), ("string", .string), ("array", .array), ("object", .object): return true
        case ("number", .int), ("number", .bigInteger), ("number", .double), ("integer", .int), ("integer", .bigInteger):
            return true
        case ("integer", .double(let d)): return d.rounded() == d && d.isFinite
        default: return false
        }
    }

    /// JSON equality where 1 and 1.0 are the same number.
    static func equal(_ a: JSONValue, _ b: JSONValue) -> Bool {
        if let x = a.doubleValue, let y = b.doubleValue { return x == y }
        return a == b
    }

    static func describe(_ value: JSONValue) -> String {
        switch value {
        case .null: return "null"
        case .bool: return "a boolean"
        case .int, .bigInteger: return "an integer"
        case .double: return "a number"
        case .string: return "a string"
        case .array: return "an array"
        case .object: return "an object"
        }
    }

    static func format(_ d: Double) -> String {
        d.rounded() == d && abs(d) < 1e15 ? String(Int64(d)) : String(d)
    }
}

/// Where a value breaks its schema: a JSONPath-like location (`$.topics[2]`) and why.
public struct SchemaViolation: Sendable, Equatable, CustomStringConvertible {
    public let path: String
    public let reason: String
    public init(path: String, reason: String) {
        self.path = path
        self.reason = reason
    }
    public var description: String { "\(path): \(reason)" }
}

/// A schema that cannot be used, with the keyword path of the problem.
public struct SchemaError: Error, Sendable, Equatable, CustomStringConvertible {
    public let path: String
    public let reason: String
    public var description: String { path.isEmpty ? reason : "\(path): \(reason)" }
}
