import Postgres

/// The foreign keys from tables a rewrite keeps (orders, …) into tables it empties and refills (products,
/// categories, …), for PostgreSQL: what `StoreFile.rewrite` does with SQLite's foreign keys off. Inside
/// the caller's transaction, `release` notes which row each kept reference points at (by the row's natural
/// key) and drops the constraints, so that emptying the rewritten tables neither cascades into the kept
/// ones nor is refused; after the refill, `restore` checks that every kept reference still points at the
/// row with the same natural key and adds the constraints back (PostgreSQL validates them). A failure
/// throws, and the caller's transaction rolls everything back.
public struct PostgresKeptReferences {
    /// One foreign key from a kept table into a rewritten one.
    struct Constraint {
        let name: String
        let from: String
        let table: String
        let definition: String
        /// For a single-column key: the kept column, the column it refers to, and the referenced table's
        /// natural keys (its unique keys other than that column), in the catalogue's order.
        let column: String?
        let target: String?
        let naturalKeys: [[String]]
    }

    private let connection: PGConnection
    private let constraints: [Constraint]
    /// Per kept reference value, the natural key of the row it pointed at; dropped with the transaction.
    private static let pins = "agentshop_rewrite_pins"

    /// Notes and drops every foreign key from a table outside `rewritten` into one of `rewritten`.
    public static func release(into rewritten: [String], in store: PostgresStore) throws -> PostgresKeptReferences {
        let rows = try store.connection.query("""
            SELECT c.conname, c.conrelid::regclass::text, c.confrelid::regclass::text, pg_get_constraintdef(c.oid),
                   CASE WHEN cardinality(c.conkey) = 1 THEN (SELECT attname FROM pg_attribute
                        WHERE attrelid = c.conrelid AND attnum = c.conkey[1]) END,
                   CASE WHEN cardinality(c.confkey) = 1 THEN (SELECT attname FROM pg_attribute
                        WHERE attrelid = c.confrelid AND attnum = c.confkey[1]) END
            FROM pg_constraint c
            WHERE c.contype = 'f' AND c.confrelid::regclass::text = ANY($1::text[])
              AND NOT (c.conrelid::regclass::text = ANY($1::text[]))
            ORDER BY 2, 1
            """, ["{" + rewritten.joined(separator: ",") + "}"])
        let constraints = try rows.compactMap { row -> Constraint? in
            guard let name = row[0], let from = row[1], let table = row[2], let definition = row[3] else { return nil }
            let natural = try row[5].map { target in try store.table(table)?.uniqueKeys.filter { $0 != [target] } ?? [] } ?? []
            return Constraint(name: name, from: from, table: table, definition: definition, column: row[4], target: row[5],
                              naturalKeys: natural)
        }
        let kept = PostgresKeptReferences(connection: store.connection, constraints: constraints)
        try kept.pin()
        for constraint in constraints {
            try store.connection.execute("ALTER TABLE \(constraint.from) DROP CONSTRAINT \(SQLLiteral.quoteName(constraint.name))")
        }
        return kept
    }

    /// `t.a::text, t.b::text`: a natural key's values as text, in one comparable array.
    private static func keyArray(_ columns: [String]) -> String {
        "ARRAY[" + columns.map { "t.\(SQLLiteral.quoteName($0))::text" }.joined(separator: ", ") + "]"
    }

    /// Each distinct value a kept single-column reference holds, with the natural key of the row it points
    /// at: the first natural key with no null in that row (NULLs are never equal). References already
    /// dangling, or to rows without such a key, are left to the constraint's own check.
    private func pin() throws {
        try connection.execute("""
            CREATE TEMPORARY TABLE \(Self.pins) (constraint_name text, value text, key_columns text[], key text[])
            ON COMMIT DROP
            """)
        for constraint in constraints {
            guard let column = constraint.column.map(SQLLiteral.quoteName),
                  let target = constraint.target.map(SQLLiteral.quoteName) else { continue }
            for natural in constraint.naturalKeys {
                _ = try connection.query("""
                    INSERT INTO \(Self.pins)
                    SELECT DISTINCT $1, f.\(column)::text, $2::text[], \(Self.keyArray(natural))
                    FROM \(constraint.from) f JOIN \(constraint.table) t ON t.\(target) = f.\(column)
                    WHERE \(natural.map { "t.\(SQLLiteral.quoteName($0)) IS NOT NULL" }.joined(separator: " AND "))
                      AND NOT EXISTS (SELECT 1 FROM \(Self.pins) p WHERE p.constraint_name = $1 AND p.value = f.\(column)::text)
                    """, [constraint.name, "{" + natural.joined(separator: ",") + "}"])
            }
        }
    }

    /// Checks that every pinned reference points at the row with the same natural key, then adds the
    /// constraints back. Throws (naming the first moved or dangling reference) when the refill lost or
    /// reordered a row a kept table refers to.
    public func restore() throws {
        for constraint in constraints {
            guard let column = constraint.column, let target = constraint.target.map(SQLLiteral.quoteName) else { continue }
            for natural in constraint.naturalKeys {
                let moved = try connection.query("""
                    SELECT p.value, array_to_string(p.key, ', '), count(*) OVER ()
                    FROM \(Self.pins) p LEFT JOIN \(constraint.table) t ON t.\(target)::text = p.value
                    WHERE p.constraint_name = $1 AND p.key_columns = $2::text[]
                      AND (t.\(target) IS NULL OR \(Self.keyArray(natural)) IS DISTINCT FROM p.key)
                    ORDER BY p.value LIMIT 1
                    """, [constraint.name, "{" + natural.joined(separator: ",") + "}"])
                if let first = moved.first {
                    throw StoreError(.constraint, "the rebuilt store would repoint \(first[2] ?? "some") references from "
                                     + "\(constraint.from), a table the rebuild keeps (\(constraint.from).\(column) = \(first[0] ?? "") "
                                     + "→ \(constraint.table) \(natural.joined(separator: ", ")) \(first[1] ?? "")); nothing was changed",
                                     cause: "the row it pointed at is no longer loaded, or was loaded in another order")
                }
            }
        }
        for constraint in constraints {
            do {
                try connection.execute("ALTER TABLE \(constraint.from) ADD CONSTRAINT \(SQLLiteral.quoteName(constraint.name)) "
                                       + constraint.definition)
            } catch {
                throw StoreError(.constraint, "the rebuilt store would break references from \(constraint.from), a table the "
                                 + "rebuild keeps, into \(constraint.table) (rows no longer loaded); nothing was changed",
                                 cause: "\(error)")
            }
        }
    }
}
