import Lake
import LLM
import Testing

@Suite struct JSONSchemaTests {
    let review: JSONSchema = try! JSONSchema([
        "type": "object", "additionalProperties": false, "required": ["label", "score", "tags"],
        "properties": [
            "label": ["type": "string", "enum": ["positive", "negative"]],
            "score": ["type": "number", "minimum": -1, "maximum": 1],
            "stars": ["type": "integer", "minimum": 1, "maximum": 5],
            "tags": ["type": "array", "minItems": 1, "maxItems": 2, "items": ["type": "string", "minLength": 2, "maxLength": 5]],
            "note": ["type": ["string", "null"]],
            "flag": ["type": "boolean"],
            "meta": ["type": "object", "required": ["id"], "properties": ["id": ["type": "integer"]]],
        ],
    ])

    @Test func conformingValuePasses() {
        let value: JSONValue = ["label": "positive", "score": 0.5, "stars": 4, "tags": ["ok", "fine"], "note": nil,
                                "flag": true, "meta": ["id": 3, "extra": "allowed here"]]
        #expect(review.validate(value).isEmpty)
        // 2.0 is an integer; 1 is a number.
        #expect(review.validate(["label": "negative", "score": 1, "stars": 2.0, "tags": ["ab"]]).isEmpty)
    }

    @Test(arguments: [
        (JSONValue.array([]), "$", "expected object, found an array"),
        (["label": "positive", "score": 0.5] as JSONValue, "$", "missing required property 'tags'"),
        (["label": "meh", "score": 0.5, "tags": ["ab"]] as JSONValue, "$.label", #"expected one of "positive", "negative", found "meh""#),
        (["label": "positive", "score": 1.5, "tags": ["ab"]] as JSONValue, "$.score", "1.5 is above the maximum 1"),
        (["label": "positive", "score": -2, "tags": ["ab"]] as JSONValue, "$.score", "-2 is below the minimum -1"),
        (["label": "positive", "score": "high", "tags": ["ab"]] as JSONValue, "$.score", "expected number, found a string"),
        (["label": "positive", "score": 0, "stars": 3.5, "tags": ["ab"]] as JSONValue, "$.stars", "expected integer, found a number"),
        (["label": "positive", "score": 0, "tags": []] as JSONValue, "$.tags", "0 items, fewer than minItems 1"),
        (["label": "positive", "score": 0, "tags": ["ab", "cd", "ef"]] as JSONValue, "$.tags", "3 items, more than maxItems 2"),
        (["label": "positive", "score": 0, "tags": ["ab", "x"]] as JSONValue, "$.tags[1]", "1 characters, fewer than minLength 2"),
        (["label": "positive", "score": 0, "tags": ["toolong"]] as JSONValue, "$.tags[0]", "7 characters, more than maxLength 5"),
        (["label": "positive", "score": 0, "tags": ["ab"], "mood": "x"] as JSONValue, "$.mood", "property 'mood' is not allowed (additionalProperties is false)"),
        (["label": "positive", "score": 0, "tags": ["ab"], "flag": "yes"] as JSONValue, "$.flag", "expected boolean, found a string"),
        (["label": "positive", "score": 0, "tags": ["ab"], "note": 3] as JSONValue, "$.note", "expected string or null, found an integer"),
        (["label": "positive", "score": 0, "tags": ["ab"], "meta": [:]] as JSONValue, "$.meta", "missing required property 'id'"),
    ])
    func firstViolation(value: JSONValue, path: String, reason: String) {
        let found = review.validate(value)
        #expect(found.first == SchemaViolation(path: path, reason: reason), "\(found)")
    }

    @Test func everyViolationIsReported() {
        let found = review.validate(["label": 1, "score": 9, "tags": "no", "mood": true])
        #expect(found.map(\.path) == ["$.label", "$.score", "$.tags", "$.mood"])
        #expect(review.validate(["label": 1, "score": 9, "tags": "no", "mood": true], limit: 2).count == 2)
    }

    @Test(arguments: [
        (JSONValue.string("object"), "", "a schema is an object, found a string"),
        (["type": "object", "pattern": "x"] as JSONValue, "pattern", "unsupported keyword 'pattern'"),
        (["type": "float"] as JSONValue, "type", "unknown type 'float'"),
        (["type": "object", "properties": ["a": ["minimum": "low"]]] as JSONValue, "properties.a.minimum", "expected a number"),
        (["type": "object", "required": "a"] as JSONValue, "required", "expected a list of property names"),
        (["type": "object", "additionalProperties": ["type": "string"]] as JSONValue, "additionalProperties", "only true or false"),
        (["type": "array", "maxItems": -1] as JSONValue, "maxItems", "expected a non-negative integer"),
        (["enum": []] as JSONValue, "enum", "expected a non-empty list"),
    ])
    func badSchemasAreRefused(schema: JSONValue, path: String, reason: String) {
        #expect {
            _ = try JSONSchema(schema)
        } throws: { error in
            let e = error as! SchemaError
            return e.path == path && e.reason.hasPrefix(reason)
        }
    }
}

@Suite struct PromptTemplateTests {
    let record: JSONObject = (["name": "Trail Runner", "price": 12.5, "vendor": ["name": "Acme", "rating": 4],
                               "tags": ["a", "b"], "gone": nil] as JSONValue).objectValue!

    @Test func fillsFieldsAndNestedFields() throws {
        let t = try PromptTemplate("{{name}} by {{ vendor.name }} ({{vendor.rating}}★) at {{price}}: {{tags}}{{gone}}.")
        #expect(t.fields == ["name", "vendor.name", "vendor.rating", "price", "tags", "gone"])
        #expect(try t.render(record, recordLabel: "r:1") == "Trail Runner by Acme (4★) at 12.5: [\"a\",\"b\"].")
    }

    @Test func missingFieldNamesRecordAndField() throws {
        let t = try PromptTemplate("{{name}}: {{description}}")
        #expect {
            _ = try t.render(record, recordLabel: "products.jsonl:7")
        } throws: { error in
            "\(error)".hasPrefix("products.jsonl:7: the record has no field 'description'")
        }
        #expect(try t.render(record, recordLabel: "x", missing: .empty) == "Trail Runner: ")
        #expect(throws: TemplateError.self) { try PromptTemplate("{{vendor.missing}}").render(record, recordLabel: "x") }
    }

    @Test func literalBracesAndBadPlaceholders() throws {
        #expect(try PromptTemplate("{{{{name}} is {{name}}").render(record, recordLabel: "x") == "{{name}} is Trail Runner")
        #expect(try PromptTemplate("no fields").fields.isEmpty)
        for (text, offset) in [("ab {{name", 3), ("{{}}", 0), ("x {{a b}}", 2), ("{{a..b}}", 0)] {
            #expect { _ = try PromptTemplate(text) } throws: { ($0 as! TemplateError).offset == offset }
        }
    }

    @Test func valuesDoNotExpandAgain() throws {
        // A record's text that looks like a placeholder stays text.
        let t = try PromptTemplate("Text: {{text}}")
        #expect(t.render(values: ["text": "{{secret}}"]) == "Text: {{secret}}")
    }
}

@Suite struct EnrichTaskTests {
    @Test(arguments: EnrichTask.Name.allCases.filter { $0 != .custom })
    func builtinTasksHaveSchemasAndPrompts(name: EnrichTask.Name) throws {
        let task = EnrichTask.builtin(name, length: .medium, categories: ["shoes", "tents"])
        if name == .cleanup {
            #expect(task.schema == nil && !task.usesModel)
        } else {
            #expect(task.schema != nil && task.usesModel)
            #expect(try PromptTemplate(task.prompt).fields == ["text"])
            #expect(!task.fields.isEmpty)
        }
    }

    @Test func sentimentSchemaMatchesTheContract() {
        let schema = EnrichTask.builtin(.sentiment).schema!
        #expect(schema.validate(["label": "neutral", "score": 0, "confidence": 0.4]).isEmpty)
        #expect(schema.validate(["label": "neutral", "score": -1.2, "confidence": 0.4]).first?.path == "$.score")
        let categorize = EnrichTask.builtin(.categorize, categories: ["shoes", "tents"])
        #expect(categorize.options["categories"] == "shoes,tents")
        #expect(categorize.schema!.validate(["category": "hats", "confidence": 1]).first?.path == "$.category")
    }

    @Test func answersAreFoundInProseAndFences() throws {
        #expect(try EnrichTask.extractJSON(#"{"a": 1}"#).get() == ["a": 1])
        #expect(try EnrichTask.extractJSON("Sure!\n```json\n{\"a\": 2}\n```\nHope it helps").get() == ["a": 2])
        #expect(try EnrichTask.extractJSON(#"The answer is {"a": 3}."#).get() == ["a": 3])
        #expect((try? EnrichTask.extractJSON("I cannot help with that").get()) == nil)
        #expect(EnrichTask.extractJSON("[1, 2]") == .failure(AnswerProblem("the answer is JSON but not an object")))
        #expect(EnrichTask.extractJSON("  ") == .failure(AnswerProblem("the answer is empty")))
    }

    @Test func repairMessageNamesTheViolation() {
        let message = EnrichTask.builtin(.sentiment).repairMessage(problems: ["$.score: 3 is above the maximum 1"])
        #expect(message.contains("$.score: 3 is above the maximum 1"))
        #expect(message.contains("\"maximum\":1"))
    }
}
