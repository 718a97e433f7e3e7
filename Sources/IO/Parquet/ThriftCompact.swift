/// A reader of Apache Thrift's compact protocol, the encoding of Parquet's footer and page headers.
/// Only what Parquet uses: structs read field by field (unknown fields skipped, so files from newer
/// writers still read), lists, and the scalar types. Every read is bounds-checked: a corrupt or
/// hostile file gives an error, never a crash.
struct ThriftCompactReader {
    let bytes: UnsafeRawBufferPointer
    private(set) var position: Int
    /// Names the file and place for errors.
    let context: String
    private var depth = 0

    enum FieldType: UInt8 {
        case stop = 0, boolTrue = 1, boolFalse = 2, byte = 3, i16 = 4, i32 = 5, i64 = 6, double = 7
        case binary = 8, list = 9, set = 10, map = 11, structure = 12, uuid = 13
    }

    init(_ bytes: UnsafeRawBufferPointer, at position: Int = 0, context: String) {
        self.bytes = bytes
        self.position = position
        self.context = context
    }

    func fail(_ what: String) -> EmbedError {
        EmbedError("\(context): corrupt Thrift metadata at byte \(position): \(what)")
    }

    mutating func byte() throws -> UInt8 {
        guard position < bytes.count else { throw fail("unexpected end") }
        defer { position += 1 }
        return bytes[position]
    }

    mutating func varint() throws -> UInt64 {
        var result: UInt64 = 0
        var shift: UInt64 = 0
        while true {
            let b = try byte()
            guard shift < 64 else { throw fail("varint too long") }
            result |= UInt64(b & 0x7F) << shift
            if b & 0x80 == 0 { return result }
            shift += 7
        }
    }

    mutating func zigzag() throws -> Int64 {
        let v = try varint()
        return Int64(bitPattern: v >> 1) ^ -Int64(bitPattern: v & 1)
    }

    mutating func i32() throws -> Int32 {
        let v = try zigzag()
        guard let r = Int32(exactly: v) else { throw fail("i32 out of range") }
        return r
    }

    mutating func i64() throws -> Int64 { try zigzag() }

    mutating func double() throws -> Double {
        guard position + 8 <= bytes.count else { throw fail("unexpected end") }
        var bits: UInt64 = 0
        for i in 0..<8 { bits |= UInt64(bytes[position + i]) << (8 * UInt64(i)) }
        position += 8
        return Double(bitPattern: bits)
    }

    mutating func binary() throws -> UnsafeRawBufferPointer {
        let n = try varint()
        guard n <= UInt64(bytes.count - position) else { throw fail("binary length \(n) beyond the end") }
        defer { position += Int(n) }
        return UnsafeRawBufferPointer(rebasing: bytes[position..<position + Int(n)])
    }

    mutating func string() throws -> String {
        let b = try binary()
        guard let s = String(validating: b.bindMemory(to: UInt8.self), as: UTF8.self) else {
            throw fail("string is not valid UTF-8")
        }
        return s
    }

    /// The next field's id and type, or nil at the struct's end. `lastID` carries the previous id
    /// (compact headers store the difference).
    mutating func fieldHeader(_ lastID: inout Int16) throws -> (id: Int16, type: FieldType)? {
        let b = try byte()
        if b == 0 { return nil }
        guard let type = FieldType(rawValue: b & 0x0F) else { throw fail("unknown field type \(b & 0x0F)") }
        let delta = Int16(b >> 4)
        if delta == 0 {
            let v = try zigzag()
            guard let id = Int16(exactly: v) else { throw fail("field id out of range") }
            lastID = id
        } else {
            lastID &+= delta
        }
        return (lastID, type)
    }

    /// A field of type bool carries its value in the type nibble.
    func bool(_ type: FieldType) -> Bool { type == .boolTrue }

    mutating func listHeader() throws -> (count: Int, type: FieldType) {
        let b = try byte()
        var count = Int(b >> 4)
        if count == 15 {
            let n = try varint()
            guard n <= UInt64(bytes.count) else { throw fail("list of \(n) elements is longer than the data") }
            count = Int(n)
        }
        guard let type = FieldType(rawValue: b & 0x0F) else { throw fail("unknown list element type") }
        return (count, type)
    }

    /// Reads a struct, handing each field to `body`, which must consume it or call `skip`.
    mutating func readStruct(_ body: (inout ThriftCompactReader, Int16, FieldType) throws -> Void) throws {
        depth += 1
        defer { depth -= 1 }
        guard depth < 64 else { throw fail("structs nested too deep") }
        var last: Int16 = 0
        while let (id, type) = try fieldHeader(&last) {
            try body(&self, id, type)
        }
    }

    mutating func readList<T>(_ element: (inout ThriftCompactReader, FieldType) throws -> T) throws -> [T] {
        let (count, type) = try listHeader()
        var out: [T] = []
        out.reserveCapacity(min(count, 1 << 16))
        for _ in 0..<count { out.append(try element(&self, type)) }
        return out
    }

    /// Skips a value of the given type (an unknown field).
    mutating func skip(_ type: FieldType) throws {
        depth += 1
        defer { depth -= 1 }
        guard depth < 64 else { throw fail("values nested too deep") }
        switch type {
        case .stop: throw fail("unexpected stop")
        case .boolTrue, .boolFalse: break
        case .byte: _ = try byte()
        case .i16, .i32, .i64: _ = try varint()
        case .double: _ = try double()
        case .binary: _ = try binary()
        case .uuid:
            guard position + 16 <= bytes.count else { throw fail("unexpected end") }
            position += 16
        case .list, .set:
            let (count, elem) = try listHeader()
            for _ in 0..<count {
                if elem == .boolTrue || elem == .boolFalse { _ = try byte() } else { try skip(elem) }
            }
        case .map:
            let n = try varint()
            guard n <= UInt64(bytes.count) else { throw fail("map too large") }
            if n > 0 {
                let kv = try byte()
                guard let k = FieldType(rawValue: kv >> 4), let v = FieldType(rawValue: kv & 0x0F) else {
                    throw fail("unknown map types")
                }
                for _ in 0..<n {
                    if k == .boolTrue || k == .boolFalse { _ = try byte() } else { try skip(k) }
                    if v == .boolTrue || v == .boolFalse { _ = try byte() } else { try skip(v) }
                }
            }
        case .structure:
            try readStruct { r, _, t in try r.skip(t) }
        }
    }

    /// An integer field of any integer type.
    mutating func int(_ type: FieldType) throws -> Int64 {
        switch type {
        case .byte: return Int64(Int8(bitPattern: try byte()))
        case .i16, .i32, .i64: return try zigzag()
        default: throw fail("expected an integer, found type \(type)")
        }
    }

    /// An integer field declared i32: a wider value on the wire is an error, not a trap.
    mutating func int32(_ type: FieldType) throws -> Int32 {
        let v = try int(type)
        guard let r = Int32(exactly: v) else { throw fail("i32 field out of range (\(v))") }
        return r
    }
}
