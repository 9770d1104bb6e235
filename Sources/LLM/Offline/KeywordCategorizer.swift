import Foundation

/// Puts a text into one of a given list of categories by keyword rules, without a model.
///
/// Each category's rule is a list of keywords: given explicitly (`rules`: `"electronics: phone,
/// laptop; home: sofa, lamp"`), else the category name's own words plus a built-in list for
/// common marketplace categories. A keyword matches a word of the text that starts with it
/// (`phone` matches `phones`); multi-word keywords match as phrases. The category with the most
/// matches wins (ties: the earlier in the list). With no match at all the answer is `other`,
/// `misc` or `general` when the list has one, else the first category, with confidence 0.
public enum KeywordCategorizer {
    public struct Result: Sendable, Equatable {
        public var category: String
        /// 0…1: the winner's share of all matches, scaled down when there are few; 0 when nothing matched.
        public var confidence: Double
        /// The keywords of the winner that matched.
        public var matched: [String]
    }

    public static func categorize(_ text: String, categories: [String], rules: [String: [String]] = [:]) -> Result? {
        guard !categories.isEmpty else { return nil }
        let words = TextUnits.words(text)
        let joined = " " + words.joined(separator: " ") + " "
        var scores: [(category: String, hits: Int, matched: [String])] = []
        for category in categories {
            let keywords = rules[category] ?? keywordsFor(category)
            var hits = 0
            var matched: [String] = []
            for keyword in keywords {
                let kw = TextUnits.words(keyword)
                guard !kw.isEmpty else { continue }
                let n: Int
                if kw.count == 1 {
                    n = words.filter { $0.hasPrefix(kw[0]) && $0.count <= kw[0].count + 3 }.count
                } else {
                    n = joined.components(separatedBy: " " + kw.joined(separator: " ")).count - 1
                }
                if n > 0 { hits += n; matched.append(keyword) }
            }
            scores.append((category, hits, matched))
        }
        let total = scores.reduce(0) { $0 + $1.hits }
        guard total > 0 else {
            let fallback = categories.first { ["other", "others", "misc", "general", "uncategorized"].contains($0.lowercased()) }
            return Result(category: fallback ?? categories[0], confidence: 0, matched: [])
        }
        // The earlier category wins a tie.
        let bestHits = scores.map(\.hits).max() ?? 0
        let winner = scores.first { $0.hits == bestHits }!
        let share = Double(winner.hits) / Double(total)
        let evidence = min(1, Double(winner.hits) / 3)
        return Result(category: winner.category, confidence: SentimentLexicon.round2(share * (0.5 + 0.5 * evidence)),
                      matched: winner.matched)
    }

    /// `"a: x, y; b: z"` → `["a": ["x", "y"], "b": ["z"]]`.
    public static func parseRules(_ text: String) -> [String: [String]] {
        var rules: [String: [String]] = [:]
        for part in text.split(whereSeparator: { $0 == ";" || $0 == "\n" }) {
            guard let colon = part.firstIndex(of: ":") else { continue }
            let name = part[..<colon].trimmingCharacters(in: .whitespaces)
            let keywords = part[part.index(after: colon)...].split(separator: ",")
                .map { $0.trimmingCharacters(in: .whitespaces) }.filter { !$0.isEmpty }
            if !name.isEmpty { rules[name] = keywords }
        }
        return rules
    }

    static func keywordsFor(_ category: String) -> [String] {
        let own = TextUnits.words(category).filter { $0.count >= 3 && !TextUnits.stopWords.contains($0) }
            .map { $0.hasSuffix("s") && $0.count > 4 ? String($0.dropLast()) : $0 }
        let builtIn = builtInRules.first { category.lowercased().contains($0.key) }?.value ?? []
        return own + builtIn
    }

    static let builtInRules: [String: [String]] = [
        "electronic": ["phone", "smartphone", "laptop", "computer", "tablet", "camera", "headphone", "earbud", "speaker",
                       "charger", "battery", "usb", "bluetooth", "screen", "monitor", "keyboard", "mouse", "tv",
                       "television", "console", "gadget", "wireless", "cable", "router"],
        "cloth": ["shirt", "dress", "jacket", "coat", "jeans", "trouser", "pants", "sweater", "hoodie", "sock", "skirt",
                  "cotton", "wool", "size", "fit", "sleeve", "collar", "wear"],
        "fashion": ["shirt", "dress", "jacket", "shoe", "bag", "handbag", "jewel", "watch", "style", "wear"],
        "shoe": ["shoe", "sneaker", "boot", "sandal", "heel", "sole", "lace", "trainer"],
        "home": ["sofa", "chair", "table", "lamp", "bed", "mattress", "pillow", "curtain", "rug", "kitchen", "furniture",
                 "decor", "shelf", "cushion", "blanket"],
        "kitchen": ["pan", "pot", "knife", "blender", "kettle", "toaster", "cookware", "oven", "microwave", "dish"],
        "book": ["book", "novel", "author", "chapter", "read", "paperback", "hardcover", "edition", "story", "page"],
        "beauty": ["skin", "cream", "lotion", "makeup", "lipstick", "shampoo", "hair", "perfume", "serum", "moisturi"],
        "sport": ["ball", "fitness", "gym", "yoga", "running", "bike", "bicycle", "tennis", "football", "workout", "training"],
        "toy": ["toy", "kid", "child", "children", "game", "puzzle", "doll", "lego", "play"],
        "food": ["food", "snack", "coffee", "tea", "chocolate", "organic", "flavor", "flavour", "taste", "drink", "sugar"],
        "grocer": ["food", "snack", "coffee", "tea", "fruit", "vegetable", "milk", "bread", "organic"],
        "garden": ["garden", "plant", "seed", "soil", "lawn", "hose", "flower", "pot", "outdoor"],
        "automotive": ["car", "tire", "tyre", "engine", "oil", "brake", "vehicle", "motor"],
        "pet": ["dog", "cat", "pet", "puppy", "kitten", "leash", "collar", "litter", "treat"],
        "health": ["vitamin", "supplement", "health", "medical", "pain", "sleep", "protein"],
        "office": ["pen", "paper", "notebook", "printer", "desk", "stapler", "folder", "office"],
    ]
}
