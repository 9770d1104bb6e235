import Foundation
import Store
import Testing

/// Faults from outside the program: each ends in a clear error, a non-zero exit, and nothing lost.
@Suite struct FaultTests {
    static let pipeline = """
    pipeline: shop
    stages:
      products:
        import: { from: raw_data/imports/products.csv, infer_types: true }
        out: scraped_data/products/dt={run_date}/products.jsonl.gz
      export:
        import: { from: products }
        out: processed_data/exports/dt={run_date}/products.csv
      store:
        materialize: { from: products, table: products, key: slug, busy_timeout: 1s,
                       columns: { slug: slug, name: name, price_cents: { from: price, type: money } } }
    """

    func project(rows: Int) throws -> Project {
        let project = try Project()
        #expect(try project.run(["init"]).status == 0)
        #expect(try project.run(["db", "init"]).status == 0)
        try project.write("pipelines/shop.yaml", Self.pipeline)
        try writeProducts(project, rows: rows, price: 10)
        return project
    }

    func writeProducts(_ project: Project, rows: Int, price: Int) throws {
        var csv = "slug,name,price\n"
        for i in 0..<rows { csv += "p\(i),Product number \(i) with a longer name \(i * 7919),\(price + i % 100)\n" }
        try project.write("datalake/raw_data/imports/products.csv", csv)
    }

    /// Every run log of the pipeline, concatenated.
    func logs(_ project: Project) -> String {
        let folder = project.lake + "/raw_data/logs/shop"
        let names = ((try? FileManager.default.contentsOfDirectory(atPath: folder)) ?? []).filter { $0.hasSuffix(".log") }
        return names.compactMap { try? String(contentsOfFile: folder + "/" + $0, encoding: .utf8) }.joined()
    }

    func bytes(_ project: Project, _ relative: String) throws -> Data {
        try Data(contentsOf: URL(fileURLWithPath: project.lake + "/" + relative))
    }

    /// A file size limit (as a full disk does) makes a write fail: the stage fails with the
    /// reason, the run exits 1, and the outputs of the last good run stay as they were.
    @Test func aFullDiskFailsTheStageAndKeepsThePreviousOutputs() throws {
        let project = try project(rows: 200)
        #expect(try project.runPipeline("shop", ["--date", "2026-11-25"]).0.status == 0)
        let products = "scraped_data/products/dt=2026-11-25/products.jsonl.gz"
        let export = "processed_data/exports/dt=2026-11-25/products.csv"
        let before = (try bytes(project, products), try bytes(project, export))

        // Larger input: the export (a CSV of ~40 KB) no longer fits under a 16 KB file limit.
        try writeProducts(project, rows: 600, price: 20)
        let result = try project.run(["run", "shop", "--date", "2026-11-25", "--json"], fileSizeLimitKB: 16)
        #expect(result.status == 1, "\(result.stderr)")
        let manifest = (try? JSONSerialization.jsonObject(with: Data(result.stdout.utf8))) as? [String: Any] ?? [:]
        #expect(Project.statuses(manifest) == ["products": "ran", "export": "failed", "store": "failed"])
        let errors = (manifest["stages"] as? [[String: Any]] ?? []).compactMap { $0["error"] as? String }
        #expect(errors.contains { $0.contains("File too large") || $0.contains("disk I/O error") }, "\(errors)")
        // The export could not be written: the previous one is still there, whole; no temporary is left.
        #expect(try bytes(project, export) == before.1)
        #expect(try bytes(project, products) != before.0)  // the smaller file fitted and was replaced whole
        #expect(project.temporaryFiles().isEmpty, "\(project.temporaryFiles())")
        // With room again, the run completes.
        #expect(try project.runPipeline("shop", ["--date", "2026-11-25"]).0.status == 0)
    }

    /// A lake folder the run may not write to (as after a wrong chmod or a mount gone read-only):
    /// the stage fails naming the path and the reason, the run exits 1, the file already there
    /// stays whole, the stages that do not depend on it still run, and nothing temporary is left.
    @Test func aFolderWithoutWritePermissionFailsTheStageAndKeepsItsFile() throws {
        let project = try project(rows: 40)
        try project.handToUnprivilegedUser()
        let date = ["--date", "2026-11-25"]
        #expect(try project.run(["run", "shop"] + date, unprivileged: true).status == 0)
        let exportFolder = project.lake + "/processed_data/exports/dt=2026-11-25"
        let export = "processed_data/exports/dt=2026-11-25/products.csv"
        let before = try bytes(project, export)

        try writeProducts(project, rows: 80, price: 50)
        try project.handToUnprivilegedUser()
        #expect(chmod(exportFolder, 0o555) == 0)
        let result = try project.run(["run", "shop", "--json"] + date, unprivileged: true)
        #expect(result.status == 1, "\(result.stderr)")
        let manifest = (try? JSONSerialization.jsonObject(with: Data(result.stdout.utf8))) as? [String: Any] ?? [:]
        #expect(Project.statuses(manifest) == ["products": "ran", "export": "failed", "store": "ran"])
        let errors = (manifest["stages"] as? [[String: Any]] ?? []).compactMap { $0["error"] as? String }
        #expect(errors.contains { $0.contains("Permission denied") && $0.contains("dt=2026-11-25") }, "\(errors)")
        #expect(try bytes(project, export) == before)
        #expect(project.temporaryFiles().isEmpty, "\(project.temporaryFiles())")

        // Writable again: the export catches up with the new input.
        #expect(chmod(exportFolder, 0o755) == 0)
        #expect(try project.run(["run", "shop"] + date, unprivileged: true).status == 0)
        #expect(try bytes(project, export) != before)
        #expect(try project.read("datalake/" + export).split(separator: "\n").count == 81)
    }

    /// Another process holding the store's write lock: materialize waits busy_timeout, then fails
    /// saying so; the store keeps its rows and the lake outputs are written.
    @Test func aLockedStoreFailsMaterializeClearlyAndLosesNothing() throws {
        let project = try project(rows: 50)
        #expect(try project.runPipeline("shop", ["--date", "2026-11-25"]).0.status == 0)
        try writeProducts(project, rows: 60, price: 30)

        let holder = try Database(path: project.lake + "/store/agentshop.sqlite")
        try holder.execute("BEGIN IMMEDIATE")
        let (process, _, err) = try project.start(["run", "shop", "--date", "2026-11-25"])
        // Let go once the stage has given up, so that the run's own bookkeeping does not wait too.
        let deadline = Date().addingTimeInterval(60)
        while Date() < deadline && !logs(project).contains("stage failed") { usleep(20_000) }
        try holder.execute("ROLLBACK")
        let stderr = String(decoding: err.fileHandleForReading.readDataToEndOfFile(), as: UTF8.self)
        process.waitUntilExit()

        #expect(process.terminationStatus == 1)
        #expect(stderr.contains("the store is locked by another writer"), "\(stderr)")
        #expect(stderr.contains("busy_timeout"), "\(stderr)")
        let db = try Database(path: project.lake + "/store/agentshop.sqlite", mode: .readOnly)
        #expect(try db.scalar("SELECT count(*) FROM products")?.int64 == 50)
        #expect(try db.scalar("SELECT max(price_cents) FROM products")?.int64 == (10 + 49) * 100)
        // Once the lock is gone, the next run loads the new rows.
        #expect(try project.runPipeline("shop", ["--date", "2026-11-25"]).0.status == 0)
        #expect(try db.scalar("SELECT count(*) FROM products")?.int64 == 60)
    }
}
