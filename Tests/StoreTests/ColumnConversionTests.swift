import Lake
import Testing
@testable import Store

@Suite struct ColumnConversionTests {
    @Test(arguments: [
        ("12.99", 1299), ("$1,299.99", 129_999), ("1.299,99 €", 129_999), ("12,5", 1250), ("1,299", 129_900),
        ("1,299,000", 129_900_000), ("(3.50)", -350), ("-0.015", -2), ("USD 7", 700), ("0.105", 11), ("CHF 1'250.50", 125_050),
    ] as [(String, Int64)])
    func moneyTextBecomesCents(_ text: String, _ cents: Int64) throws {
        #expect(try ColumnConversion.money.convert(.string(text), column: "price_cents") == .integer(cents))
    }

    @Test func moneyNumbersAreExact() throws {
        #expect(try ColumnConversion.money.convert(.double(0.1), column: "p") == .integer(10))
        #expect(try ColumnConversion.money.convert(.double(19.99), column: "p") == .integer(1999))
        #expect(try ColumnConversion.money.convert(.double(1.005), column: "p") == .integer(101))
        #expect(try ColumnConversion.money.convert(.int(42), column: "p") == .integer(4200))
        #expect(try ColumnConversion.money.convert(["amount": 3.25, "currency": "EUR"], column: "p") == .integer(325))
    }

    @Test(arguments: ["call us", "", "12.3.4abc", "$"])
    func moneyRejectsText(_ text: String) {
        #expect(throws: ColumnConversion.Failure.self) { try ColumnConversion.money.convert(.string(text), column: "p") }
    }

    @Test func autoConversionFollowsTheColumnName() throws {
        #expect(try ColumnConversion.auto.convert(.int(1299), column: "price_cents") == .integer(1299))
        #expect(throws: ColumnConversion.Failure.self) { try ColumnConversion.auto.convert(.double(12.99), column: "price_cents") }
        #expect(try ColumnConversion.auto.convert(["a": [1, 2]], column: "attributes_json") == .text("{\"a\":[1,2]}"))
        #expect(try ColumnConversion.auto.convert("{\"a\": 1}", column: "attributes_json") == .text("{\"a\":1}"))
        #expect(try ColumnConversion.auto.convert("plain", column: "attributes_json") == .text("\"plain\""))
        #expect(try ColumnConversion.auto.convert("2026-11-25", column: "scraped_at") == .text("2026-11-25T00:00:00.000Z"))
        #expect(try ColumnConversion.auto.convert(true, column: "is_active") == .integer(1))
        #expect(try ColumnConversion.auto.convert(["x"], column: "name") == .text("[\"x\"]"))
        #expect(try ColumnConversion.auto.convert(nil, column: "name") == .null)
    }

    /// Integers beyond SQLite's 64-bit INTEGER are stored as TEXT with their exact digits.
    @Test func bigIntegersBecomeText() throws {
        let big = JSONValue.bigInteger("12345678901234567890")
        #expect(try ColumnConversion.auto.convert(big, column: "id") == .text("12345678901234567890"))
        #expect(try ColumnConversion.text.convert(big, column: "id") == .text("12345678901234567890"))
        #expect(try ColumnConversion.real.convert(big, column: "id") == .real(12345678901234567890.0))
        #expect(throws: ColumnConversion.Failure.self) { try ColumnConversion.integer.convert(big, column: "id") }
    }

    @Test func datesBecomeISO() throws {
        #expect(try ColumnConversion.date.convert("2026-11-25T23:30:00-02:00", column: "d") == .text("2026-11-26"))
        #expect(try ColumnConversion.datetime.convert("Wed, 25 Nov 2026 10:00:00 GMT", column: "d") == .text("2026-11-25T10:00:00.000Z"))
        #expect(try ColumnConversion.datetime.convert(.int(1_795_000_000_000), column: "d") == .text("2026-11-18T11:06:40.000Z"))
        #expect(throws: ColumnConversion.Failure.self) { try ColumnConversion.date.convert("25th of November", column: "d") }
    }
}
