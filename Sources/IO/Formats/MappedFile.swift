#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// A whole file mapped read-only. Weights files (safetensors, torch checkpoints) and Parquet files
/// are read through the mapping, so stored tensors are used in place (zero-copy) and a
/// multi-gigabyte file costs no heap; the kernel pages it in.
final class MappedFile: @unchecked Sendable {
    let path: String
    /// Empty (start nil, count 0) for an empty file, which mmap cannot map.
    let bytes: UnsafeRawBufferPointer

    init(path: String) throws {
        self.path = path
        let fd = open(path, O_RDONLY | O_CLOEXEC)
        if fd < 0 { throw EmbedError("\(path): cannot open: \(String(cString: strerror(errno)))") }
        defer { close(fd) }
        var st = stat()
        guard fstat(fd, &st) == 0 else { throw EmbedError("\(path): cannot stat: \(String(cString: strerror(errno)))") }
        guard (st.st_mode & S_IFMT) == S_IFREG else { throw EmbedError("\(path): not a regular file") }
        let size = Int(st.st_size)
        if size == 0 {
            bytes = UnsafeRawBufferPointer(start: nil, count: 0)
            return
        }
        let m = mmap(nil, size, PROT_READ, MAP_PRIVATE, fd, 0)
        guard let m, m != MAP_FAILED else { throw EmbedError("\(path): cannot map: \(String(cString: strerror(errno)))") }
        bytes = UnsafeRawBufferPointer(start: UnsafeRawPointer(m), count: size)
    }

    deinit {
        if let base = bytes.baseAddress { munmap(UnsafeMutableRawPointer(mutating: base), bytes.count) }
    }

    var count: Int { bytes.count }
}
