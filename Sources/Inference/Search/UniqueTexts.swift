#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// Distinct strings in order of first occurrence, as Python's `list(dict.fromkeys(texts))` keeps
/// them: equal means the same code points (UTF-8 bytes), not Swift's canonical equivalence. Stored
/// packed — one byte buffer, offsets and an open-addressing index — so a million texts cost their
/// UTF-8 bytes plus about 24 bytes each, not a String object apiece.
package final class UniqueTexts {
    private var bytes: [UInt8] = []
    private var offsets: [Int] = [0]
    private var hashes: [UInt64] = []
    /// Open addressing: entry index + 1, 0 = empty. Capacity a power of two, at most half full.
    private var slots: [Int32] = Array(repeating: 0, count: 16)

    package init() {}

    package var count: Int { hashes.count }

    package subscript(i: Int) -> String {
        bytes.withUnsafeBufferPointer { String(decoding: UnsafeBufferPointer(rebasing: $0[offsets[i]..<offsets[i + 1]]), as: UTF8.self) }
    }

    /// Texts `range`, in order.
    package func texts(_ range: Range<Int>) -> [String] { range.map { self[$0] } }

    /// The index of `text`, inserting it at the end when new.
    @discardableResult
    package func insert(_ text: String) -> (index: Int, inserted: Bool) {
        var t = text
        return t.withUTF8 { u in
            let h = UniqueTexts.hash(u)
            let (slot, found) = find(u, hash: h)
            if let found { return (found, false) }
            let i = hashes.count
            bytes.append(contentsOf: u)
            offsets.append(bytes.count)
            hashes.append(h)
            slots[slot] = Int32(i + 1)
            if hashes.count * 2 > slots.count { grow() }
            return (i, true)
        }
    }

    /// Whether text i sorts before text j by code points (Python's `str` order), i.e. by UTF-8 bytes.
    package func precedes(_ i: Int, _ j: Int) -> Bool {
        bytes.withUnsafeBufferPointer { b in
            let a0 = offsets[i], an = offsets[i + 1] - a0, b0 = offsets[j], bn = offsets[j + 1] - b0
            let c = memcmp(b.baseAddress! + a0, b.baseAddress! + b0, min(an, bn))
            return c < 0 || (c == 0 && an < bn)
        }
    }

    /// The index of `text`, if present.
    package func index(of text: String) -> Int? {
        var t = text
        return t.withUTF8 { find($0, hash: UniqueTexts.hash($0)).found }
    }

    private func find(_ u: UnsafeBufferPointer<UInt8>, hash h: UInt64) -> (slot: Int, found: Int?) {
        let mask = slots.count - 1
        var s = Int(truncatingIfNeeded: h) & mask
        while true {
            let e = Int(slots[s])
            if e == 0 { return (s, nil) }
            let i = e - 1
            if hashes[i] == h, offsets[i + 1] - offsets[i] == u.count {
                let same = bytes.withUnsafeBufferPointer { b in
                    u.count == 0 || memcmp(b.baseAddress! + offsets[i], u.baseAddress!, u.count) == 0
                }
                if same { return (s, i) }
            }
            s = (s + 1) & mask
        }
    }

    private func grow() {
        slots = Array(repeating: 0, count: slots.count * 2)
        let mask = slots.count - 1
        for (i, h) in hashes.enumerated() {
            var s = Int(truncatingIfNeeded: h) & mask
            while slots[s] != 0 { s = (s + 1) & mask }
            slots[s] = Int32(i + 1)
        }
    }

    /// FNV-1a, finished with a 64-bit mixer so the low bits (the slot) depend on every byte.
    private static func hash(_ u: UnsafeBufferPointer<UInt8>) -> UInt64 {
        var h: UInt64 = 0xcbf2_9ce4_8422_2325
        for b in u { h = (h ^ UInt64(b)) &* 0x0000_0100_0000_01b3 }
        h = (h ^ (h >> 30)) &* 0xBF58_476D_1CE4_E5B9
        h = (h ^ (h >> 27)) &* 0x94D0_49BB_1331_11EB
        return h ^ (h >> 31)
    }
}
