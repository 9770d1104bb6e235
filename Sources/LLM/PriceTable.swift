import Foundation
import Lake

/// USD per one million input and output tokens.
public struct ModelPrice: Sendable, Equatable, Codable {
    public var inputPerMillion: Double
    public var outputPerMillion: Double

    public init(inputPerMillion: Double, outputPerMillion: Double) {
        self.inputPerMillion = inputPerMillion
        self.outputPerMillion = outputPerMillion
    }

    public func cost(_ usage: TokenUsage) -> Double {
        (Double(usage.input) * inputPerMillion + Double(usage.output) * outputPerMillion) / 1_000_000
    }
}

/// Prices per provider and model: the table shipped with AgentShop (`PriceTable.shipped`, from
/// `Sources/LLM/Resources/llm_prices.json`, carried in the binary as `ShippedPrices.swift` so that
/// it is found wherever the binary runs), with an override file's entries over it.
///
/// The file format (shipped and override alike) is JSON:
/// `{"as_of": "…", "providers": {"groq": {"llama-3.1-8b-instant": {"input": 0.05, "output": 0.08}, …}}}`,
/// prices in USD per 1M tokens. A model key `*` prices every model of that provider (offline
/// and ollama cost 0). A model is found by its exact name, else by the longest listed name it
/// starts with followed by `-`, `:` or `@` (so `gpt-4o-mini-2024-07-18` and `claude-sonnet-4-5-20250929`
/// find their family), else by `*`.
public struct PriceTable: Sendable, Equatable {
    public private(set) var prices: [ProviderKind: [String: ModelPrice]]
    /// The date the shipped prices were read from the providers' pages, and of the override if it says.
    public private(set) var asOf: String?
    /// The override file used, if any.
    public private(set) var overridePath: String?

    public init(prices: [ProviderKind: [String: ModelPrice]], asOf: String? = nil) {
        self.prices = prices
        self.asOf = asOf
    }

    /// The variable naming an override file.
    public static let overrideVariable = "AGENTSHOP_LLM_PRICES"

    /// The override file for a project: `$AGENTSHOP_LLM_PRICES`, else `<project>/pipelines/llm_prices.json` when it exists.
    public static func overridePath(environment: [String: String], projectFolder: String) -> String? {
        if let path = environment[overrideVariable], !path.isEmpty { return path }
        let candidate = projectFolder + "/pipelines/llm_prices.json"
        return FileManager.default.fileExists(atPath: candidate) ? candidate : nil
    }

    /// The shipped table, with `overridePath`'s entries over it (model by model). A missing or
    /// malformed override file is an error naming the file.
    public static func load(overridePath: String?) throws -> PriceTable {
        var table = shipped
        guard let overridePath else { return table }
        let text: String
        do {
            text = try String(contentsOfFile: overridePath, encoding: .utf8)
        } catch {
            throw PriceTableError(path: overridePath, message: "cannot read the price file: \(error.localizedDescription)")
        }
        let other = try parse(text, path: overridePath)
        for (provider, models) in other.prices {
            table.prices[provider, default: [:]].merge(models) { _, new in new }
        }
        table.asOf = other.asOf ?? table.asOf
        table.overridePath = overridePath
        return table
    }

    /// The price of `model` on `provider`; nil when the table does not know it.
    public func price(provider: ProviderKind, model: String) -> ModelPrice? {
        guard let models = prices[provider] else { return nil }
        if let exact = models[model] { return exact }
        var best: (name: String, price: ModelPrice)?
        for (name, price) in models where name != "*" && model.count > name.count && model.hasPrefix(name) {
            let next = model[model.index(model.startIndex, offsetBy: name.count)]
            guard next == "-" || next == ":" || next == "@" else { continue }
            if best == nil || name.count > best!.name.count { best = (name, price) }
        }
        return best?.price ?? models["*"]
    }

    /// USD for `usage` on `model`; nil when the model has no price.
    public func cost(provider: ProviderKind, model: String, usage: TokenUsage) -> Double? {
        price(provider: provider, model: model)?.cost(usage)
    }

    /// Parses the JSON price format; every problem names the file and the entry.
    public static func parse(_ text: String, path: String) throws -> PriceTable {
        let json: JSONValue
        do {
            json = try JSONValue.parse(text)
        } catch {
            throw PriceTableError(path: path, message: "not JSON: \(error)")
        }
        guard let providers = json.member("providers")?.objectValue else {
            throw PriceTableError(path: path, message: "expected an object with a \"providers\" object")
        }
        var prices: [ProviderKind: [String: ModelPrice]] = [:]
        for entry in providers {
            guard let kind = ProviderKind(rawValue: entry.key) else {
                throw PriceTableError(path: path, message: "providers.\(entry.key): unknown provider (known: "
                    + ProviderKind.allCases.map(\.rawValue).joined(separator: ", ") + ")")
            }
            guard let models = entry.value.objectValue else {
                throw PriceTableError(path: path, message: "providers.\(entry.key): expected an object of models")
            }
            for model in models {
                let input = model.value.member("input")?.doubleValue
                let output = model.value.member("output")?.doubleValue
                guard let input, let output, input >= 0, output >= 0 else {
                    throw PriceTableError(path: path, message: "providers.\(entry.key).\(model.key): expected "
                        + "{\"input\": USD per 1M tokens, \"output\": USD per 1M tokens}, non-negative numbers")
                }
                prices[kind, default: [:]][model.key] = ModelPrice(inputPerMillion: input, outputPerMillion: output)
            }
        }
        return PriceTable(prices: prices, asOf: json.member("as_of")?.stringValue)
    }

    /// The prices shipped with this build.
    public static let shipped: PriceTable = {
        do {
            return try parse(embedded_llm_prices_json, path: "<shipped llm_prices.json>")
        } catch {
            fatalError("the shipped price table does not parse: \(error)")
        }
    }()

    /// The table as JSON in the file format (sorted), e.g. to start an override file from.
    public func json() -> String {
        var providers = JSONObject()
        for kind in prices.keys.sorted() {
            var models = JSONObject()
            for (name, price) in prices[kind]!.sorted(by: { $0.key < $1.key }) {
                models[name] = ["input": .double(price.inputPerMillion), "output": .double(price.outputPerMillion)]
            }
            providers[kind.rawValue] = .object(models)
        }
        var root = JSONObject()
        if let asOf { root["as_of"] = .string(asOf) }
        root["unit"] = "USD per 1M tokens"
        root["providers"] = .object(providers)
        return JSONValue.object(root).serialized()
    }
}

/// A price file that cannot be used.
public struct PriceTableError: Error, CustomStringConvertible, Sendable {
    public let path: String
    public let message: String
    public var description: String { "\(path): \(message)" }
}
