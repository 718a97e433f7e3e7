#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif
import CZlib
import CZstd

/// Reads bytes from a file or stdin (`-`), decompressing zstd or gzip transparently when the first
/// bytes carry their magic numbers. Constant memory whatever the input size.
package final class ByteReader {
    package let path: String
    private let fd: Int32
    private let ownsFD: Bool
    private var decoder: Decoder
    /// Raw (possibly compressed) bytes read from the file and not yet consumed.
    private let raw: UnsafeMutableRawBufferPointer
    private var rawStart = 0
    private var rawEnd = 0
    private var rawEOF = false

    enum Decoder {
        case none
        case zstd(OpaquePointer)
        case gzip(UnsafeMutablePointer<z_stream>)
    }

    package enum Compression: String, Sendable { case none, zstd, gzip }
    package private(set) var compression: Compression = .none

    static let chunk = 1 << 17

    /// `detectCompression` false reads the bytes as they are (for binary files of our own).
    package init(path: String, detectCompression: Bool = true) throws {
        self.path = path
        if path == "-" {
            fd = 0
            ownsFD = false
        } else {
            fd = open(path, O_RDONLY | O_CLOEXEC)
            if fd < 0 { throw EmbedError("\(path): cannot open: \(String(cString: strerror(errno)))") }
            var st = stat()
            if fstat(fd, &st) == 0, (st.st_mode & S_IFMT) == S_IFDIR {
                close(fd)
                throw EmbedError("\(path): is a directory, expected a file")
            }
            ownsFD = true
        }
        raw = .allocate(byteCount: Self.chunk, alignment: 16)
        decoder = .none
        try fillHeader()
        // Sniff the magic numbers: zstd frames start 28 B5 2F FD, gzip members 1F 8B.
        let avail = detectCompression ? rawEnd - rawStart : 0
        if avail >= 4, raw[0] == 0x28, raw[1] == 0xB5, raw[2] == 0x2F, raw[3] == 0xFD {
            guard let d = ZSTD_createDStream() else { throw EmbedError("\(path): out of memory for zstd") }
            ZSTD_initDStream(d)
            decoder = .zstd(d)
            compression = .zstd
        } else if avail >= 2, raw[0] == 0x1F, raw[1] == 0x8B {
            let z = UnsafeMutablePointer<z_stream>.allocate(capacity: 1)
            z.initialize(to: z_stream())
            // 15 + 32: zlib auto-detects the gzip header.
            guard inflateInit2_(z, 15 + 32, ZLIB_VERSION, Int32(MemoryLayout<z_stream>.size)) == Z_OK else {
                throw EmbedError("\(path): cannot initialise gzip decoder")
            }
            decoder = .gzip(z)
            compression = .gzip
        }
    }

    deinit {
        if ownsFD { close(fd) }
        switch decoder {
        case .none: break
        case .zstd(let d): ZSTD_freeDStream(d)
        case .gzip(let z): inflateEnd(z); z.deallocate()
        }
        raw.deallocate()
    }

    /// Reads until the first 4 bytes (enough for either magic number) are in, or the input ends:
    /// a pipe may deliver its first bytes in pieces smaller than that.
    private func fillHeader() throws {
        try fillRaw()
        while rawEnd < 4, !rawEOF {
            let n = Glibc.read(fd, raw.baseAddress! + rawEnd, raw.count - rawEnd)
            if n < 0 {
                if errno == EINTR { continue }
                throw EmbedError("\(path): read error: \(String(cString: strerror(errno)))")
            }
            if n == 0 { rawEOF = true }
            rawEnd += n
        }
    }

    /// Refills the raw buffer when it is empty.
    private func fillRaw() throws {
        guard rawStart == rawEnd, !rawEOF else { return }
        rawStart = 0
        rawEnd = 0
        while true {
            let n = Glibc.read(fd, raw.baseAddress, raw.count)
            if n < 0 {
                if errno == EINTR { continue }
                throw EmbedError("\(path): read error: \(String(cString: strerror(errno)))")
            }
            if n == 0 { rawEOF = true }
            rawEnd = n
            return
        }
    }

    /// zstd frame state: true while inside a frame whose end has not been seen.
    private var inFrame = false

    /// Reads up to `buffer.count` decoded bytes; returns 0 only at the end of the input.
    package func read(into buffer: UnsafeMutableRawBufferPointer) throws -> Int {
        switch decoder {
        case .none:
            try fillRaw()
            let n = min(buffer.count, rawEnd - rawStart)
            if n > 0 { buffer.baseAddress!.copyMemory(from: raw.baseAddress! + rawStart, byteCount: n) }
            rawStart += n
            return n
        case .zstd(let d):
            while true {
                try fillRaw()
                // After fillRaw, an empty raw buffer means the file has ended; a frame still open
                // may yet have decoded bytes buffered, so decode once more before calling it truncated.
                let atEOF = rawStart == rawEnd
                if atEOF, !inFrame { return 0 }
                var input = ZSTD_inBuffer(src: raw.baseAddress! + rawStart, size: rawEnd - rawStart, pos: 0)
                var output = ZSTD_outBuffer(dst: buffer.baseAddress, size: buffer.count, pos: 0)
                let ret = ZSTD_decompressStream(d, &output, &input)
                if ZSTD_isError(ret) != 0 {
                    throw EmbedError("\(path): corrupt zstd data: \(String(cString: ZSTD_getErrorName(ret)))")
                }
                rawStart += input.pos
                inFrame = ret != 0
                if output.pos > 0 { return output.pos }
                if atEOF, inFrame { throw EmbedError("\(path): truncated zstd frame (the file ends mid-frame)") }
            }
        case .gzip(let z):
            while true {
                try fillRaw()
                let atEOF = rawStart == rawEnd
                if atEOF, !inFrame { return 0 }
                z.pointee.next_in = (raw.baseAddress! + rawStart).assumingMemoryBound(to: Bytef.self)
                z.pointee.avail_in = UInt32(rawEnd - rawStart)
                z.pointee.next_out = buffer.baseAddress!.assumingMemoryBound(to: Bytef.self)
                z.pointee.avail_out = UInt32(buffer.count)
                let ret = inflate(z, Z_NO_FLUSH)
                rawStart += (rawEnd - rawStart) - Int(z.pointee.avail_in)
                let produced = buffer.count - Int(z.pointee.avail_out)
                switch ret {
                case Z_OK, Z_BUF_ERROR: inFrame = true
                case Z_STREAM_END:
                    // Concatenated gzip members are one stream to gzip(1): the next one starts fresh.
                    inFrame = false
                    inflateReset(z)
                default:
                    let msg = z.pointee.msg.map { String(cString: $0) } ?? "error \(ret)"
                    throw EmbedError("\(path): corrupt gzip data: \(msg)")
                }
                if produced > 0 { return produced }
                if atEOF, inFrame { throw EmbedError("\(path): truncated gzip stream (the file ends mid-stream)") }
            }
        }
    }

    /// Reads everything (for small files such as configs).
    package func readAll() throws -> [UInt8] {
        var out: [UInt8] = []
        let buf = UnsafeMutableRawBufferPointer.allocate(byteCount: Self.chunk, alignment: 16)
        defer { buf.deallocate() }
        while true {
            let n = try read(into: buf)
            if n == 0 { return out }
            out.append(contentsOf: UnsafeRawBufferPointer(rebasing: buf[0..<n]))
        }
    }
}

/// Writes bytes to a file or stdout (`-`), optionally zstd-compressed, atomically: bytes go to a
/// temporary file beside the target, renamed over it by `commit()`. A writer dropped without
/// `commit()` (an error, an interrupted stage) removes its temporary file, so a half-written output
/// never looks whole.
package final class ByteWriter {
    package let path: String
    private let tempPath: String?
    private var fd: Int32
    private var cctx: OpaquePointer?
    private let buffer: UnsafeMutableRawBufferPointer
    private var used = 0
    private var committed = false

    /// `zstdLevel` nil writes plain bytes. `threads` > 0 lets zstd compress on worker threads.
    package init(path: String, zstdLevel: Int32? = nil, threads: Int32 = 0) throws {
        self.path = path
        if path == "-" {
            fd = 1
            tempPath = nil
        } else {
            let tmp = ByteWriter.temporaryPath(for: path)
            FileSystem.removeStaleTemporaries(in: FileSystem.dirname(path), prefix: "." + FileSystem.basename(path) + ".tmp-")
            fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0o644)
            if fd < 0 { throw EmbedError("\(path): cannot create \(tmp): \(String(cString: strerror(errno)))") }
            tempPath = tmp
        }
        buffer = .allocate(byteCount: 1 << 17, alignment: 16)
        if let zstdLevel {
            guard let c = ZSTD_createCCtx() else { throw EmbedError("out of memory for zstd") }
            ZSTD_CCtx_setParameter(c, ZSTD_c_compressionLevel, zstdLevel)
            ZSTD_CCtx_setParameter(c, ZSTD_c_checksumFlag, 1)
            if threads > 0 {
                // Fails harmlessly on a libzstd built without threads: compression stays single-threaded.
                _ = ZSTD_CCtx_setParameter(c, ZSTD_c_nbWorkers, threads)
            }
            cctx = c
        }
    }

    /// `.name.tmp-PID` beside the target: same filesystem, so the rename is atomic.
    package static func temporaryPath(for path: String) -> String {
        let slash = path.lastIndex(of: "/")
        let dir = slash.map { String(path[...$0]) } ?? ""
        let name = slash.map { String(path[path.index(after: $0)...]) } ?? path
        return "\(dir).\(name).tmp-\(getpid())"
    }

    /// Whether a path names a zstd file by its extension.
    package static func isZstdPath(_ path: String) -> Bool { path.hasSuffix(".zst") || path.hasSuffix(".zstd") }

    deinit {
        if let cctx { ZSTD_freeCCtx(cctx) }
        buffer.deallocate()
        if !committed, let tempPath {
            close(fd)
            unlink(tempPath)
        }
    }

    package func write(_ bytes: UnsafeRawBufferPointer) throws {
        if bytes.count >= buffer.count - used {
            try flushBuffer()
            if bytes.count >= buffer.count { try emit(bytes, end: false); return }
        }
        (buffer.baseAddress! + used).copyMemory(from: bytes.baseAddress!, byteCount: bytes.count)
        used += bytes.count
    }

    package func write(_ s: String) throws {
        var s = s
        try s.withUTF8 { try write(UnsafeRawBufferPointer($0)) }
    }

    package func write(_ bytes: [UInt8]) throws {
        try bytes.withUnsafeBytes { try write($0) }
    }

    private func flushBuffer() throws {
        if used > 0 {
            try emit(UnsafeRawBufferPointer(rebasing: buffer[0..<used]), end: false)
            used = 0
        }
    }

    /// Passes bytes through the compressor (if any) to the file.
    private func emit(_ bytes: UnsafeRawBufferPointer, end: Bool) throws {
        guard let cctx else { try writeRaw(bytes); return }
        let outCap = ZSTD_CStreamOutSize()
        let out = UnsafeMutableRawPointer.allocate(byteCount: outCap, alignment: 16)
        defer { out.deallocate() }
        var input = ZSTD_inBuffer(src: bytes.baseAddress, size: bytes.count, pos: 0)
        while true {
            var output = ZSTD_outBuffer(dst: out, size: outCap, pos: 0)
            let remaining = ZSTD_compressStream2(cctx, &output, &input, end ? ZSTD_e_end : ZSTD_e_continue)
            if ZSTD_isError(remaining) != 0 {
                throw EmbedError("\(path): zstd compression failed: \(String(cString: ZSTD_getErrorName(remaining)))")
            }
            try writeRaw(UnsafeRawBufferPointer(start: out, count: output.pos))
            if end ? remaining == 0 : input.pos == input.size { return }
        }
    }

    private func writeRaw(_ bytes: UnsafeRawBufferPointer) throws {
        var off = 0
        while off < bytes.count {
            let n = Glibc.write(fd, bytes.baseAddress! + off, bytes.count - off)
            if n < 0 {
                if errno == EINTR { continue }
                throw EmbedError("\(path): write error: \(String(cString: strerror(errno)))")
            }
            off += n
        }
    }

    /// Flushes, ends the zstd frame, and renames the temporary file over the target.
    package func commit() throws {
        guard !committed else { return }
        try flushBuffer()
        if cctx != nil { try emit(UnsafeRawBufferPointer(start: nil, count: 0), end: true) }
        committed = true
        guard let tempPath else { return }
        if fsync(fd) != 0, errno != EINVAL {
            throw EmbedError("\(path): fsync failed: \(String(cString: strerror(errno)))")
        }
        close(fd)
        if rename(tempPath, path) != 0 {
            let err = String(cString: strerror(errno))
            unlink(tempPath)
            throw EmbedError("\(path): cannot rename \(tempPath) into place: \(err)")
        }
        FileSystem.syncDirectory(FileSystem.dirname(path))
    }
}
