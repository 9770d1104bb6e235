import Foundation
import Lake

/// The estimate `agentshop plan` prints for an enrich stage: how many prompts would be sent
/// (distinct, not in the cache), their tokens, and their cost at the price table's prices.
public enum EnrichmentEstimate {
    public static func note(settings: EnrichmentSettings, lake: Lake, files: [LakePath],
                            provider makeProvider: () throws -> EnrichProvider) -> String? {
        if !settings.task.usesModel { return "task cleanup runs locally: no provider calls" }
        let provider: EnrichProvider
        let requests: EnrichRequests
        do {
            provider = try makeProvider()
            requests = try EnrichRequests(settings: settings, choice: settings.providers[0], provider: provider)
        } catch {
            return "the run will refuse the provider: \(error)"
        }
        var target = "\(provider.kind.rawValue)/\(requests.model)"
        if settings.providers.count > 1 {
            target += " (then " + settings.providers.dropFirst().map(\.kind.rawValue).joined(separator: ", ") + " if it is down)"
        }
        guard !files.isEmpty else { return "no estimate for \(target) until its input exists (after the upstream stage has run once)" }
        let cache = ResponseCache(lake: lake)
        var records = 0, missing = 0, cached = 0
        var keys = Set<String>()
        var tokensIn = 0, tokensOut = 0
        var cost = 0.0
        do {
            for file in files {
                let reader = try RecordReader(path: file.absolute, displayPath: file.relative)
                while let record = try reader.next() {
                    records += 1
                    guard let text = try? settings.template.render(record, recordLabel: "",
                                                                   missing: settings.onMissing == .empty ? .empty : .error) else {
                        missing += 1
                        continue
                    }
                    let prompt = requests.prompt(for: text)
                    let key = requests.identity(prompt: prompt).key
                    guard keys.insert(key).inserted else { continue }
                    if cache.lookup(key, ttl: settings.cacheTTL) != nil { cached += 1; continue }
                    let usage = requests.estimatedUsage(requests.request(prompt: prompt, text: text))
                    tokensIn += usage.input
                    tokensOut += usage.output
                    cost += provider.cost(requests.model, usage) ?? 0
                }
            }
        } catch {
            return "no estimate: \(error)"
        }
        let calls = keys.count - cached
        var note = "\(records) records, \(keys.count) distinct prompts, \(cached) cached: \(calls) calls to \(target), "
            + "~\(tokensIn) tokens in, ≤\(tokensOut) out"
        if provider.cost(requests.model, TokenUsage(input: 1, output: 1)) == nil {
            note += ", cost unknown (no price for the model)"
        } else {
            note += String(format: ", est. ≤ $%.4f", cost)
        }
        if let budget = settings.budgetUSD { note += String(format: " (budget_usd %.2f)", budget) }
        if missing > 0 { note += "; \(missing) records lack a field the template uses" }
        return note
    }
}
