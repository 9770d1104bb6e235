/// The stage graph: order, cycles, and what a stage needs or feeds.
public enum PipelineGraph {
    /// A cycle as a path of stage names that starts and ends at the same stage, or nil.
    public static func findCycle(_ stages: [StageSpec]) -> [String]? {
        let upstream = Dictionary(uniqueKeysWithValues: stages.map { ($0.name, $0.upstream) })
        var state: [String: Int] = [:]  // 1 = on the current path, 2 = done
        var path: [String] = []
        func visit(_ name: String) -> [String]? {
            if state[name] == 2 { return nil }
            if state[name] == 1 {
                let start = path.firstIndex(of: name)!
                return Array(path[start...]) + [name]
            }
            state[name] = 1
            path.append(name)
            for dependency in upstream[name] ?? [] {
                if let cycle = visit(dependency) { return cycle }
            }
            path.removeLast()
            state[name] = 2
            return nil
        }
        for stage in stages {
            if let cycle = visit(stage.name) {
                // Report it in the direction data flows: producer before consumer.
                return Array(cycle.reversed())
            }
        }
        return nil
    }

    /// Stages ordered so that each comes after everything it depends on; file order breaks ties.
    public static func topologicalOrder(_ stages: [StageSpec]) -> [StageSpec] {
        var done = Set<String>()
        var ordered: [StageSpec] = []
        var remaining = stages
        while !remaining.isEmpty {
            guard let index = remaining.firstIndex(where: { $0.upstream.allSatisfy(done.contains) }) else {
                preconditionFailure("topologicalOrder called on a graph with a cycle")
            }
            let stage = remaining.remove(at: index)
            done.insert(stage.name)
            ordered.append(stage)
        }
        return ordered
    }

    /// `names` and everything they depend on, transitively.
    public static func withUpstream(_ names: [String], in stages: [StageSpec]) -> Set<String> {
        let upstream = Dictionary(uniqueKeysWithValues: stages.map { ($0.name, $0.upstream) })
        var result = Set<String>()
        var queue = names
        while let name = queue.popLast() {
            if result.insert(name).inserted { queue += upstream[name] ?? [] }
        }
        return result
    }

    /// Everything that depends on `name`, transitively (not including it).
    public static func downstream(of name: String, in stages: [StageSpec]) -> Set<String> {
        var result = Set<String>()
        var queue = [name]
        while let current = queue.popLast() {
            for stage in stages where stage.upstream.contains(current) && result.insert(stage.name).inserted {
                queue.append(stage.name)
            }
        }
        return result
    }
}
