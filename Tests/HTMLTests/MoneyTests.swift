import Foundation
import Testing
@testable import HTML

struct MoneyTests {
    /// (text, default currency, expected amount, expected currency)
    @Test(arguments: [
        ("$1,299.00", nil, "1299.00", "USD"),
        ("USD 49", nil, "49", "USD"),
        ("€12,50", nil, "12.50", "EUR"),
        ("1.299,00 €", nil, "1299.00", "EUR"),
        ("¥1200", nil, "1200", "JPY"),
        ("£9.99", nil, "9.99", "GBP"),
        ("9,99 €", nil, "9.99", "EUR"),
        ("EUR 1.234,56", nil, "1234.56", "EUR"),
        ("1\u{00A0}234,56\u{00A0}€", nil, "1234.56", "EUR"),
        ("CHF 1'234.50", nil, "1234.50", "CHF"),
        ("R$ 1.234,56", nil, "1234.56", "BRL"),
        ("C$12.99", nil, "12.99", "CAD"),
        ("A$ 20", nil, "20", "AUD"),
        ("US$5", nil, "5", "USD"),
        ("HK$100.50", nil, "100.50", "HKD"),
        ("₹1,23,456.00", nil, "123456.00", "INR"),
        ("₩10,000", nil, "10000", "KRW"),
        ("12,- €", nil, "12", "EUR"),
        ("€ 1.299,-", nil, "1299", "EUR"),
        ("-$5.00", nil, "-5", "USD"),
        ("($5.00)", nil, "-5", "USD"),
        ("$19.99 - $29.99", nil, "19.99", "USD"),
        ("from $10", nil, "10", "USD"),
        ("Price: 49.90 USD", nil, "49.90", "USD"),
        ("$.99", nil, "0.99", "USD"),
        ("1,299", "USD", "1299", "USD"),
        ("kr 99", nil, "99", "SEK"),
        ("99 kr", "DKK", "99", "DKK"),
        ("99,95 zł", nil, "99.95", "PLN"),
        ("1 299 Kč", nil, "1299", "CZK"),
        ("12.990 Ft", nil, "12990", "HUF"),
        ("₽1 500", nil, "1500", "RUB"),
        ("JP¥ 3,000", nil, "3000", "JPY"),
        ("CN¥88", nil, "88", "CNY"),
        ("¥1,200", "CNY", "1200", "CNY"),
        ("$25", "CAD", "25", "CAD"),
        ("1.234.567,89 €", nil, "1234567.89", "EUR"),
        ("$ 1,000,000", nil, "1000000", "USD"),
        ("0,99 €", nil, "0.99", "EUR"),
        ("USD1,299.99", nil, "1299.99", "USD"),
        ("12 euros", nil, "12", "EUR"),
        ("Free", nil, "0", nil),
        ("Gratis", "EUR", "0", "EUR"),
        ("Free shipping, $4.99", nil, "4.99", "USD"),
    ] as [(String, String?, String, String?)])
    func parses(text: String, defaultCurrency: String?, amount: String, currency: String?) throws {
        let money = try #require(Money.parse(text, defaultCurrency: defaultCurrency), "\(text)")
        #expect(money.amount == Decimal(string: amount)!, "\(text) → \(money)")
        #expect(money.currency == currency, "\(text) → \(money)")
    }

    @Test(arguments: ["", "n/a", "call for price", "—"])
    func refusesTextWithoutAPrice(text: String) {
        #expect(Money.parse(text) == nil)
    }

    @Test func keepsExactDecimals() throws {
        let money = try #require(Money.parse("$0.10"))
        #expect(money.amount + money.amount + money.amount == Decimal(string: "0.30")!)
        #expect(money.amountValue == 0.1)
    }
}
