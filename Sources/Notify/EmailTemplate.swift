import Foundation

/// A subject and a text body with `{{name}}` placeholders: the store's `email_templates` rows, or built-in text.
public struct EmailTemplate: Sendable, Equatable {
    public var subject: String
    public var body: String

    public init(subject: String, body: String) {
        self.subject = subject
        self.body = body
    }

    /// The store's template name an event is sent with, unless `name(for:)` picks a closer one: the seed's
    /// `automation_error` for a failure, `automation_success` for a success, `pipeline_budget` (no seed row:
    /// the built-in text, or a row the user adds) for a budget stop.
    public static func storeName(for event: NotificationEvent) -> String {
        switch event {
        case .failure: return "automation_error"
        case .success: return "automation_success"
        case .budget: return "pipeline_budget"
        }
    }

    /// The template a notification is sent with: as `storeName(for:)`, except that a succeeded run in which an
    /// enrich stage ran (it analysed records with an LLM, rather than skipping as up to date) is told with
    /// `data_analysis_complete`.
    public static func name(for notification: RunNotification) -> String {
        if notification.event == .success && !notification.analysisStages.isEmpty { return "data_analysis_complete" }
        return storeName(for: notification.event)
    }

    /// The seed's notification templates, by name: the rows migration 3 puts in the store's `email_templates`,
    /// and the text used when there is no store (or the row is gone or inactive). A test checks that the two agree.
    public static let seeded: [(name: String, template: EmailTemplate, variables: [String])] = [
        ("automation_success",
         EmailTemplate(subject: "[AgentShop] {{pipeline}} succeeded",
                       body: "Run {{run_id}} of pipeline {{pipeline}} {{status}} in {{duration}}.\n\nRecords written: {{records}}\n"
                           + "Failed stages: {{failures}}\nLLM cost: {{llm_cost}}\n\nStages:\n{{stages}}\n\nLog: {{log_file}}\n"),
         ["pipeline", "run_id", "status", "duration", "records", "failures", "llm_cost", "stages", "log_file"]),
        ("automation_error",
         EmailTemplate(subject: "[AgentShop] {{pipeline}} failed",
                       body: "Run {{run_id}} of pipeline {{pipeline}} failed at stage {{stage}} after {{duration}}:\n\n{{error}}\n\n"
                           + "Failed stages: {{failures}}\nErrors:\n{{errors}}\n\nRecords written: {{records}}\nLLM cost: {{llm_cost}}\n\n"
                           + "Stages:\n{{stages}}\n\nLog: {{log_file}}\n"),
         ["pipeline", "run_id", "stage", "duration", "error", "failures", "errors", "records", "llm_cost", "stages",
          "log_file"]),
        ("data_analysis_complete",
         EmailTemplate(subject: "[AgentShop] {{pipeline}}: analysis of {{analysed_records}} records complete",
                       body: "Run {{run_id}} of pipeline {{pipeline}} analysed {{analysed_records}} records in {{analysis_stages}} "
                           + "and {{status}} in {{duration}}.\n\nRecords written: {{records}}\nLLM cost: {{llm_cost}}\n\n"
                           + "Stages:\n{{stages}}\n\nLog: {{log_file}}\n"),
         ["pipeline", "run_id", "status", "duration", "analysed_records", "analysis_stages", "records", "llm_cost", "stages",
          "log_file"]),
        ("weekly_report",
         EmailTemplate(subject: "[AgentShop] Runs {{period_start}} to {{period_end}}: {{runs}} runs, {{failed}} failed",
                       body: "Runs from {{period_start}} to {{period_end}}: {{runs}} ({{succeeded}} succeeded, {{failed}} failed, "
                           + "{{interrupted}} interrupted).\nRecords written: {{records}}\nLLM cost: {{llm_cost}}\n\n"
                           + "Per pipeline:\n{{pipelines}}\n\nFailures:\n{{failures}}\n"),
         ["period_start", "period_end", "runs", "succeeded", "failed", "interrupted", "records", "llm_cost", "pipelines",
          "failures"]),
    ]

    /// The built-in text of a template name: the seed's four, and `pipeline_budget`.
    public static func builtIn(named name: String) -> EmailTemplate? {
        if name == "pipeline_budget" {
            return EmailTemplate(subject: "[AgentShop] {{pipeline}} reached its budget",
                                 body: "Run {{run_id}} of pipeline {{pipeline}} stopped at its budget in stage {{stage}}.\n\n"
                                     + "LLM cost: {{llm_cost}}\n\nStages:\n{{stages}}\n\nLog: {{log_file}}\n")
        }
        return seeded.first { $0.name == name }?.template
    }

    /// Used when the store has no template for the event (or there is no store).
    public static func builtIn(for event: NotificationEvent) -> EmailTemplate {
        builtIn(named: storeName(for: event))!
    }

    /// Replaces `{{name}}` (spaces inside the braces allowed) with the variable; unknown names become empty.
    public static func render(_ text: String, _ variables: [String: String]) -> String {
        var out = ""
        var rest = text[...]
        while let open = rest.range(of: "{{") {
            out += rest[..<open.lowerBound]
            guard let close = rest[open.upperBound...].range(of: "}}") else {
                rest = rest[open.lowerBound...]
                break
            }
            let name = rest[open.upperBound..<close.lowerBound].trimmingCharacters(in: .whitespaces)
            out += variables[name] ?? ""
            rest = rest[close.upperBound...]
        }
        return out + rest
    }

    public func rendered(_ variables: [String: String]) -> (subject: String, body: String) {
        // A subject is one line, whatever a variable held.
        let subject = Self.render(subject, variables).split(whereSeparator: \.isNewline).joined(separator: " ")
        return (subject, Self.render(body, variables))
    }
}
