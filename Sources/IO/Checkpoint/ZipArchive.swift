import CZlib

/// One member of a ZIP archive, as its central directory (and ZIP64 extra field) describes it.
package struct ZipEntry: Sendable, Equatable {
    package let name: String
    /// 0 = stored (what torch.save writes), 8 = deflate.
    package let method: UInt16
    package let crc32: UInt32
    package let compressedSize: Int
    package let size: Int
    package let localHeaderOffset: Int
    /// Where the member's bytes start, past its local header (whose extra field torch uses as
    /// padding to align tensor data to 64 bytes, so it must be read, not assumed).
    package let dataOffset: Int
}

/// The bytes of one member: a zero-copy view into the archive's mapping for stored members (it keeps
/// the archive alive), or an owned buffer for deflated ones. The bytes are lent only inside
/// `withUnsafeBytes`, because Swift may release an object right after its last use, which would free
/// a deflated member's buffer while a raw pointer into it is still being read.
package final class ZipBytes: @unchecked Sendable {
    private let buffer: UnsafeRawBufferPointer
    private let owner: AnyObject?
    private let owned: UnsafeMutableRawBufferPointer?

    init(mapped buffer: UnsafeRawBufferPointer, owner: AnyObject) {
        self.buffer = buffer
        self.owner = owner
        self.owned = nil
    }

    init(owned: UnsafeMutableRawBufferPointer) {
        self.buffer = UnsafeRawBufferPointer(owned)
        self.owner = nil
        self.owned = owned
    }

    deinit { owned?.deallocate() }

    package var count: Int { buffer.count }

    package func withUnsafeBytes<R>(_ body: (UnsafeRawBufferPointer) throws -> R) rethrows -> R {
        try withExtendedLifetime(self) { try body(buffer) }
    }
}

/// A read-only ZIP archive over a memory-mapped file: end of central directory (with ZIP64 locator and
/// record, since checkpoints beyond 4 GiB need them), central directory (with ZIP64 extra fields) and
/// local headers. Every offset and size is checked against the file before use, so a truncated or
/// lying archive is an `EmbedError`, never an out-of-bounds read. Single-disk, unencrypted archives
/// only; members stored or deflated.
package final class ZipArchive: @unchecked Sendable {
    package let path: String
    /// Members in central-directory order.
    package let entries: [ZipEntry]
    /// Whether `contents(of:)` checks each member's CRC-32 (once per member; the result is remembered).
    package let verifyCRC: Bool
    private let file: MappedFile
    private let index: [String: Int]
    private let verifiedLock = Mutex()
    private var verified = Set<Int>()

    package convenience init(path: String, verifyCRC: Bool = true) throws {
        try self.init(file: MappedFile(path: path), verifyCRC: verifyCRC)
    }

    init(file: MappedFile, verifyCRC: Bool) throws {
        self.path = file.path
        self.file = file
        self.verifyCRC = verifyCRC
        let entries = try ZipArchive.readCentralDirectory(ZipCursor(file.bytes, path: file.path))
        var index: [String: Int] = [:]
        for (i, e) in entries.enumerated() {
            if index[e.name] != nil { throw EmbedError("\(path): the ZIP archive lists '\(e.name)' twice") }
            index[e.name] = i
        }
        self.entries = entries
        self.index = index
    }

    package func entry(_ name: String) -> ZipEntry? {
        index[name].map { entries[$0] }
    }

    /// The member's bytes, checked against its CRC-32 when `verifyCRC` is on.
    package func contents(of name: String) throws -> ZipBytes {
        guard let i = index[name] else { throw EmbedError("\(path): the archive has no member '\(name)'") }
        let e = entries[i]
        let raw = UnsafeRawBufferPointer(rebasing: file.bytes[e.dataOffset..<(e.dataOffset + e.compressedSize)])
        let result: ZipBytes
        switch e.method {
        case 0:
            result = ZipBytes(mapped: raw, owner: self)
        case 8:
            result = ZipBytes(owned: try inflateRaw(raw, expected: e.size, member: e.name))
        default:
            throw EmbedError("\(path): member '\(e.name)' uses compression method \(e.method) (only stored and deflate are supported)")
        }
        if verifyCRC && !verifiedLock.withLock({ verified.contains(i) }) {
            let crc = result.withUnsafeBytes { ZipArchive.crc32($0) }
            guard crc == e.crc32 else {
                throw EmbedError("\(path): member '\(e.name)' is corrupt: CRC-32 \(hex(crc)) but the archive says \(hex(e.crc32))")
            }
            _ = verifiedLock.withLock { verified.insert(i) }
        }
        return result
    }

    /// zlib's CRC-32, fed in pieces because its length argument may be 32-bit.
    package static func crc32(_ bytes: UnsafeRawBufferPointer) -> UInt32 {
        guard let base = bytes.baseAddress else { return 0 }
        var crc: uLong = CZlib.crc32(0, nil, 0)
        var done = 0
        while done < bytes.count {
            let n = min(bytes.count - done, 1 << 30)
            crc = CZlib.crc32(crc, (base + done).assumingMemoryBound(to: Bytef.self), uInt(n))
            done += n
        }
        return UInt32(truncatingIfNeeded: crc)
    }

    // MARK: - Structure

    private static let eocdSignature: UInt32 = 0x0605_4b50
    private static let zip64LocatorSignature: UInt32 = 0x0706_4b50
    private static let zip64EOCDSignature: UInt32 = 0x0606_4b50
    private static let centralSignature: UInt32 = 0x0201_4b50
    private static let localSignature: UInt32 = 0x0403_4b50

    private static func readCentralDirectory(_ c: ZipCursor) throws -> [ZipEntry] {
        let path = c.path
        guard c.count >= 22 else {
            throw EmbedError("\(path): not a ZIP archive (only \(c.count) bytes; truncated?)")
        }
        // The end-of-central-directory record sits in the last 22 + 65535 (comment) bytes.
        var eocd = -1
        var pos = c.count - 22
        let lowest = max(0, c.count - 22 - 0xFFFF)
        while pos >= lowest {
            if try c.u32(pos) == eocdSignature, try pos + 22 + Int(c.u16(pos + 20)) <= c.count {
                eocd = pos
                break
            }
            pos -= 1
        }
        guard eocd >= 0 else {
            throw EmbedError("\(path): not a ZIP archive or truncated (no end-of-central-directory record)")
        }
        let disk = try c.u16(eocd + 4), cdDisk = try c.u16(eocd + 6)
        var diskEntries = Int(try c.u16(eocd + 8))
        var count = Int(try c.u16(eocd + 10))
        var cdSize = Int(try c.u32(eocd + 12))
        var cdOffset = Int(try c.u32(eocd + 16))
        // ZIP64: a locator right before the EOCD points at the ZIP64 EOCD record with 64-bit fields.
        if eocd >= 20, try c.u32(eocd - 20) == zip64LocatorSignature {
            let loc = eocd - 20
            let recordDisk = try c.u32(loc + 4)
            let recordOffset = try c.int64(loc + 8, "ZIP64 end-of-central-directory offset")
            let disks = try c.u32(loc + 16)
            guard recordDisk == 0, disks <= 1 else { throw EmbedError("\(path): multi-disk ZIP archives are not supported") }
            guard recordOffset <= loc - 56, try c.u32(recordOffset) == zip64EOCDSignature else {
                throw EmbedError("\(path): the ZIP64 locator points at \(recordOffset), where there is no ZIP64 end-of-central-directory record")
            }
            guard try c.u32(recordOffset + 16) == 0, try c.u32(recordOffset + 20) == 0 else {
                throw EmbedError("\(path): multi-disk ZIP archives are not supported")
            }
            diskEntries = try c.int64(recordOffset + 24, "ZIP64 entry count")
            count = try c.int64(recordOffset + 32, "ZIP64 entry count")
            cdSize = try c.int64(recordOffset + 40, "ZIP64 central directory size")
            cdOffset = try c.int64(recordOffset + 48, "ZIP64 central directory offset")
        } else {
            guard disk == 0, cdDisk == 0 else { throw EmbedError("\(path): multi-disk ZIP archives are not supported") }
            if count == 0xFFFF || cdSize == 0xFFFF_FFFF || cdOffset == 0xFFFF_FFFF {
                throw EmbedError("\(path): the archive needs ZIP64 fields but has no ZIP64 locator (truncated?)")
            }
        }
        guard diskEntries == count else { throw EmbedError("\(path): multi-disk ZIP archives are not supported") }
        guard cdOffset <= c.count, cdSize <= c.count - cdOffset else {
            throw EmbedError("\(path): the central directory (\(cdSize) bytes at \(cdOffset)) lies outside the \(c.count)-byte file (truncated?)")
        }
        guard count <= cdSize / 46 else {
            throw EmbedError("\(path): the archive claims \(count) members but its central directory has room for \(cdSize / 46)")
        }
        var entries: [ZipEntry] = []
        entries.reserveCapacity(count)
        var p = cdOffset
        let cdEnd = cdOffset + cdSize
        for i in 0..<count {
            guard p <= cdEnd - 46, try c.u32(p) == centralSignature else {
                throw EmbedError("\(path): central directory record \(i) at offset \(p) is damaged")
            }
            let flags = try c.u16(p + 8)
            let method = try c.u16(p + 10)
            let crc = try c.u32(p + 16)
            var csize = Int(try c.u32(p + 20))
            var usize = Int(try c.u32(p + 24))
            let nameLen = Int(try c.u16(p + 28)), extraLen = Int(try c.u16(p + 30)), commentLen = Int(try c.u16(p + 32))
            var startDisk = Int(try c.u16(p + 34))
            var local = Int(try c.u32(p + 42))
            let recordEnd = p + 46 + nameLen + extraLen + commentLen
            guard recordEnd <= cdEnd else { throw EmbedError("\(path): central directory record \(i) runs past the directory's end") }
            let name = String(decoding: try c.slice(p + 46, nameLen), as: UTF8.self)
            // ZIP64 extended information: 64-bit values for exactly those fields saturated above.
            var e = p + 46 + nameLen
            let extraEnd = e + extraLen
            while e + 4 <= extraEnd {
                let id = try c.u16(e), len = Int(try c.u16(e + 2))
                guard e + 4 + len <= extraEnd else { throw EmbedError("\(path): member '\(name)' has a damaged extra field") }
                if id == 0x0001 {
                    var q = e + 4
                    func next(_ what: String) throws -> Int {
                        guard q + 8 <= e + 4 + len else {
                            throw EmbedError("\(path): member '\(name)' has a ZIP64 extra field without its \(what)")
                        }
                        defer { q += 8 }
                        return try c.int64(q, "ZIP64 \(what) of '\(name)'")
                    }
                    if usize == 0xFFFF_FFFF { usize = try next("size") }
                    if csize == 0xFFFF_FFFF { csize = try next("compressed size") }
                    if local == 0xFFFF_FFFF { local = try next("header offset") }
                    if startDisk == 0xFFFF {
                        guard q + 4 <= e + 4 + len else { throw EmbedError("\(path): member '\(name)' has a short ZIP64 extra field") }
                        startDisk = Int(try c.u32(q))
                    }
                }
                e += 4 + len
            }
            guard startDisk == 0 else { throw EmbedError("\(path): multi-disk ZIP archives are not supported") }
            if flags & 1 != 0 { throw EmbedError("\(path): member '\(name)' is encrypted") }
            guard method == 0 || method == 8 else {
                throw EmbedError("\(path): member '\(name)' uses compression method \(method) (only stored and deflate are supported)")
            }
            if method == 0 && csize != usize {
                throw EmbedError("\(path): stored member '\(name)' has compressed size \(csize) but size \(usize)")
            }
            // The local header repeats the name; its extra field (torch's alignment padding) varies.
            guard local <= c.count - 30, try c.u32(local) == localSignature else {
                throw EmbedError("\(path): member '\(name)': no local header at offset \(local) (truncated or damaged archive)")
            }
            let localNameLen = Int(try c.u16(local + 26)), localExtraLen = Int(try c.u16(local + 28))
            guard localNameLen == nameLen, try c.slice(local + 30, localNameLen).elementsEqual(try c.slice(p + 46, nameLen)) else {
                throw EmbedError("\(path): member '\(name)': its local header names another file")
            }
            let dataOffset = local + 30 + localNameLen + localExtraLen
            guard dataOffset <= c.count, csize <= c.count - dataOffset else {
                throw EmbedError("\(path): member '\(name)' (\(csize) bytes at offset \(dataOffset)) runs past the end of the \(c.count)-byte file (truncated?)")
            }
            // DEFLATE cannot expand more than about 1032:1; a larger claim is a lie (or a bomb).
            // (csize is bounded by the file size here, so the product cannot overflow.)
            if method == 8 && usize > csize * 1032 + 1024 {
                throw EmbedError("\(path): deflated member '\(name)' claims \(usize) bytes from \(csize) compressed")
            }
            entries.append(ZipEntry(name: name, method: method, crc32: crc, compressedSize: csize, size: usize,
                                    localHeaderOffset: local, dataOffset: dataOffset))
            p = recordEnd
        }
        return entries
    }

    /// Raw DEFLATE (no zlib header) into exactly `expected` bytes; anything else is damage.
    private func inflateRaw(_ input: UnsafeRawBufferPointer, expected: Int, member: String) throws -> UnsafeMutableRawBufferPointer {
        // One spare byte beyond `expected` lets an over-long stream show itself.
        let out = UnsafeMutableRawBufferPointer.allocate(byteCount: expected + 1, alignment: 64)
        var ok = false
        defer { if !ok { out.deallocate() } }
        var stream = z_stream()
        guard inflateInit2_(&stream, -15, zlibVersion(), Int32(MemoryLayout<z_stream>.size)) == Z_OK else {
            throw EmbedError("\(path): cannot initialise zlib")
        }
        defer { inflateEnd(&stream) }
        let chunk = 1 << 30  // zlib counts in 32-bit units
        let inBase = input.baseAddress.map { UnsafeMutablePointer(mutating: $0.assumingMemoryBound(to: Bytef.self)) }
        let outBase = out.baseAddress!.assumingMemoryBound(to: Bytef.self)
        var inDone = 0, outDone = 0
        while true {
            if stream.avail_in == 0, inDone < input.count, let inBase {
                let n = min(chunk, input.count - inDone)
                stream.next_in = inBase + inDone
                stream.avail_in = uInt(n)
                inDone += n
            }
            stream.next_out = outBase + outDone
            stream.avail_out = uInt(min(chunk, expected + 1 - outDone))
            let outBefore = stream.avail_out, inBefore = stream.avail_in
            let status = inflate(&stream, Z_NO_FLUSH)
            outDone += Int(outBefore - stream.avail_out)
            if outDone > expected {
                throw EmbedError("\(path): deflated member '\(member)' holds more than the \(expected) bytes the archive says")
            }
            if status == Z_STREAM_END { break }
            guard status == Z_OK || status == Z_BUF_ERROR else {
                throw EmbedError("\(path): deflated member '\(member)' is damaged (zlib error \(status))")
            }
            let progressed = outBefore != stream.avail_out || inBefore != stream.avail_in
            if !progressed && !(stream.avail_in == 0 && inDone < input.count) {
                throw EmbedError("\(path): deflated member '\(member)' is truncated or damaged")
            }
        }
        guard outDone == expected else {
            throw EmbedError("\(path): deflated member '\(member)' holds \(outDone) bytes, the archive says \(expected)")
        }
        ok = true
        return UnsafeMutableRawBufferPointer(rebasing: out[0..<expected])
    }
}

private func hex(_ v: UInt32) -> String {
    let s = String(v, radix: 16)
    return "0x" + String(repeating: "0", count: max(0, 8 - s.count)) + s
}

/// Bounds-checked little-endian reads over the mapped archive: every read names what it was after.
private struct ZipCursor {
    let bytes: UnsafeRawBufferPointer
    let path: String
    init(_ bytes: UnsafeRawBufferPointer, path: String) {
        self.bytes = bytes
        self.path = path
    }

    var count: Int { bytes.count }

    private func check(_ offset: Int, _ n: Int) throws {
        guard offset >= 0, n >= 0, offset <= bytes.count, n <= bytes.count - offset else {
            throw EmbedError("\(path): ZIP structure at offset \(offset) runs past the end of the \(bytes.count)-byte file (truncated?)")
        }
    }

    func u16(_ offset: Int) throws -> UInt16 {
        try check(offset, 2)
        return UInt16(littleEndian: bytes.loadUnaligned(fromByteOffset: offset, as: UInt16.self))
    }

    func u32(_ offset: Int) throws -> UInt32 {
        try check(offset, 4)
        return UInt32(littleEndian: bytes.loadUnaligned(fromByteOffset: offset, as: UInt32.self))
    }

    /// A 64-bit size or offset; values beyond Int.max cannot be inside any file.
    func int64(_ offset: Int, _ what: String) throws -> Int {
        try check(offset, 8)
        let v = UInt64(littleEndian: bytes.loadUnaligned(fromByteOffset: offset, as: UInt64.self))
        guard v <= UInt64(Int.max) else { throw EmbedError("\(path): \(what) \(v) is impossible") }
        return Int(v)
    }

    func slice(_ offset: Int, _ n: Int) throws -> UnsafeRawBufferPointer {
        try check(offset, n)
        return UnsafeRawBufferPointer(rebasing: bytes[offset..<(offset + n)])
    }
}
