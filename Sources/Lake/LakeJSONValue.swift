/// `JSONValue` under a second name, for a module that declares a `JSONValue` of its own (Crawl, for
/// Scoup's open-ended fields) and so cannot name this one: `Lake.JSONValue` would name a member of
/// the `Lake` type, which shares the module's name.
public typealias LakeJSONValue = JSONValue
