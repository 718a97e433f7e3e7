import Foundation
import IO
import TestSupport
import Testing

/// `SafetensorsFile` and `SafetensorsWriter`: round trips, the Python library's own output, and
/// every kind of lying or damaged header giving an error rather than a crash.
@Suite struct SafetensorsTests {
    /// A safetensors file from a header (JSON text) and data bytes; `length` overrides the
    /// 8-byte header length to make it lie.
    static func make(_ header: String, data: [UInt8], length: UInt64? = nil, name: String = #function) throws -> String {
        let h = Array(header.utf8)
        var out: [UInt8] = []
        withUnsafeBytes(of: (length ?? UInt64(h.count)).littleEndian) { out += $0 }
        out += h + data
        let path = TestPaths.scratch(name) + "/t.safetensors"
        try FormatFixtures.write(out, to: path)
        return path
    }

    static func error(_ path: String) -> String {
        FormatFixtures.errorMessage { _ = try SafetensorsFile(path: path) }
    }

    static func halfBits(_ v: Float) -> [UInt8] {
        withUnsafeBytes(of: Float16(v).bitPattern.littleEndian) { Array($0) }
    }

    static func bf16Bits(_ v: Float) -> [UInt8] {
        withUnsafeBytes(of: UInt16(v.bitPattern >> 16).littleEndian) { Array($0) }
    }

    @Test func writerRoundTrip() throws {
        let dir = TestPaths.scratch()
        let path = dir + "/model.safetensors"
        let f32: [Float] = [1, -2.5, 3.25, .pi, -0.0, 1e-30]
        do {
            let w = SafetensorsWriter()
            w.metadata["note"] = "hello"
            w.add("layer.weight", shape: [2, 3], floats: f32)
            w.add("ids", shape: [3], int32s: [7, -1, Int32.max])
            w.add("positions", shape: [2, 2], int64s: [0, 1, Int64(1) << 40, -5])
            w.add("half", dtype: .f16, shape: [3], bytes: [0.5, -1, 65504].flatMap(Self.halfBits))
            w.add("brain", dtype: .bf16, shape: [2], bytes: [1.5, -256].flatMap(Self.bf16Bits))
            let spool = try TensorSpool(dtype: .i32, directory: dir)
            for chunk in 0..<5 { try spool.append((0..<1000).map { Int32(chunk * 1000 + $0) }) }
            #expect(spool.count == 5000)
            w.add("spooled", shape: [50, 100], spool: spool)
            w.add("empty", shape: [0, 4], floats: [])
            try w.write(to: path)
        }
        // Only the output is left: the spool's temporary file went with the writer that held it.
        #expect(Self.listing(dir) == ["model.safetensors"])

        let file = try SafetensorsFile(path: path)
        #expect(file.metadata == ["format": "pt", "note": "hello"])
        #expect(file.names == ["layer.weight", "ids", "positions", "half", "brain", "spooled", "empty"])
        #expect(try file.floats("layer.weight") == f32)
        #expect(try file.info("layer.weight").shape == [2, 3])
        #expect(try file.int32s("ids") == [7, -1, Int32.max])
        #expect(try file.ints("positions") == [0, 1, 1 << 40, -5])
        #expect(try file.floats("half") == [0.5, -1, 65504])
        #expect(try file.floats("brain") == [1.5, -256])
        #expect(try file.int32s("spooled") == (0..<5000).map { Int32($0) })
        #expect(try file.floats("empty") == [])
        var out = [Float](repeating: 0, count: 6)
        try out.withUnsafeMutableBufferPointer { try file.readFloats("layer.weight", into: $0.baseAddress!, count: 6) }
        #expect(out == f32)
        // The data section starts 8-byte aligned, as the reference writer pads it.
        let raw = try FormatFixtures.bytes(path)
        let n = raw.prefix(8).enumerated().reduce(0) { $0 | Int($1.element) << (8 * $1.offset) }
        #expect((8 + n) % 8 == 0)
    }

    static func listing(_ dir: String) -> [String] {
        ((try? FileManager.default.contentsOfDirectory(atPath: dir)) ?? []).sorted()
    }

    /// A file written by Python's `safetensors` (tools/make_formats_fixtures.py) reads back the
    /// values Python reads: F32, F16, BF16, I32, I64, a 0-d scalar and an empty tensor.
    @Test func readsThePythonLibrarysOutput() throws {
        let file = try SafetensorsFile(path: FormatFixtures.dir + "/reference.safetensors")
        let ref = try JSON.parse(FormatFixtures.bytes(FormatFixtures.dir + "/reference.json"))
        #expect(file.metadata["format"] == "pt")
        #expect(file.metadata["note"] == ref["metadata"]?["note"]?.string)
        let tensors = try #require(ref["tensors"]?.object)
        #expect(Set(file.names) == Set(tensors.keys))
        for (name, t) in tensors {
            let info = try file.info(name)
            #expect(info.dtype.rawValue == t["dtype"]?.string, "\(name)")
            #expect(info.shape == t["shape"]?.array?.compactMap(\.int), "\(name)")
            let values = t["values"]?.array ?? []
            if info.dtype.isFloat {
                #expect(try file.floats(name) == values.compactMap { $0.double.map { Float($0) } }, "\(name)")
            } else {
                #expect(try file.ints(name) == values.compactMap(\.int), "\(name)")
            }
        }
        #expect(try file.info("scalar").shape == [] && file.floats("scalar") == [1.5])
    }

    // MARK: Lying and damaged files

    @Test func headerLengthBeyondTheFile() throws {
        let path = try Self.make(#"{"a":{"dtype":"F32","shape":[1],"data_offsets":[0,4]}}"#, data: [0, 0, 0, 0], length: 1_000)
        #expect(Self.error(path).hasPrefix("\(path): header length 1000 does not fit in a file of"))
        let huge = try Self.make("{}", data: [], length: UInt64.max, name: "huge")
        #expect(Self.error(huge).contains("does not fit in a file of 10 bytes"))
        let zero = try Self.make("", data: [], length: 0, name: "zero")
        #expect(Self.error(zero).contains("header length 0 does not fit"))
    }

    @Test func tooShortOrNotJSON() throws {
        let path = TestPaths.scratch() + "/short.safetensors"
        try FormatFixtures.write([1, 2, 3], to: path)
        #expect(Self.error(path) == "\(path): not a safetensors file (only 3 bytes)")
        let garbage = try Self.make("{\"a\": nope}", data: [], name: "garbage")
        #expect(Self.error(garbage).hasPrefix("\(garbage): header is not valid JSON: 1:7:"))
        let array = try Self.make("[1, 2]", data: [], name: "array")
        #expect(Self.error(array) == "\(array): header is not a JSON object")
    }

    @Test func offsetsOutsideTheData() throws {
        let path = try Self.make(#"{"a":{"dtype":"F32","shape":[4],"data_offsets":[0,16]}}"#, data: [UInt8](repeating: 0, count: 8))
        #expect(Self.error(path) == "\(path): tensor 'a' data_offsets [0, 16] lie outside the 8 data bytes (truncated file?)")
        let backwards = try Self.make(#"{"a":{"dtype":"F32","shape":[1],"data_offsets":[4,0]}}"#, data: [UInt8](repeating: 0, count: 4), name: "backwards")
        #expect(Self.error(backwards).contains("tensor 'a' data_offsets [4, 0] lie outside"))
        let negative = try Self.make(#"{"a":{"dtype":"F32","shape":[1],"data_offsets":[-4,0]}}"#, data: [UInt8](repeating: 0, count: 4), name: "negative")
        #expect(Self.error(negative).contains("data_offsets [-4, 0] lie outside"))
        let missing = try Self.make(#"{"a":{"dtype":"F32","shape":[1]}}"#, data: [0, 0, 0, 0], name: "missing")
        #expect(Self.error(missing) == "\(missing): tensor 'a' has no valid data_offsets")
    }

    @Test func overlappingTensors() throws {
        let path = try Self.make(#"{"a":{"dtype":"F32","shape":[2],"data_offsets":[0,8]},"b":{"dtype":"F32","shape":[2],"data_offsets":[4,12]}}"#,
                                 data: [UInt8](repeating: 0, count: 12))
        #expect(Self.error(path) == "\(path): tensor 'b' overlaps the tensor before it")
        let gap = try Self.make(#"{"a":{"dtype":"F32","shape":[1],"data_offsets":[0,4]},"b":{"dtype":"F32","shape":[1],"data_offsets":[8,12]}}"#,
                                data: [UInt8](repeating: 0, count: 12), name: "gap")
        #expect(Self.error(gap) == "\(gap): a gap of 4 bytes before tensor 'b'")
        let extra = try Self.make(#"{"a":{"dtype":"F32","shape":[1],"data_offsets":[0,4]}}"#, data: [UInt8](repeating: 0, count: 6), name: "extra")
        #expect(Self.error(extra) == "\(extra): the tensors cover 4 bytes but the data section has 6")
    }

    @Test func shapeTimesDtypeMustMatchTheBytes() throws {
        let path = try Self.make(#"{"a":{"dtype":"F32","shape":[2,2],"data_offsets":[0,12]}}"#, data: [UInt8](repeating: 0, count: 12))
        #expect(Self.error(path) == "\(path): tensor 'a' has 12 bytes but shape [2, 2] of F32 needs 16")
        let overflow = try Self.make(#"{"a":{"dtype":"F32","shape":[4294967296,4294967296],"data_offsets":[0,4]}}"#, data: [0, 0, 0, 0], name: "overflow")
        #expect(Self.error(overflow) == "\(overflow): tensor 'a' shape overflows")
        let negative = try Self.make(#"{"a":{"dtype":"F32","shape":[-1],"data_offsets":[0,4]}}"#, data: [0, 0, 0, 0], name: "negshape")
        #expect(Self.error(negative) == "\(negative): tensor 'a' has an invalid shape")
        let fraction = try Self.make(#"{"a":{"dtype":"F32","shape":[1.5],"data_offsets":[0,4]}}"#, data: [0, 0, 0, 0], name: "fraction")
        #expect(Self.error(fraction) == "\(fraction): tensor 'a' has an invalid shape")
    }

    @Test func unknownDtypeAndBadMetadata() throws {
        let path = try Self.make(#"{"a":{"dtype":"F8_E4M3","shape":[4],"data_offsets":[0,4]}}"#, data: [0, 0, 0, 0])
        #expect(Self.error(path) == "\(path): tensor 'a' has unsupported dtype F8_E4M3")
        let noDtype = try Self.make(#"{"a":{"shape":[1],"data_offsets":[0,4]}}"#, data: [0, 0, 0, 0], name: "nodtype")
        #expect(Self.error(noDtype) == "\(noDtype): tensor 'a' has no dtype")
        let meta = try Self.make(#"{"__metadata__":{"format":"pt","n":1}}"#, data: [], name: "meta")
        #expect(Self.error(meta) == "\(meta): __metadata__ value 'n' is not a string")
    }

    /// Every truncation of a valid file is an error (never a crash or an out-of-bounds read).
    @Test func everyTruncationIsAnError() throws {
        let dir = TestPaths.scratch()
        let full = dir + "/full.safetensors"
        let w = SafetensorsWriter()
        w.add("a", shape: [3, 5], floats: (0..<15).map(Float.init))
        w.add("b", shape: [4], int64s: [1, 2, 3, 4])
        try w.write(to: full)
        let bytes = try FormatFixtures.bytes(full)
        let cut = dir + "/cut.safetensors"
        for keep in 0..<bytes.count {
            try FormatFixtures.write(Array(bytes.prefix(keep)), to: cut)
            #expect(throws: EmbedError.self, "keeping \(keep) of \(bytes.count) bytes") { try SafetensorsFile(path: cut) }
        }
    }

    /// Damaged header bytes either fail to open or open into a file whose tensors all read safely.
    @Test func damagedHeaderBytesNeverCrash() throws {
        let dir = TestPaths.scratch()
        let w = SafetensorsWriter()
        w.add("weight", shape: [2, 3], floats: [1, 2, 3, 4, 5, 6])
        w.add("ids", shape: [2], int32s: [1, 2])
        try w.write(to: dir + "/ok.safetensors")
        let bytes = try FormatFixtures.bytes(dir + "/ok.safetensors")
        let path = dir + "/damaged.safetensors"
        var opened = 0
        for i in 0..<min(bytes.count, 200) {
            for replacement: UInt8 in [0x00, 0x22, 0x31, 0x39, 0x7D, 0xFF] where bytes[i] != replacement {
                var damaged = bytes
                damaged[i] = replacement
                try FormatFixtures.write(damaged, to: path)
                guard let file = try? SafetensorsFile(path: path) else { continue }
                opened += 1
                for name in file.names {
                    let info = try file.info(name)
                    #expect(try file.bytes(name).count == info.count * info.dtype.size)
                    if info.dtype.isFloat { _ = try file.floats(name) } else { _ = try file.ints(name) }
                }
            }
        }
        #expect(opened > 0)
    }

    @Test func accessorsCheckNamesTypesAndCounts() throws {
        let path = TestPaths.scratch() + "/x.safetensors"
        let w = SafetensorsWriter()
        w.add("f", shape: [2], floats: [1, 2])
        w.add("i", shape: [2], int32s: [1, 2])
        try w.write(to: path)
        let file = try SafetensorsFile(path: path)
        #expect(FormatFixtures.errorMessage { _ = try file.info("nope") } == "\(path): no tensor named 'nope'")
        #expect(FormatFixtures.errorMessage { _ = try file.floats("i") } == "\(path): tensor 'i' is I32, expected a float type")
        #expect(FormatFixtures.errorMessage { _ = try file.ints("f") } == "\(path): tensor 'f' is F32, expected an integer type")
        var out = [Float](repeating: 0, count: 3)
        let message = FormatFixtures.errorMessage {
            try out.withUnsafeMutableBufferPointer { try file.readFloats("f", into: $0.baseAddress!, count: 3) }
        }
        #expect(message == "\(path): tensor 'f' has shape [2] (2 values), expected 3")
    }
}
