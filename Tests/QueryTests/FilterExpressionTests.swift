import Lake
import Query
import Testing

/// The filter language of `where`, `having` and `lake show --where`: parsing, precedence and errors with positions.
@Suite struct FilterExpressionTests {
    @Test(arguments: [
        ("price >> 3", 7, "expected a field or a value, found '>'"),
        ("price > 3 and", 13, "found the end of the expression"),
        ("category in 'a'", 12, "expected '(' to start the list"),
        ("name contains", 13, "expected a field or a value"),
        ("price = 'open", 8, "unterminated string"),
        ("(price > 3", 10, "expected ')' to close the '(' at character 1"),
        ("price is nul", 9, "expected 'null' after 'is'"),
        ("rating & 2", 7, "write 'and' / 'or'"),
        ("", 0, "empty expression"),
        ("price > 3 vendor", 10, "unexpected 'vendor'"),
        ("avg(price) > 3", 3, "functions are not allowed here"),
        ("a not b", 2, "expected 'in' after 'not'"),
        ("price * 2 > 3", 6, "expected 'and', 'or' or the end"),
    ])
    func expressionErrors(text: String, offset: Int, message: String) {
        #expect(throws: ExpressionError.self) { try FilterExpression.parse(text) }
        do {
            _ = try FilterExpression.parse(text)
        } catch {
            #expect(error.offset == offset, "\(text): \(error)")
            #expect(error.message.contains(message), "\(text): \(error)")
        }
    }

    @Test func expressionsParseWithPrecedenceAndFields() throws {
        let e = try FilterExpression.parse("a = 1 or not b.c >= -2.5 and d in ('x', null, true) and e is not null")
        #expect(e.description == "((a = 1) or ((not (b.c >= -2.5)) and (d in (\"x\", null, true)) and (e is not null)))"
                || e.description == "((a = 1) or (((not (b.c >= -2.5)) and (d in (\"x\", null, true))) and (e is not null)))")
        #expect(e.fields == [DottedPath(["a"]), DottedPath(["b", "c"]), DottedPath(["d"]), DottedPath(["e"])])
    }
}
