#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

// File tests through stat(2): cheap, and free of Foundation's FileManager where it is not needed.

func fileExists(_ path: String) -> Bool {
    var st = stat()
    return stat(path, &st) == 0
}

func isRegularFile(_ path: String) -> Bool {
    var st = stat()
    return stat(path, &st) == 0 && (st.st_mode & S_IFMT) == S_IFREG
}

/// Copies a file's bytes (following symlinks) to `to`, atomically: a reader of `to` sees the old
/// file or the whole new one.
func copyFile(_ from: String, to: String, progress: Progress? = nil) throws {
    let reader = try ByteReader(path: from, detectCompression: false)
    let writer = try ByteWriter(path: to)
    let buf = UnsafeMutableRawBufferPointer.allocate(byteCount: 1 << 20, alignment: 16)
    defer { buf.deallocate() }
    while true {
        let n = try reader.read(into: buf)
        if n == 0 { break }
        try writer.write(UnsafeRawBufferPointer(rebasing: buf[0..<n]))
        progress?.advance(by: n)
    }
    try writer.commit()
}
