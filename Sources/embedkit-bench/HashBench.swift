import Foundation
import IO

/// `embedkit-bench --sha256 FILE`: the hub client's download check (`SHA256` over 1 MiB reads, as
/// `HubClient.verify` does it) on a large file, three passes; prints GB/s of the fastest.
func runSHA256Bench(path: String) {
    var best = Double.infinity
    var digest = ""
    var bytes = 0
    for _ in 0..<3 {
        let start = ProgressBar.now()
        do {
            let reader = try ByteReader(path: path, detectCompression: false)
            let buf = UnsafeMutableRawBufferPointer.allocate(byteCount: 1 << 20, alignment: 16)
            defer { buf.deallocate() }
            var h = SHA256()
            bytes = 0
            while true {
                let n = try reader.read(into: buf)
                if n == 0 { break }
                bytes += n
                h.update(UnsafeRawBufferPointer(rebasing: buf[0..<n]))
            }
            digest = h.hexDigest()
        } catch {
            fail("\(error)")
        }
        best = min(best, ProgressBar.now() - start)
    }
    print("sha256 \(digest) \(path): \(bytes) bytes, best of 3 \(fmt(best, 2)) s, \(fmt(Double(bytes) / best / 1e9, 2)) GB/s (load \(loadAverage()))")
}
