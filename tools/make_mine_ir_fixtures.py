#!/usr/bin/env python3
"""Reference data for `mine` and `evaluate --task retrieval`: Tests/Fixtures/mine-ir/.

From real Norwegian pairs (../shared/data/nb-nn-dev and nb-nn-test) and all-MiniLM-L6-v2, writes:

  pairs.jsonl          80 (anchor, positive, negative) rows + edge rows: a second and third positive
                       for one anchor, a duplicate row, an anchor that is another row's positive, an
                       anchor paired with itself
  extra-corpus.txt     30 more candidate texts (mine --corpus)
  beir/                a BEIR folder: titles, graded and zero-score qrels, a relevant id missing from
                       the corpus, a query without qrels, one whose only qrels are 0, numeric-looking
                       ids whose string order differs from their number order
  texts.jsonl +        every distinct text the tests embed, and its MiniLM vector (normalized, float32)
  embeddings.safetensors
  mine/<case>.jsonl    sentence-transformers' mine_hard_negatives rows for each case of cases.json,
  cases.json           with the options and the lines it printed
  retrieval.json       InformationRetrievalEvaluator metrics (cosine and dot) on the pairs and the
                       BEIR folder (score > 0 and every row relevant)
  random.json          CPython random.sample(range(n), k) after random.seed(s)

Both Python functions run on the vectors of embeddings.safetensors (mine_hard_negatives loads them
from its cache_folder, the evaluator through embed_inputs), so the Swift tests that feed the same
vectors compare the algorithms alone, to float rounding. Needs torch, sentence-transformers.

  python3 tools/make_mine_ir_fixtures.py --model models/pypi/all-MiniLM-L6-v2 [--shared ../shared]
"""
import argparse
import contextlib
import hashlib
import io
import json
import os
import random
import shutil
import sys
import tempfile

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from check_mine_ir import load_beir, pairs_ids, read_jsonl  # noqa: E402

OUT = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "Tests", "Fixtures", "mine-ir")

# Options of each mining case (mine_hard_negatives' keyword arguments) and whether it uses the extra corpus.
CASES = [
    ("default", {"output_scores": True}, False),
    ("relative-margin", {"relative_margin": 0.05, "range_min": 2, "num_negatives": 2, "output_scores": True}, False),
    ("absolute-margin-ntuple", {"absolute_margin": 0.1, "num_negatives": 4, "output_format": "n-tuple",
                                "output_scores": True}, True),
    ("random-window", {"sampling_strategy": "random", "range_min": 1, "range_max": 15, "max_score": 0.8,
                       "min_score": 0.2, "num_negatives": 3, "output_format": "n-tuple", "output_scores": True,
                       "seed": 7}, True),
    ("random-triplet", {"sampling_strategy": "random", "num_negatives": 2, "seed": 12}, False),
    ("include-positives", {"include_positives": True, "num_negatives": 3, "output_scores": True}, False),
    ("max-score", {"max_score": 0.75, "num_negatives": 1, "output_scores": True}, True),
    ("short-window", {"min_score": 0.6, "range_max": 6, "num_negatives": 5, "output_scores": True}, True),
]


def write_jsonl(path, rows):
    with open(path, "w", encoding="utf-8") as fh:
        for r in rows:
            fh.write(json.dumps(r, ensure_ascii=False) + "\n")


def make_data(shared):
    dev = read_jsonl(os.path.join(shared, "data/nb-nn-dev.jsonl.zst"), 200)
    test = read_jsonl(os.path.join(shared, "data/nb-nn-test.jsonl.zst"), 200)
    rows = [{"anchor": r["anchor"], "positive": r["positive"], "negative": r["negative"]} for r in dev[:80]]
    rows += [
        {"anchor": dev[0]["anchor"], "positive": dev[5]["positive"], "negative": dev[9]["positive"]},  # 2nd positive
        {"anchor": dev[0]["anchor"], "positive": dev[6]["positive"], "negative": dev[9]["positive"]},  # 3rd positive
        dict(rows[1]),  # a duplicate row
        {"anchor": dev[2]["positive"], "positive": dev[3]["positive"], "negative": dev[4]["positive"]},  # anchor = a positive
        {"anchor": dev[7]["anchor"], "positive": dev[7]["anchor"], "negative": dev[8]["positive"]},  # anchor = its positive
    ]
    extra = [r["positive"] for r in test[:30]]
    # The BEIR folder: 24 queries over 40 documents. Ids: queries "q<n>", documents plain numbers as
    # strings, so that "10" < "9" (string order, the evaluator's tie order) differs from number order.
    docs = [(str(i + 1), dev[100 + i]["positive"]) for i in range(30)] + \
           [(str(i + 31), test[40 + i]["positive"]) for i in range(10)]
    titles = {"3": "Tittel", "12": "Om vegar", "31": ""}
    queries = [(f"q{i + 1}", dev[100 + i]["anchor"]) for i in range(24)] + [("q99", test[99]["anchor"])]
    qrels = []
    for i in range(24):
        qrels.append((f"q{i + 1}", str(i + 1), 1))
    qrels += [("q1", "31", 2), ("q1", "32", 1),          # several relevant, graded
              ("q2", "33", 0),                           # judged not relevant
              ("q3", "999", 1),                          # missing from the corpus
              ("q4", "34", 1), ("q4", "35", 1), ("q4", "36", 1)]
    qrels = [q for q in qrels if q[0] != "q5"] + [("q5", "5", 0)]  # only a zero-score row
    # q99 has no qrels at all.
    return rows, extra, docs, titles, queries, qrels


def write_beir(folder, docs, titles, queries, qrels):
    os.makedirs(os.path.join(folder, "qrels"), exist_ok=True)
    write_jsonl(os.path.join(folder, "corpus.jsonl"),
                [{"_id": d, "title": titles.get(d, ""), "text": t} for d, t in docs])
    write_jsonl(os.path.join(folder, "queries.jsonl"), [{"_id": q, "text": t} for q, t in queries])
    with open(os.path.join(folder, "qrels", "test.tsv"), "w", encoding="utf-8") as fh:
        fh.write("query-id\tcorpus-id\tscore\n")
        for q, d, s in qrels:
            fh.write(f"{q}\t{d}\t{s}\n")


def cache_names(model, queries, corpus):
    name = model.model_card_data.base_model or ""

    def h(texts):
        return hashlib.sha256(repr((name, None, None, texts)).encode(), usedforsecurity=False).hexdigest()

    return f"query_embeddings_{h(queries)}.npy", f"corpus_embeddings_{h(corpus)}.npy"


def main():
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--model", required=True)
    p.add_argument("--shared", default=os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "..", "shared"))
    p.add_argument("--out", default=OUT)
    a = p.parse_args()

    import numpy as np
    import torch
    from datasets import Dataset
    from safetensors.numpy import save_file
    from sentence_transformers import SentenceTransformer
    from sentence_transformers.sentence_transformer.evaluation import InformationRetrievalEvaluator
    from sentence_transformers.util import cos_sim, dot_score, mine_hard_negatives

    torch.set_num_threads(2)
    os.makedirs(os.path.join(a.out, "mine"), exist_ok=True)
    rows, extra, docs, titles, queries, qrels = make_data(a.shared)
    write_jsonl(os.path.join(a.out, "pairs.jsonl"), rows)
    with open(os.path.join(a.out, "extra-corpus.txt"), "w", encoding="utf-8") as fh:
        fh.write("".join(t + "\n" for t in extra))
    beir = os.path.join(a.out, "beir")
    write_beir(beir, docs, titles, queries, qrels)

    # Every text any test embeds, embedded once.
    beir_q, beir_c, _ = load_beir(beir, "test", True, True)
    texts = list(dict.fromkeys([r["anchor"] for r in rows] + [r["positive"] for r in rows] + extra
                               + list(beir_q.values()) + list(beir_c.values())))
    model = SentenceTransformer(a.model, device="cpu")
    vectors = model.encode(texts, batch_size=32, normalize_embeddings=True, convert_to_numpy=True).astype(np.float32)
    emb = {t: vectors[i] for i, t in enumerate(texts)}
    write_jsonl(os.path.join(a.out, "texts.jsonl"), [{"text": t} for t in texts])
    save_file({"embeddings": vectors}, os.path.join(a.out, "embeddings.safetensors"))

    # Mining: mine_hard_negatives reads the fixture's vectors from its cache folder.
    anchors, positives = [r["anchor"] for r in rows], [r["positive"] for r in rows]
    dataset = Dataset.from_dict({"anchor": anchors, "positive": positives})
    cases = []
    for name, options, with_extra in CASES:
        options = dict(options)
        seed = options.pop("seed", 42)
        corpus = list(dict.fromkeys((extra if with_extra else positives) + positives))
        uq = list(dict.fromkeys(anchors))
        cache = tempfile.mkdtemp(prefix="mine-fixture-")
        qf, cf = cache_names(model, uq, corpus)
        np.save(os.path.join(cache, qf), np.stack([emb[t] for t in uq]))
        np.save(os.path.join(cache, cf), np.stack([emb[t] for t in corpus]))
        random.seed(seed)
        printed = io.StringIO()
        with contextlib.redirect_stdout(printed):
            mined = mine_hard_negatives(dataset, model, corpus=extra if with_extra else None, cache_folder=cache,
                                        verbose=True, **options)
        shutil.rmtree(cache)
        lines = [l for l in printed.getvalue().splitlines() if not l.startswith("[Cache]")]
        write_jsonl(os.path.join(a.out, "mine", f"{name}.jsonl"), list(mined))
        cases.append({"name": name, "options": options, "seed": seed, "extra_corpus": with_extra,
                      "rows": len(mined), "columns": mined.column_names, "printed": lines})
        print(f"mine {name}: {len(mined)} rows", file=sys.stderr)
    with open(os.path.join(a.out, "cases.json"), "w", encoding="utf-8") as fh:
        json.dump(cases, fh, ensure_ascii=False, indent=1)
        fh.write("\n")

    # Retrieval: the evaluator embeds through embed_inputs, which here returns the fixture's vectors.
    def evaluate(q, c, rel):
        ev = InformationRetrievalEvaluator(q, c, rel, score_functions={"cosine": cos_sim, "dot": dot_score},
                                           write_csv=False)
        ev.embed_inputs = lambda _m, sentences, **kw: torch.tensor(np.stack([emb[t] for t in sentences]))
        return ev(model)

    results = {"pairs": evaluate(*pairs_ids(rows, "anchor", "positive"))}
    for key, keep in [("beir", False), ("beir-keep-zero-scores", True)]:
        bq, bc, br = load_beir(beir, "test", True, keep)
        results[key] = evaluate(bq, bc, br)
    with open(os.path.join(a.out, "retrieval.json"), "w") as fh:
        json.dump(results, fh, indent=1)
        fh.write("\n")

    # CPython's random.sample, for the Swift port.
    draws = []
    for seed in [0, 1, 7, 12, 42, 2**32 + 5]:
        r = random.Random(seed)
        for n, k in [(3, 3), (10, 3), (21, 3), (22, 3), (40, 5), (100, 10), (84, 10), (86, 10), (1000, 50)]:
            draws.append({"seed": seed, "n": n, "k": k, "sample": r.sample(range(n), k)})
    with open(os.path.join(a.out, "random.json"), "w") as fh:
        json.dump(draws, fh)
        fh.write("\n")
    print(f"wrote {a.out}", file=sys.stderr)


if __name__ == "__main__":
    main()
