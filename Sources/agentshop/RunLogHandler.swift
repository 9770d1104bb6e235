import Foundation
import Logging
import Transport

/// The handler of library loggers that print to stderr (the store, migrations): the message and
/// metadata with every secret blanked, then the wrapped handler.
struct RedactingLogHandler: LogHandler {
    var wrapped: any LogHandler

    var metadata: Logger.Metadata {
        get { wrapped.metadata }
        set { wrapped.metadata = newValue }
    }

    var logLevel: Logger.Level {
        get { wrapped.logLevel }
        set { wrapped.logLevel = newValue }
    }

    subscript(metadataKey key: String) -> Logger.Metadata.Value? {
        get { wrapped[metadataKey: key] }
        set { wrapped[metadataKey: key] = newValue }
    }

    func log(event: LogEvent) {
        var event = event
        event.message = Logger.Message(stringLiteral: Secret.redact(event.message.description))
        event.metadata = event.metadata?.mapValues { .string(Secret.redact("\($0)")) }
        if let error = event.error {
            event.metadata = (event.metadata ?? [:]).merging(["error": .string(Secret.redact("\(error)"))]) { $1 }
            event.error = nil
        }
        wrapped.log(event: event)
    }
}
