import Foundation
import Hub
import IO
import TestSupport
import Testing

/// `fetch-data beir`: retrieval sets in the hub's layouts, written as one BEIR folder.
@Suite(.serialized) struct BEIRFetcherTests {
    static func bytes(_ s: String) -> [UInt8] { Array(s.utf8) }

    static func qrels(_ dir: String, _ split: String) throws -> String {
        try String(contentsOfFile: "\(dir)/qrels/\(split).tsv", encoding: .utf8)
    }

    /// BeIR/<name> keeps the corpus and queries; its qrels are in BeIR/<name>-qrels, found without
    /// being named. Numeric ids become strings, a null title "".
    @Test func beirReposWithTheirQrelsRepository() throws {
        try HubFetchTests.withHub { hub, client, dir in
            hub.add(.dataset, "BeIR/tiny", files: [
                "corpus.jsonl": Self.bytes("{\"_id\": \"d1\", \"title\": \"Tittel\", \"text\": \"Første dokument\"}\n{\"_id\": 2, \"title\": null, \"text\": \"Andre\"}\n"),
                "queries.jsonl": Self.bytes("{\"_id\": \"q1\", \"text\": \"Kva?\"}\n"),
                "README.md": Self.bytes("# tiny\n"),
            ])
            hub.add(.dataset, "BeIR/tiny-qrels", files: [
                "test.tsv": Self.bytes("query-id\tcorpus-id\tscore\nq1\td1\t1\nq1\t2\t0\n"),
                "train.tsv": Self.bytes("query-id\tcorpus-id\tscore\nq9\td1\t1\n"),
            ])
            let fetcher = BEIRFetcher(client: client)
            fetcher.quiet = true
            let r = try fetcher.fetch(repo: "BeIR/tiny", split: "test", to: dir + "/out")
            #expect(r.documents == 2 && r.queries == 1 && r.judgements == 2)
            let corpus = try HubFetchTests.jsonlRows(dir + "/out/corpus.jsonl.zst")
            #expect(corpus.map { $0["_id"]?.string } == ["d1", "2"])
            #expect(corpus.map { $0["title"]?.string } == ["Tittel", ""] && corpus[0]["text"]?.string == "Første dokument")
            #expect(try HubFetchTests.jsonlRows(dir + "/out/queries.jsonl.zst").map { $0["text"]?.string } == ["Kva?"])
            #expect(try Self.qrels(dir + "/out", "test") == "query-id\tcorpus-id\tscore\nq1\td1\t1\nq1\t2\t0\n")

            // A split the qrels do not have: the error names what was looked for.
            #expect { try fetcher.fetch(repo: "BeIR/tiny", split: "dev", to: dir + "/dev") } throws: {
                "\($0)".contains("no qrels for split 'dev'")
            }
        }
    }

    /// mteb's layout: ids in `id`, qrels shards under qrels/, the split's corpus shard chosen by name;
    /// no title column (title ""); qrels without a score (NanoBEIR) count as relevant (1).
    @Test func mtebLayoutInALocalFolder() throws {
        let src = TestPaths.scratch()
        for d in ["corpus", "queries", "qrels"] { try FileManager.default.createDirectory(atPath: "\(src)/\(d)", withIntermediateDirectories: true) }
        try "{\"id\": \"a\", \"text\": \"x\"}\n".write(toFile: src + "/corpus/test-00000-of-00001.jsonl", atomically: true, encoding: .utf8)
        try "{\"id\": \"q\", \"text\": \"y\"}\n".write(toFile: src + "/queries/test-00000-of-00001.jsonl", atomically: true, encoding: .utf8)
        try "{\"query-id\": \"q\", \"corpus-id\": \"a\"}\n".write(toFile: src + "/qrels/test-00000-of-00001.jsonl", atomically: true, encoding: .utf8)
        let out = TestPaths.scratch() + "/beir"
        let fetcher = BEIRFetcher(client: nil)
        fetcher.quiet = true
        let r = try fetcher.fetch(repo: src, split: "test", to: out)
        #expect(r.documents == 1 && r.queries == 1 && r.judgements == 1 && r.commit == nil)
        let corpus = try HubFetchTests.jsonlRows(out + "/corpus.jsonl.zst")
        #expect(corpus.count == 1 && corpus[0]["_id"]?.string == "a" && corpus[0]["title"]?.string == "")
        #expect(try Self.qrels(out, "test") == "query-id\tcorpus-id\tscore\nq\ta\t1\n")
    }

    @Test func choosesTheFilesOfEachPart() {
        let paths = ["README.md", "corpus/test-00000-of-00002.parquet", "corpus/test-00001-of-00002.parquet",
                     "corpus/dev-00000-of-00001.parquet", "queries.jsonl", "qrels/test.tsv", "qrels/dev.tsv"]
        #expect(BEIRFetcher.partFiles("corpus", split: "test", in: paths) == ["corpus/test-00000-of-00002.parquet", "corpus/test-00001-of-00002.parquet"])
        #expect(BEIRFetcher.partFiles("queries", split: "test", in: paths) == ["queries.jsonl"])
        #expect(BEIRFetcher.qrelsFiles(split: "dev", in: paths) == ["qrels/dev.tsv"])
        #expect(BEIRFetcher.qrelsFiles(split: "train", in: paths).isEmpty)
        #expect(BEIRFetcher.qrelsFiles(split: "test", in: ["test.tsv", "train.tsv"]) == ["test.tsv"])
        #expect(BEIRFetcher.partFiles("corpus", split: "test", in: ["data/corpus-00000.parquet", "data/queries-00000.parquet"]) == ["data/corpus-00000.parquet"])
    }
}
