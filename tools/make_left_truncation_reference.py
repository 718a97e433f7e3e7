"""Reference ids for `Tokenizer.encodeKeepingEnd` (serve's TEI `truncation_direction: "left"`):
`tokenizers` with `enable_truncation(n, direction="left")` on the hard cases and 200 UD sentences,
for the reference tokenizers of make_tokenizer_reference.py. Needs ../shared/tokenizers and
../shared/data; writes Tests/Fixtures/tokenizer/ids-left-truncation.jsonl.zst.

    python3 tools/make_left_truncation_reference.py
"""
import json
import os
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import make_tokenizer_reference as ref  # noqa: E402

LENGTHS = [3, 5, 8, 16]
NAMES = ["minilm", "e5", "ltg", "norbert1-default"]


def main():
    texts = ref.hard_texts() + ref.ud_texts()[:200]
    toks = ref.reference_tokenizers()
    lines = []
    for name in NAMES:
        tok = toks[name]
        for n in LENGTHS:
            tok.enable_truncation(n, direction="left")
            for ids in ref.encode_all(tok, texts):
                lines.append(json.dumps({"tokenizer": name, "max_length": n, "ids": ids}))
            tok.no_truncation()
            # Left truncation must differ from right truncation somewhere, or the test proves nothing.
            tok.enable_truncation(n)
            right = ref.encode_all(tok, texts)
            tok.no_truncation()
            differ = sum(json.loads(l)["ids"] != r for l, r in zip(lines[-len(texts):], right))
            print(f"{name} max_length {n}: {differ} of {len(texts)} texts differ from right truncation", file=sys.stderr)
            assert differ > 0
    path = os.path.join(ref.FIXTURES, "ids-left-truncation.jsonl.zst")
    ref.write_zstd(path, "\n".join(lines) + "\n")
    print(f"wrote {path} ({len(lines)} rows, {len(texts)} texts)", file=sys.stderr)


if __name__ == "__main__":
    main()
