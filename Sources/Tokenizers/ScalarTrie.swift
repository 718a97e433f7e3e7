import IO

/// A trie over Unicode scalar sequences with an id at each node that ends a token. Lookups are
/// exact scalar (hence UTF-8 byte) comparisons: "é" and "e" + U+0301 are different tokens, as in
/// the Rust HashMap<String, u32> vocabularies, whereas Swift `String` equality would merge them.
///
/// Edges live in one open-addressing hash table keyed by (node, scalar). A slot also carries the
/// child's token id, so one step of a walk — the models' inner loop — touches one cache line
/// (vocabularies of 250K tokens make a table far larger than the caches). The root's ASCII edges
/// are also kept in a direct array, since most pieces start there.
final class ScalarTrie: @unchecked Sendable {
    private struct Slot {
        var key: UInt64
        var child: UInt32
        var value: Int32
    }

    private var slots: UnsafeMutablePointer<Slot>
    private var mask: Int
    private var used = 0
    /// Token id per node, -1 where no token ends (the slots hold copies).
    private var values = ScratchBuffer<Int32>(capacity: 1024)
    private let rootASCII: UnsafeMutablePointer<Slot>
    private static let emptyKey = UInt64.max
    private static let none = Slot(key: emptyKey, child: 0, value: -1)

    /// The number of distinct tokens inserted.
    private(set) var tokenCount = 0

    /// `expectedEdges` sizes the table up front (it grows as needed anyway).
    init(expectedEdges: Int = 512) {
        var capacity = 1024
        while capacity < expectedEdges * 2 { capacity <<= 1 }
        mask = capacity - 1
        slots = .allocate(capacity: capacity)
        slots.initialize(repeating: ScalarTrie.none, count: capacity)
        rootASCII = .allocate(capacity: 128)
        rootASCII.initialize(repeating: ScalarTrie.none, count: 128)
        values.append(-1)
    }

    deinit {
        slots.deallocate()
        rootASCII.deallocate()
        values.free()
    }

    var nodeCount: Int { values.count }

    @inline(__always)
    private static func hash(_ key: UInt64, _ mask: Int) -> Int {
        Int(truncatingIfNeeded: (key &* 0x9E37_79B9_7F4A_7C15) >> 29) & mask
    }

    /// The slot of edge (node, c), or nil.
    @inline(__always)
    private func find(_ node: UInt32, _ c: UInt32) -> UnsafeMutablePointer<Slot>? {
        if node == 0, c < 128 { return rootASCII[Int(c)].child == 0 ? nil : rootASCII + Int(c) }
        let key = UInt64(node) << 21 | UInt64(c)
        var i = ScalarTrie.hash(key, mask)
        while true {
            let k = slots[i].key
            if k == key { return slots + i }
            if k == ScalarTrie.emptyKey { return nil }
            i = (i + 1) & mask
        }
    }

    /// One step of a walk: the child of `node` along `c` (0 when there is none) and the id of the
    /// token ending there (-1 for none).
    @inline(__always)
    func step(_ node: UInt32, _ c: UInt32) -> (node: UInt32, value: Int32) {
        guard let s = find(node, c) else { return (0, -1) }
        return (s.pointee.child, s.pointee.value)
    }

    /// The child of `node` along `c`, or 0 (the root is never a child).
    @inline(__always)
    func child(_ node: UInt32, _ c: UInt32) -> UInt32 { find(node, c)?.pointee.child ?? 0 }

    @inline(__always)
    func value(_ node: UInt32) -> Int32 { values.base[Int(node)] }

    /// Adds `token` with `id`; a later insert of the same token replaces the id (last wins, as a
    /// HashMap built from the vocabulary in order would).
    func insert<S: Sequence>(_ token: S, id: Int32) where S.Element == UInt32 {
        var node: UInt32 = 0
        var edge: UnsafeMutablePointer<Slot>?
        for c in token {
            if let s = find(node, c) {
                edge = s
                node = s.pointee.child
            } else {
                let next = UInt32(values.count)
                values.append(-1)
                edge = addEdge(node, c, next)
                node = next
            }
        }
        if values[Int(node)] < 0 { tokenCount += 1 }
        values[Int(node)] = id
        edge?.pointee.value = id
    }

    /// The node reached by `token` from `from`, or nil.
    func walk<S: Sequence>(_ token: S, from: UInt32 = 0) -> UInt32? where S.Element == UInt32 {
        var node = from
        for c in token {
            node = child(node, c)
            if node == 0 { return nil }
        }
        return node
    }

    /// The id of exactly `token`, or nil.
    func lookup<S: Sequence>(_ token: S) -> Int32? where S.Element == UInt32 {
        guard let node = walk(token) else { return nil }
        let v = values[Int(node)]
        return v >= 0 ? v : nil
    }

    private func addEdge(_ node: UInt32, _ c: UInt32, _ target: UInt32) -> UnsafeMutablePointer<Slot> {
        if node == 0, c < 128 {
            rootASCII[Int(c)] = Slot(key: UInt64(c), child: target, value: -1)
            return rootASCII + Int(c)
        }
        if (used + 1) * 2 > mask + 1 { rehash() }
        let key = UInt64(node) << 21 | UInt64(c)
        var i = ScalarTrie.hash(key, mask)
        while slots[i].key != ScalarTrie.emptyKey { i = (i + 1) & mask }
        slots[i] = Slot(key: key, child: target, value: -1)
        used += 1
        return slots + i
    }

    private func rehash() {
        let old = slots, oldCapacity = mask + 1
        let capacity = oldCapacity * 2
        slots = .allocate(capacity: capacity)
        slots.initialize(repeating: ScalarTrie.none, count: capacity)
        mask = capacity - 1
        for j in 0..<oldCapacity where old[j].key != ScalarTrie.emptyKey {
            var i = ScalarTrie.hash(old[j].key, mask)
            while slots[i].key != ScalarTrie.emptyKey { i = (i + 1) & mask }
            slots[i] = old[j]
        }
        old.deallocate()
    }
}
