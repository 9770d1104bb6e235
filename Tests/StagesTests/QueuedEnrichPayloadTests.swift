import Foundation
import Testing
@testable import Stages

/// A queued enrich item's payload has snake_case keys; an item a coordinator of an earlier version
/// queued (camelCase keys) is still worked.
struct QueuedEnrichPayloadTests {
    @Test func payloadKeysAreSnakeCaseAndOldItemsStillRead() throws {
        let old = #"{"input":".agentshop/queue/p/s/r/in/000001.jsonl","lake":"/srv/lake","pipeline":"p","#
            + #""pipelineFile":"/srv/pipelines/p.yaml","refreshCaches":true,"runDate":"2026-11-25"}"#
        let payload = try JSONDecoder().decode(QueuedEnrich.Payload.self, from: Data(old.utf8))
        #expect(payload.pipelineFile == "/srv/pipelines/p.yaml" && payload.runDate == "2026-11-25" && payload.refreshCaches)
        #expect(payload.input == ".agentshop/queue/p/s/r/in/000001.jsonl" && payload.lake == "/srv/lake" && payload.pipeline == "p")

        let encoder = JSONEncoder()
        encoder.outputFormatting = [.sortedKeys, .withoutEscapingSlashes]
        let new = String(decoding: try encoder.encode(payload), as: UTF8.self)
        #expect(new == #"{"input":".agentshop/queue/p/s/r/in/000001.jsonl","lake":"/srv/lake","pipeline":"p","#
            + #""pipeline_file":"/srv/pipelines/p.yaml","refresh_caches":true,"run_date":"2026-11-25"}"#)
        #expect(try JSONDecoder().decode(QueuedEnrich.Payload.self, from: Data(new.utf8)).pipelineFile == payload.pipelineFile)
    }
}
