import Foundation
import IO
import TestSupport
import Testing

/// Fixtures from tools/make_torch_fixtures.py: checkpoints written by torch.save, each with an
/// `.expected.safetensors` holding what torch.load returned (contiguous), in the `names` metadata order.
private let torchFixtures = TestPaths.fixtures + "/torch"

/// Checks every tensor of `store` against the expected file: names in order, shapes, dtypes, and the
/// values bit for bit (floats through `floats`, integers through `ints`). Returns how many it compared.
@discardableResult
private func expectMatches(_ store: any TensorStore, expected expectedPath: String,
                           names expectedNames: [String]? = nil) throws -> Int {
    let expected = try SafetensorsFile(path: expectedPath)
    let order: [String]
    if let expectedNames {
        order = expectedNames
    } else if let json = expected.metadata["names"], let list = try JSON.parse(json).array {
        order = list.compactMap(\.string)
    } else {
        order = expected.names
    }
    #expect(store.names == order)
    var compared = 0
    for name in order {
        let want = try expected.info(name)
        #expect(try store.shape(name) == want.shape, "\(name)")
        #expect(try store.dtype(name) == want.dtype, "\(name)")
        switch want.dtype {
        case .f32, .f16, .bf16, .f64:
            let got = try store.floats(name).map(\.bitPattern)
            #expect(got == (try expected.floats(name)).map(\.bitPattern), "\(name)")
        default:
            #expect(try store.ints(name) == (try expected.ints(name)), "\(name)")
        }
        compared += 1
    }
    return compared
}

@Suite struct TorchCheckpointTests {
    @Test(arguments: ["dtypes", "deflated", "zip64", "protocol5"])
    func readsEveryDtypeLikeTorchLoad(_ fixture: String) throws {
        let ckpt = try TorchCheckpoint(path: "\(torchFixtures)/\(fixture).pt")
        let n = try expectMatches(ckpt, expected: "\(torchFixtures)/\(fixture).expected.safetensors")
        #expect(n == 12)
        #expect(try ckpt.dtype("bf16") == .bf16)
        #expect(try ckpt.shape("scalar") == [])
        #expect(try ckpt.floats("scalar") == [3.25])
        #expect(try ckpt.shape("empty") == [0, 3])
        #expect(try ckpt.floats("empty") == [])
        #expect(try ckpt.ints("i64") == [0, -1, 1 << 40, -(1 << 62), 7, 9])
        #expect(try ckpt.ints("i8") == [-128, -1, 0, 127])
        #expect(try ckpt.ints("bool") == [1, 0, 0, 1])
    }

    @Test(arguments: ["views", "protocol4"])
    func materializesViewsOfSharedStorages(_ fixture: String) throws {
        let ckpt = try TorchCheckpoint(path: "\(torchFixtures)/\(fixture).pt")
        try expectMatches(ckpt, expected: "\(torchFixtures)/\(fixture).expected.safetensors")
        let base = try ckpt.info("base"), t = try ckpt.info("transposed"), s = try ckpt.info("slice")
        #expect(t.storageKey == base.storageKey && s.storageKey == base.storageKey)
        #expect(try ckpt.info("row").storageKey == base.storageKey)
        #expect(t.strides == [1, 6])
        #expect(s.storageOffset == 6 && s.strides == [6, 2])
        #expect(try ckpt.info("expanded").strides == [0, 1])
        #expect(try ckpt.floats("transposed").prefix(5) == [0, 6, 12, 18, 1])
        #expect(try ckpt.floats("slice") == [6, 8, 10, 12, 14, 16])
        #expect(try ckpt.floats("expanded") == [0, 1, 2, 0, 1, 2])
        #expect(try ckpt.ints("long_col") == [1, 5, 9])
    }

    @Test func flattensNestedDictsListsAndParameters() throws {
        let ckpt = try TorchCheckpoint(path: "\(torchFixtures)/nested.pt")
        let n = try expectMatches(ckpt, expected: "\(torchFixtures)/nested.expected.safetensors")
        #expect(n == 9)
        #expect(ckpt.names == ["model.encoder.weight", "model.encoder.bias", "tensors.0", "tensors.1", "param", "pair.0", "7",
                               "tagged", "tagged_param"])
    }

    @Test func readFloatsChecksNameCountAndType() throws {
        let ckpt = try TorchCheckpoint(path: "\(torchFixtures)/dtypes.pt")
        var buffer = [Float](repeating: -1, count: 12)
        try buffer.withUnsafeMutableBufferPointer { try ckpt.readFloats("f32", into: $0.baseAddress!, count: 12) }
        #expect(buffer == (try ckpt.floats("f32")))
        #expect(!buffer.contains(-1))
        #expect(throws: EmbedError.self) {
            try buffer.withUnsafeMutableBufferPointer { try ckpt.readFloats("f32", into: $0.baseAddress!, count: 11) }
        }
        #expect(throws: EmbedError.self) { try ckpt.floats("i64") }
        #expect(throws: EmbedError.self) { try ckpt.ints("f16") }
        do {
            _ = try ckpt.shape("nope")
            Issue.record("expected an error")
        } catch let e as EmbedError {
            #expect(e.message.contains("no tensor named 'nope'"))
        }
        #expect(ckpt.contains("f32") && !ckpt.contains("nope"))
    }

    @Test func crcVerificationCanBeTurnedOff() throws {
        let path = "\(torchFixtures)/hostile/crc_corrupt.pt"
        let strict = try TorchCheckpoint(path: path)
        #expect(throws: EmbedError.self) { try strict.floats("f32") }
        #expect(try strict.floats("f64").count == 4)  // other storages are intact
        let lax = try TorchCheckpoint(path: path, verifyCRC: false)
        let good = try TorchCheckpoint(path: "\(torchFixtures)/dtypes.pt")
        let a = try lax.floats("f32"), b = try good.floats("f32")
        #expect(a.count == b.count && a != b)
    }

    @Test(.enabled(if: TestPaths.hasShared("reference/norbert3-tiny/model/pytorch_model.bin"), "needs ../shared/reference/norbert3-tiny"))
    func norbert3TinyMatchesTorchLoad() throws {
        let ckpt = try TorchCheckpoint(path: TestPaths.sharedFile("reference/norbert3-tiny/model/pytorch_model.bin"))
        let manifest = try JSON.parse(Array(try Data(contentsOf: URL(fileURLWithPath: "\(torchFixtures)/norbert3-tiny.expected.json"))))
        let entries = try #require(manifest.array)
        #expect(entries.count == 26)
        #expect(ckpt.names == entries.compactMap { $0["name"]?.string })
        var hashed = 0
        for e in entries {
            let name = try #require(e["name"]?.string)
            #expect(try ckpt.shape(name) == (e["shape"]?.array?.compactMap(\.int) ?? []), "\(name)")
            let bytes: [UInt8]
            switch e["dtype"]?.string {
            case "float32":
                #expect(try ckpt.dtype(name) == .f32)
                bytes = try ckpt.floats(name).withUnsafeBytes { Array($0) }
            case "int64":
                #expect(try ckpt.dtype(name) == .i64)
                bytes = try ckpt.ints(name).map { Int64($0) }.withUnsafeBytes { Array($0) }
            default:
                Issue.record("unexpected dtype in the manifest for \(name)")
                continue
            }
            #expect(fnv1a64(bytes) == e["fnv1a64"]?.string, "\(name)")
            hashed += 1
        }
        #expect(hashed == 26)
        // And bit for bit against the parameters the reference run used.
        let reference = try SafetensorsFile(path: TestPaths.sharedFile("reference/norbert3-tiny/reference.safetensors"))
        var compared = 0
        for name in ckpt.names where reference.tensors["param." + name] != nil {
            #expect(try ckpt.floats(name).map(\.bitPattern) == (try reference.floats("param." + name)).map(\.bitPattern), "\(name)")
            compared += 1
        }
        #expect(compared == 24)
        #expect(try ckpt.ints("transformer.layers.0.attention.position_indices").count == 512 * 512)
    }
}

private func fnv1a64(_ bytes: [UInt8]) -> String {
    var h: UInt64 = 0xCBF2_9CE4_8422_2325
    for b in bytes { h = (h ^ UInt64(b)) &* 0x0000_0100_0000_01B3 }
    let s = String(h, radix: 16)
    return String(repeating: "0", count: 16 - s.count) + s
}

/// One crafted file from hostile/hostile.json: opening (or, for `when: read`, reading every tensor of)
/// it must fail with an `EmbedError` whose message contains `expect`.
struct TorchHostileCase: CustomTestStringConvertible, Sendable {
    let file: String
    let expect: String
    let readAll: Bool
    var testDescription: String { file }

    static let all: [TorchHostileCase] = {
        guard let data = try? Data(contentsOf: URL(fileURLWithPath: torchFixtures + "/hostile/hostile.json")),
              let list = try? JSON.parse(Array(data)).array else { return [] }
        return list.compactMap {
            guard let f = $0["file"]?.string, let e = $0["expect"]?.string else { return nil }
            return TorchHostileCase(file: f, expect: e, readAll: $0["when"]?.string == "read")
        }
    }()
}

@Suite struct TorchCheckpointHostileTests {
    @Test func manifestListsEveryCase() {
        #expect(TorchHostileCase.all.count >= 35)
        #expect(TorchHostileCase.all.contains { $0.file == "os_system.pt" })
    }

    @Test(arguments: TorchHostileCase.all)
    func hostileFileGivesAClearError(_ c: TorchHostileCase) {
        let path = "\(torchFixtures)/hostile/\(c.file)"
        do {
            let ckpt = try TorchCheckpoint(path: path)
            #expect(c.readAll, "\(c.file) opened, expected: \(c.expect)")
            for name in ckpt.names {
                if [.f32, .f16, .bf16, .f64].contains(try ckpt.dtype(name)) {
                    _ = try ckpt.floats(name)
                } else {
                    _ = try ckpt.ints(name)
                }
            }
            Issue.record("\(c.file) was read without error; expected: \(c.expect)")
        } catch let e as EmbedError {
            #expect(e.message.contains(c.expect), "\(c.file): \(e.message)")
            #expect(e.message.contains(path), "the message names the file: \(e.message)")
        } catch {
            Issue.record("\(c.file): not an EmbedError: \(error)")
        }
    }

    @Test func refusedGlobalIsNamedAndNeverRun() throws {
        do {
            _ = try TorchCheckpoint(path: "\(torchFixtures)/hostile/os_system.pt")
            Issue.record("expected an error")
        } catch let e as EmbedError {
            #expect(e.message.contains("'os.system'"))
            #expect(e.message.contains("data.pkl"))
        }
    }
}

@Suite struct TensorStoreTests {
    @Test func openWeightsPrefersSafetensorsOverTorch() throws {
        let dir = TestPaths.scratch()
        defer { try? FileManager.default.removeItem(atPath: dir) }
        do {
            _ = try openWeights(directory: dir)
            Issue.record("expected an error for an empty folder")
        } catch let e as EmbedError {
            #expect(e.message.contains(dir) && e.message.contains("model.safetensors") && e.message.contains("pytorch_model.bin"))
        }
        #expect(throws: EmbedError("\(dir)/missing: no such model folder")) { try openWeights(directory: dir + "/missing") }
        try FileManager.default.copyItem(atPath: "\(torchFixtures)/dtypes.pt", toPath: dir + "/pytorch_model.bin")
        let torch = try openWeights(directory: dir)
        #expect(torch is TorchCheckpoint)
        #expect(try torch.floats("scalar") == [3.25])

        let writer = SafetensorsWriter()
        writer.add("w", shape: [2], floats: [1.5, -2])
        try writer.write(to: dir + "/model.safetensors")
        let st = try openWeights(directory: dir)
        #expect(st is SafetensorsFile)
        #expect(st.names == ["w"])
        #expect(try st.shape("w") == [2] && st.dtype("w") == .f32)
        #expect(try st.floats("w") == [1.5, -2])
        #expect(try openTensorFile(path: dir + "/pytorch_model.bin") is TorchCheckpoint)
        #expect(try openTensorFile(path: dir + "/model.safetensors") is SafetensorsFile)
    }

    @Test func readsShardedTorchCheckpoints() throws {
        let store = try openWeights(directory: "\(torchFixtures)/sharded")
        #expect(store is ShardedTensorStore)
        try expectMatches(store, expected: "\(torchFixtures)/sharded.expected.safetensors",
                          names: ["layer.0.weight", "layer.0.bias", "layer.1.weight", "head.ids"])
    }
}

@Suite struct ZipArchiveTests {
    @Test func crc32MatchesTheStandardCheckValue() {
        let v = Array("123456789".utf8).withUnsafeBytes { ZipArchive.crc32($0) }
        #expect(v == 0xCBF4_3926)
    }

    @Test(arguments: ["dtypes", "zip64", "deflated"])
    func listsAndReadsMembers(_ fixture: String) throws {
        let zip = try ZipArchive(path: "\(torchFixtures)/\(fixture).pt")
        let names = zip.entries.map(\.name)
        #expect(names.contains { $0.hasSuffix("/data.pkl") })
        let byteorder = try #require(names.first { $0.hasSuffix("/byteorder") })
        #expect(try zip.contents(of: byteorder).withUnsafeBytes { String(decoding: $0, as: UTF8.self) } == "little")
        for e in zip.entries {
            let bytes = try zip.contents(of: e.name)
            #expect(bytes.count == e.size)
            #expect(bytes.withUnsafeBytes { ZipArchive.crc32($0) } == e.crc32)
        }
        #expect(zip.entries.allSatisfy { $0.method == (fixture == "deflated" ? 8 : 0) })
        #expect(throws: EmbedError.self) { try zip.contents(of: "no/such/member") }
    }
}
