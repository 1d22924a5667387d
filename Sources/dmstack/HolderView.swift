import StackModel

/// `holders show` and `register --json`: a record with its chains as trees per leaf.
struct HolderView: Encodable {
    var name, kind: String
    var state: HolderState
    var filesystem: FilesystemIdentity?
    var hook: [String]?
    var registeredBy, registeredAt, refreshedAt: String
    var layers: [RecordedLayer]
    var chains: [HolderChain]
    var leaves: [Node]
    var pendingChanges: [String]
    var history: [Entry]

    struct Entry: Encodable { var at, change: String }

    struct Node: Encodable {
        var identity, name, majorMinor: String
        var state: LayerState
        var roles: [String]
        var above: [Node]
    }

    init(_ r: HolderRecord, history: [(at: String, change: String)], pending: [String]) {
        name = r.name
        kind = r.kind.rawValue
        state = r.state
        filesystem = r.filesystem
        hook = r.hook
        registeredBy = r.registeredBy
        registeredAt = r.registeredAt
        refreshedAt = r.refreshedAt
        layers = r.layers
        chains = r.chains
        func node(_ t: LayerTree) -> Node {
            let l = r.layer(t.identity)
            return Node(identity: t.identity, name: l?.name ?? t.identity, majorMinor: l?.device.majorMinor ?? "?",
                        state: l?.state ?? .gone, roles: t.roles.map(\.rawValue), above: t.above.map(node))
        }
        leaves = r.leafTrees().map(node)
        pendingChanges = pending
        self.history = history.map { Entry(at: $0.at, change: $0.change) }
    }

    func render(_ r: HolderRecord) -> String {
        var lines: [String] = []
        if let fs = filesystem {
            lines.append("holder \(name): \(fs.type) filesystem UUID \(fs.uuid ?? "none")\(fs.blockSize.map { ", block size \($0)" } ?? "")"
                + (fs.mountpoint.map { ", mounted on \($0)" } ?? ", not mounted"))
        } else {
            lines.append("holder \(name): raw device user" + (hook.map { ", hook: \($0.joined(separator: " "))" } ?? ", no hook"))
        }
        lines.append("state \(state); registered \(registeredAt) by \(registeredBy); refreshed \(refreshedAt)")
        func describe(_ n: Node) -> String {
            guard let l = r.layer(n.identity) else { return n.identity }
            var parts = ["\(l.name) (\(l.device.majorMinor))"]
            if let types = l.device.dm?.targetTypes, !types.isEmpty { parts.append(types.joined(separator: "+")) }
            if let ns = l.namespace { parts.append("\(ns.name) \(ns.mode)" + (ns.claimedBy.map { " via \($0)" } ?? "")) }
            if let p = l.device.partition { parts.append("partition \(p.number) of \(p.parent)") }
            if let file = l.device.loopBackingFile { parts.append("loop on \(file)") }
            parts.append(l.identity)
            switch l.state {
            case .present: break
            case .gone: parts.append("GONE" + (l.since.map { " since \($0)" } ?? ""))
            case .detached: parts.append("DETACHED (no longer under the holder)" + (l.since.map { " since \($0)" } ?? ""))
            }
            return parts.joined(separator: "  ")
        }
        func walk(_ n: Node, depth: Int) {
            lines.append(String(repeating: "   ", count: depth) + "└─ " + describe(n))
            for a in n.above { walk(a, depth: depth + 1) }
        }
        for leaf in leaves {
            lines.append("leaf \(describe(leaf))  [\(leaf.roles.joined(separator: ","))]")
            for a in leaf.above { walk(a, depth: 1) }
        }
        if !pendingChanges.isEmpty {
            lines.append("changed since the last refresh (dmstack holders refresh records it):")
            lines += pendingChanges.map { "  \($0)" }
        }
        if !history.isEmpty {
            lines.append("history:")
            lines += history.map { "  \($0.at)  \($0.change)" }
        }
        return lines.joined(separator: "\n")
    }
}
