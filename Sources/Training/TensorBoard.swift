import Foundation
import IO
import Inference
import NN

/// Writes TensorBoard event files (`events.out.tfevents.*`) with scalar summaries, so
/// `tensorboard --logdir <logging_dir>` shows training as it does for the Python Trainer.
///
/// Format: a TFRecord stream of serialized `tensorflow.Event` protos. Each record is
///   uint64 length | uint32 masked CRC32C(length) | data | uint32 masked CRC32C(data)
/// and an Event is { double wall_time = 1; int64 step = 2; string file_version = 3; Summary summary = 5 }
/// with Summary { repeated Value value = 1 } and Value { string tag = 1; float simple_value = 2 }.
/// The protobuf bytes are written by hand: five fields do not justify a protobuf dependency.
package final class TensorBoardWriter {
    package let path: String
    private let handle: FileHandle

    /// Creates a new event file in `directory` (TensorBoard reads every event file there, so a resumed
    /// run simply adds another).
    package init(directory: String) throws {
        try? FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true)
        let host = ProcessInfo.processInfo.hostName.split(separator: ".").first.map(String.init) ?? "localhost"
        let name = "events.out.tfevents.\(Int(Date().timeIntervalSince1970)).\(host).\(getpid()).0"
        path = directory + "/" + name
        guard FileManager.default.createFile(atPath: path, contents: nil), let h = FileHandle(forWritingAtPath: path) else {
            throw EmbedError("\(path): cannot create the TensorBoard event file")
        }
        handle = h
        var event = ProtoWriter()
        event.double(field: 1, Date().timeIntervalSince1970)
        event.string(field: 3, "brain.Event:2")
        try writeRecord(event.bytes)
    }

    deinit { try? handle.close() }

    /// Appends scalars (tag → value) at `step`; flushed at once so a live TensorBoard sees them.
    package func scalars(_ values: [(tag: String, value: Float)], step: Int, wallTime: Double = Date().timeIntervalSince1970) throws {
        var summary = ProtoWriter()
        for (tag, value) in values {
            var v = ProtoWriter()
            v.string(field: 1, tag)
            v.float(field: 2, value)
            summary.message(field: 1, v.bytes)
        }
        var event = ProtoWriter()
        event.double(field: 1, wallTime)
        event.varint(field: 2, UInt64(bitPattern: Int64(step)))
        event.message(field: 5, summary.bytes)
        try writeRecord(event.bytes)
    }

    private func writeRecord(_ data: [UInt8]) throws {
        var record: [UInt8] = []
        var len = UInt64(data.count).littleEndian
        let lenBytes = withUnsafeBytes(of: &len) { Array($0) }
        record += lenBytes
        record += le32(maskedCRC32C(lenBytes))
        record += data
        record += le32(maskedCRC32C(data))
        do {
            try handle.write(contentsOf: record)
            try handle.synchronize()
        } catch {
            throw EmbedError("\(path): cannot write: \(error.localizedDescription)")
        }
    }

    private func le32(_ v: UInt32) -> [UInt8] { [UInt8(v & 0xFF), UInt8(v >> 8 & 0xFF), UInt8(v >> 16 & 0xFF), UInt8(v >> 24)] }
}

/// TFRecord's CRC mask: rotate right by 15 and add a constant.
package func maskedCRC32C(_ data: [UInt8]) -> UInt32 {
    let crc = crc32c(data)
    return ((crc >> 15) | (crc << 17)) &+ 0xA282_EAD8
}

/// CRC-32C (Castagnoli, reflected polynomial 0x82F63B78), table-driven.
package func crc32c(_ data: [UInt8]) -> UInt32 {
    var crc: UInt32 = 0xFFFF_FFFF
    for b in data { crc = crc32cTable[Int((crc ^ UInt32(b)) & 0xFF)] ^ (crc >> 8) }
    return crc ^ 0xFFFF_FFFF
}

private let crc32cTable: [UInt32] = (0..<256).map { i -> UInt32 in
    var c = UInt32(i)
    for _ in 0..<8 { c = c & 1 != 0 ? (c >> 1) ^ 0x82F6_3B78 : c >> 1 }
    return c
}

/// Just enough protobuf encoding for Event and Summary messages.
struct ProtoWriter {
    var bytes: [UInt8] = []

    mutating func tag(_ field: Int, _ wire: UInt8) { rawVarint(UInt64(field) << 3 | UInt64(wire)) }

    mutating func rawVarint(_ v: UInt64) {
        var v = v
        while v >= 0x80 { bytes.append(UInt8(v & 0x7F) | 0x80); v >>= 7 }
        bytes.append(UInt8(v))
    }

    mutating func varint(field: Int, _ v: UInt64) { tag(field, 0); rawVarint(v) }

    mutating func double(field: Int, _ v: Double) {
        tag(field, 1)
        var b = v.bitPattern.littleEndian
        withUnsafeBytes(of: &b) { bytes += $0 }
    }

    mutating func float(field: Int, _ v: Float) {
        tag(field, 5)
        var b = v.bitPattern.littleEndian
        withUnsafeBytes(of: &b) { bytes += $0 }
    }

    mutating func string(field: Int, _ s: String) { message(field: field, Array(s.utf8)) }

    mutating func message(field: Int, _ data: [UInt8]) {
        tag(field, 2)
        rawVarint(UInt64(data.count))
        bytes += data
    }
}
