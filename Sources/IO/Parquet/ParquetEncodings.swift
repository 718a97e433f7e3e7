/// Decoders for Parquet's value and level encodings, over one (decompressed) page. Each takes a
/// byte range and a position it advances; each checks its reads against the range's end.
struct ParquetBytes {
    let base: UnsafePointer<UInt8>
    let end: Int
    var pos: Int

    init(_ buffer: UnsafeBufferPointer<UInt8>, from: Int = 0, to: Int? = nil) {
        base = buffer.baseAddress ?? UnsafePointer(bitPattern: 1)!
        pos = from
        end = to ?? buffer.count
    }

    var remaining: Int { end - pos }

    func need(_ n: Int, _ what: String) throws {
        guard n >= 0, n <= end - pos else { throw EmbedError("\(what) runs past the end of the page") }
    }

    mutating func byte() throws -> UInt8 {
        try need(1, "a byte")
        defer { pos += 1 }
        return base[pos]
    }

    mutating func uint32LE() throws -> UInt32 {
        try need(4, "a 4-byte length")
        defer { pos += 4 }
        return UInt32(base[pos]) | UInt32(base[pos + 1]) << 8 | UInt32(base[pos + 2]) << 16 | UInt32(base[pos + 3]) << 24
    }

    mutating func uleb() throws -> UInt64 {
        var result: UInt64 = 0
        var shift: UInt64 = 0
        while true {
            let b = try byte()
            guard shift < 64 else { throw EmbedError("varint too long") }
            result |= UInt64(b & 0x7F) << shift
            if b & 0x80 == 0 { return result }
            shift += 7
        }
    }

    mutating func zigzag() throws -> Int64 {
        let v = try uleb()
        return Int64(bitPattern: v >> 1) ^ -Int64(bitPattern: v & 1)
    }

    /// Little-endian value of `width` bits starting `bitOffset` bits after `start` (LSB-first
    /// packing, as Parquet's bit-packed runs and delta miniblocks use).
    func bits(at start: Int, bitOffset: Int, width: Int) -> UInt64 {
        var v: UInt64 = 0
        var got = 0
        var bp = bitOffset
        while got < width {
            let byte = UInt64(base[start + bp >> 3])
            let off = bp & 7
            let take = min(8 - off, width - got)
            v |= ((byte >> UInt64(off)) & ((1 << UInt64(take)) - 1)) << UInt64(got)
            got += take
            bp += take
        }
        return v
    }
}

enum ParquetDecode {
    /// The bit width that holds 0...maxValue.
    static func bitWidth(_ maxValue: Int) -> Int {
        var w = 0
        while (1 << w) <= maxValue { w += 1 }
        return w
    }

    /// The RLE / bit-packing hybrid: runs of one repeated value, or groups of 8 bit-packed values.
    /// Used for definition levels, dictionary indices and RLE booleans.
    static func rleHybrid(_ b: inout ParquetBytes, bitWidth: Int, count: Int, into out: inout [Int32]) throws {
        guard bitWidth >= 0, bitWidth <= 32 else { throw EmbedError("RLE bit width \(bitWidth) is invalid") }
        let target = out.count + count
        out.reserveCapacity(out.count + min(count, 1 << 20))  // counts come from the file: grow past that as read
        while out.count < target {
            let header = try b.uleb()
            if header & 1 == 0 {
                guard header >> 1 <= UInt64(Int32.max) else { throw EmbedError("RLE run too long") }
                let run = Int(header >> 1)
                let bytes = (bitWidth + 7) / 8
                try b.need(bytes, "an RLE run value")
                var v: UInt32 = 0
                for i in 0..<bytes { v |= UInt32(b.base[b.pos + i]) << (8 * UInt32(i)) }
                b.pos += bytes
                let n = min(run, target - out.count)
                guard run > 0 else { throw EmbedError("empty RLE run") }
                out.append(contentsOf: repeatElement(Int32(bitPattern: v), count: n))
            } else {
                guard header >> 1 <= UInt64(Int32.max / 8) else { throw EmbedError("bit-packed run too long") }
                let groups = Int(header >> 1)
                let bytes = groups * bitWidth
                // The last run may be cut short by the page's end: read what is there.
                let available = min(bytes, b.remaining)
                let values = min(groups * 8, target - out.count, bitWidth == 0 ? groups * 8 : available * 8 / bitWidth)
                guard values > 0 || groups == 0 else { throw EmbedError("bit-packed run runs past the end of the page") }
                for i in 0..<values {
                    out.append(Int32(bitPattern: UInt32(truncatingIfNeeded: b.bits(at: b.pos, bitOffset: i * bitWidth, width: bitWidth))))
                }
                b.pos += available
            }
        }
    }

    /// DELTA_BINARY_PACKED: a header (block size, miniblocks per block, value count, first
    /// value), then blocks of a min delta and bit-packed miniblocks. Wrapping arithmetic, as the
    /// encoder's.
    static func deltaBinaryPacked(_ b: inout ParquetBytes) throws -> [Int64] {
        let blockSize = try b.uleb()
        let miniblocks = try b.uleb()
        let total = try b.uleb()
        var value = try b.zigzag()
        guard blockSize > 0, blockSize % 128 == 0, miniblocks > 0, blockSize % miniblocks == 0,
            (blockSize / miniblocks) % 32 == 0, total <= UInt64(Int32.max)
        else { throw EmbedError("DELTA_BINARY_PACKED header is invalid") }
        let perMini = Int(blockSize / miniblocks)
        var out: [Int64] = []
        out.reserveCapacity(min(Int(total), 1 << 20))
        if total == 0 { return out }
        out.append(value)
        while out.count < Int(total) {
            let minDelta = try b.zigzag()
            try b.need(Int(miniblocks), "miniblock bit widths")
            let widths = (0..<Int(miniblocks)).map { Int(b.base[b.pos + $0]) }
            b.pos += Int(miniblocks)
            for w in widths {
                if out.count >= Int(total) { break }
                guard w <= 64 else { throw EmbedError("DELTA_BINARY_PACKED bit width \(w) is invalid") }
                let bytes = perMini * w / 8
                try b.need(bytes, "a delta miniblock")
                let n = min(perMini, Int(total) - out.count)
                for i in 0..<n {
                    let delta = Int64(bitPattern: b.bits(at: b.pos, bitOffset: i * w, width: w))
                    value = value &+ minDelta &+ delta
                    out.append(value)
                }
                b.pos += bytes
            }
        }
        return out
    }

    /// The byte strings of a page, each handed to `emit` (valid only during the call).
    static func byteArrays(
        _ b: inout ParquetBytes, encoding: ParquetEncoding, count: Int,
        emit: (UnsafeBufferPointer<UInt8>) throws -> Void
    ) throws {
        switch encoding {
        case .plain:
            for _ in 0..<count {
                let n = Int(try b.uint32LE())
                try b.need(n, "a string")
                try emit(UnsafeBufferPointer(start: b.base + b.pos, count: n))
                b.pos += n
            }
        case .deltaLengthByteArray:
            let lengths = try deltaBinaryPacked(&b)
            guard lengths.count >= count else {
                throw EmbedError("DELTA_LENGTH_BYTE_ARRAY has \(lengths.count) lengths for \(count) values")
            }
            for i in 0..<count {
                let n = Int(lengths[i])
                try b.need(n, "a string")
                try emit(UnsafeBufferPointer(start: b.base + b.pos, count: n))
                b.pos += n
            }
        case .deltaByteArray:
            let prefixes = try deltaBinaryPacked(&b)
            let suffixes = try deltaBinaryPacked(&b)
            guard prefixes.count >= count, suffixes.count >= count else {
                throw EmbedError("DELTA_BYTE_ARRAY has too few lengths for \(count) values")
            }
            var previous: [UInt8] = []
            for i in 0..<count {
                let p = Int(prefixes[i])
                let n = Int(suffixes[i])
                guard p >= 0, p <= previous.count else {
                    throw EmbedError("DELTA_BYTE_ARRAY prefix \(p) is longer than the previous value")
                }
                try b.need(n, "a string suffix")
                previous.removeSubrange(p...)
                previous.append(contentsOf: UnsafeBufferPointer(start: b.base + b.pos, count: n))
                b.pos += n
                try previous.withUnsafeBufferPointer { try emit($0) }
            }
        default:
            throw EmbedError("encoding \(encoding) is not supported for byte arrays")
        }
    }
}
