import ArgumentParser
import Foundation
import Lake
import Logging
import Notify
import Runs
import Transport

struct DigestCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "digest",
        abstract: "Summarise the runs of a period per pipeline (runs, failures, records, LLM cost); print it or e-mail it.",
        discussion: """
        Reads the run manifests in the lake (the history `agentshop runs` lists) and renders the store's \
        `weekly_report` e-mail template (or its built-in text when there is no store). --send mails it through \
        the NOTIFICATION_EMAIL_* settings to --to and NOTIFICATION_EMAIL_TO; a mail that cannot be sent exits 1. \
        For a weekly mail, put it in cron (docs/operate.md, "Weekly digest").

        Examples:
          agentshop digest
          agentshop digest --since 24h --json
          agentshop digest --since 7d --send --to ops@example.com
        """
    )

    @OptionGroup var global: GlobalOptions

    @Option(help: ArgumentHelp("The period: runs started this long ago (24h, 7d) or since this date (YYYY-MM-DD).", valueName: "when"))
    var since: String = "7d"

    @Flag(help: "E-mail the digest instead of printing it.")
    var send = false

    @Option(help: ArgumentHelp("A recipient (repeatable), beside NOTIFICATION_EMAIL_TO.", valueName: "address"))
    var to: [String] = []

    func run() async throws {
        let lake = try global.openLake()
        guard let cutoff = RunsCommand.parseSince(since) else {
            Console.error("--since takes YYYY-MM-DD or a duration like 24h or 7d, found '\(since)'")
            throw ExitStatus.invalidInput
        }
        let digest = RunDigest.load(lake: lake, since: cutoff)
        let logger = Logger(label: "agentshop.digest")
        let templates = StoredEmailTemplates(lake: lake, logger: logger)
        guard send else {
            if global.json {
                Console.out(digest.json.serialized())
            } else {
                let template = templates.template(named: RunDigest.templateName) ?? EmailTemplate.builtIn(named: RunDigest.templateName)!
                let (subject, body) = template.rendered(digest.variables)
                Console.out("Subject: \(subject)\n\n\(body)", terminator: "")
            }
            return
        }
        let environment = global.environment(projectFolder: nil)
        let settings: EmailSettings
        do {
            guard let configured = try EmailSettings.fromEnvironment(environment.variables) else {
                Console.error("--send: \(EmailSettings.prefix)SMTP_HOST is not set")
                throw ExitStatus.invalidInput
            }
            settings = configured
        } catch let problem as EmailSettings.Problem {
            Console.error("--send: \(problem)")
            throw ExitStatus.invalidInput
        }
        if let password = settings.smtp.password?.value { Secret.register(password) }
        let notifier = EmailNotifier(settings: settings, recipients: to, templates: templates)
        guard !notifier.recipients.isEmpty else {
            Console.error("--send: no recipient; pass --to ADDRESS or set \(EmailSettings.prefix)TO")
            throw ExitStatus.invalidInput
        }
        let message = notifier.message(templateNamed: RunDigest.templateName, variables: digest.variables, event: "digest")!
        do {
            try await notifier.send(message)
        } catch {
            Console.error("digest not sent: \(Secret.redact(error.description))")
            throw ExitStatus.runFailed
        }
        if global.json {
            Console.out(digest.json.serialized())
        } else if !global.quiet {
            Console.error("digest of \(digest.runs) runs sent to \(notifier.recipients.joined(separator: ", "))")
        }
    }
}
