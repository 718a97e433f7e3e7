import Glibc
import IO
import TestSupport
import Testing

@Suite struct FileSystemTests {
    /// Listing reads each directory entry's name in place. It used to copy the whole 256-byte
    /// `d_name` field, which reads past the end of a short entry that ends readdir's buffer
    /// (AddressSanitizer's heap-buffer-overflow in `make test-sanitize`): thousands of names of
    /// every length put entries at the ends of several buffers, so the sanitizer run catches it.
    @Test func listGivesEveryNameSorted() throws {
        let dir = TestPaths.scratch()
        defer { FileSystem.removeTree(dir) }
        var names: [String] = []
        for i in 0..<3000 {
            let name = String(i) + String(repeating: "n", count: i % 60) + (i % 7 == 0 ? "ø" : "")
            let fd = open(dir + "/" + name, O_CREAT | O_WRONLY, 0o644)
            try #require(fd >= 0, "creating \(name)")
            close(fd)
            names.append(name)
        }
        try FileSystem.createDirectory(dir + "/sub")
        names.append("sub")
        #expect(FileSystem.list(dir) == names.sorted())
        #expect(FileSystem.list(dir + "/missing").isEmpty)
    }
}
