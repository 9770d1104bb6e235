import Pipeline

/// Every stage kind AgentShop ships. Each kind is one folder, `Sources/Stages/<Kind>/` (its settings spec
/// `<Kind>Spec.swift` and its binding `<Kind>Stage.swift`); adding a kind is that folder plus one line here.
public enum BuiltinStages {
    public static let registry = StageRegistry([
        ImportStage.kind,
        CommandStage.kind,
        MaterializeStage.kind,
        DumpStage.kind,
        ParseStage.kind,
        AggregateStage.kind,
        SQLStage.kind,
        FetchStage.kind,
        EnrichStage.kind,
        ReportStage.kind,
    ])
}
