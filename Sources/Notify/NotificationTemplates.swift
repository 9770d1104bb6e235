/// Where e-mail templates come from, by name: the store's `email_templates` rows (Runs adapts the
/// store to this), a fixed table in tests, or nothing. Notify reads templates only through this, so it
/// never knows about SQL.
public protocol NotificationTemplates: Sendable {
    /// The active template stored under `name`, or nil when there is none.
    func template(named name: String) -> EmailTemplate?
}

/// Templates held in memory, by name.
public struct TemplateTable: NotificationTemplates, Equatable {
    public var templates: [String: EmailTemplate]

    public init(_ templates: [String: EmailTemplate] = [:]) { self.templates = templates }

    /// One template per event, under the event's store name (`EmailTemplate.storeName(for:)`).
    public init(events: [NotificationEvent: EmailTemplate]) {
        templates = Dictionary(uniqueKeysWithValues: events.map { (EmailTemplate.storeName(for: $0.key), $0.value) })
    }

    public func template(named name: String) -> EmailTemplate? { templates[name] }
}
