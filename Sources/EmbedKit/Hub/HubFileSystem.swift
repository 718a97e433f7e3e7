#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// The few POSIX file operations the hub cache and the fetchers need, without Foundation: the
/// cache is a tree of directories, files, relative symlinks and tiny text files (refs).
public enum HubFileSystem {
    static func errnoText() -> String { String(cString: strerror(errno)) }

    public static func exists(_ path: String) -> Bool { access(path, F_OK) == 0 }

    /// True for a directory, following symlinks.
    public static func isDirectory(_ path: String) -> Bool {
        var st = stat()
        return stat(path, &st) == 0 && (st.st_mode & S_IFMT) == S_IFDIR
    }

    /// True for a regular file, following symlinks (a snapshot pointer to an existing blob counts).
    public static func isFile(_ path: String) -> Bool {
        var st = stat()
        return stat(path, &st) == 0 && (st.st_mode & S_IFMT) == S_IFREG
    }

    /// The size of a file (following symlinks), or nil when it does not exist.
    public static func fileSize(_ path: String) -> Int? {
        var st = stat()
        guard stat(path, &st) == 0 else { return nil }
        return Int(st.st_size)
    }

    /// `mkdir -p`.
    public static func createDirectory(_ path: String) throws {
        if path.isEmpty || isDirectory(path) { return }
        let parent = dirname(path)
        if parent != path { try createDirectory(parent) }
        if mkdir(path, 0o755) != 0 && errno != EEXIST {
            throw EmbedError("\(path): cannot create directory: \(errnoText())")
        }
    }

    /// The directory part of a path ("." when there is none).
    public static func dirname(_ path: String) -> String {
        guard let slash = path.lastIndex(of: "/") else { return "." }
        if slash == path.startIndex { return "/" }
        return String(path[..<slash])
    }

    public static func basename(_ path: String) -> String {
        guard let slash = path.lastIndex(of: "/") else { return path }
        return String(path[path.index(after: slash)...])
    }

    public static func join(_ parts: String...) -> String {
        var out = ""
        for p in parts where !p.isEmpty {
            if out.isEmpty || p.hasPrefix("/") { out = p; continue }
            out += out.hasSuffix("/") ? p : "/" + p
        }
        return out
    }

    /// The names in a directory, sorted, without "." and "..".
    public static func list(_ path: String) -> [String] {
        guard let dir = opendir(path) else { return [] }
        defer { closedir(dir) }
        var names: [String] = []
        while let entry = readdir(dir) {
            let name = withUnsafeBytes(of: entry.pointee.d_name) { raw in
                String(cString: raw.baseAddress!.assumingMemoryBound(to: CChar.self))
            }
            if name != "." && name != ".." { names.append(name) }
        }
        return names.sorted()
    }

    /// Every regular file under `path`, as paths relative to it with `/` separators, sorted.
    public static func listFilesRecursively(_ path: String) -> [String] {
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

    public static func readText(_ path: String) throws -> String {
        String(decoding: try ByteReader(path: path, detectCompression: false).readAll(), as: UTF8.self)
    }

    /// Writes a small file atomically (temporary file + rename).
    public static func writeText(_ text: String, to path: String) throws {
        let w = try ByteWriter(path: path)
        try w.write(text)
        try w.commit()
    }

    public static func remove(_ path: String) { unlink(path) }

    public static func rename(_ from: String, _ to: String) throws {
        if Glibc.rename(from, to) != 0 {
            throw EmbedError("cannot rename \(from) to \(to): \(errnoText())")
        }
    }

    /// A relative symlink at `link` pointing to `target` (both absolute or both relative to the
    /// same directory), replacing whatever is at `link` — as huggingface_hub lays out snapshots, so
    /// the cache still works after being moved.
    public static func symlinkRelative(target: String, link: String) throws {
        let rel = relativePath(from: dirname(absolute(link)), to: absolute(target))
        unlink(link)
        if symlink(rel, link) != 0 {
            throw EmbedError("\(link): cannot create symlink to \(rel): \(errnoText())")
        }
    }

    /// An absolute, `.`/`..`-free form of a path (lexically; symlinks are not resolved, as Python's
    /// os.path.abspath does not resolve them either).
    public static func absolute(_ path: String) -> String {
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
    final class FileLock {
        private let fd: Int32
        init(path: String) throws {
            try HubFileSystem.createDirectory(HubFileSystem.dirname(path))
            fd = open(path, O_RDWR | O_CREAT | O_CLOEXEC, 0o644)
            if fd < 0 { throw EmbedError("\(path): cannot open lock file: \(HubFileSystem.errnoText())") }
            while flock(fd, LOCK_EX) != 0 {
                if errno != EINTR { close(fd); throw EmbedError("\(path): cannot lock: \(HubFileSystem.errnoText())") }
            }
        }
        deinit {
            flock(fd, LOCK_UN)
            close(fd)
        }
    }
}

/// Reads an environment variable (nil when unset).
func environmentValue(_ name: String) -> String? {
    guard let v = getenv(name) else { return nil }
    return String(cString: v)
}
