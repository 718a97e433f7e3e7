import Foundation
import Hub
import IO
import TestSupport
import Testing

/// A cache written by the real huggingface_hub (tools/check_hf_cache_interop.py, which also checks
/// the other direction: huggingface_hub reading a cache we wrote) must serve an offline fetch.
@Suite struct PythonCacheTests {
    @Test func offlineFetchReusesACacheHuggingFaceHubWrote() throws {
        let cache = TestPaths.scratch() + "/cache"
        try FileManager.default.copyItem(atPath: TestPaths.fixtures + "/hub/python-cache", toPath: cache)
        let client = try HubClient(endpoint: "http://127.0.0.1:9", token: "", offline: true, cacheDir: cache)
        client.quiet = true
        let out = TestPaths.scratch() + "/model"
        let result = try ModelFetcher(client: client).fetch(repo: "test-org/tiny-model", to: out)
        #expect(result.commit == "0123456789abcdef0123456789abcdef01234567")
        #expect(result.files.sorted() == ["1_Pooling/config.json", "config.json", "model.safetensors", "tokenizer.json"])
        let weights = try ByteReader(path: out + "/model.safetensors", detectCompression: false).readAll()
        #expect(weights == Array((0..<40).flatMap { _ in (0..<256).map { UInt8($0) } }))
        #expect(SHA256.hash(weights) == "e96760a87768717bcebcfd25ddc7d46b4dbc95a4b0014def080c08539f7d90d0")
        #expect(try String(contentsOfFile: out + "/tokenizer.json", encoding: .utf8) == "{\"note\": \"blåbær\"}\n")
        // Single files resolve through refs/main → snapshots/<commit> → blobs, as huggingface_hub does.
        let pointer = try client.download(HubRepo("test-org/tiny-model"), path: "config.json", revision: "main")
        #expect(pointer.hasSuffix("/snapshots/0123456789abcdef0123456789abcdef01234567/config.json"))
    }
}
