/// Decompression of Snappy's raw block format (the one Parquet's SNAPPY codec uses: no framing).
/// A block is a varint of the uncompressed length, then elements: literals (tag 00) and copies of
/// earlier output with 1-, 2- or 4-byte offsets (tags 01, 10, 11). Every length and offset is
/// checked, so corrupt input is an error rather than an out-of-bounds access.
package enum Snappy {
    /// The uncompressed length a block announces.
    package static func uncompressedLength(_ input: UnsafeRawBufferPointer) throws -> Int {
        var pos = 0
        return try readLength(input, &pos)
    }

    private static func readLength(_ input: UnsafeRawBufferPointer, _ pos: inout Int) throws -> Int {
        var result = 0
        var shift = 0
        while true {
            guard pos < input.count else { throw EmbedError("snappy: truncated length") }
            let b = input[pos]
            pos += 1
            guard shift <= 28 else { throw EmbedError("snappy: length varint too long") }
            result |= Int(b & 0x7F) << shift
            if b & 0x80 == 0 { return result }
            shift += 7
        }
    }

    package static func decompress(_ input: [UInt8]) throws -> [UInt8] {
        try input.withUnsafeBytes { try decompress($0) }
    }

    package static func decompress(_ input: UnsafeRawBufferPointer) throws -> [UInt8] {
        var pos = 0
        let length = try readLength(input, &pos)
        guard length <= Int(UInt32.max) else { throw EmbedError("snappy: announced length \(length) too large") }
        return try [UInt8](unsafeUninitializedCapacity: length) { out, initialized in
            var o = 0
            defer { initialized = o }
            let src = input.bindMemory(to: UInt8.self)
            while pos < src.count {
                let tag = src[pos]
                pos += 1
                switch tag & 3 {
                case 0:
                    var len = Int(tag >> 2)
                    if len >= 60 {
                        let extra = len - 59
                        guard pos + extra <= src.count else { throw EmbedError("snappy: truncated literal length") }
                        len = 0
                        for i in 0..<extra { len |= Int(src[pos + i]) << (8 * i) }
                        pos += extra
                    }
                    len += 1
                    guard pos + len <= src.count else { throw EmbedError("snappy: literal runs past the input") }
                    guard o + len <= length else { throw EmbedError("snappy: output longer than announced") }
                    (out.baseAddress! + o).update(from: src.baseAddress! + pos, count: len)
                    pos += len
                    o += len
                default:
                    let len: Int
                    let offset: Int
                    switch tag & 3 {
                    case 1:
                        guard pos < src.count else { throw EmbedError("snappy: truncated copy") }
                        len = 4 + Int((tag >> 2) & 7)
                        offset = Int(tag >> 5) << 8 | Int(src[pos])
                        pos += 1
                    case 2:
                        guard pos + 2 <= src.count else { throw EmbedError("snappy: truncated copy") }
                        len = 1 + Int(tag >> 2)
                        offset = Int(src[pos]) | Int(src[pos + 1]) << 8
                        pos += 2
                    default:
                        guard pos + 4 <= src.count else { throw EmbedError("snappy: truncated copy") }
                        len = 1 + Int(tag >> 2)
                        offset = Int(src[pos]) | Int(src[pos + 1]) << 8 | Int(src[pos + 2]) << 16 | Int(src[pos + 3]) << 24
                        pos += 4
                    }
                    guard offset > 0, offset <= o else { throw EmbedError("snappy: copy offset \(offset) outside the output") }
                    guard o + len <= length else { throw EmbedError("snappy: output longer than announced") }
                    // Byte by byte: a copy may overlap its own output (offset < len repeats a pattern).
                    let base = out.baseAddress!
                    for i in 0..<len { base[o + i] = base[o - offset + i] }
                    o += len
                }
            }
            guard o == length else { throw EmbedError("snappy: output has \(o) bytes, announced \(length)") }
        }
    }
}
