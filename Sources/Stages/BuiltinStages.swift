import Pipeline

/// Every stage kind AgentShop ships. One kind per file; add new kinds here.
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
