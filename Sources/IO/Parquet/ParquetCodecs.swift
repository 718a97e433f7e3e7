import CZlib
import CZstd

/// Decompresses one Parquet page with its column chunk's codec.
enum ParquetCodecs {
    static func decompress(
        _ input: UnsafeRawBufferPointer, codec: ParquetCodec, uncompressedSize: Int
    ) throws -> [UInt8] {
        switch codec {
        case .uncompressed:
            return Array(input)
        case .snappy:
            return try Snappy.decompress(input)
        case .zstd:
            return try zstd(input, size: uncompressedSize)
        case .gzip:
            return try gzip(input, size: uncompressedSize)
        default:
            throw EmbedError("compression codec \(codec) is not supported (SNAPPY, GZIP, ZSTD and UNCOMPRESSED are)")
        }
    }

    static func zstd(_ input: UnsafeRawBufferPointer, size: Int) throws -> [UInt8] {
        guard size >= 0 else { throw EmbedError("zstd: negative page size") }
        var failure: String?
        let out = [UInt8](unsafeUninitializedCapacity: max(size, 1)) { buf, initialized in
            let n = ZSTD_decompress(buf.baseAddress, size, input.baseAddress, input.count)
            if ZSTD_isError(n) != 0 {
                failure = String(cString: ZSTD_getErrorName(n))
                initialized = 0
            } else {
                initialized = n
            }
        }
        if let failure { throw EmbedError("zstd: \(failure)") }
        guard out.count == size else { throw EmbedError("zstd: page decompressed to \(out.count) bytes, expected \(size)") }
        return out
    }

    /// Parquet's GZIP pages are gzip members (zlib's auto-detection also takes a zlib header).
    static func gzip(_ input: UnsafeRawBufferPointer, size: Int) throws -> [UInt8] {
        guard size >= 0 else { throw EmbedError("gzip: negative page size") }
        var z = z_stream()
        guard inflateInit2_(&z, 15 + 32, ZLIB_VERSION, Int32(MemoryLayout<z_stream>.size)) == Z_OK else {
            throw EmbedError("gzip: cannot initialise zlib")
        }
        defer { inflateEnd(&z) }
        var failure: String?
        let out = [UInt8](unsafeUninitializedCapacity: max(size, 1)) { buf, initialized in
            z.next_in = UnsafeMutablePointer(mutating: input.baseAddress?.assumingMemoryBound(to: Bytef.self))
            z.avail_in = UInt32(input.count)
            z.next_out = buf.baseAddress
            z.avail_out = UInt32(size)
            while true {
                let ret = inflate(&z, Z_FINISH)
                if ret == Z_STREAM_END {
                    // Another member may follow (concatenated gzip).
                    if z.avail_in > 0, z.avail_out > 0 { inflateReset(&z); continue }
                    break
                }
                if ret == Z_BUF_ERROR && z.avail_out == 0 { failure = "page larger than announced"; break }
                if ret != Z_OK {
                    failure = z.msg.map { String(cString: $0) } ?? "error \(ret)"
                    break
                }
            }
            initialized = size - Int(z.avail_out)
        }
        if let failure { throw EmbedError("gzip: \(failure)") }
        guard out.count == size else { throw EmbedError("gzip: page decompressed to \(out.count) bytes, expected \(size)") }
        return out
    }
}
