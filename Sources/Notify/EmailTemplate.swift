import Foundation

/// A subject and a text body with `{{name}}` placeholders: the store's `email_templates` rows, or built-in text.
public struct EmailTemplate: Sendable, Equatable {
    public var subject: String
    public var body: String

    public init(subject: String, body: String) {
        self.subject = subject
        self.body = body
    }

    /// The store's template name for an event: `pipeline_failure`, `pipeline_success`, `pipeline_budget`.
    public static func storeName(for event: NotificationEvent) -> String { "pipeline_\(event.rawValue)" }

    /// Used when the store has no template for the event (or there is no store).
    public static func builtIn(for event: NotificationEvent) -> EmailTemplate {
        switch event {
        case .failure:
            return EmailTemplate(subject: "[AgentShop] {{pipeline}} failed",
                                 body: "Run {{run_id}} of pipeline {{pipeline}} failed at stage {{stage}} after {{duration}}:\n\n{{error}}\n\nStages:\n{{stages}}\n\nLog: {{log_file}}\n")
        case .success:
            return EmailTemplate(subject: "[AgentShop] {{pipeline}} succeeded",
                                 body: "Run {{run_id}} of pipeline {{pipeline}} succeeded in {{duration}}.\n\nStages:\n{{stages}}\n\nCost: {{cost}}\nLog: {{log_file}}\n")
        case .budget:
            return EmailTemplate(subject: "[AgentShop] {{pipeline}} reached its budget",
                                 body: "Run {{run_id}} of pipeline {{pipeline}} stopped at its budget in stage {{stage}}.\n\nCost: {{cost}}\n\nStages:\n{{stages}}\n\nLog: {{log_file}}\n")
        }
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
