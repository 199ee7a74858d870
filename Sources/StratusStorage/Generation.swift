import SQLKit

extension Transaction {
    /// Compare-and-swap on a row's `generation` column: bumps it only if it still equals `expected`.
    ///
    /// Returns the new generation, or nil when someone else changed the row first (the caller rolls back and
    /// retries from a fresh read). `table` and `keyColumn` are trusted identifiers from our own code.
    public func bumpGeneration(table: String, keyColumn: String = "id", key: String, expected: Int) async throws -> Int? {
        var query = SQLQueryString("UPDATE \(unsafeRaw: table) SET generation = generation + 1 WHERE ")
        query.appendInterpolation(unsafeRaw: keyColumn)
        query.appendLiteral(" = ")
        query.appendInterpolation(bind: key)
        query.appendLiteral(" AND generation = ")
        query.appendInterpolation(bind: expected)
        query.appendLiteral(" RETURNING generation")
        let row = try await sql.raw(query).first()
        return try row?.decode(column: "generation", as: Int.self)
    }
}
