import IO

/// Byte-pair encoding as `tokenizers` runs it: each scalar of the piece (with the continuing
/// prefix / end-of-word suffix where configured) starts as a symbol, unknown ones fall back to
/// `<0xHH>` byte tokens or the (fused) unknown token, then the pair with the lowest merge rank —
/// leftmost on ties — is merged until no listed pair remains.
final class BPEModel: @unchecked Sendable {
    let vocab: ScalarTrie
    let distinctTokens: Int
    let idLimit: Int
    /// (left id, right id) → (rank, merged id).
    private let merges: [UInt64: (rank: UInt32, id: Int32)]
    private let unkId: Int32?
    private let prefix: [UInt32]?
    private let suffix: [UInt32]?
    private let fuseUnk: Bool
    private let byteFallback: Bool
    private let ignoreMerges: Bool
    private let byteIds: [Int32?]

    init(entries: VocabularyEntries, merges mergeList: [([UInt32], [UInt32])], unkToken: String?,
         continuingPrefix: String?, endOfWordSuffix: String?, fuseUnk: Bool, byteFallback: Bool,
         ignoreMerges: Bool) throws
    {
        (vocab, distinctTokens, idLimit) = entries.trie()
        let prefixScalars = continuingPrefix.map { Array($0.unicodeScalars.map(\.value)) }
        var table: [UInt64: (rank: UInt32, id: Int32)] = [:]
        func name(_ t: [UInt32]) -> String { String(String.UnicodeScalarView(t.compactMap(Unicode.Scalar.init))) }
        for (rank, (a, b)) in mergeList.enumerated() {
            guard let ia = vocab.lookup(a) else { throw EmbedError("BPE: merge token '\(name(a))' is not in the vocabulary") }
            guard let ib = vocab.lookup(b) else { throw EmbedError("BPE: merge token '\(name(b))' is not in the vocabulary") }
            // tokenizers drops the prefix's length from the right part, whatever it starts with.
            let dropped = min(prefixScalars?.count ?? 0, b.count)
            let merged = a + b[dropped...]
            guard let id = vocab.lookup(merged) else {
                throw EmbedError("BPE: merged token '\(name(merged))' is not in the vocabulary")
            }
            table[UInt64(UInt32(bitPattern: ia)) << 32 | UInt64(UInt32(bitPattern: ib))] = (UInt32(rank), id)
        }
        merges = table
        if let unkToken {
            unkId = vocab.lookup(unkToken.unicodeScalars.map(\.value))
            if unkId == nil { throw EmbedError("BPE: the unknown token '\(unkToken)' is not in the vocabulary") }
        } else {
            unkId = nil
        }
        prefix = prefixScalars
        suffix = endOfWordSuffix.map { Array($0.unicodeScalars.map(\.value)) }
        self.fuseUnk = fuseUnk
        self.byteFallback = byteFallback
        self.ignoreMerges = ignoreMerges
        let v = vocab
        byteIds = (0..<256).map { b in
            let name = "<0x" + String(b, radix: 16, uppercase: true).leftPadded(to: 2) + ">"
            return v.lookup(name.unicodeScalars.map(\.value))
        }
    }

    private struct Symbol {
        var id: Int32
        var prev: Int
        var next: Int
        var alive: Bool
    }

    func tokenize(_ word: UnsafeBufferPointer<UInt32>, _ s: EncodeScratch) {
        let n = word.count
        guard n > 0 else { return }
        if ignoreMerges, let id = vocab.lookup(word) {
            s.ids.append(id)
            return
        }
        // Initial symbols.
        var ids: [Int32] = []
        ids.reserveCapacity(n)
        var pendingUnk = false
        var scalar: [UInt32] = []
        for k in 0..<n {
            scalar.removeAll(keepingCapacity: true)
            if k > 0, let prefix { scalar += prefix }
            scalar.append(word[k])
            if k == n - 1, let suffix { scalar += suffix }
            if let id = vocab.lookup(scalar) {
                if pendingUnk, let unkId { ids.append(unkId) }
                pendingUnk = false
                ids.append(id)
                continue
            }
            if byteFallback {
                var bytes: [UInt8] = []
                for c in scalar { appendUTF8(&bytes, c) }
                if bytes.allSatisfy({ byteIds[Int($0)] != nil }) {
                    // As in tokenizers, a pending unknown is not flushed first.
                    for b in bytes { ids.append(byteIds[Int(b)]!) }
                    continue
                }
            }
            if let unkId {
                if pendingUnk, !fuseUnk { ids.append(unkId) }
                pendingUnk = true
            }
        }
        if pendingUnk, let unkId { ids.append(unkId) }

        // Merge by rank with a binary heap of candidate pairs.
        var symbols = ids.indices.map { Symbol(id: ids[$0], prev: $0 - 1, next: $0 + 1 < ids.count ? $0 + 1 : -1, alive: true) }
        var heap = MergeHeap()
        for k in 0..<max(0, symbols.count - 1) {
            if let m = merges[pairKey(symbols[k].id, symbols[k + 1].id)] { heap.push(rank: m.rank, pos: k, id: m.id) }
        }
        while let top = heap.pop() {
            guard symbols[top.pos].alive, symbols[top.pos].next >= 0 else { continue }
            let nextPos = symbols[top.pos].next
            guard let m = merges[pairKey(symbols[top.pos].id, symbols[nextPos].id)], m.id == top.id else { continue }
            symbols[top.pos].id = top.id
            symbols[nextPos].alive = false
            let after = symbols[nextPos].next
            symbols[top.pos].next = after
            if after >= 0 { symbols[after].prev = top.pos }
            let prev = symbols[top.pos].prev
            if prev >= 0, let pm = merges[pairKey(symbols[prev].id, top.id)] {
                heap.push(rank: pm.rank, pos: prev, id: pm.id)
            }
            if after >= 0, let nm = merges[pairKey(top.id, symbols[after].id)] {
                heap.push(rank: nm.rank, pos: top.pos, id: nm.id)
            }
        }
        for sym in symbols where sym.alive { s.ids.append(sym.id) }
    }

    @inline(__always)
    private func pairKey(_ a: Int32, _ b: Int32) -> UInt64 {
        UInt64(UInt32(bitPattern: a)) << 32 | UInt64(UInt32(bitPattern: b))
    }
}

/// A min-heap of merge candidates ordered by (rank, position).
private struct MergeHeap {
    struct Entry {
        var rank: UInt32
        var pos: Int
        var id: Int32
    }

    private var items: [Entry] = []

    private static func less(_ a: Entry, _ b: Entry) -> Bool {
        a.rank != b.rank ? a.rank < b.rank : a.pos < b.pos
    }

    mutating func push(rank: UInt32, pos: Int, id: Int32) {
        items.append(Entry(rank: rank, pos: pos, id: id))
        var i = items.count - 1
        while i > 0 {
            let parent = (i - 1) / 2
            guard MergeHeap.less(items[i], items[parent]) else { break }
            items.swapAt(i, parent)
            i = parent
        }
    }

    mutating func pop() -> Entry? {
        guard let first = items.first else { return nil }
        let last = items.removeLast()
        if !items.isEmpty {
            items[0] = last
            var i = 0
            while true {
                let l = 2 * i + 1, r = l + 1
                var best = i
                if l < items.count, MergeHeap.less(items[l], items[best]) { best = l }
                if r < items.count, MergeHeap.less(items[r], items[best]) { best = r }
                if best == i { break }
                items.swapAt(i, best)
                i = best
            }
        }
        return first
    }
}
