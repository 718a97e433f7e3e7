import Foundation
import IO
import TestSupport
import Testing

/// Damaged copies of valid checkpoints (seeded, so every run tries the same ones): bytes flipped,
/// overwritten with boundary values, or the file cut short. Each must open and read, or fail with an
/// `EmbedError`; a crash fails the whole run. CRC checks are off for most copies so that damaged
/// pickles and headers reach the parsers instead of being caught by the checksum.
@Suite struct TorchCheckpointFuzzTests {
    static let mutationsPerFile = Int(ProcessInfo.processInfo.environment["EMBEDKIT_FUZZ"] ?? "") ?? 400

    @Test(arguments: ["dtypes", "views", "nested", "protocol4", "deflated", "zip64"])
    func damagedCheckpointsFailCleanly(_ fixture: String) throws {
        let original = Array(try Data(contentsOf: URL(fileURLWithPath: TestPaths.fixtures + "/torch/\(fixture).pt")))
        let dir = TestPaths.scratch()
        defer { try? FileManager.default.removeItem(atPath: dir) }
        var rng = SplitMix64(seed: UInt64(fixture.utf8.reduce(0) { $0 &* 31 &+ Int($1) }.magnitude))
        var outcomes = (opened: 0, refused: 0)
        for i in 0..<Self.mutationsPerFile {
            var bytes = original
            switch rng.next() % 4 {
            case 0:  // cut short
                bytes.removeLast(Int(rng.next() % UInt64(bytes.count)) + 1)
            case 1:  // a few random bytes
                for _ in 0..<(1 + rng.next() % 4) { bytes[Int(rng.next() % UInt64(bytes.count))] = UInt8(truncatingIfNeeded: rng.next()) }
            case 2:  // a 32-bit boundary value somewhere (lengths, offsets, counts)
                let at = Int(rng.next() % UInt64(bytes.count - 4))
                let values: [UInt32] = [0, 1, 0x7F, 0x80, 0xFF, 0xFFFF, 0x7FFF_FFFF, 0x8000_0000, 0xFFFF_FFFF]
                let v = values[Int(rng.next() % UInt64(values.count))]
                for k in 0..<4 { bytes[at + k] = UInt8(truncatingIfNeeded: v >> (8 * UInt32(k))) }
            default:  // one byte inside the pickle, where most structure is
                let start = pickleRange(original)
                bytes[start.lowerBound + Int(rng.next() % UInt64(start.count))] = UInt8(truncatingIfNeeded: rng.next())
            }
            let path = dir + "/m\(i).pt"
            try Data(bytes).write(to: URL(fileURLWithPath: path))
            do {
                let ckpt = try TorchCheckpoint(path: path, verifyCRC: i % 8 == 0)
                for name in ckpt.names {
                    if [.f32, .f16, .bf16, .f64].contains(try ckpt.dtype(name)) {
                        _ = try ckpt.floats(name)
                    } else {
                        _ = try ckpt.ints(name)
                    }
                }
                outcomes.opened += 1
            } catch is EmbedError {
                outcomes.refused += 1
            } catch {
                Issue.record("mutation \(i) of \(fixture): not an EmbedError: \(error)")
            }
            unlink(path)
        }
        #expect(outcomes.opened + outcomes.refused == Self.mutationsPerFile)
        #expect(outcomes.refused > Self.mutationsPerFile / 4, "most damage should be detected: \(outcomes)")
    }
}

/// The bytes of the first member (data.pkl in torch files), from its local header.
private func pickleRange(_ b: [UInt8]) -> Range<Int> {
    func u16(_ o: Int) -> Int { Int(b[o]) | Int(b[o + 1]) << 8 }
    func u32(_ o: Int) -> Int { u16(o) | u16(o + 2) << 16 }
    var size = u32(18)
    let start = 30 + u16(26) + u16(28)
    if size == 0xFFFF_FFFF { size = u32(start - 16) }  // ZIP64 local extra: usize then csize
    return start..<min(b.count, start + max(size, 1))
}

private struct SplitMix64 {
    var state: UInt64
    init(seed: UInt64) { state = seed }
    mutating func next() -> UInt64 {
        state &+= 0x9E37_79B9_7F4A_7C15
        var z = state
        z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
        z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
        return z ^ (z >> 31)
    }
}
