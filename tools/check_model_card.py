#!/usr/bin/env python3
"""Checks a README.md model card the way the Hugging Face hub and sentence-transformers read it.

Asserts:
 1. The file starts with a YAML front matter block (`---` line, YAML, `---` line) that yaml.safe_load
    parses into a dict (the regex is huggingface_hub.repocard.REGEX_YAML_BLOCK).
 2. huggingface_hub.ModelCard.load(path) succeeds WITHOUT ignore_metadata_errors (so a malformed
    model-index is an error, not a warning).
 3. card.data.to_dict() has: base_model (str), library_name == "sentence-transformers",
    pipeline_tag == "sentence-similarity", tags (list of str) containing sentence-transformers,
    sentence-similarity, feature-extraction, generated_from_trainer, exactly one `loss:<Name>` and
    exactly one `dataset_size:<int > 0>`; datasets (non-empty list of str) and language (non-empty
    list of str) unless --allow-no-datasets / --allow-no-language.
 4. If the card has a model-index: card.data.model_name is a non-empty str, card.data.eval_results
    is a non-empty list of huggingface_hub.EvalResult whose metric_value is a finite float,
    re-serialising them with eval_results_to_model_index(model_name, eval_results) gives back the
    card's model-index exactly, every metric_type is listed in the `metrics` key, and triplet /
    information-retrieval / semantic-similarity results use the metric names sentence-transformers
    writes for TripletEvaluator / InformationRetrievalEvaluator / EmbeddingSimilarityEvaluator.
 5. widget entries (if any) are {source_sentence: str, sentences: [str, ...]}.
 6. The body has the sentence-transformers section headings in order (see SECTIONS).

Exit status 0 if all pass, 1 otherwise; prints one line per failure.
Usage: python3 tools/check_model_card.py MODEL_DIR/README.md [--allow-no-datasets] [--allow-no-language] [--no-sections]
"""
import argparse
import math
import re
import sys

import yaml
from huggingface_hub import EvalResult, ModelCard
from huggingface_hub.repocard import REGEX_YAML_BLOCK
from huggingface_hub.repocard_data import eval_results_to_model_index

# Headings a sentence-transformers card has, in this order. (level, text); `None` text = any title.
SECTIONS = [
    (1, None),
    (2, "Model Details"),
    (3, "Model Description"),
    (3, "Model Sources"),
    (3, "Full Model Architecture"),
    (2, "Usage"),
    (3, "Direct Usage (Sentence Transformers)"),
    (2, "Evaluation"),            # only when there are evaluation results
    (3, "Metrics"),               # idem
    (2, "Training Details"),
    (3, "Training Dataset"),      # "Training Datasets" when more than one
    (3, "Training Hyperparameters"),
    (4, "Non-Default Hyperparameters"),
    (4, "All Hyperparameters"),
    (3, "Training Logs"),         # only when something was logged
    (3, "Framework Versions"),
    (2, "Citation"),
    (3, "BibTeX"),
    (4, "Sentence Transformers"),
]
OPTIONAL = {"Evaluation", "Metrics", "Training Logs", "Non-Default Hyperparameters"}

TRIPLET_METRICS = re.compile(r"^(cosine|dot|euclidean|manhattan|max)_accuracy$")
IR_METRICS = re.compile(r"^(cosine|dot|euclidean|manhattan)_(accuracy|precision|recall|ndcg|mrr|map)@\d+$")
STS_METRICS = re.compile(r"^(pearson|spearman)_(cosine|dot|euclidean|manhattan|max)$")
KNOWN_TASKS = {"triplet": TRIPLET_METRICS, "information-retrieval": IR_METRICS, "semantic-similarity": STS_METRICS}


def main() -> int:
    ap = argparse.ArgumentParser()
    ap.add_argument("path")
    ap.add_argument("--allow-no-datasets", action="store_true")
    ap.add_argument("--allow-no-language", action="store_true")
    ap.add_argument("--no-sections", action="store_true")
    a = ap.parse_args()
    fails = []

    def check(cond, msg):
        if not cond:
            fails.append(msg)
        return cond

    text = open(a.path, encoding="utf-8-sig").read()

    # 1. front matter
    m = REGEX_YAML_BLOCK.search(text)
    if not check(m is not None and text.startswith("---"), "no YAML front matter block at the top"):
        return report(fails)
    meta = yaml.safe_load(m.group(2))
    if not check(isinstance(meta, dict), "front matter is not a YAML mapping"):
        return report(fails)

    # 2. ModelCard.load, strict
    try:
        card = ModelCard.load(a.path)
    except Exception as e:  # ValueError for an invalid model-index
        fails.append(f"ModelCard.load failed: {e}")
        return report(fails)
    d = card.data.to_dict()

    # 3. keys
    check(isinstance(d.get("base_model"), str) and d["base_model"], "base_model missing or not a string")
    check(d.get("library_name") == "sentence-transformers", f"library_name is {d.get('library_name')!r}")
    check(d.get("pipeline_tag") == "sentence-similarity", f"pipeline_tag is {d.get('pipeline_tag')!r}")
    tags = d.get("tags")
    if check(isinstance(tags, list) and all(isinstance(t, str) for t in tags), "tags missing or not a list of str"):
        for t in ("sentence-transformers", "sentence-similarity", "feature-extraction", "generated_from_trainer"):
            check(t in tags, f"tag {t!r} missing")
        losses = [t for t in tags if t.startswith("loss:")]
        check(len(losses) >= 1 and all(re.fullmatch(r"loss:[A-Za-z_][A-Za-z0-9_]*", t) for t in losses),
              f"need loss:<ClassName> tag(s), got {losses}")
        sizes = [t for t in tags if t.startswith("dataset_size:")]
        check(len(sizes) == 1 and re.fullmatch(r"dataset_size:[1-9][0-9]*", sizes[0]),
              f"need exactly one dataset_size:<N> tag, got {sizes}")
    if not a.allow_no_datasets:
        ds = d.get("datasets")
        check(isinstance(ds, list) and ds and all(isinstance(x, str) and x for x in ds),
              f"datasets missing or not a non-empty list of str: {ds!r}")
    if not a.allow_no_language:
        lang = d.get("language")
        check(isinstance(lang, list) and lang and all(isinstance(x, str) for x in lang),
              f"language missing or not a non-empty list of str: {lang!r}")

    # 4. model-index
    if "model-index" in meta:
        name, results = card.data.model_name, card.data.eval_results
        check(isinstance(name, str) and name, "model-index has no name")
        if check(isinstance(results, list) and results and all(isinstance(r, EvalResult) for r in results),
                 "eval_results empty"):
            for r in results:
                check(isinstance(r.metric_value, float) and math.isfinite(r.metric_value),
                      f"{r.task_type}/{r.metric_type}: value {r.metric_value!r} is not a finite float")
                check(r.task_name is not None and r.metric_name is not None,
                      f"{r.task_type}/{r.metric_type}: task name or metric name missing")
                pattern = KNOWN_TASKS.get(r.task_type)
                if pattern is not None:
                    check(pattern.match(r.metric_type), f"{r.task_type}: unexpected metric type {r.metric_type!r}")
                check(r.metric_type in (d.get("metrics") or []), f"metric {r.metric_type!r} not listed in `metrics`")
            check(eval_results_to_model_index(name, results) == d["model-index"],
                  "model-index does not round-trip through EvalResult")
            check(d["model-index"] == meta["model-index"], "to_dict() model-index differs from the file's")

    # 5. widget
    for i, w in enumerate(meta.get("widget") or []):
        check(isinstance(w, dict) and isinstance(w.get("source_sentence"), str)
              and isinstance(w.get("sentences"), list) and w["sentences"]
              and all(isinstance(s, str) for s in w["sentences"]),
              f"widget[{i}] is not {{source_sentence: str, sentences: [str]}}")

    # 6. sections in order
    if not a.no_sections:
        body = card.text
        # ignore headings inside ``` fences and HTML comments
        body = re.sub(r"```.*?```", "", body, flags=re.S)
        body = re.sub(r"<!--.*?-->", "", body, flags=re.S)
        heads = [(len(h), t.strip()) for h, t in re.findall(r"^(#{1,6}) (.+)$", body, flags=re.M)]
        pos = 0
        for level, want in SECTIONS:
            found = None
            for j in range(pos, len(heads)):
                lv, t = heads[j]
                if lv == level and (want is None or t == want or t == want + "s"):
                    found = j
                    break
            if found is None:
                if want in OPTIONAL and not (want in ("Evaluation", "Metrics") and "model-index" in meta):
                    continue
                fails.append(f"section {'#' * level} {want or '<title>'} missing or out of order")
            else:
                pos = found + 1

    return report(fails)


def report(fails) -> int:
    for f in fails:
        print("FAIL:", f)
    print("model card OK" if not fails else f"{len(fails)} failure(s)")
    return 1 if fails else 0


if __name__ == "__main__":
    sys.exit(main())
