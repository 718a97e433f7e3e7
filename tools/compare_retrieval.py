#!/usr/bin/env python3
"""Compares `evaluate --task retrieval`'s JSON with InformationRetrievalEvaluator's metrics (as
printed by tools/check_mine_ir.py ir-beir / ir-pairs): the same metric keys (the evaluator's name
prefix removed) and every value within --tol. Prints one JSON object; exit status 1 on a mismatch.

  python3 tools/compare_retrieval.py PYTHON.json SWIFT.json [--tol 1e-4]
"""
import argparse
import json
import sys


def main():
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("python", help="check_mine_ir.py ir-* output")
    p.add_argument("swift", help="evaluate --task retrieval output")
    p.add_argument("--tol", type=float, default=1e-4)
    a = p.parse_args()
    py = json.load(open(a.python))
    sw = json.load(open(a.swift))
    name = py.get("primary_metric", "").split("_")[0]
    prefix = ""
    metrics = py["metrics"]
    if metrics and not next(iter(metrics)).startswith(("cosine_", "dot_")):
        prefix = next(iter(metrics)).split("_")[0] + "_"
    expected = {k[len(prefix):]: v for k, v in metrics.items()}
    actual = {k: v for k, v in sw.items() if k.startswith(("cosine_", "dot_"))}
    diffs = {k: abs(expected[k] - actual[k]) for k in expected if k in actual}
    result = {
        "same_keys_in_order": list(expected) == list(actual),
        "missing": [k for k in expected if k not in actual],
        "extra": [k for k in actual if k not in expected],
        "max_abs_diff": max(diffs.values()) if diffs else None,
        "over_tol": {k: [expected[k], actual[k]] for k, d in diffs.items() if not d <= a.tol},
        "queries": [py.get("queries_evaluated"), sw.get("queries")],
        "corpus": [py.get("corpus"), sw.get("corpus")],
    }
    print(json.dumps(result, indent=1))
    ok = result["same_keys_in_order"] and not result["over_tol"] and result["queries"][0] == result["queries"][1]
    sys.exit(0 if ok else 1)


if __name__ == "__main__":
    main()
