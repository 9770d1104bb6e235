import Foundation
import Lake

/// A stage's outputs as they were before it ran, kept aside (a hard link beside each, so no bytes
/// are copied) while it runs: a stage that fails, or that would replace data with an empty file,
/// gets them back. Stages publish their own files (atomically, by rename); this is how the engine
/// can still promise that a failed stage leaves the previous outputs as they were.
///
/// The kept links carry the temporary-file marker with this process's id, so that a run killed
/// before it could restore or discard them leaves nothing that the next run does not remove.
struct PreviousOutputs {
    struct Kept {
        let output: LakePath
        let link: String
    }

    private(set) var kept: [Kept] = []

    /// Links every output that exists now.
    init(_ outputs: [LakePath]) throws {
        for output in outputs where FileManager.default.fileExists(atPath: output.absolute) {
            let link = output.folder + "/." + output.fileName + AtomicFile.temporaryMarker + "\(getpid())-previous"
            unlink(link)
            if Foundation.link(output.absolute, link) != 0 {
                // A file system without hard links: a copy does the same, only slower.
                do {
                    try FileManager.default.copyItem(atPath: output.absolute, toPath: link)
                } catch {
                    discard()
                    throw StageError("cannot keep \(output.relative) aside while its stage runs: \(error)")
                }
            }
            kept.append(Kept(output: output, link: link))
        }
    }

    /// The earlier file of an output, if there was one.
    func previous(of output: LakePath) -> String? { kept.first { $0.output == output }?.link }

    /// Puts every kept output back under its name (a file the stage wrote in its place is replaced).
    /// Returns the outputs that had been replaced.
    @discardableResult
    func restore() -> [LakePath] {
        var restored: [LakePath] = []
        for item in kept {
            var now = stat(), before = stat()
            let replaced = stat(item.output.absolute, &now) != 0 || stat(item.link, &before) != 0
                || now.st_ino != before.st_ino || now.st_dev != before.st_dev
            if replaced {
                if rename(item.link, item.output.absolute) == 0 {
                    restored.append(item.output)
                    try? AtomicFile.syncFolder(of: item.output.absolute)
                }
            } else {
                unlink(item.link)  // untouched: renaming a link onto itself would leave the link behind
            }
        }
        return restored
    }

    /// Drops the kept links: the stage's new outputs stand.
    func discard() {
        for item in kept { unlink(item.link) }
    }

    /// Whether a lake file holds data: a record (JSONL, CSV below its header), a WARC record other
    /// than `warcinfo`, or for any other file a byte. A file that cannot be read counts as data.
    static func hasData(_ path: String, name: String) -> Bool {
        if RecordFileType(path: name) != nil {
            guard let reader = try? RecordReader(path: path) else { return true }
            do { return try reader.next() != nil } catch { return true }
        }
        let lower = name.lowercased()
        if lower.hasSuffix(".warc") || lower.hasSuffix(".warc.gz") {
            guard let reader = try? WARCReader(path: path) else { return true }
            do {
                while let record = try reader.next() {
                    if record.type != .warcinfo { return true }
                }
                return false
            } catch {
                return true
            }
        }
        var info = stat()
        return stat(path, &info) != 0 || info.st_size > 0
    }
}
