#!/usr/bin/env python3
"""Writes the Parquet fixtures of Tests/Fixtures/parquet/ with pyarrow, one file per
codec / encoding / page-format combination the Swift reader must handle, each beside a JSONL file
holding exactly the rows pyarrow reads back (the reference the Swift tests compare to), plus
manifest.json recording each file's sha256, codec and the encodings pyarrow actually used.

    python3 tools/make_parquet_fixtures.py [OUT_DIR]
"""
import hashlib
import json
import os
import random
import sys

import pyarrow as pa
import pyarrow.parquet as pq

OUT = sys.argv[1] if len(sys.argv) > 1 else os.path.join(
    os.path.dirname(__file__), "..", "Tests", "Fixtures", "parquet")

WORDS = ("jeg du vi dere de hun han det være ha gå komme se få gjøre si ville kunne måtte skulle "
         "båt bør får gård høst kjærlighet øl ærlig blåbær smørbrød fjell fjord skog sjø vær "
         "æra øya ål spørsmål svar dag natt morgen kveld år måned uke time minutt "
         "nynorsk bokmål språk ord setning tekst bok brev avis nyhet historie "
         "ikkje eg me dei kva korleis kvifor noko nokon berre mykje lite stor liten").split()

SPECIAL = ["", "«Sitat» med \"hermeteikn\" og \\ skråstrek", "linje ein\nlinje to\ttab",
           "emoji 😀 og ÆØÅ æøå", "  mellomrom  ", "a" * 300]


def sentence(rng):
    n = rng.randint(3, 14)
    s = " ".join(rng.choice(WORDS) for _ in range(n))
    return s[0].upper() + s[1:] + rng.choice([".", "?", "!"])


def make_table(n_rows, seed):
    rng = random.Random(seed)
    anchors, positives, negatives, labels, scores, flags, smalls, floats = [], [], [], [], [], [], [], []
    for i in range(n_rows):
        anchors.append(SPECIAL[i // 7] if i % 7 == 3 and i // 7 < len(SPECIAL) else sentence(rng))
        positives.append(None if i % 5 == 2 else sentence(rng))
        # Few distinct values: dictionary encoding pays off here.
        negatives.append(rng.choice(["Nei.", "Kanskje ikkje.", "Det er feil.", "Ja, visst!", "Ærleg talt?"]))
        labels.append(None if i % 11 == 4 else rng.randint(-2**40, 2**40))
        scores.append(None if i % 13 == 6 else rng.choice([0.0, -1.5, 1e-300, 3.141592653589793, rng.random()]))
        flags.append(None if i % 9 == 1 else rng.random() < 0.5)
        smalls.append(rng.randint(-2**31, 2**31 - 1))
        floats.append(rng.choice([0.1, -2.5, 1e20, 3.0]))
    return pa.table({
        "anchor": pa.array(anchors, pa.string()),
        "positive": pa.array(positives, pa.string()),
        "negative": pa.array(negatives, pa.string()),
        "label": pa.array(labels, pa.int64()),
        "score": pa.array(scores, pa.float64()),
        "flag": pa.array(flags, pa.bool_()),
        "small": pa.array(smalls, pa.int32()),
        "ratio": pa.array(floats, pa.float32()),
    }, schema=pa.schema([
        pa.field("anchor", pa.string(), nullable=False),
        pa.field("positive", pa.string()),
        pa.field("negative", pa.string(), nullable=False),
        pa.field("label", pa.int64()),
        pa.field("score", pa.float64()),
        pa.field("flag", pa.bool_()),
        pa.field("small", pa.int32(), nullable=False),
        pa.field("ratio", pa.float32(), nullable=False),
    ]))


STRINGS = ["anchor", "positive", "negative"]

# name -> write_table keyword arguments
VARIANTS = {
    "snappy_plain_v1": dict(compression="snappy", use_dictionary=False, data_page_version="1.0"),
    "zstd_dictionary_v2": dict(compression="zstd", use_dictionary=True, data_page_version="2.0"),
    "gzip_plain_dictionary_v1": dict(compression="gzip", use_dictionary=True, data_page_version="1.0", version="1.0"),
    "none_plain_v2": dict(compression="none", use_dictionary=False, data_page_version="2.0"),
    "none_delta_length_byte_array_v1": dict(
        compression="none", use_dictionary=False, data_page_version="1.0",
        column_encoding={**{c: "DELTA_LENGTH_BYTE_ARRAY" for c in STRINGS},
                         "label": "DELTA_BINARY_PACKED", "small": "DELTA_BINARY_PACKED"}),
    "snappy_delta_byte_array_v2": dict(
        compression="snappy", use_dictionary=False, data_page_version="2.0",
        column_encoding={**{c: "DELTA_BYTE_ARRAY" for c in STRINGS},
                         "score": "BYTE_STREAM_SPLIT", "ratio": "BYTE_STREAM_SPLIT"}),
    "zstd_delta_byte_array_v1": dict(
        compression="zstd", use_dictionary=False, data_page_version="1.0",
        column_encoding={c: "DELTA_BYTE_ARRAY" for c in STRINGS}),
    "gzip_dictionary_v2": dict(compression="gzip", use_dictionary=True, data_page_version="2.0"),
    # A dictionary page that fills up: later pages fall back to PLAIN within one column chunk.
    "snappy_dictionary_fallback_v1": dict(
        compression="snappy", use_dictionary=True, data_page_version="1.0", dictionary_pagesize_limit=512),
}


def main():
    os.makedirs(OUT, exist_ok=True)
    manifest = {"pyarrow": pa.__version__, "files": {}}
    for k, (name, kwargs) in enumerate(sorted(VARIANTS.items())):
        table = make_table(230, seed=k + 1)
        path = os.path.join(OUT, name + ".parquet")
        # Several row groups, several pages per column chunk.
        pq.write_table(table, path, row_group_size=80, data_page_size=700, write_statistics=False, **kwargs)
        back = pq.read_table(path)
        assert back.equals(table), name
        with open(os.path.join(OUT, name + ".jsonl"), "w", encoding="utf-8") as f:
            for row in back.to_pylist():
                f.write(json.dumps(row, ensure_ascii=False) + "\n")
        meta = pq.ParquetFile(path).metadata
        encodings = {}
        for rg in range(meta.num_row_groups):
            for c in range(meta.num_columns):
                col = meta.row_group(rg).column(c)
                encodings.setdefault(col.path_in_schema, set()).update(col.encodings)
        with open(path, "rb") as f:
            digest = hashlib.sha256(f.read()).hexdigest()
        manifest["files"][name] = {
            "sha256": digest,
            "rows": back.num_rows,
            "row_groups": meta.num_row_groups,
            "codec": meta.row_group(0).column(0).compression,
            "data_page_version": kwargs.get("data_page_version"),
            "encodings": {c: sorted(e) for c, e in encodings.items()},
        }
        print(name, os.path.getsize(path), "bytes", manifest["files"][name]["encodings"]["anchor"])
    with open(os.path.join(OUT, "manifest.json"), "w") as f:
        json.dump(manifest, f, indent=2, sort_keys=True)
        f.write("\n")


if __name__ == "__main__":
    main()
