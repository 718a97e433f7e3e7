/// A trie over Unicode scalar sequences with an id at each node that ends a token. Lookups are
/// exact scalar (hence UTF-8 byte) comparisons: "é" and "e" + U+0301 are different tokens, as in
/// the Rust HashMap<String, u32> vocabularies, whereas Swift `String` equality would merge them.
///
/// Edges live in one open-addressing hash table keyed by (node, scalar); the root's ASCII edges
/// also in a direct array, since most pieces start there.
final class ScalarTrie: @unchecked Sendable {
    private var keys: UnsafeMutablePointer<UInt64>
    private var children: UnsafeMutablePointer<UInt32>
    private var mask: Int
    private var used = 0
    /// Token id per node, -1 where no token ends.
    private var values = ScratchBuffer<Int32>(capacity: 1024)
    private let rootASCII: UnsafeMutablePointer<UInt32>
    private static let emptyKey = UInt64.max

    init(expectedNodes: Int = 1024) {
        var capacity = 1024
        while capacity < expectedNodes * 2 { capacity <<= 1 }
        mask = capacity - 1
        keys = .allocate(capacity: capacity)
        keys.initialize(repeating: ScalarTrie.emptyKey, count: capacity)
        children = .allocate(capacity: capacity)
        children.initialize(repeating: 0, count: capacity)
        rootASCII = .allocate(capacity: 128)
        rootASCII.initialize(repeating: 0, count: 128)
        values.append(-1)
    }

    deinit {
        keys.deallocate()
        children.deallocate()
        rootASCII.deallocate()
        values.free()
    }

    var nodeCount: Int { values.count }

    @inline(__always)
    private static func slot(_ key: UInt64, _ mask: Int) -> Int {
        Int(truncatingIfNeeded: (key &* 0x9E37_79B9_7F4A_7C15) >> 29) & mask
    }

    /// The child of `node` along `c`, or 0 (the root is never a child).
    @inline(__always)
    func child(_ node: UInt32, _ c: UInt32) -> UInt32 {
        if node == 0, c < 128 { return rootASCII[Int(c)] }
        let key = UInt64(node) << 21 | UInt64(c)
        var i = ScalarTrie.slot(key, mask)
        while true {
            let k = keys[i]
            if k == key { return children[i] }
            if k == ScalarTrie.emptyKey { return 0 }
            i = (i + 1) & mask
        }
    }

    @inline(__always)
    func value(_ node: UInt32) -> Int32 { values.base[Int(node)] }

    /// Adds `token` with `id`; a later insert of the same token replaces the id (last wins, as a
    /// HashMap built from the vocabulary in order would).
    func insert<S: Sequence>(_ token: S, id: Int32) where S.Element == UInt32 {
        var node: UInt32 = 0
        for c in token {
            var next = child(node, c)
            if next == 0 {
                next = UInt32(values.count)
                values.append(-1)
                addEdge(node, c, next)
            }
            node = next
        }
        values[Int(node)] = id
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

    private func addEdge(_ node: UInt32, _ c: UInt32, _ target: UInt32) {
        if node == 0, c < 128 { rootASCII[Int(c)] = target }
        if (used + 1) * 2 > mask + 1 { rehash() }
        let key = UInt64(node) << 21 | UInt64(c)
        var i = ScalarTrie.slot(key, mask)
        while keys[i] != ScalarTrie.emptyKey { i = (i + 1) & mask }
        keys[i] = key
        children[i] = target
        used += 1
    }

    private func rehash() {
        let oldKeys = keys, oldChildren = children, oldCapacity = mask + 1
        let capacity = oldCapacity * 2
        keys = .allocate(capacity: capacity)
        keys.initialize(repeating: ScalarTrie.emptyKey, count: capacity)
        children = .allocate(capacity: capacity)
        children.initialize(repeating: 0, count: capacity)
        mask = capacity - 1
        for j in 0..<oldCapacity where oldKeys[j] != ScalarTrie.emptyKey {
            var i = ScalarTrie.slot(oldKeys[j], mask)
            while keys[i] != ScalarTrie.emptyKey { i = (i + 1) & mask }
            keys[i] = oldKeys[j]
            children[i] = oldChildren[j]
        }
        oldKeys.deallocate()
        oldChildren.deallocate()
    }
}
