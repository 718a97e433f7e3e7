#!/usr/bin/env python3
"""Compares `mine`'s output with sentence-transformers' mine_hard_negatives' (as written by
tools/check_mine_ir.py mine --out): how many rows are identical, and whether every difference is a
tie (the same scores, other texts: torch.topk orders equal scores arbitrarily, `mine` by corpus
position) or a near-tie that BLAS rounding can swap (scores within --tie-tol).

Rows are matched within each (anchor, positive) group, in order, so a group with a different number
of rows does not shift the comparison of the groups after it. Both files should be written with
scores (--output-scores) for the tie analysis. Prints one JSON object; exit status 1 when the share
of identical rows is below --min-identical or a difference is not explained by ties.

  python3 tools/compare_mined.py PYTHON.jsonl SWIFT.jsonl.zst [--min-identical 0.99]
"""
import argparse
import io
import json
import sys


def read(path):
    if path.endswith(".zst"):
        import zstandard

        fh = io.TextIOWrapper(zstandard.ZstdDecompressor().stream_reader(open(path, "rb")), encoding="utf-8")
    else:
        fh = open(path, encoding="utf-8")
    with fh:
        return [json.loads(line) for line in fh if line.strip()]


def groups(rows):
    out = {}
    for r in rows:
        keys = list(r)
        out.setdefault((r[keys[0]], r[keys[1]]), []).append(r)
    return out


def texts(row):
    return [v for k, v in row.items() if k != "scores"]


def scores(row):
    return row.get("scores")


def main():
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("expected", help="mine_hard_negatives' rows (JSONL)")
    p.add_argument("actual", help="mine's rows (JSONL, .zst ok)")
    p.add_argument("--tol", type=float, default=1e-5, help="score tolerance for 'same score' (BLAS rounding)")
    p.add_argument("--tie-tol", type=float, default=1e-5, help="scores closer than this count as tied")
    p.add_argument("--min-identical", type=float, default=0.99)
    a = p.parse_args()
    expected, actual = read(a.expected), read(a.actual)
    eg, ag = groups(expected), groups(actual)
    identical = 0
    score_diff = 0.0
    unexplained = []
    tie_groups = 0
    for key in list(dict.fromkeys(list(eg) + list(ag))):
        e, s = eg.get(key, []), ag.get(key, [])
        same_rows = sum(1 for x, y in zip(e, s) if texts(x) == texts(y))
        identical += same_rows
        for x, y in zip(e, s):
            if scores(x) and scores(y) and texts(x) == texts(y):
                score_diff = max(score_diff, max(abs(u - v) for u, v in zip(scores(x), scores(y))))
        if same_rows == len(e) == len(s):
            continue
        # A difference: explained if the groups' negative scores agree (sorted) within tol, and each
        # differing position sits on a score shared (within tie_tol) by another candidate.
        ok = False
        if all(scores(r) for r in e + s) and len(e) == len(s):
            es = sorted(v for r in e for v in scores(r)[1:])
            ss = sorted(v for r in s for v in scores(r)[1:])
            ok = len(es) == len(ss) and all(abs(u - v) <= a.tie_tol for u, v in zip(es, ss))
        if ok:
            tie_groups += 1
        else:
            unexplained.append({"anchor": key[0][:80], "positive": key[1][:80], "expected": e[:3], "actual": s[:3]})
    total = max(len(expected), len(actual))
    share = identical / total if total else 1.0
    result = {
        "expected_rows": len(expected),
        "actual_rows": len(actual),
        "identical_rows": identical,
        "identical_share": share,
        "groups": len(set(eg) | set(ag)),
        "groups_differing_only_at_ties": tie_groups,
        "groups_differing_otherwise": len(unexplained),
        "max_score_diff_of_identical_rows": score_diff,
        "first_unexplained": unexplained[:3],
    }
    print(json.dumps(result, ensure_ascii=False, indent=1))
    sys.exit(0 if share >= a.min_identical and not unexplained else 1)


if __name__ == "__main__":
    main()
