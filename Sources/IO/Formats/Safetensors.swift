#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// Element types safetensors files carry that we read or write.
package enum DType: String, Sendable, CaseIterable {
    case f64 = "F64", f32 = "F32", f16 = "F16", bf16 = "BF16"
    case i64 = "I64", i32 = "I32", i16 = "I16", i8 = "I8", u8 = "U8", bool = "BOOL"

    /// The types `floats` and `readFloats` convert from.
    package var isFloat: Bool { self == .f32 || self == .f16 || self == .bf16 || self == .f64 }

    package var size: Int {
        switch self {
        case .f64, .i64: 8
        case .f32, .i32: 4
        case .f16, .bf16, .i16: 2
        case .i8, .u8, .bool: 1
        }
    }
}

package struct TensorInfo: Sendable, Equatable {
    package let name: String
    package let dtype: DType
    package let shape: [Int]
    /// Byte range within the data section (after the header).
    package let begin: Int
    package let end: Int
    package var count: Int { shape.reduce(1, *) }
}

/// A memory-mapped safetensors file (https://github.com/huggingface/safetensors): an 8-byte little-
/// endian header length, a JSON header mapping names to dtype, shape and data offsets, then the data.
/// The header is validated as the reference implementation does — offsets inside the file, tensors
/// contiguous without overlap or holes, byte size = shape × dtype size — so a lying or truncated file
/// is an error, never a crash or an out-of-bounds read.
package final class SafetensorsFile: @unchecked Sendable {
    package let path: String
    package let metadata: [String: String]
    package let tensors: [String: TensorInfo]
    /// Names in file order (by offset).
    package let names: [String]
    private let file: MappedFile
    private let dataStart: Int

    package init(path: String) throws {
        self.path = path
        file = try MappedFile(path: path)
        guard file.count >= 8, let base = file.bytes.baseAddress else {
            throw EmbedError("\(path): not a safetensors file (only \(file.count) bytes)")
        }
        (metadata, tensors, names, dataStart) = try SafetensorsFile.parseHeader(base, size: file.count, path: path)
    }

    static func parseHeader(_ base: UnsafeRawPointer, size: Int, path: String) throws
        -> ([String: String], [String: TensorInfo], [String], Int)
    {
        // Compared as UInt64 first: a hostile length above Int.max must be an error, not a trap.
        let declared = UInt64(littleEndian: base.loadUnaligned(as: UInt64.self))
        guard declared > 0, declared <= 100_000_000, declared <= UInt64(size - 8) else {
            throw EmbedError("\(path): header length \(declared) does not fit in a file of \(size) bytes (truncated or not safetensors)")
        }
        let n = Int(declared)
        let header: JSON
        do {
            header = try JSON.parse(UnsafeRawBufferPointer(start: base + 8, count: n))
        } catch {
            throw EmbedError("\(path): header is not valid JSON: \(error)")
        }
        guard case .object(let obj) = header else { throw EmbedError("\(path): header is not a JSON object") }
        let dataSize = size - 8 - n
        var metadata: [String: String] = [:]
        var infos: [TensorInfo] = []
        for (name, value) in obj {
            if name == "__metadata__" {
                guard case .object(let md) = value else { throw EmbedError("\(path): __metadata__ is not an object") }
                for (k, v) in md {
                    guard let s = v.string else { throw EmbedError("\(path): __metadata__ value '\(k)' is not a string") }
                    metadata[k] = s
                }
                continue
            }
            guard let dtypeName = value["dtype"]?.string else { throw EmbedError("\(path): tensor '\(name)' has no dtype") }
            guard let dtype = DType(rawValue: dtypeName) else {
                throw EmbedError("\(path): tensor '\(name)' has unsupported dtype \(dtypeName)")
            }
            guard let shapeJ = value["shape"]?.array else { throw EmbedError("\(path): tensor '\(name)' has no shape") }
            var shape: [Int] = []
            var count = 1
            for d in shapeJ {
                guard let v = d.int, v >= 0 else { throw EmbedError("\(path): tensor '\(name)' has an invalid shape") }
                shape.append(v)
                let (p, overflow) = count.multipliedReportingOverflow(by: v)
                guard !overflow else { throw EmbedError("\(path): tensor '\(name)' shape overflows") }
                count = p
            }
            guard let offs = value["data_offsets"]?.array, offs.count == 2, let b = offs[0].int, let e = offs[1].int else {
                throw EmbedError("\(path): tensor '\(name)' has no valid data_offsets")
            }
            guard b >= 0, e >= b, e <= dataSize else {
                throw EmbedError("\(path): tensor '\(name)' data_offsets [\(b), \(e)] lie outside the \(dataSize) data bytes (truncated file?)")
            }
            let (bytes, overflow) = count.multipliedReportingOverflow(by: dtype.size)
            guard !overflow, bytes == e - b else {
                throw EmbedError("\(path): tensor '\(name)' has \(e - b) bytes but shape \(shape) of \(dtype.rawValue) needs \(count &* dtype.size)")
            }
            infos.append(TensorInfo(name: name, dtype: dtype, shape: shape, begin: b, end: e))
        }
        infos.sort { ($0.begin, $0.end) < ($1.begin, $1.end) }
        var expected = 0
        for t in infos {
            if t.begin < expected { throw EmbedError("\(path): tensor '\(t.name)' overlaps the tensor before it") }
            if t.begin > expected { throw EmbedError("\(path): a gap of \(t.begin - expected) bytes before tensor '\(t.name)'") }
            expected = t.end
        }
        if expected != dataSize {
            throw EmbedError("\(path): the tensors cover \(expected) bytes but the data section has \(dataSize)")
        }
        var dict: [String: TensorInfo] = [:]
        for t in infos { dict[t.name] = t }
        return (metadata, dict, infos.map(\.name), 8 + n)
    }

    package func info(_ name: String) throws -> TensorInfo {
        guard let t = tensors[name] else { throw EmbedError("\(path): no tensor named '\(name)'") }
        return t
    }

    /// The tensor's bytes, zero-copy from the mapping; valid while this object lives.
    package func bytes(_ name: String) throws -> UnsafeRawBufferPointer {
        let t = try info(name)
        return UnsafeRawBufferPointer(start: file.bytes.baseAddress! + dataStart + t.begin, count: t.end - t.begin)
    }

    /// The tensor converted to Float32 (from F32, F16, BF16 or F64).
    package func floats(_ name: String) throws -> [Float] {
        let t = try info(name)
        guard t.dtype.isFloat else {
            throw EmbedError("\(path): tensor '\(name)' is \(t.dtype.rawValue), expected a float type")
        }
        let raw = try bytes(name)
        // Not through unsafeUninitializedCapacity when empty: it would write the count of the
        // shared empty-array storage, a race ThreadSanitizer reports against every other thread.
        if t.count == 0 { return [] }
        return [Float](unsafeUninitializedCapacity: t.count) { out, n in
            convertToFloat(raw, dtype: t.dtype, into: out.baseAddress!, count: t.count)
            n = t.count
        }
    }

    /// Converts into a caller's buffer, checking the element count.
    package func readFloats(_ name: String, into out: UnsafeMutablePointer<Float>, count: Int) throws {
        let t = try info(name)
        guard t.count == count else {
            throw EmbedError("\(path): tensor '\(name)' has shape \(t.shape) (\(t.count) values), expected \(count)")
        }
        guard t.dtype.isFloat else {
            throw EmbedError("\(path): tensor '\(name)' is \(t.dtype.rawValue), expected a float type")
        }
        convertToFloat(try bytes(name), dtype: t.dtype, into: out, count: count)
    }

    /// The tensor as integers (from I64, I32, I16, I8, U8 or BOOL).
    package func ints(_ name: String) throws -> [Int] {
        let t = try info(name)
        let raw = try bytes(name)
        switch t.dtype {
        case .i64: return (0..<t.count).map { Int(raw.loadUnaligned(fromByteOffset: $0 * 8, as: Int64.self)) }
        case .i32: return (0..<t.count).map { Int(raw.loadUnaligned(fromByteOffset: $0 * 4, as: Int32.self)) }
        case .i16: return (0..<t.count).map { Int(raw.loadUnaligned(fromByteOffset: $0 * 2, as: Int16.self)) }
        case .i8: return (0..<t.count).map { Int(Int8(bitPattern: raw[$0])) }
        case .u8, .bool: return raw.map { Int($0) }
        default: throw EmbedError("\(path): tensor '\(name)' is \(t.dtype.rawValue), expected an integer type")
        }
    }

    package func int32s(_ name: String) throws -> [Int32] {
        let t = try info(name)
        if t.dtype == .i32 {
            let raw = try bytes(name)
            return (0..<t.count).map { raw.loadUnaligned(fromByteOffset: $0 * 4, as: Int32.self) }
        }
        return try ints(name).map { Int32(truncatingIfNeeded: $0) }
    }
}

/// Widens F16/BF16/F64 to Float32 (or copies F32).
func convertToFloat(_ raw: UnsafeRawBufferPointer, dtype: DType, into out: UnsafeMutablePointer<Float>, count: Int) {
    switch dtype {
    case .f32:
        // A byte copy: a tensor's offset need not be 4-byte aligned in a file from another writer.
        if count > 0 { UnsafeMutableRawPointer(out).copyMemory(from: raw.baseAddress!, byteCount: count * 4) }
    case .f16:
        for i in 0..<count { out[i] = Float(Float16(bitPattern: raw.loadUnaligned(fromByteOffset: i * 2, as: UInt16.self))) }
    case .bf16:
        for i in 0..<count {
            out[i] = Float(bitPattern: UInt32(raw.loadUnaligned(fromByteOffset: i * 2, as: UInt16.self)) << 16)
        }
    case .f64:
        for i in 0..<count { out[i] = Float(raw.loadUnaligned(fromByteOffset: i * 8, as: Double.self)) }
    default:
        preconditionFailure("convertToFloat on \(dtype)")
    }
}

/// Collects tensors and writes a safetensors file atomically. Large outputs whose sizes are unknown
/// up front (token ids streamed from a big dataset) append through `TensorSpool`s instead of memory.
package final class SafetensorsWriter {
    struct Entry {
        let name: String
        let dtype: DType
        let shape: [Int]
        let source: Source
    }

    enum Source {
        case bytes([UInt8])
        case spool(TensorSpool)
    }

    private var entries: [Entry] = []
    /// `__metadata__`. `format: pt` is what PyTorch-side tools (transformers' loader) expect.
    package var metadata: [String: String] = ["format": "pt"]

    package init() {}

    package func add(_ name: String, dtype: DType, shape: [Int], bytes: [UInt8]) {
        precondition(shape.reduce(1, *) * dtype.size == bytes.count, "\(name): shape does not match the byte count")
        entries.append(Entry(name: name, dtype: dtype, shape: shape, source: .bytes(bytes)))
    }

    package func add(_ name: String, shape: [Int], floats: UnsafeBufferPointer<Float>) {
        add(name, dtype: .f32, shape: shape, bytes: Array(UnsafeRawBufferPointer(floats)))
    }

    package func add(_ name: String, shape: [Int], floats: [Float]) {
        floats.withUnsafeBufferPointer { add(name, shape: shape, floats: $0) }
    }

    package func add(_ name: String, shape: [Int], int32s: [Int32]) {
        add(name, dtype: .i32, shape: shape, bytes: int32s.withUnsafeBytes { Array($0) })
    }

    package func add(_ name: String, shape: [Int], int64s: [Int64]) {
        add(name, dtype: .i64, shape: shape, bytes: int64s.withUnsafeBytes { Array($0) })
    }

    /// A spooled tensor: its values were appended to a temporary file; its shape is known now.
    package func add(_ name: String, shape: [Int], spool: TensorSpool) {
        precondition(shape.reduce(1, *) * spool.dtype.size == spool.byteCount, "\(name): shape does not match the spool")
        entries.append(Entry(name: name, dtype: spool.dtype, shape: shape, source: .spool(spool)))
    }

    /// Writes everything to `path` (atomically) or stdout for `-`.
    package func write(to path: String) throws {
        var header = JSONObject()
        if !metadata.isEmpty {
            header["__metadata__"] = .object(JSONObject(metadata.sorted { $0.key < $1.key }.map { ($0.key, JSON.string($0.value)) }))
        }
        var offset = 0
        for e in entries {
            let size = e.shape.reduce(1, *) * e.dtype.size
            header[e.name] = [
                "dtype": .string(e.dtype.rawValue),
                "shape": .array(e.shape.map { .number(Double($0)) }),
                "data_offsets": [.number(Double(offset)), .number(Double(offset + size))],
            ]
            offset += size
        }
        var headerBytes = Array(JSON.object(header).serialized().utf8)
        // Pad with spaces so the data starts 8-byte aligned, as the reference writer does.
        while (headerBytes.count + 8) % 8 != 0 { headerBytes.append(0x20) }
        let out = try ByteWriter(path: path)
        var len = UInt64(headerBytes.count).littleEndian
        try withUnsafeBytes(of: &len) { try out.write($0) }
        try out.write(headerBytes)
        for e in entries {
            switch e.source {
            case .bytes(let b): try out.write(b)
            case .spool(let s): try s.copy(to: out)
            }
        }
        try out.commit()
    }
}

/// An append-only temporary file of one dtype, for tensors built by streaming. Removed on deinit.
package final class TensorSpool {
    package let dtype: DType
    package private(set) var byteCount = 0
    private let path: String
    private let writer: ByteWriter
    private var finished = false

    /// `directory` should be on the output's filesystem; the spool lives there until dropped.
    package init(dtype: DType, directory: String) throws {
        self.dtype = dtype
        let dir = directory.isEmpty ? "." : directory
        // Spools of killed runs, and their writers' temporaries (`..spool-PID-….tmp-PID`).
        FileSystem.removeStaleTemporaries(in: dir, prefix: ".spool-")
        FileSystem.removeStaleTemporaries(in: dir, prefix: "..spool-")
        var template = Array("\(dir)/.spool-\(getpid())-XXXXXX".utf8CString)
        let fd = template.withUnsafeMutableBufferPointer { mkstemp($0.baseAddress!) }
        if fd < 0 { throw EmbedError("\(directory): cannot create a temporary file: \(String(cString: strerror(errno)))") }
        close(fd)
        path = template.withUnsafeBufferPointer { String(cString: $0.baseAddress!) }
        writer = try ByteWriter(path: path)
    }

    deinit { unlink(path) }

    package var count: Int { byteCount / dtype.size }

    package func append(_ bytes: UnsafeRawBufferPointer) throws {
        precondition(!finished)
        try writer.write(bytes)
        byteCount += bytes.count
    }

    package func append<T>(_ values: [T]) throws {
        precondition(MemoryLayout<T>.size == dtype.size)
        try values.withUnsafeBytes { try append($0) }
    }

    func copy(to out: ByteWriter) throws {
        if !finished {
            try writer.commit()
            finished = true
        }
        let reader = try ByteReader(path: path, detectCompression: false)
        let buf = UnsafeMutableRawBufferPointer.allocate(byteCount: 1 << 20, alignment: 16)
        defer { buf.deallocate() }
        var copied = 0
        while true {
            let n = try reader.read(into: buf)
            if n == 0 { break }
            try out.write(UnsafeRawBufferPointer(rebasing: buf[0..<n]))
            copied += n
        }
        guard copied == byteCount else { throw EmbedError("\(path): temporary tensor file lost bytes") }
    }
}
