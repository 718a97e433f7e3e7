import Foundation
import Glibc
import IO
import TestSupport
import Testing

/// Test data and small file helpers shared by the format tests.
enum FormatFixtures {
    static let dir = TestPaths.fixtures + "/formats"

    static func bytes(_ path: String) throws -> [UInt8] {
        guard let data = FileManager.default.contents(atPath: path) else { throw EmbedError("\(path): missing") }
        return [UInt8](data)
    }

    static func write(_ bytes: [UInt8], to path: String) throws {
        try Data(bytes).write(to: URL(fileURLWithPath: path))
    }

    static func readAll(_ path: String) throws -> [UInt8] { try ByteReader(path: path).readAll() }

    /// Deterministic bytes: text-like (compressible) or noise-like, from a simple LCG.
    static func sample(count: Int, compressible: Bool, seed: UInt64 = 1) -> [UInt8] {
        var state = seed
        func next() -> UInt64 {
            state = state &* 6_364_136_223_846_793_005 &+ 1_442_695_040_888_963_407
            return state >> 33
        }
        guard compressible else { return (0..<count).map { _ in UInt8(truncatingIfNeeded: next()) } }
        // Random words from a small vocabulary: about 3 bits of entropy per 6 bytes.
        let words = ["hund ", "katt ", "løper ", "parken ", "stille ", "vann ", "fjell ", "by "].map { Array($0.utf8) }
        var out: [UInt8] = []
        out.reserveCapacity(count + 8)
        while out.count < count { out += words[Int(next() % 8)] }
        return Array(out.prefix(count))
    }

    /// The message of the error `body` throws; records an issue when it does not throw.
    static func errorMessage(sourceLocation: SourceLocation = #_sourceLocation, _ body: () throws -> Void) -> String {
        do {
            try body()
            Issue.record("expected an error", sourceLocation: sourceLocation)
            return ""
        } catch {
            return "\(error)"
        }
    }
}

/// `ByteReader` and `ByteWriter`: plain, zstd and gzip round trips, damaged input, atomic writes.
@Suite struct ByteStreamsTests {
    @Test(arguments: [0, 1, 3, 4, (1 << 17) - 1, 1 << 17, (1 << 17) + 1, 1_000_003])
    func plainRoundTrip(size: Int) throws {
        let path = TestPaths.scratch() + "/plain.bin"
        let data = FormatFixtures.sample(count: size, compressible: false)
        let w = try ByteWriter(path: path)
        try w.write(data)
        try w.commit()
        let r = try ByteReader(path: path)
        #expect(try r.readAll() == data)
        #expect(r.compression == .none)
    }

    /// Small and large writes interleaved (a write larger than the buffer bypasses it) keep their order.
    @Test func mixedWriteSizesKeepOrder() throws {
        let path = TestPaths.scratch() + "/mixed.bin"
        let pieces = [FormatFixtures.sample(count: 10, compressible: true),
                      FormatFixtures.sample(count: 300_000, compressible: false, seed: 2),
                      FormatFixtures.sample(count: 131_000, compressible: false, seed: 3),
                      FormatFixtures.sample(count: 5, compressible: true, seed: 4)]
        let w = try ByteWriter(path: path, zstdLevel: 1)
        for p in pieces { try w.write(p) }
        try w.commit()
        #expect(try FormatFixtures.readAll(path) == pieces.flatMap { $0 })
    }

    @Test(arguments: [(Int32(1), Int32(0)), (3, 2), (19, 0)])
    func zstdRoundTrip(level: Int32, threads: Int32) throws {
        let path = TestPaths.scratch() + "/data.zst"
        // Several MB, so that a multi-threaded writer really hands out several jobs.
        let size = level == 19 ? 200_000 : 6_000_000
        let data = FormatFixtures.sample(count: size, compressible: true)
        let w = try ByteWriter(path: path, zstdLevel: level, threads: threads)
        for chunk in stride(from: 0, to: data.count, by: 70_001) {
            try w.write(Array(data[chunk..<min(chunk + 70_001, data.count)]))
        }
        try w.commit()
        let file = try FormatFixtures.bytes(path)
        #expect(Array(file.prefix(4)) == [0x28, 0xB5, 0x2F, 0xFD])
        #expect(file.count < data.count / 2)
        let r = try ByteReader(path: path)
        #expect(r.compression == .zstd)
        #expect(try r.readAll() == data)
        // detectCompression false hands back the compressed bytes themselves.
        #expect(try ByteReader(path: path, detectCompression: false).readAll() == file)
    }

    /// Files made by the reference tools: two gzip members (Python's gzip), two zstd frames (zstd CLI).
    @Test func readsReferenceGzipAndZstd() throws {
        let expected = try FormatFixtures.bytes(FormatFixtures.dir + "/rows.jsonl")
        let gz = try ByteReader(path: FormatFixtures.dir + "/rows.jsonl.gz")
        #expect(gz.compression == .gzip)
        #expect(try gz.readAll() == expected)
        let zst = try ByteReader(path: FormatFixtures.dir + "/rows.jsonl.zst")
        #expect(zst.compression == .zstd)
        #expect(try zst.readAll() == expected)
    }

    @Test(.enabled(if: TestPaths.hasShared("data/nb-nn-dev.jsonl.zst"), "needs ../shared/data/nb-nn-dev.jsonl.zst"))
    func readsSharedZstdData() throws {
        let r = try JSONLReader(path: TestPaths.sharedFile("data/nb-nn-dev.jsonl.zst"))
        var rows = 0
        while let row = try r.nextRow(columns: ["anchor", "positive", "negative"]) {
            #expect(!row[0].isEmpty && !row[1].isEmpty && !row[2].isEmpty)
            rows += 1
        }
        #expect(rows >= 10_000)
    }

    // MARK: Damaged input

    static func zstdFile(_ name: String) throws -> (path: String, bytes: [UInt8]) {
        let path = TestPaths.scratch(name) + "/data.zst"
        let w = try ByteWriter(path: path, zstdLevel: 3)
        try w.write(FormatFixtures.sample(count: 2_000_000, compressible: true))
        try w.commit()
        return (path, try FormatFixtures.bytes(path))
    }

    @Test func truncatedZstdFrameIsAnError() throws {
        let (path, bytes) = try Self.zstdFile("truncz")
        for keep in [bytes.count - 1, bytes.count - 4, bytes.count / 2, 10, 5] {
            try FormatFixtures.write(Array(bytes.prefix(keep)), to: path)
            let message = FormatFixtures.errorMessage { _ = try FormatFixtures.readAll(path) }
            #expect(message == "\(path): truncated zstd frame (the file ends mid-frame)", "keeping \(keep) bytes")
        }
    }

    @Test func corruptZstdBytesAreAnError() throws {
        let (path, bytes) = try Self.zstdFile("corruptz")
        var damaged = bytes
        for i in stride(from: bytes.count / 2, to: bytes.count / 2 + 64, by: 4) { damaged[i] ^= 0x5A }
        try FormatFixtures.write(damaged, to: path)
        let message = FormatFixtures.errorMessage { _ = try FormatFixtures.readAll(path) }
        #expect(message.hasPrefix("\(path): corrupt zstd data: "))
        // The magic number followed by garbage.
        try FormatFixtures.write([0x28, 0xB5, 0x2F, 0xFD] + Array("not a frame header at all".utf8), to: path)
        let garbage = FormatFixtures.errorMessage { _ = try FormatFixtures.readAll(path) }
        #expect(garbage.hasPrefix("\(path): corrupt zstd data: "))
    }

    @Test func damagedGzipIsAnError() throws {
        let path = TestPaths.scratch() + "/rows.gz"
        let bytes = try FormatFixtures.bytes(FormatFixtures.dir + "/rows.jsonl.gz")
        // The first member is about half of the file: cutting inside it truncates the stream.
        try FormatFixtures.write(Array(bytes.prefix(60)), to: path)
        #expect(FormatFixtures.errorMessage { _ = try FormatFixtures.readAll(path) }
            == "\(path): truncated gzip stream (the file ends mid-stream)")
        var damaged = bytes
        damaged[30] ^= 0xFF
        try FormatFixtures.write(damaged, to: path)
        #expect(FormatFixtures.errorMessage { _ = try FormatFixtures.readAll(path) }.hasPrefix("\(path): corrupt gzip data: "))
    }

    @Test func missingFilesAndDirectoriesAreNamed() throws {
        let dir = TestPaths.scratch()
        #expect(FormatFixtures.errorMessage { _ = try ByteReader(path: dir + "/nope") }
            == "\(dir)/nope: cannot open: No such file or directory")
        #expect(FormatFixtures.errorMessage { _ = try ByteReader(path: dir) } == "\(dir): is a directory, expected a file")
        #expect(FormatFixtures.errorMessage { _ = try ByteWriter(path: dir + "/no/such/dir/out") }.hasPrefix("\(dir)/no/such/dir/out: cannot create"))
    }

    /// A pipe may deliver the first bytes one or two at a time; the magic number must still be seen.
    @Test func sniffsCompressionOnAShortFirstRead() throws {
        let (_, bytes) = try Self.zstdFile("shortread")
        var fds: [Int32] = [0, 0]
        #expect(pipe(&fds) == 0)
        let (readEnd, writeEnd) = (fds[0], fds[1])
        defer { close(readEnd) }
        #expect(bytes.withUnsafeBytes { Glibc.write(writeEnd, $0.baseAddress, 2) } == 2)
        let writer = Thread {
            // Give the reader time to take the first two bytes alone before the rest arrives.
            usleep(200_000)
            bytes.withUnsafeBytes { buf in
                var off = 2
                while off < buf.count {
                    let n = Glibc.write(writeEnd, buf.baseAddress! + off, buf.count - off)
                    if n <= 0 { break }
                    off += n
                }
            }
            close(writeEnd)
        }
        writer.start()
        let r = try ByteReader(path: "/dev/fd/\(readEnd)")
        #expect(r.compression == .zstd)
        #expect(try r.readAll() == FormatFixtures.sample(count: 2_000_000, compressible: true))
    }

    // MARK: Atomic writes

    static func listing(_ dir: String) -> [String] {
        ((try? FileManager.default.contentsOfDirectory(atPath: dir)) ?? []).sorted()
    }

    @Test func droppedWriterLeavesNoFileAndNoTempFile() throws {
        let dir = TestPaths.scratch()
        for level: Int32? in [nil, 3] {
            do {
                let w = try ByteWriter(path: dir + "/out.bin", zstdLevel: level)
                try w.write(FormatFixtures.sample(count: 500_000, compressible: true))
                #expect(Self.listing(dir) == [".out.bin.tmp-\(getpid())"])
            }
            #expect(Self.listing(dir) == [])
        }
    }

    @Test func droppedWriterLeavesTheOldFileAlone() throws {
        let dir = TestPaths.scratch()
        let path = dir + "/out.txt"
        try FormatFixtures.write(Array("old contents".utf8), to: path)
        do {
            let w = try ByteWriter(path: path)
            try w.write("new contents that never get committed")
        }
        #expect(try FormatFixtures.bytes(path) == Array("old contents".utf8))
        #expect(Self.listing(dir) == ["out.txt"])
        let w = try ByteWriter(path: path)
        try w.write("new")
        try w.commit()
        try w.commit()  // a second commit does nothing
        #expect(try FormatFixtures.bytes(path) == Array("new".utf8))
        #expect(Self.listing(dir) == ["out.txt"])
    }

    @Test func temporaryFilesSitBesideTheTarget() {
        let pid = getpid()
        #expect(ByteWriter.temporaryPath(for: "a/b/c.jsonl.zst") == "a/b/.c.jsonl.zst.tmp-\(pid)")
        #expect(ByteWriter.temporaryPath(for: "c.bin") == ".c.bin.tmp-\(pid)")
        #expect(ByteWriter.isZstdPath("x.jsonl.zst") && ByteWriter.isZstdPath("x.zstd") && !ByteWriter.isZstdPath("x.jsonl"))
    }

    // MARK: Standard streams (in a child process)

    /// `-` reads stdin (zstd and gzip detected there too) and writes stdout.
    @Test func stdinAndStdoutAsDash() throws {
        let dir = TestPaths.scratch()
        let (status, output) = try ChildTest.run("standardStreamsChild", directory: dir)
        #expect(status == 0, "child failed:\n\(output)")
        #expect(FileManager.default.fileExists(atPath: dir + "/done"), "the child did not finish:\n\(output)")
    }

    @Test(.enabled(if: ChildTest.isChild("standardStreamsChild"), "runs only as the child process of stdinAndStdoutAsDash"))
    func standardStreamsChild() throws {
        let dir = try #require(ChildTest.directory("standardStreamsChild"))
        let expected = try FormatFixtures.bytes(FormatFixtures.dir + "/rows.jsonl")
        for (name, compression) in [("rows.jsonl", ByteReader.Compression.none), ("rows.jsonl.zst", .zstd), ("rows.jsonl.gz", .gzip)] {
            let fd = open(FormatFixtures.dir + "/" + name, O_RDONLY)
            #expect(fd >= 0)
            #expect(dup2(fd, 0) == 0)
            close(fd)
            let r = try ByteReader(path: "-")
            #expect(r.compression == compression)
            #expect(try r.readAll() == expected, "\(name) through stdin")
        }
        // stdout: point fd 1 at a file, write zstd JSONL to `-`, put fd 1 back.
        let outPath = dir + "/stdout.zst"
        let saved = dup(1)
        let out = open(outPath, O_WRONLY | O_CREAT | O_TRUNC, 0o644)
        #expect(dup2(out, 1) == 1)
        close(out)
        let w = try JSONLWriter(path: "-", compress: true, level: 3, threads: 2)
        try w.write(columns: ["anchor", "positive", "negative"], values: ["a", "b", "c"])
        try w.commit()
        #expect(dup2(saved, 1) == 1)
        close(saved)
        #expect(!FileManager.default.fileExists(atPath: ByteWriter.temporaryPath(for: "-")))
        let back = try ByteReader(path: outPath)
        #expect(back.compression == .zstd)
        #expect(try back.readAll() == Array(#"{"anchor":"a","positive":"b","negative":"c"}"#.utf8) + [0x0A])
        try FormatFixtures.write([], to: dir + "/done")
    }
}
