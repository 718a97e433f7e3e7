import Foundation
import IO

/// An independent reader of TensorBoard event files for the tests (bitwise CRC-32C, hand-decoded
/// protobuf), so a wrong CRC, length or field number in the writer fails them.
package struct ParsedEvent {
    package var wallTime = 0.0
    package var step = 0
    package var fileVersion = ""
    package var scalars: [(String, Float)] = []
}

/// A TFRecord + Event reader that checks both CRCs of every record.
package func readEvents(_ path: String) throws -> [ParsedEvent] {
    let data = [UInt8](try Data(contentsOf: URL(fileURLWithPath: path)))
    var events: [ParsedEvent] = []
    var i = 0
    func u32(_ at: Int) -> UInt32 { (0..<4).reduce(UInt32(0)) { $0 | UInt32(data[at + $1]) << (8 * $1) } }
    while i < data.count {
        let header = Array(data[i..<(i + 8)])
        let len = (0..<8).reduce(0) { $0 | Int(data[i + $1]) << (8 * $1) }
        guard u32(i + 8) == bitwiseMaskedCRC(header) else { throw EmbedError("bad length CRC at \(i)") }
        let body = Array(data[(i + 12)..<(i + 12 + len)])
        guard u32(i + 12 + len) == bitwiseMaskedCRC(body) else { throw EmbedError("bad data CRC at \(i)") }
        events.append(try parseEvent(body))
        i += 16 + len
    }
    return events
}

package func bitwiseMaskedCRC(_ d: [UInt8]) -> UInt32 {
    var crc: UInt32 = 0xFFFF_FFFF
    for b in d {
        crc ^= UInt32(b)
        for _ in 0..<8 { crc = (crc >> 1) ^ (crc & 1 == 1 ? 0x82F6_3B78 : 0) }
    }
    crc = ~crc
    return ((crc >> 15) | (crc << 17)) &+ 0xA282_EAD8
}

package func parseEvent(_ b: [UInt8]) throws -> ParsedEvent {
    var e = ParsedEvent()
    try walkProto(b) { field, wire, value, bytes in
        switch (field, wire) {
        case (1, 1): e.wallTime = Double(bitPattern: value)
        case (2, 0): e.step = Int(value)
        case (3, 2): e.fileVersion = String(decoding: bytes, as: UTF8.self)
        case (5, 2):
            try walkProto(bytes) { f, w, _, valueBytes in
                guard f == 1, w == 2 else { return }
                var tag = "", v: Float = .nan
                try walkProto(valueBytes) { f2, w2, raw, tb in
                    if f2 == 1, w2 == 2 { tag = String(decoding: tb, as: UTF8.self) }
                    if f2 == 2, w2 == 5 { v = Float(bitPattern: UInt32(raw)) }
                }
                e.scalars.append((tag, v))
            }
        default: throw EmbedError("unexpected field \(field) wire \(wire)")
        }
    }
    return e
}

package func walkProto(_ b: [UInt8], _ visit: (Int, Int, UInt64, [UInt8]) throws -> Void) throws {
    var i = 0
    func varint() -> UInt64 {
        var v: UInt64 = 0, shift: UInt64 = 0
        while true { let c = b[i]; i += 1; v |= UInt64(c & 0x7F) << shift; if c < 0x80 { return v }; shift += 7 }
    }
    while i < b.count {
        let key = varint()
        let field = Int(key >> 3), wire = Int(key & 7)
        switch wire {
        case 0: try visit(field, wire, varint(), [])
        case 1: let v = (0..<8).reduce(UInt64(0)) { $0 | UInt64(b[i + $1]) << (8 * UInt64($1)) }; i += 8; try visit(field, wire, v, [])
        case 5: let v = (0..<4).reduce(UInt64(0)) { $0 | UInt64(b[i + $1]) << (8 * UInt64($1)) }; i += 4; try visit(field, wire, v, [])
        case 2: let n = Int(varint()); let s = Array(b[i..<(i + n)]); i += n; try visit(field, wire, 0, s)
        default: throw EmbedError("bad wire type \(wire)")
        }
    }
}
