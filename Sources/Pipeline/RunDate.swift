/// The run date a run's `{run_date}` partitions are named after: a real day of the Gregorian
/// calendar written `YYYY-MM-DD`, so that no run writes `dt=2026-13-45` or `dt=2026-02-30`.
public enum RunDate {
    /// Nil when `text` is a valid run date; otherwise why it is not.
    public static func problem(_ text: String) -> String? {
        let bytes = Array(text.utf8)
        let digitsAt = [0, 1, 2, 3, 5, 6, 8, 9]
        guard bytes.count == 10, bytes[4] == UInt8(ascii: "-"), bytes[7] == UInt8(ascii: "-"),
              digitsAt.allSatisfy({ bytes[$0] >= 0x30 && bytes[$0] <= 0x39 }) else {
            return "expected a date written YYYY-MM-DD, such as 2026-11-25"
        }
        func number(_ range: Range<Int>) -> Int { bytes[range].reduce(0) { $0 * 10 + Int($1 - 0x30) } }
        let year = number(0..<4), month = number(5..<7), day = number(8..<10)
        guard year >= 1 else { return "there is no year 0000" }
        guard (1...12).contains(month) else { return "there is no month \(month) (months are 01 to 12)" }
        let days = daysIn(month: month, year: year)
        guard (1...days).contains(day) else {
            return "there is no day \(day) in \(year)-\(text.dropFirst(5).prefix(2)) (it has \(days) days)"
        }
        return nil
    }

    static func daysIn(month: Int, year: Int) -> Int {
        switch month {
        case 2: return (year % 4 == 0 && year % 100 != 0) || year % 400 == 0 ? 29 : 28
        case 4, 6, 9, 11: return 30
        default: return 31
        }
    }
}
