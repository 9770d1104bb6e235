import Postgres
import Store
import Testing

/// Expects `body` to throw an error that `kind` matches (`StoreError.notFound ~= error`).
func expectError(_ kind: StoreError, sourceLocation: SourceLocation = #_sourceLocation, _ body: () throws -> Void) {
    do {
        try body()
        Issue.record("expected \(kind.reason)", sourceLocation: sourceLocation)
    } catch {
        #expect(kind ~= error, "\(error)", sourceLocation: sourceLocation)
    }
}

/// Expects `body` to throw a `PGError` of `kind`'s kind.
func expectError(_ kind: PGError, sourceLocation: SourceLocation = #_sourceLocation, _ body: () throws -> Void) {
    do {
        try body()
        Issue.record("expected \(kind.message)", sourceLocation: sourceLocation)
    } catch {
        #expect(kind ~= error, "\(error)", sourceLocation: sourceLocation)
    }
}
