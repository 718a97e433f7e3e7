#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// The POSIX file operations every stage needs, without Foundation's FileManager: existence and
/// type tests through stat(2), directories, atomic small-file writes and copies, and the relative
/// symlinks and locks of the Hugging Face cache.
package enum FileSystem {
    package static func errnoText() -> String { String(cString: strerror(errno)) }

    package static func exists(_ path: String) -> Bool { access(path, F_OK) == 0 }

    /// True for a directory, following symlinks.
    package static func isDirectory(_ path: String) -> Bool {
        var st = stat()
        return stat(path, &st) == 0 && (st.st_mode & S_IFMT) == S_IFDIR
    }

    /// True for a regular file, following symlinks (a snapshot pointer to an existing blob counts).
    package static func isFile(_ path: String) -> Bool {
        var st = stat()
        return stat(path, &st) == 0 && (st.st_mode & S_IFMT) == S_IFREG
    }

    /// The size of a file (following symlinks), or nil when it does not exist.
    package static func fileSize(_ path: String) -> Int? {
        var st = stat()
        guard stat(path, &st) == 0 else { return nil }
        return Int(st.st_size)
    }

    /// `mkdir -p`.
    package static func createDirectory(_ path: String) throws {
        if path.isEmpty || isDirectory(path) { return }
        let parent = dirname(path)
        if parent != path { try createDirectory(parent) }
        if mkdir(path, 0o755) != 0 && errno != EEXIST {
            throw EmbedError("\(path): cannot create directory: \(errnoText())")
        }
    }

    /// The directory part of a path ("." when there is none).
    package static func dirname(_ path: String) -> String {
        guard let slash = path.lastIndex(of: "/") else { return "." }
        if slash == path.startIndex { return "/" }
        return String(path[..<slash])
    }

    package static func basename(_ path: String) -> String {
        guard let slash = path.lastIndex(of: "/") else { return path }
        return String(path[path.index(after: slash)...])
    }

    package static func join(_ parts: String...) -> String {
        var out = ""
        for p in parts where !p.isEmpty {
            if out.isEmpty || p.hasPrefix("/") { out = p; continue }
            out += out.hasSuffix("/") ? p : "/" + p
        }
        return out
    }

    /// The names in a directory, sorted, without "." and "..".
    package static func list(_ path: String) -> [String] {
        guard let dir = opendir(path) else { return [] }
        defer { closedir(dir) }
        var names: [String] = []
        // The name is read in place, up to its NUL: a dirent record is only as long as its name
        // (d_reclen), so copying the whole 256-byte d_name field reads past it (AddressSanitizer).
        let nameOffset = MemoryLayout<dirent>.offset(of: \dirent.d_name)!
        while let entry = readdir(dir) {
            let name = String(cString: UnsafeRawPointer(entry).advanced(by: nameOffset).assumingMemoryBound(to: CChar.self))
            if name != "." && name != ".." { names.append(name) }
        }
        return names.sorted()
    }

    /// Every regular file under `path`, as paths relative to it with `/` separators, sorted.
    package static func listFilesRecursively(_ path: String) -> [String] {
        var out: [String] = []
        func walk(_ rel: String) {
            let full = rel.isEmpty ? path : path + "/" + rel
            for name in list(full) {
                let r = rel.isEmpty ? name : rel + "/" + name
                if isDirectory(path + "/" + r) { walk(r) } else if isFile(path + "/" + r) { out.append(r) }
            }
        }
        walk("")
        return out.sorted()
    }

    package static func readText(_ path: String) throws -> String {
        String(decoding: try ByteReader(path: path, detectCompression: false).readAll(), as: UTF8.self)
    }

    /// The JSON in `path`; a syntax error names the file, line and column.
    package static func readJSON(_ path: String) throws -> JSON {
        let bytes = try ByteReader(path: path, detectCompression: false).readAll()
        do {
            return try JSON.parse(bytes)
        } catch {
            throw EmbedError("\(path):\(error.line):\(error.column): \(error.message)")
        }
    }

    /// The JSON in `path`, or nil when the file does not exist.
    package static func readJSONIfPresent(_ path: String) throws -> JSON? {
        guard exists(path) else { return nil }
        return try readJSON(path)
    }

    /// Writes a small file atomically (temporary file + rename).
    package static func writeText(_ text: String, to path: String) throws {
        let w = try ByteWriter(path: path)
        try w.write(text)
        try w.commit()
    }

    /// Copies a file's bytes (following symlinks) to `to`, atomically: a reader of `to` sees the old
    /// file or the whole new one.
    package static func copy(_ from: String, to: String, progress: ProgressBar? = nil) throws {
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

    /// Appends to a log-like file (created if missing). Logs grow by whole lines written with one
    /// write(2) in O_APPEND mode; no temporary file and rename.
    package static func append(_ text: String, to path: String) throws {
        let fd = open(path, O_WRONLY | O_APPEND | O_CREAT | O_CLOEXEC, 0o644)
        if fd < 0 { throw EmbedError("\(path): cannot open for appending: \(errnoText())") }
        defer { close(fd) }
        var bytes = Array(text.utf8)
        var done = 0
        while done < bytes.count {
            let n = bytes.withUnsafeMutableBytes { write(fd, $0.baseAddress! + done, $0.count - done) }
            if n < 0 {
                if errno == EINTR { continue }
                throw EmbedError("\(path): cannot write: \(errnoText())")
            }
            done += n
        }
    }

    package static func remove(_ path: String) { unlink(path) }

    /// Removes what killed processes left behind: entries of `directory` named `prefix` + PID (+
    /// anything) whose process no longer exists. A process killed with -9 cannot clean up, and its
    /// temporary files (never the outputs themselves) would pile up beside the outputs.
    package static func removeStaleTemporaries(in directory: String, prefix: String) {
        for name in list(directory) where name.hasPrefix(prefix) {
            let digits = name.dropFirst(prefix.count).prefix { $0 >= "0" && $0 <= "9" }
            guard let pid = Int32(digits), pid != getpid(), kill(pid, 0) != 0, errno == ESRCH else { continue }
            let path = (directory.isEmpty ? "." : directory) + "/" + name
            removeTree(path)
        }
    }

    /// Removes a file, or a directory with everything in it (symlinks are removed, not followed).
    package static func removeTree(_ path: String) {
        var st = stat()
        if lstat(path, &st) == 0, (st.st_mode & S_IFMT) == S_IFDIR {
            for name in list(path) { removeTree(path + "/" + name) }
            rmdir(path)
        } else {
            unlink(path)
        }
    }

    /// Flushes a directory's entries (a rename into it) to the disk.
    package static func syncDirectory(_ path: String) {
        let fd = open(path.isEmpty ? "." : path, O_RDONLY | O_DIRECTORY | O_CLOEXEC)
        guard fd >= 0 else { return }
        _ = fsync(fd)
        close(fd)
    }

    /// fsyncs every file under `path`, then the directories bottom-up: what a rename of the tree
    /// then publishes is on the disk, not only in the page cache.
    package static func syncTree(_ path: String) throws {
        for rel in listFilesRecursively(path) {
            let fd = open(path + "/" + rel, O_RDONLY | O_CLOEXEC)
            guard fd >= 0 else { continue }
            defer { close(fd) }
            if fsync(fd) != 0, errno != EINVAL { throw EmbedError("\(path)/\(rel): fsync failed: \(errnoText())") }
        }
        var dirs = Set([path])
        for rel in listFilesRecursively(path) { dirs.insert(dirname(path + "/" + rel)) }
        for d in dirs.sorted(by: { $0.count > $1.count }) { syncDirectory(d) }
    }

    package static func rename(_ from: String, _ to: String) throws {
        if Glibc.rename(from, to) != 0 {
            throw EmbedError("cannot rename \(from) to \(to): \(errnoText())")
        }
    }

    /// A relative symlink at `link` pointing to `target` (both absolute or both relative to the
    /// same directory), replacing whatever is at `link` — as huggingface_hub lays out snapshots, so
    /// the cache still works after being moved.
    package static func symlinkRelative(target: String, link: String) throws {
        let rel = relativePath(from: dirname(absolute(link)), to: absolute(target))
        unlink(link)
        if symlink(rel, link) != 0 {
            throw EmbedError("\(link): cannot create symlink to \(rel): \(errnoText())")
        }
    }

    /// An absolute, `.`/`..`-free form of a path (lexically; symlinks are not resolved, as Python's
    /// os.path.abspath does not resolve them either).
    package static func absolute(_ path: String) -> String {
        var full = path
        if !path.hasPrefix("/") {
            var buf = [CChar](repeating: 0, count: Int(PATH_MAX) + 1)
            let cwd = getcwd(&buf, buf.count).map { String(cString: $0) } ?? "."
            full = cwd + "/" + path
        }
        var parts: [Substring] = []
        for p in full.split(separator: "/") {
            if p == "." || p.isEmpty { continue }
            if p == ".." { if !parts.isEmpty { parts.removeLast() }; continue }
            parts.append(p)
        }
        return "/" + parts.joined(separator: "/")
    }

    static func relativePath(from dir: String, to target: String) -> String {
        let a = dir.split(separator: "/")
        let b = target.split(separator: "/")
        var common = 0
        while common < a.count, common < b.count, a[common] == b[common] { common += 1 }
        let ups = Array(repeating: "..", count: a.count - common)
        return (ups + b[common...].map(String.init)).joined(separator: "/")
    }

    /// Holds an exclusive `flock` on a lock file until released — the lock huggingface_hub's
    /// filelock takes on `.locks/<repo folder>/<etag>.lock`, so the two never write one blob at once.
    package final class FileLock {
        private let fd: Int32
        package init(path: String) throws {
            try FileSystem.createDirectory(FileSystem.dirname(path))
            fd = open(path, O_RDWR | O_CREAT | O_CLOEXEC, 0o644)
            if fd < 0 { throw EmbedError("\(path): cannot open lock file: \(FileSystem.errnoText())") }
            while flock(fd, LOCK_EX) != 0 {
                if errno != EINTR { close(fd); throw EmbedError("\(path): cannot lock: \(FileSystem.errnoText())") }
            }
        }
        deinit {
            flock(fd, LOCK_UN)
            close(fd)
        }
    }
}

/// Reads an environment variable (nil when unset).
package func environmentValue(_ name: String) -> String? {
    guard let v = getenv(name) else { return nil }
    return String(cString: v)
}
