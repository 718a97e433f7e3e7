import Foundation
import Hub
import IO
import TestSupport
import Testing

@Suite struct HashTests {
    @Test func sha256KnownVectors() {
        #expect(SHA256.hash([]) == "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855")
        #expect(SHA256.hash(Array("abc".utf8)) == "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad")
        #expect(SHA256.hash(Array("abcdbcdecdefdefgefghfghighijhijkijkljklmklmnlmnomnopnopq".utf8))
            == "248d6a61d20638b8e5c026930c3e6039a33ce45964ff2167f6ecedd419db06c1")
        // One million 'a', fed in uneven pieces (exercises the partial-block path).
        var h = SHA256()
        let chunk = [UInt8](repeating: 0x61, count: 997)
        var left = 1_000_000
        while left > 0 {
            let n = min(left, chunk.count)
            h.update(Array(chunk[0..<n]))
            left -= n
        }
        #expect(h.hexDigest() == "cdc76e5c9914fb9281a1c7e284d73e67f1809a48a497200e046d39ccc7112cd0")
        // Lengths around the padding boundary: 55, 56, 63, 64 bytes (checked with Python's hashlib).
        #expect(SHA256.hash([UInt8](repeating: 0x61, count: 55)) == "9f4390f8d30c2dd92ec9f095b65e2b9ae9b0a925a5258e241c9f1e910f734318")
        #expect(SHA256.hash([UInt8](repeating: 0x61, count: 56)) == "b35439a4ac6f0948b6d6f9e3c6af0f5f590ce20f1bde7090ef7970686ec6738a")
        #expect(SHA256.hash([UInt8](repeating: 0x61, count: 64)) == "ffe054fe7ae0cb6dc65c3af9b61d5209f439851db43d0ba5997337df154668eb")
    }

    @Test func sha1AndGitBlobIDs() {
        var h = SHA1()
        h.update(Array("abc".utf8))
        #expect(h.hexDigest() == "a9993e364706816aba3e25717850c26c9cd0d89d")
        var e = SHA1()
        #expect(e.hexDigest() == "da39a3ee5e6b4b0d3255bfef95601890afd80709")
        // `git hash-object` of "hello\n".
        var g = SHA1.gitBlob(size: 6)
        g.update(Array("hello\n".utf8))
        #expect(g.hexDigest() == "ce013625030ba8dba906f756967f9e9ca394464a")
    }
}

@Suite struct SnappyTests {
    @Test func literalsAndOverlappingCopies() throws {
        // length 9; literal "ab"; copy-1 (len 4, offset 2) → "abab"; copy-2 (len 3, offset 1) → "bbb".
        let block: [UInt8] = [9, 0x04, 0x61, 0x62, 0x01, 0x02, 0x0A, 0x01, 0x00]
        #expect(try Snappy.decompress(block) == Array("abababbbb".utf8))
    }

    @Test func longLiteralAndFourByteOffset() throws {
        let text = [UInt8](repeating: 0x78, count: 70) + Array("xyz".utf8)
        // Literal of 70 bytes (tag 60 = one extra length byte), then copy-4: len 3, offset 3.
        var block: [UInt8] = [73, 60 << 2, 69] + [UInt8](repeating: 0x78, count: 70)
        block += [0x03 | (2 << 2), 3, 0, 0, 0]
        #expect(try Snappy.decompress(block) == text.prefix(70) + [0x78, 0x78, 0x78])
    }

    @Test func corruptInputIsAnErrorNotACrash() {
        #expect(throws: EmbedError.self) { try Snappy.decompress([5, 0x01, 0x09]) }  // copy before any output
        #expect(throws: EmbedError.self) { try Snappy.decompress([3, 0x08, 0x61]) }  // literal past the input
        #expect(throws: EmbedError.self) { try Snappy.decompress([2, 0x08, 0x61, 0x62, 0x63]) }  // longer than announced
        #expect(throws: EmbedError.self) { try Snappy.decompress([4, 0x04, 0x61, 0x62]) }  // shorter than announced
        #expect(throws: EmbedError.self) { try Snappy.decompress([0xFF]) }
    }
}

@Suite struct HubSettingsTests {
    @Test func readsTheHuggingFaceEnvironment() throws {
        let env = ["HOME": "/home/u", "HF_ENDPOINT": "https://mirror.example/", "HF_TOKEN": " hf_abc \n", "HF_HUB_OFFLINE": "yes"]
        let s = HubSettings.fromEnvironment { env[$0] }
        #expect(s == HubSettings(endpoint: "https://mirror.example", token: "hf_abc", offline: true, cacheDir: "/home/u/.cache/huggingface/hub"))
        let t = HubSettings.fromEnvironment { ["HOME": "/h", "HF_HOME": "~/hf", "TRANSFORMERS_OFFLINE": "1"][$0] }
        #expect(t.cacheDir == "/h/hf/hub" && t.offline && t.endpoint == "https://huggingface.co")
        let u = HubSettings.fromEnvironment { ["HOME": "/h", "XDG_CACHE_HOME": "/x", "HUGGINGFACE_HUB_CACHE": "/legacy", "HF_HUB_OFFLINE": "0"][$0] }
        #expect(u.cacheDir == "/legacy" && !u.offline)
        #expect(HubSettings.fromEnvironment { ["HOME": "/h", "XDG_CACHE_HOME": "/x", "HF_HUB_CACHE": "/new", "HUGGINGFACE_HUB_CACHE": "/legacy"][$0] }.cacheDir == "/new")
        #expect(HubSettings.fromEnvironment { ["HOME": "/h", "XDG_CACHE_HOME": "/x"][$0] }.cacheDir == "/x/huggingface/hub")
        // The token file under HF_HOME when HF_TOKEN is unset.
        let home = TestPaths.scratch()
        try "hf_fromfile\n".write(toFile: home + "/token", atomically: true, encoding: .utf8)
        #expect(HubSettings.fromEnvironment { ["HOME": "/h", "HF_HOME": home][$0] }.token == "hf_fromfile")
    }

    @Test func urlsAndCacheNamesMatchHuggingFaceHub() throws {
        let c = try HubClient(endpoint: "https://hub.test/", token: "", offline: true, cacheDir: "/c")
        #expect(c.resolveURL(HubRepo("org/m"), revision: "main", path: "1_Pooling/config.json")
            == "https://hub.test/org/m/resolve/main/1_Pooling/config.json")
        #expect(c.resolveURL(HubRepo("org/d", kind: .dataset), revision: "refs/convert/parquet", path: "default/train/0000.parquet")
            == "https://hub.test/datasets/org/d/resolve/refs%2Fconvert%2Fparquet/default/train/0000.parquet")
        #expect(c.resolveURL(HubRepo("org/m"), revision: "v1", path: "a b/ø.txt") == "https://hub.test/org/m/resolve/v1/a%20b/%C3%B8.txt")
        #expect(c.apiURL(HubRepo("org/d", kind: .dataset), "revision/main") == "https://hub.test/api/datasets/org/d/revision/main")
        #expect(HubRepo("ltg/norbert3-base").cacheFolderName == "models--ltg--norbert3-base")
        #expect(HubRepo("Fremtind/all-nli-norwegian", kind: .dataset).cacheFolderName == "datasets--Fremtind--all-nli-norwegian")
        #expect(HubRepo("gpt2").cacheFolderName == "models--gpt2")
        #expect(HubRepo.isValidID("ltg/norbert3-base") && HubRepo.isValidID("gpt2"))
        #expect(!HubRepo.isValidID("../x") && !HubRepo.isValidID("a/b/c") && !HubRepo.isValidID("a--b/c"))
    }
}

@Suite struct DatasetFilesTests {
    func files(_ split: String, _ paths: [String], card: DatasetCard? = nil, config: String? = nil) throws -> [String] {
        try DatasetFiles.files(for: split, in: paths, card: card, config: config, source: "t")
    }

    @Test func followsDatasetsNamingConventions() throws {
        let sharded = ["README.md", "data/train-00000-of-00002.parquet", "data/train-00001-of-00002.parquet", "data/test-00000-of-00001.parquet"]
        #expect(try files("train", sharded) == ["data/train-00000-of-00002.parquet", "data/train-00001-of-00002.parquet"])
        #expect(try files("test", sharded) == ["data/test-00000-of-00001.parquet"])
        #expect(try files("validation", sharded) == [])
        let byDir = ["train/a.jsonl", "train/b.jsonl", "dev/c.jsonl", "test/d.csv"]
        #expect(try files("train", byDir) == ["train/a.jsonl", "train/b.jsonl"])
        #expect(try files("validation", byDir) == ["dev/c.jsonl"])
        let byName = ["nb-nn-train.jsonl.zst", "nb-nn-dev.jsonl.zst", "nb-nn-test.jsonl.zst", "notes.txt"]
        #expect(try files("train", byName) == ["nb-nn-train.jsonl.zst"])
        #expect(try files("validation", byName) == ["nb-nn-dev.jsonl.zst"])
        // "trainer.csv" does not name the train split; with no split names at all, train is everything.
        #expect(try files("train", ["trainer.csv", "x.parquet"]) == ["trainer.csv", "x.parquet"])
        #expect(try files("test", ["trainer.csv", "x.parquet"]) == [])
    }

    @Test func readsConfigsFromTheDatasetCard() throws {
        let readme = """
            ---
            license: mit
            configs:
            - config_name: pair
              data_files: pair/*.parquet
            - config_name: triplet
              default: true
              data_files:
              - split: train
                path: triplet/train-*
              - split: dev
                path:
                - triplet/dev-0.parquet
                - triplet/dev-1.parquet
            ---
            text
            """
        let card = try DatasetCard.parse(readme: readme)
        #expect(card.configs.map(\.name) == ["pair", "triplet"])
        #expect(card.configs[1].isDefault)
        let paths = ["pair/a.parquet", "triplet/train-0.parquet", "triplet/dev-0.parquet", "triplet/dev-1.parquet", "triplet/x/train-9.parquet"]
        #expect(try files("train", paths, card: card) == ["triplet/train-0.parquet"])
        #expect(try files("dev", paths, card: card) == ["triplet/dev-0.parquet", "triplet/dev-1.parquet"])
        #expect(try files("train", paths, card: card, config: "pair") == ["pair/a.parquet"])
        #expect { try files("test", paths, card: card) } throws: {
            ($0 as? EmbedError)?.message.contains("config 'triplet' has no split 'test' (it has: dev, train)") == true
        }
        #expect { try files("train", paths, card: card, config: "nope") } throws: {
            ($0 as? EmbedError)?.message.contains("no config 'nope' (the dataset has: pair, triplet)") == true
        }
        #expect(try DatasetCard.parse(readme: "# no front matter").configs.isEmpty)
        #expect(throws: EmbedError.self) { try DatasetCard.parse(readme: "---\nconfigs: [\n---\n") }
    }

    @Test func findsTheParquetConversionLayouts() throws {
        let paths = ["default/train/0000.parquet", "default/train/0001.parquet", "default/partial-test/0000.parquet", "other/train/0000.parquet"]
        #expect(try DatasetFiles.parquetBranchFiles(for: "train", in: paths, config: nil, source: "t") == ["default/train/0000.parquet", "default/train/0001.parquet"])
        #expect(try DatasetFiles.parquetBranchFiles(for: "test", in: paths, config: nil, source: "t") == ["default/partial-test/0000.parquet"])
        #expect(try DatasetFiles.parquetBranchFiles(for: "train", in: paths, config: "other", source: "t") == ["other/train/0000.parquet"])
        let legacy = ["plain_text/imdb-train.parquet", "plain_text/imdb-test-00000-of-00002.parquet", "plain_text/imdb-test-00001-of-00002.parquet"]
        #expect(try DatasetFiles.parquetBranchFiles(for: "train", in: legacy, config: nil, source: "t") == ["plain_text/imdb-train.parquet"])
        #expect(try DatasetFiles.parquetBranchFiles(for: "test", in: legacy, config: nil, source: "t").count == 2)
        #expect(throws: EmbedError.self) { try DatasetFiles.parquetBranchFiles(for: "train", in: ["a/train/0.parquet", "b/train/0.parquet"], config: nil, source: "t") }
    }

    @Test func choosesTheFilesAModelNeeds() throws {
        let repo = ["config.json", "model.safetensors", "pytorch_model.bin", "tf_model.h5", "onnx/model.onnx", "README.md",
                    "tokenizer.json", "vocab.txt", "special_tokens_map.json", "modules.json", "sentence_bert_config.json",
                    "config_sentence_transformers.json", "1_Pooling/config.json", "2_Dense/config.json", "2_Dense/model.safetensors",
                    "2_Dense/pytorch_model.bin", "modeling_norbert.py", "configuration_norbert.py", "openvino/x.xml"]
        #expect(try ModelFetcher.selectFiles(repo).sorted() == [
            "1_Pooling/config.json", "2_Dense/config.json", "2_Dense/model.safetensors", "config.json",
            "config_sentence_transformers.json", "configuration_norbert.py", "model.safetensors", "modeling_norbert.py",
            "modules.json", "sentence_bert_config.json", "special_tokens_map.json", "tokenizer.json", "vocab.txt",
        ])
        #expect(try ModelFetcher.selectFiles(["config.json", "pytorch_model.bin.index.json", "pytorch_model-00001-of-00002.bin"])
            == ["config.json", "pytorch_model.bin.index.json"])
    }
}

@Suite struct CSVReaderTests {
    @Test func readsQuotedFieldsAndNorwegianText() throws {
        let dir = TestPaths.scratch()
        let text = "\u{FEFF}anchor,positive,n\r\n\"Hei, på deg\",\"Han sa \"\"hei\"\"\",1\r\n\nlinje,\"to\nlinjer\",\r\nsiste,uten,linjeskift"
        try text.write(toFile: dir + "/a.csv", atomically: true, encoding: .utf8)
        let r = try CSVReader(path: dir + "/a.csv")
        #expect(r.header == ["anchor", "positive", "n"])
        #expect(try r.next() == ["Hei, på deg", "Han sa \"hei\"", "1"])
        #expect(try r.next() == ["linje", "to\nlinjer", ""])
        #expect(try r.next() == ["siste", "uten", "linjeskift"])
        #expect(try r.next() == nil)
        try "a,b\n1,2,3\n".write(toFile: dir + "/bad.csv", atomically: true, encoding: .utf8)
        let bad = try CSVReader(path: dir + "/bad.csv")
        #expect { try bad.next() } throws: { ($0 as? EmbedError)?.message.hasSuffix("bad.csv:2: 3 fields, but the header has 2") == true }
        try "a\n\"open\n".write(toFile: dir + "/open.csv", atomically: true, encoding: .utf8)
        #expect(throws: EmbedError.self) { try CSVReader(path: dir + "/open.csv").next() }
        try "a\tb\nx y\tz\n".write(toFile: dir + "/t.tsv", atomically: true, encoding: .utf8)
        let tsv = try CSVReader(path: dir + "/t.tsv")
        #expect(try tsv.next() == ["x y", "z"])
    }
}

@Suite struct LocalSourceTests {
    @Test func convertsLocalFoldersAndFiles() throws {
        let dir = TestPaths.scratch()
        let parquet = TestPaths.fixtures + "/parquet/gzip_plain_dictionary_v1"
        try FileManager.default.copyItem(atPath: parquet + ".parquet", toPath: dir + "/train.parquet")
        try "anchor,positive\nø,å\n".write(toFile: dir + "/test.csv", atomically: true, encoding: .utf8)
        let fetcher = DatasetFetcher(client: nil)
        fetcher.quiet = true
        let r = try fetcher.fetch(repo: dir, split: "train", columns: ["positive", "anchor"], to: dir + "/out.jsonl.zst")
        let want = try HubFetchTests.project(HubFetchTests.jsonlRows(parquet + ".jsonl"), ["positive", "anchor"])
        #expect(try HubFetchTests.jsonlRows(dir + "/out.jsonl.zst") == want)
        #expect(r.rows == want.count && r.commit == nil)
        _ = try fetcher.fetch(repo: dir, split: "test", to: dir + "/t.jsonl")
        #expect(try String(contentsOfFile: dir + "/t.jsonl", encoding: .utf8) == "{\"anchor\":\"ø\",\"positive\":\"å\"}\n")
        // A JSONL file given directly, read back through the converter (zstd in, plain out).
        _ = try fetcher.fetch(repo: dir + "/out.jsonl.zst", split: "train", maxRows: 2, to: dir + "/two.jsonl")
        #expect(try HubFetchTests.jsonlRows(dir + "/two.jsonl") == Array(want.prefix(2)))
        #expect { _ = try fetcher.fetch(repo: dir, split: "validation", to: dir + "/v.jsonl") } throws: {
            ($0 as? EmbedError)?.message.contains("no data files for split 'validation'") == true
        }
        #expect { _ = try fetcher.fetch(repo: dir + "/missing", split: "train", to: dir + "/v.jsonl") } throws: {
            ($0 as? EmbedError)?.message.contains("no such file or folder") == true
        }
    }

    @Test func copiesALocalModelFolder() throws {
        let src = TestPaths.scratch() + "/m"
        try FileManager.default.createDirectory(atPath: src + "/1_Pooling", withIntermediateDirectories: true)
        for f in ["config.json", "model.safetensors", "tokenizer.json", "1_Pooling/config.json", "README.md"] {
            try "{\"f\": \"\(f)\"}".write(toFile: src + "/" + f, atomically: true, encoding: .utf8)
        }
        let out = TestPaths.scratch() + "/out"
        let r = try ModelFetcher(client: nil).fetch(repo: src, to: out)
        #expect(r.files.sorted() == ["1_Pooling/config.json", "config.json", "model.safetensors", "tokenizer.json"])
        #expect(try String(contentsOfFile: out + "/1_Pooling/config.json", encoding: .utf8) == "{\"f\": \"1_Pooling/config.json\"}")
        #expect(!FileManager.default.fileExists(atPath: out + "/README.md"))
        let info = try JSON.parse(ByteReader(path: out + "/fetch-info.json").readAll())
        #expect(info["commit"] == .null && info["files"]?.array?.count == 4)
    }
}

@Suite struct ParquetErrorTests {
    @Test func corruptFilesGiveErrorsNotCrashes() throws {
        let dir = TestPaths.scratch()
        let good = try ByteReader(path: TestPaths.fixtures + "/parquet/snappy_plain_v1.parquet", detectCompression: false).readAll()
        try Data("not parquet at all".utf8).write(to: URL(fileURLWithPath: dir + "/x.parquet"))
        #expect { _ = try ParquetFile(path: dir + "/x.parquet") } throws: { ($0 as? EmbedError)?.message.contains("not a Parquet file") == true }
        // Every truncation and a sweep of single-byte corruptions must fail cleanly or read.
        for cut in stride(from: 0, to: good.count, by: 997) {
            try Data(good[0..<cut] + Array("PAR1".utf8)).write(to: URL(fileURLWithPath: dir + "/t.parquet"))
            #expect(throws: EmbedError.self) {
                let f = try ParquetFile(path: dir + "/t.parquet")
                let r = try f.rows()
                while try r.next() != nil {}
            }
        }
        var flipped = 0
        for pos in stride(from: 4, to: good.count - 8, by: 131) {
            var bad = good
            bad[pos] ^= 0x5A
            try Data(bad).write(to: URL(fileURLWithPath: dir + "/c.parquet"))
            do {
                let f = try ParquetFile(path: dir + "/c.parquet")
                let r = try f.rows()
                while try r.next() != nil {}
            } catch is EmbedError {
                flipped += 1
            }
        }
        #expect(flipped > 0)
    }
}
