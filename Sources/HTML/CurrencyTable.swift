/// The currencies `Money` recognises: every active ISO 4217 code, a few withdrawn ones still seen on
/// old pages, and the symbols and local names shops print.
enum CurrencyTable {
    /// ISO 4217 active codes (list one, 2024), without the testing and "no currency" codes (XTS, XXX).
    static let activeCodes: Set<String> = [
        "AED", "AFN", "ALL", "AMD", "AOA", "ARS", "AUD", "AWG", "AZN", "BAM", "BBD", "BDT", "BGN", "BHD", "BIF", "BMD",
        "BND", "BOB", "BOV", "BRL", "BSD", "BTN", "BWP", "BYN", "BZD", "CAD", "CDF", "CHE", "CHF", "CHW", "CLF", "CLP",
        "CNY", "COP", "COU", "CRC", "CUP", "CVE", "CZK", "DJF", "DKK", "DOP", "DZD", "EGP", "ERN", "ETB", "EUR", "FJD",
        "FKP", "GBP", "GEL", "GHS", "GIP", "GMD", "GNF", "GTQ", "GYD", "HKD", "HNL", "HTG", "HUF", "IDR", "ILS", "INR",
        "IQD", "IRR", "ISK", "JMD", "JOD", "JPY", "KES", "KGS", "KHR", "KMF", "KPW", "KRW", "KWD", "KYD", "KZT", "LAK",
        "LBP", "LKR", "LRD", "LSL", "LYD", "MAD", "MDL", "MGA", "MKD", "MMK", "MNT", "MOP", "MRU", "MUR", "MVR", "MWK",
        "MXN", "MXV", "MYR", "MZN", "NAD", "NGN", "NIO", "NOK", "NPR", "NZD", "OMR", "PAB", "PEN", "PGK", "PHP", "PKR",
        "PLN", "PYG", "QAR", "RON", "RSD", "RUB", "RWF", "SAR", "SBD", "SCR", "SDG", "SEK", "SGD", "SHP", "SLE", "SOS",
        "SRD", "SSP", "STN", "SVC", "SYP", "SZL", "THB", "TJS", "TMT", "TND", "TOP", "TRY", "TTD", "TWD", "TZS", "UAH",
        "UGX", "USD", "USN", "UYI", "UYU", "UYW", "UZS", "VED", "VES", "VND", "VUV", "WST", "XAF", "XAG", "XAU", "XBA",
        "XBB", "XBC", "XBD", "XCD", "XCG", "XDR", "XOF", "XPD", "XPF", "XPT", "XSU", "XUA", "YER", "ZAR", "ZMW", "ZWG",
        "ZWL",
    ]

    /// Withdrawn codes (ISO 4217 list three) that old listings still print: read as themselves.
    static let withdrawnCodes: Set<String> = [
        "ANG", "ATS", "BEF", "BYR", "CUC", "CYP", "DEM", "EEK", "ESP", "FIM", "FRF", "GRD", "HRK", "IEP", "ITL", "LTL",
        "LVL", "MRO", "MTL", "NLG", "PTE", "SIT", "SKK", "SLL", "STD", "VEF", "ZWD",
    ]

    /// Currencies with three minor digits (ISO 4217 minor unit 3): `KD 12.500` is 12.5.
    static let threeDecimalCodes: Set<String> = ["BHD", "IQD", "JOD", "KWD", "LYD", "OMR", "TND"]

    /// Codes that are also ordinary upper-case words ("ALL ITEMS", "TOP 10"): they name the currency
    /// only when no other currency token is in the text.
    static let wordLikeCodes: Set<String> = ["ALL", "TOP", "CUP", "PEN", "SOS", "GEL", "BOB", "MAD", "CAD", "NAD", "SAR", "ANG",
                                             "ERN", "DEM", "TRY", "MOP", "BAM", "AMD", "PHP", "STD"]

    /// Lower-case codes shops print (`140,00 pln`); other codes only count in capitals, because
    /// "try", "top", "all" or "cup" are words.
    static let lowercaseCodes: Set<String> = [
        "usd", "eur", "gbp", "pln", "chf", "sek", "nok", "dkk", "czk", "huf", "ron", "bgn", "rub", "uah", "inr", "aud",
        "nzd", "jpy", "cny", "hkd", "sgd", "brl", "mxn", "zar", "idr", "myr", "php", "thb", "vnd", "krw", "aed",
    ]

    /// Which of several currencies an ambiguous sign means, decided by a default currency.
    enum Family: Sendable {
        /// `$`, `dollar`: USD by convention, or the default when it is a dollar or peso.
        case dollar
        /// `kr`: no currency unless the default is a krona or krone.
        case krona
        /// `¥`: JPY, or CNY when that is the default.
        case yen
        /// `Rs`, `₨`: INR by convention, or the default when it is another rupee.
        case rupee
        /// `Fr.`: CHF, or the default when it is another franc.
        case franc

        var members: Set<String> {
            switch self {
            case .dollar: return ["USD", "CAD", "AUD", "NZD", "HKD", "SGD", "TWD", "MXN", "ARS", "CLP", "COP", "UYU", "BZD",
                                  "DOP", "JMD", "TTD", "BSD", "BBD", "BMD", "BND", "FJD", "GYD", "KYD", "LRD", "NAD", "SBD",
                                  "SRD", "XCD", "ZWL", "CUP", "BRL", "MOP", "TOP", "WST", "NIO"]
            case .krona: return ["SEK", "NOK", "DKK", "ISK", "FOK"]
            case .yen: return ["JPY", "CNY"]
            case .rupee: return ["INR", "PKR", "LKR", "NPR", "MUR", "SCR"]
            case .franc: return ["CHF", "XOF", "XAF", "XPF", "CDF", "GNF", "RWF", "BIF", "DJF", "KMF", "MGA"]
            }
        }

        /// The currency meant, given the site's default (nil when the text does not say).
        func resolve(default defaultCurrency: String?) -> String? {
            if let d = defaultCurrency, members.contains(d) { return d }
            switch self {
            case .dollar: return "USD"
            case .krona: return nil
            case .yen: return "JPY"
            case .rupee: return "INR"
            case .franc: return "CHF"
            }
        }
    }

    /// What a printed sign means: one currency, a family decided by the default, or nothing known.
    enum Meaning: Sendable {
        case code(String)
        case family(Family)
        /// A sign for several unrelated currencies (`Br`, `ريال`): the amount stands without one.
        case unknown
    }

    struct Sign: Sendable {
        let text: [Character]
        let meaning: Meaning
        /// Letters compared without case (`zł`, `ZŁ`, `Zł`).
        let anyCase: Bool
    }

    /// Symbols and local names (ISO codes are matched separately). Matched longest first.
    static let signs: [Sign] = {
        func c(_ code: String) -> Meaning { .code(code) }
        let exact: [(String, Meaning)] = [
            // Dollars with a country prefix, before `$` itself.
            ("US$", c("USD")), ("U$S", c("USD")), ("U$D", c("USD")), ("US $", c("USD")),
            ("CA$", c("CAD")), ("CAN$", c("CAD")), ("C$", c("CAD")), ("CA $", c("CAD")), ("CAN $", c("CAD")),
            ("AU$", c("AUD")), ("A$", c("AUD")), ("AU $", c("AUD")), ("AUS$", c("AUD")),
            ("NZ$", c("NZD")), ("NZ $", c("NZD")), ("HK$", c("HKD")), ("HK $", c("HKD")),
            ("S$", c("SGD")), ("SG$", c("SGD")), ("NT$", c("TWD")), ("MX$", c("MXN")), ("Mex$", c("MXN")),
            ("R$", c("BRL")), ("BZ$", c("BZD")), ("RD$", c("DOP")), ("J$", c("JMD")), ("JA$", c("JMD")),
            ("TT$", c("TTD")), ("MOP$", c("MOP")), ("$U", c("UYU")), ("UY$", c("UYU")), ("Z$", c("ZWL")),
            ("G$", c("GYD")), ("GY$", c("GYD")), ("EC$", c("XCD")), ("FJ$", c("FJD")), ("WS$", c("WST")),
            ("SI$", c("SBD")), ("T$", c("TOP")), ("N$", c("NAD")), ("L$", c("LRD")), ("Bds$", c("BBD")),
            ("BD$", c("BMD")), ("CI$", c("KYD")), ("COL$", c("COP")), ("CLP$", c("CLP")), ("ARS$", c("ARS")),
            ("$", .family(.dollar)), ("＄", .family(.dollar)),
            // Pounds and other signs.
            ("E£", c("EGP")), ("L.E.", c("EGP")), ("ج.م", c("EGP")), ("£", c("GBP")), ("₤", c("GBP")), ("￡", c("GBP")),
            ("€", c("EUR")), ("₹", c("INR")), ("₨", .family(.rupee)), ("₩", c("KRW")), ("₽", c("RUB")), ("₺", c("TRY")),
            ("₪", c("ILS")), ("฿", c("THB")), ("₫", c("VND")), ("₱", c("PHP")), ("₴", c("UAH")), ("₦", c("NGN")),
            ("GH₵", c("GHS")), ("GH¢", c("GHS")), ("₵", c("GHS")), ("৳", c("BDT")), ("₮", c("MNT")), ("₸", c("KZT")),
            ("₼", c("AZN")), ("₾", c("GEL")), ("֏", c("AMD")), ("₭", c("LAK")), ("៛", c("KHR")), ("₲", c("PYG")),
            ("₡", c("CRC")), ("JP¥", c("JPY")), ("CN¥", c("CNY")), ("元", c("CNY")), ("円", c("JPY")), ("¥", .family(.yen)),
            ("￥", .family(.yen)), ("원", c("KRW")), ("S/.", c("PEN")), ("S/", c("PEN")), ("B/.", c("PAB")),
            ("د.إ", c("AED")), ("ر.س", c("SAR")), ("د.ك", c("KWD")), ("ر.ق", c("QAR")), ("ر.ع.", c("OMR")),
            ("د.ب", c("BHD")), ("د.ا", c("JOD")), ("د.ج", c("DZD")), ("د.م.", c("MAD")), ("د.ت", c("TND")),
            ("ل.ل", c("LBP")), ("ع.د", c("IQD")), ("ریال", c("IRR")), ("تومان", c("IRR")), ("ريال", .unknown),
            ("ש״ח", c("ILS")), ("ש\"ח", c("ILS")), ("บาท", c("THB")),
            // Single capital letters, only as whole words: South African rand, Russian ruble (Cyrillic Er).
            ("R", c("ZAR")), ("Р", c("RUB")),
            // Letters whose case matters ("ft" is feet, "tl" or "rm" are words).
            ("Ft", c("HUF")), ("Rp", c("IDR")), ("Rp.", c("IDR")), ("RM", c("MYR")), ("KD", c("KWD")), ("TL", c("TRY")),
            ("YTL", c("TRY")), ("Rs.", .family(.rupee)), ("Rs", .family(.rupee)), ("Fr.", .family(.franc)),
            ("Fr", .family(.franc)), ("SFr.", c("CHF")), ("Tk", c("BDT")), ("Ks", c("MMK")), ("Kz", c("AOA")),
            ("Br", .unknown), ("Bs", .unknown), ("Bs.", .unknown),
        ]
        let anyCase: [(String, Meaning)] = [
            ("руб.", c("RUB")), ("руб", c("RUB")), ("рублей", c("RUB")), ("рубля", c("RUB")), ("рубль", c("RUB")),
            ("р.", c("RUB")), ("р", c("RUB")), ("грн.", c("UAH")), ("грн", c("UAH")), ("гривень", c("UAH")),
            ("гривни", c("UAH")), ("лв.", c("BGN")), ("лв", c("BGN")), ("дин.", c("RSD")), ("дин", c("RSD")),
            ("ден", c("MKD")), ("сом", c("KGS")), ("сўм", c("UZS")), ("сум", c("UZS")), ("тг", c("KZT")),
            ("zł", c("PLN")), ("złotych", c("PLN")), ("zlotych", c("PLN")), ("Kč", c("CZK")), ("korun", c("CZK")),
            ("forint", c("HUF")), ("lei", c("RON")), ("leu", c("RON")), ("kn", c("HRK")),
            ("din.", c("RSD")), ("dinara", c("RSD")), ("dinar", .unknown), ("rupees", .family(.rupee)), ("sfr", c("CHF")), ("kr.", .family(.krona)), ("kr", .family(.krona)),
            ("Skr", c("SEK")), ("VNĐ", c("VND")), ("đ", c("VND")), ("KSh", c("KES")), ("USh", c("UGX")),
            ("TSh", c("TZS")), ("euro", c("EUR")), ("euros", c("EUR")), ("eur.", c("EUR")),
            ("dollar", .family(.dollar)), ("dollars", .family(.dollar)), ("yen", c("JPY")), ("yuan", c("CNY")),
            ("rmb", c("CNY")), ("reais", c("BRL")), ("rand", c("ZAR")), ("baht", c("THB")),
        ]
        var all = exact.map { Sign(text: Array($0.0), meaning: $0.1, anyCase: false) }
        all += anyCase.map { Sign(text: Array($0.0.lowercased()), meaning: $0.1, anyCase: true) }
        return all.sorted { $0.text.count > $1.text.count }
    }()

    static func isCode(_ text: String) -> Bool { activeCodes.contains(text) || withdrawnCodes.contains(text) }
}
