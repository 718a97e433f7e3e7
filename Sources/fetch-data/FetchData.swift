import ArgumentParser
import CLI
import Hub
import IO

@main
struct FetchData: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "fetch-data",
        abstract: "Fetch a model, a dataset split or a retrieval (BEIR) dataset from the Hugging Face hub (or a local folder).",
        discussion: """
            Talks to the hub as huggingface_hub does and shares its cache, so files either one \
            downloaded are reused by the other. Environment: HF_ENDPOINT, HF_TOKEN (private and \
            gated repos), HF_HUB_OFFLINE=1 (use the cache only), HF_HOME / HF_HUB_CACHE (the cache, \
            default ~/.cache/huggingface/hub).

            Examples:
              fetch-data model ltg/norbert3-base -o models/base/norbert3-base
              fetch-data dataset Fremtind/all-nli-norwegian --split train -o data/train.jsonl.zst \\
                  --columns anchor,positive,negative --max-rows 100000
              HF_HUB_OFFLINE=1 fetch-data model sentence-transformers/all-MiniLM-L6-v2 -o models/minilm
              fetch-data beir mteb/scifact --split test -o data/scifact
            """,
        version: EmbedKitVersion.string,
        subcommands: [Model.self, Dataset.self, Beir.self]
    )
}

/// Options every subcommand shares: where the hub and the cache are.
struct HubOptions: ParsableArguments {
    @Option(help: "Hub URL (default: $HF_ENDPOINT, else https://huggingface.co).")
    var endpoint: String?

    @Option(name: .customLong("cache-dir"), help: "Hugging Face cache folder (default: $HF_HUB_CACHE, else $HF_HOME/hub).")
    var cacheDir: String?

    @Flag(help: "Use only the cache, as HF_HUB_OFFLINE=1 does.")
    var offline = false

    @OptionGroup var log: LogOptions

    func client() throws -> HubClient {
        log.apply()
        let c = try HubClient(endpoint: endpoint, offline: offline ? true : nil, cacheDir: cacheDir)
        c.quiet = log.quiet
        return c
    }
}

extension FetchData {
    struct Model: Tool {
        static let configuration = CommandConfiguration(
            abstract: "Fetch the files a model needs into a folder.",
            discussion: """
                Downloads config.json, the weights (model.safetensors, else pytorch_model.bin), the \
                tokenizer files, sentence-transformers files (modules.json, \
                sentence_bert_config.json, 1_Pooling/config.json, …) and custom modeling code \
                (*.py), and writes fetch-info.json with the repo, revision and resolved commit. \
                A local folder is accepted in place of a repo id (its files are copied). A fetch of \
                the commit the folder already holds does nothing.

                Examples:
                  fetch-data model ltg/norbert3-base -o models/base/norbert3-base
                  fetch-data model sentence-transformers/all-MiniLM-L6-v2 --revision main -o models/minilm
                  fetch-data model ./my-model -o models/base/my-model
                """
        )

        @Argument(help: "A hub model id (org/name) or a local folder.")
        var repo: String

        @Option(name: [.short, .long, .customLong("out")], help: ArgumentHelp("Output folder.", valueName: "dir"))
        var output: String

        @Option(help: "Branch, tag or commit.")
        var revision = "main"

        @Flag(help: "Download again, ignoring the cache and an up-to-date output.")
        var force = false

        @OptionGroup var hub: HubOptions

        func execute() throws {
            let fetcher = ModelFetcher(client: try hub.client(), force: force)
            fetcher.quiet = hub.log.quiet
            let result = try fetcher.fetch(repo: repo, revision: revision, to: output)
            let what = result.commit.map { "\(result.repo)@\($0)" } ?? result.repo
            IO.log("\(result.directory): \(result.files.count) files of \(what)\(result.upToDate ? " (up to date)" : "")")
        }
    }

    struct Dataset: Tool {
        static let configuration = CommandConfiguration(
            abstract: "Convert a dataset split to zstd JSON Lines.",
            discussion: """
                Finds the split's files in the hub repository (its README configs, or the usual \
                names: data/train-00000-of-00001.parquet, train.jsonl, …; else the hub's Parquet \
                conversion, refs/convert/parquet), reads Parquet, JSON Lines (plain, .gz, .zst) and \
                CSV, and writes one JSON object per row. A local folder (holding {split}.jsonl, \
                {split}.jsonl.zst, {split}.parquet or {split}.csv) or a local file is accepted in \
                place of a repo id. The output is zstd-compressed when it ends in .zst; `-` is stdout.

                Examples:
                  fetch-data dataset Fremtind/all-nli-norwegian --split train -o data/train.jsonl.zst \\
                      --columns anchor,positive,negative
                  fetch-data dataset sentence-transformers/all-nli --config triplet --split dev -o - --max-rows 5
                  fetch-data dataset ../shared/data --split nb-nn-test -o data/test.jsonl.zst
                """
        )

        @Argument(help: "A hub dataset id (org/name), a local folder or a local data file.")
        var repo: String

        @Option(help: "Split name (train, validation, test, …).")
        var split: String

        @Option(name: [.short, .long, .customLong("out")], help: ArgumentHelp("Output file (.jsonl.zst for zstd), or - for stdout.", valueName: "file"))
        var output: String

        @Option(help: "Columns to keep, comma-separated, in output order (default: all).")
        var columns: String?

        @Option(name: .customLong("max-rows"), help: "Stop after this many rows.")
        var maxRows: Int?

        @Option(help: "Dataset configuration (subset) name.")
        var config: String?

        @Option(help: "Branch, tag or commit.")
        var revision = "main"

        @OptionGroup var hub: HubOptions

        func execute() throws {
            let fetcher = DatasetFetcher(client: try hub.client())
            fetcher.quiet = hub.log.quiet
            let cols = columns.map { $0.split(separator: ",", omittingEmptySubsequences: false).map { String($0) } }
            let result = try fetcher.fetch(
                repo: repo, split: split, columns: cols, maxRows: maxRows, config: config, revision: revision, to: output)
            IO.log("\(output == "-" ? "stdout" : output): \(result.rows) rows, columns \(result.columns.joined(separator: ", "))")
        }
    }

    struct Beir: Tool {
        static let configuration = CommandConfiguration(
            commandName: "beir",
            abstract: "Fetch a retrieval dataset (corpus, queries, qrels) as a BEIR folder for evaluate --task retrieval.",
            discussion: """
                Finds the corpus, the queries and the split's relevance judgements in the layouts the \
                hub publishes retrieval sets in — the BEIR zip's and mteb's (corpus.jsonl, \
                queries.jsonl, qrels/<split>.tsv), mteb's Parquet folders (corpus/, queries/, \
                qrels/<split>-*.parquet), data/corpus-*.parquet, and BeIR's, whose qrels live in the \
                repository <repo>-qrels (tried when the repository has none; --qrels-repo names \
                another) — and writes the BEIR layout:
                  <dir>/corpus.jsonl.zst    {"_id", "title", "text"}
                  <dir>/queries.jsonl.zst   {"_id", "text"}
                  <dir>/qrels/<split>.tsv   query-id, corpus-id, score (1 when the source has none)
                A local folder is accepted in place of a repo id.

                Examples:
                  fetch-data beir mteb/scifact --split test -o data/scifact
                  fetch-data beir BeIR/scifact --split test -o data/scifact      # qrels from BeIR/scifact-qrels
                  evaluate --task retrieval --model models/my-model data/scifact
                """
        )

        @Argument(help: "A hub dataset id (org/name) or a local folder.")
        var repo: String

        @Option(help: "The qrels split (test, dev, train, …).")
        var split = "test"

        @Option(name: [.short, .long, .customLong("out")], help: ArgumentHelp("Output folder.", valueName: "dir"))
        var output: String

        @Option(name: .customLong("qrels-repo"), help: ArgumentHelp("Take the qrels from this repository (or folder).", valueName: "repo"))
        var qrelsRepo: String?

        @Option(help: "Branch, tag or commit.")
        var revision = "main"

        @OptionGroup var hub: HubOptions

        func execute() throws {
            let fetcher = BEIRFetcher(client: try hub.client())
            fetcher.quiet = hub.log.quiet
            let r = try fetcher.fetch(repo: repo, split: split, qrelsRepo: qrelsRepo, revision: revision, to: output)
            IO.log("\(output): \(r.documents) documents, \(r.queries) queries, \(r.judgements) judgements in qrels/\(split).tsv")
        }
    }
}
