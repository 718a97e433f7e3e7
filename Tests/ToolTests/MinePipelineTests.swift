import Foundation
import IO
import TestSupport
import Testing

/// `mining.enabled` and `training.eval_task: retrieval` through the Makefile on the tiny model:
/// the training split is fetched as pairs, `make mine` writes the triplets training reads, and
/// evaluation (during training and `make evaluate`) reports sentence-transformers' retrieval keys.
@Suite(.enabled(if: pipelineToolsReady, "needs make and the built tools beside the test bundle"))
struct MinePipelineTests {
    static func rows(_ path: String) throws -> [JSON] {
        try String(decoding: try ByteReader(path: path).readAll(), as: UTF8.self).split(separator: "\n").map { try JSON.parse(String($0)) }
    }

    @Test func minesThenTrainsAndEvaluatesRetrieval() throws {
        let work = TestPaths.scratch()
        let fm = FileManager.default
        _ = try TinyModel.make(in: work + "/src/tiny-bert")
        _ = try TinyModel.dataset(in: work + "/src/tiny-triplets", rows: ["train": 40, "dev": 16, "test": 16], seed: 7)
        let out = work + "/out"
        let cfg = try MakefilePipelineTests.config(workdir: work, output: out)
        let set = "SET=mining.enabled=true mining.num_negatives=2 training.eval_task=retrieval"
        let run = try MakefilePipelineTests.make(["train", "CONFIG=\(cfg)", set], workdir: work)
        #expect(run.output.contains("Retrieval on test"), "\(run.output.suffix(2000))")

        let data = work + "/data/tiny-triplets"
        // The pairs mining reads, and the eval/test splits retrieval reads, are fetched without the negative column.
        for split in ["train", "dev", "test"] {
            #expect(try Self.rows("\(data)/\(split).jsonl.zst").first?.object?.keys == ["anchor", "positive"], "\(split)")
        }
        let mined = try Self.rows(data + "/train-mined.jsonl.zst")
        #expect(mined.first?.object?.keys == ["anchor", "positive", "negative"])
        #expect(mined.count > 40 && mined.count <= 80)
        #expect(mined.allSatisfy { $0["negative"] != $0["positive"] })
        #expect(fm.fileExists(atPath: data + "/tiny-bert/train-mined.tokens.safetensors"))

        let finetuned = try JSON.parse(try ByteReader(path: out + "/eval/finetuned.json").readAll())
        #expect(finetuned["cosine_ndcg@10"]?.double != nil && finetuned["dot_map@100"]?.double != nil)
        #expect(fm.fileExists(atPath: out + "/eval/Information-Retrieval_evaluation_finetuned_results.csv"))
        let logged = try String(contentsOfFile: out + "/logs/metrics.jsonl", encoding: .utf8).split(separator: "\n")
            .map { try JSON.parse(String($0)) }
        #expect(logged.contains { $0["eval_cosine_ndcg@10"] != nil })

        // Nothing changed: nothing re-runs; a changed mining option mines again.
        let q = try MakefilePipelineTests.make(["-q", out + "/eval/finetuned.json", "CONFIG=\(cfg)", set], workdir: work, expectSuccess: false)
        #expect(q.status == 0, "make -q says something is out of date:\n\(q.output)")
        let q2 = try MakefilePipelineTests.make(["-q", data + "/train-mined.jsonl.zst", "CONFIG=\(cfg)", set + " mining.range_min=1"],
                                                workdir: work, expectSuccess: false)
        #expect(q2.status != 0)
    }
}
