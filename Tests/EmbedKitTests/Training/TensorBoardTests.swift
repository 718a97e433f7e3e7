import EmbedKit
import Foundation
import Testing

/// Event files are parsed back by an independent reader here (bitwise CRC-32C, hand-decoded
/// protobuf), so a wrong CRC, length or field number in the writer fails the test.
@Suite struct TensorBoardTests {
    @Test func scalarsReadBackWithValidCRCs() throws {
        let dir = TestPaths.scratch()
        let w = try TensorBoardWriter(directory: dir)
        try w.scalars([("train/loss", 0.75), ("train/learning_rate", 2e-5)], step: 10, wallTime: 1000.5)
        try w.scalars([("eval/cosine_accuracy", 0.9375)], step: 500)
        let files = try FileManager.default.contentsOfDirectory(atPath: dir)
        #expect(files.count == 1 && files[0].hasPrefix("events.out.tfevents."))
        let events = try readEvents(dir + "/" + files[0])
        #expect(events.count == 3)
        #expect(events[0].fileVersion == "brain.Event:2")
        #expect(events[1].step == 10 && events[1].wallTime == 1000.5)
        #expect(events[1].scalars.map(\.0) == ["train/loss", "train/learning_rate"])
        #expect(events[1].scalars.map(\.1) == [0.75, 2e-5])
        #expect(events[2].step == 500 && events[2].scalars.first?.1 == 0.9375)
    }

    @Test func crc32cKnownVector() {
        // RFC 3720 test vector: CRC-32C of "123456789" is 0xE3069283.
        #expect(crc32c(Array("123456789".utf8)) == 0xE306_9283)
    }
}

struct ParsedEvent {
    var wallTime = 0.0
    var step = 0
    var fileVersion = ""
    var scalars: [(String, Float)] = []
}

/// A TFRecord + Event reader that checks both CRCs of every record.
func readEvents(_ path: String) throws -> [ParsedEvent] {
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

func bitwiseMaskedCRC(_ d: [UInt8]) -> UInt32 {
    var crc: UInt32 = 0xFFFF_FFFF
    for b in d {
        crc ^= UInt32(b)
        for _ in 0..<8 { crc = (crc >> 1) ^ (crc & 1 == 1 ? 0x82F6_3B78 : 0) }
    }
    crc = ~crc
    return ((crc >> 15) | (crc << 17)) &+ 0xA282_EAD8
}

func parseEvent(_ b: [UInt8]) throws -> ParsedEvent {
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

func walkProto(_ b: [UInt8], _ visit: (Int, Int, UInt64, [UInt8]) throws -> Void) throws {
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
