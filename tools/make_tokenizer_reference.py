#!/usr/bin/env python3
"""Ground truth for EmbedKit's tokenizer, produced by the real Hugging Face libraries.

Subcommands (run from the package root, with `tokenizers` and `transformers` installed):

  tables     Probes the installed `tokenizers` library code point by code point and writes
             Sources/Tokenizers/UnicodeTables.swift: every Unicode property the Rust code
             consults (Rust's char::is_whitespace / is_numeric, the unicode_categories crate's
             punctuation / control / non-spacing-mark sets, unicode-normalization-alignments'
             decompositions, combining classes and compositions, Rust's to_lowercase, Oniguruma's
             and the regex crate's classes). Probing the library itself, rather than reading a
             Unicode database, gives the Unicode *versions* those crates were built with, which
             differ from each other and from Python's unicodedata.

  fixtures   Writes Tests/Fixtures/tokenizer/: reference ids for every tokenizer in
             ../shared/tokenizers on the UD sentences (full ids), the nb-nn triplets (a 64-bit hash
             of each text's ids, to keep the fixtures small), hand-written hard cases and a seeded
             random corpus of awkward Unicode (full ids), plus per-component outputs (each
             normalizer and pre-tokenizer on the random corpus, small BPE / Roberta / Bert configs).

  bench      Compares the `tokenize` tool (release build) with `tokenizers` on one thread over the
             same 100K sentences, checks that the ids are identical and prints sentences/s as a
             Markdown table (BENCHMARKS.md).

Nothing here is needed to run the Swift tests; only to regenerate what they compare against.
"""

import argparse
import base64
import hashlib
import io
import json
import os
import random
import struct
import subprocess
import sys
import time
import unicodedata

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
SHARED = os.environ.get("EMBEDKIT_SHARED", os.path.join(os.path.dirname(ROOT), "shared"))
FIXTURES = os.path.join(ROOT, "Tests", "Fixtures", "tokenizer")
TABLES_SWIFT = os.path.join(ROOT, "Sources", "EmbedKit", "Tokenizer", "UnicodeTables.swift")

ALL_CODE_POINTS = [c for c in range(0x110000) if not 0xD800 <= c <= 0xDFFF]


# ----------------------------------------------------------------------------------------------
# Probing the Rust library's Unicode properties
# ----------------------------------------------------------------------------------------------

def probe_pretok_split(pretok, cps, kind):
    """Classifies each code point by how `pretok` splits "a" + c + "b".

    Returns the set of code points for which `kind(pieces)` is true."""
    out = set()
    for c in cps:
        ch = chr(c)
        pieces = [p for p, _ in pretok.pre_tokenize_str("a" + ch + "b")]
        if kind(pieces, ch):
            out.add(c)
    return out


def probe_regex_class(pattern, cps):
    """Code points matched by a one-character Oniguruma pattern (as Split/Replace compile it)."""
    from tokenizers import Regex, pre_tokenizers

    split = pre_tokenizers.Split(Regex(pattern), behavior="removed")
    matched = set()
    chunk = 4096
    for i in range(0, len(cps), chunk):
        part = cps[i:i + chunk]
        text = "".join(chr(c) for c in part)
        kept = [False] * len(part)
        for _, (s, e) in split.pre_tokenize_str(text):
            for k in range(s, e):
                kept[k] = True
        for k, c in enumerate(part):
            if not kept[k]:
                matched.add(c)
    return matched


def probe_normalizer_map(normalizer, cps):
    """normalizer(c) for every code point where it differs from c."""
    out = {}
    for c in cps:
        ch = chr(c)
        r = normalizer.normalize_str(ch)
        if r != ch:
            out[c] = r
    return out


ONIG_CATEGORIES = [
    "Lu", "Ll", "Lt", "Lm", "Lo", "Mn", "Mc", "Me", "Nd", "Nl", "No", "Pc", "Pd", "Ps", "Pe", "Pi", "Pf",
    "Po", "Sm", "Sc", "Sk", "So", "Zs", "Zl", "Zp", "Cc", "Cf", "Co", "Cn",
]
# Cs (surrogates) cannot occur in a Rust string; it is index 29 and never assigned.


def build_tables():
    from tokenizers import normalizers as N
    from tokenizers import pre_tokenizers as P
    import tokenizers

    cps = ALL_CODE_POINTS
    t0 = time.time()

    def say(msg):
        print(f"[{time.time() - t0:6.1f}s] {msg}", file=sys.stderr)

    flags = {}

    def set_flag(codepoints, bit):
        for c in codepoints:
            flags[c] = flags.get(c, 0) | (1 << bit)

    # Rust char::is_whitespace: WhitespaceSplit removes it.
    ws = probe_pretok_split(P.WhitespaceSplit(), cps, lambda p, ch: p == ["a", "b"])
    say(f"rust whitespace: {len(ws)}")
    # Bert punctuation (ASCII punctuation or unicode_categories' P*): isolated by Punctuation.
    punct = probe_pretok_split(P.Punctuation(), cps, lambda p, ch: p == ["a", ch, "b"])
    bert_punct = probe_pretok_split(P.BertPreTokenizer(), cps, lambda p, ch: p == ["a", ch, "b"])
    assert punct == bert_punct, "Punctuation and BertPreTokenizer disagree"
    say(f"punctuation: {len(punct)}")
    # Rust char::is_numeric: isolated by Digits(individual_digits).
    numeric = probe_pretok_split(P.Digits(individual_digits=True), cps, lambda p, ch: p == ["a", ch, "b"])
    say(f"numeric: {len(numeric)}")
    # BertNormalizer clean_text: removes NUL, U+FFFD and unicode_categories' "other" (except \t\n\r),
    # maps whitespace to ' '.
    clean = N.BertNormalizer(clean_text=True, handle_chinese_chars=False, strip_accents=False, lowercase=False)
    clean_remove = set()
    for c in cps:
        r = clean.normalize_str("a" + chr(c) + "b")
        if r == "ab":
            clean_remove.add(c)
        elif r == "a b":
            assert c in ws, f"clean_text maps U+{c:04X} to a space but it is not whitespace"
        else:
            assert r == "a" + chr(c) + "b"
    for c in ws:
        if c not in clean_remove:
            assert clean.normalize_str(chr(c)) == " "
    say(f"clean_text removes: {len(clean_remove)}")
    # The regex crate's \w and \s, as the Whitespace pre-tokenizer (\w+|[^\w\s]+) sees them.
    regex_word, regex_space = set(), set()
    wpt = P.Whitespace()
    for c in cps:
        ch = chr(c)
        pieces = [p for p, _ in wpt.pre_tokenize_str("a" + ch + "b")]
        if pieces == ["a" + ch + "b"]:
            regex_word.add(c)
        elif pieces == ["a", "b"]:
            regex_space.add(c)
        else:
            assert pieces == ["a", ch, "b"], (hex(c), pieces)
    say(f"regex \\w: {len(regex_word)}, \\s: {len(regex_space)}")
    # Oniguruma classes (Split / Replace patterns, ByteLevel's GPT-2 pattern).
    onig_space = probe_regex_class(r"\s", cps)
    onig_word = probe_regex_class(r"\w", cps)
    onig_digit = probe_regex_class(r"\d", cps)
    onig_cat = {}
    for k, cat in enumerate(ONIG_CATEGORIES):
        for c in probe_regex_class(r"\p{" + cat + "}", cps):
            assert c not in onig_cat, f"U+{c:04X} in two Oniguruma categories"
            onig_cat[c] = k
    missing = [c for c in cps if c not in onig_cat]
    assert not missing, f"{len(missing)} code points in no Oniguruma category, e.g. U+{missing[0]:04X}"
    onig_letter = probe_regex_class(r"\p{L}", cps)
    onig_number = probe_regex_class(r"\p{N}", cps)
    assert onig_letter == {c for c, k in onig_cat.items() if ONIG_CATEGORIES[k][0] == "L"}
    assert onig_number == {c for c, k in onig_cat.items() if ONIG_CATEGORIES[k][0] == "N"}
    say(f"oniguruma: \\s {len(onig_space)}, \\w {len(onig_word)}, \\d {len(onig_digit)}")

    # Decompositions (full, as the normalizer produces them).
    nfd = probe_normalizer_map(N.NFD(), cps)
    nfkd = probe_normalizer_map(N.NFKD(), cps)
    say(f"NFD maps {len(nfd)}, NFKD maps {len(nfkd)}")
    # Non-spacing marks (BertNormalizer strip_accents = NFD then drop Mn): probe on NFD-stable chars.
    strip = N.BertNormalizer(clean_text=False, handle_chinese_chars=False, strip_accents=True, lowercase=False)
    nonspacing = set()
    for c in cps:
        if c in nfd:
            continue
        r = strip.normalize_str("a" + chr(c))
        if r == "a":
            nonspacing.add(c)
        else:
            assert r == "a" + chr(c), hex(c)
    say(f"non-spacing marks: {len(nonspacing)}")
    # StripAccents (unicode-normalization-alignments' is_combining_mark).
    sa = N.StripAccents()
    combining = {c for c in cps if sa.normalize_str("a" + chr(c)) == "a"}
    say(f"combining marks: {len(combining)}")
    lower = probe_normalizer_map(N.Lowercase(), cps)
    say(f"lowercase maps {len(lower)}")

    # Canonical combining classes, measured through the Rust normalizer's canonical reordering:
    # "a" + x + y comes back as "a" + y + x exactly when 0 < ccc(y) < ccc(x). Python's unicodedata
    # (a newer Unicode) only proposes reference marks; the crate's own classes are what count.
    nfd_norm = N.NFD()
    stable = [c for c in cps if c not in nfd]

    def swapped(first, second):
        s = "a" + chr(first) + chr(second)
        r = nfd_norm.normalize_str(s)
        assert r in (s, "a" + chr(second) + chr(first)), (hex(first), hex(second), r)
        return r != s

    # Non-zero exactly when it moves before U+0345 (ccc 240) or U+0334 (ccc 1) moves before it.
    nonzero = [c for c in stable if swapped(0x0345, c) or swapped(c, 0x0334)]
    py_values = {}
    for c in nonzero:
        py_values.setdefault(unicodedata.combining(chr(c)), []).append(c)
    # One reference mark per class value, proven to sort after every lower reference.
    refs = []
    for v in sorted(k for k in py_values if k > 0):
        m = min(py_values[v])
        assert all(swapped(m, r) for _, r in refs), f"reference mark U+{m:04X} (ccc {v}) misorders"
        refs.append((v, m))
    ccc = {}
    for c in nonzero:
        # ccc(c) is the largest reference class r with "a" + ref + c left as is.
        below = [v for v, m in refs if not swapped(m, c)]
        assert below, f"U+{c:04X} sorts before every reference mark"
        ccc[c] = below[-1]
        higher = [m for v, m in refs if v > ccc[c]]
        assert not higher or swapped(higher[0], c)
    differ = [c for c in stable if ccc.get(c, 0) != unicodedata.combining(chr(c))]
    say(f"combining classes: {len(ccc)} non-zero ({len(differ)} differ from Python's unicodedata)")

    # Canonical compositions: Python's one-level canonical pairs that the Rust NFC composes.
    nfc_norm = N.NFC()
    compositions = {}
    for c in cps:
        d = unicodedata.decomposition(chr(c))
        if not d or d.startswith("<"):
            continue
        parts = [int(x, 16) for x in d.split()]
        if len(parts) != 2:
            continue
        if nfc_norm.normalize_str(chr(parts[0]) + chr(parts[1])) == chr(c):
            compositions[(parts[0], parts[1])] = c
    say(f"compositions: {len(compositions)}")

    # Python's str.isspace(), which sentence-transformers' str.strip() uses.
    py_space = {c for c in cps if chr(c).isspace()}

    set_flag(ws, 0)
    set_flag(punct, 1)
    set_flag(clean_remove, 2)
    set_flag(numeric, 3)
    set_flag(nonspacing, 4)
    set_flag(combining, 5)
    set_flag(onig_space, 6)
    set_flag(onig_word, 7)
    set_flag(onig_digit, 8)
    set_flag(regex_word, 9)
    set_flag(regex_space, 10)
    set_flag(py_space, 11)
    for c, k in onig_cat.items():
        flags[c] = flags.get(c, 0) | (k << 16)

    tables = dict(flags=flags, lower=lower, nfd=nfd, nfkd=nfkd, ccc=ccc, compositions=compositions,
                  version=tokenizers.__version__)
    verify_tables(tables)
    say("verified")
    return tables


# A Python model of the Swift normalization code, run over every code point so that the tables
# are proven complete before they are written (the Swift tests then check the Swift code).

def hangul_decompose(c):
    s = c - 0xAC00
    if not 0 <= s < 11172:
        return None
    l, v, t = 0x1100 + s // 588, 0x1161 + (s % 588) // 28, 0x11A7 + s % 28
    return [l, v] if t == 0x11A7 else [l, v, t]


def model_decompose(text, tables, compat):
    table = tables["nfkd" if compat else "nfd"]
    out = []
    for ch in text:
        c = ord(ch)
        h = hangul_decompose(c)
        if h:
            out += h
        elif c in table:
            out += [ord(x) for x in table[c]]
        else:
            out.append(c)
    ccc = tables["ccc"]
    # Canonical ordering: stable sort of each run of non-starters.
    i = 0
    while i < len(out):
        if ccc.get(out[i], 0) == 0:
            i += 1
            continue
        j = i
        while j < len(out) and ccc.get(out[j], 0) != 0:
            j += 1
        out[i:j] = sorted(out[i:j], key=lambda c: ccc[c])
        i = j
    return out


def model_compose(cps, tables):
    ccc = tables["ccc"]
    comp = tables["compositions"]
    out = []
    starter = None  # index in out of the last starter
    last_ccc = 0
    for c in cps:
        cc = ccc.get(c, 0)
        if starter is not None and (last_ccc < cc or (last_ccc == 0 and len(out) - 1 == starter)):
            s = out[starter]
            composed = None
            if 0x1100 <= s < 0x1113 and 0x1161 <= c < 0x1176:
                composed = 0xAC00 + ((s - 0x1100) * 21 + (c - 0x1161)) * 28
            elif 0xAC00 <= s < 0xAC00 + 11172 and (s - 0xAC00) % 28 == 0 and 0x11A7 < c < 0x11C3:
                composed = s + (c - 0x11A7)
            else:
                composed = comp.get((s, c))
            if composed is not None:
                out[starter] = composed
                continue
        if cc == 0:
            starter = len(out)
            last_ccc = 0
        else:
            last_ccc = cc
        out.append(c)
    return out


def verify_tables(tables):
    from tokenizers import normalizers as N

    forms = {"NFD": (N.NFD(), False, False), "NFKD": (N.NFKD(), True, False),
             "NFC": (N.NFC(), False, True), "NFKC": (N.NFKC(), True, True)}
    samples = [chr(c) for c in ALL_CODE_POINTS]
    rng = random.Random(7)
    marks = [c for c in tables["ccc"]][:400]
    bases = list(range(0x41, 0x5B)) + [0x3B1, 0x1100, 0xAC00, 0x1161, 0x11A8, 0x0915, 0x05D0]
    for _ in range(20000):
        s = [rng.choice(bases)] + [rng.choice(marks) for _ in range(rng.randint(1, 4))]
        if rng.random() < 0.3:
            s.append(rng.choice([0x1161, 0x11A8, 0x0301, 0x0308, 0x0327]))
        samples.append("".join(chr(c) for c in s))
    for name, (norm, compat, compose) in forms.items():
        for s in samples:
            d = model_decompose(s, tables, compat)
            got = model_compose(d, tables) if compose else d
            want = [ord(x) for x in norm.normalize_str(s)]
            assert got == want, f"{name} model differs on {[hex(ord(x)) for x in s]}: {got} vs {want}"


def encode_ranges(flags):
    """'start,end,value;' hex runs of equal non-zero flag values."""
    items = sorted(flags.items())
    runs = []
    for c, v in items:
        if runs and runs[-1][1] == c - 1 and runs[-1][2] == v:
            runs[-1][1] = c
        else:
            runs.append([c, c, v])
    return ";".join(f"{a:x},{b:x},{v:x}" for a, b, v in runs)


def encode_map(m):
    """'c:x y z;' with hex code points."""
    return ";".join(f"{c:x}:" + " ".join(f"{ord(x):x}" for x in s) for c, s in sorted(m.items()))


def swift_literal(name, text, doc):
    lines = [text[i:i + 110] for i in range(0, len(text), 110)] or [""]
    body = "\\\n".join(lines)
    return f"    /// {doc}\n    static let {name} = \"\"\"\n{body}\n\"\"\"\n"


def write_tables_swift(tables):
    ranges = encode_ranges(tables["flags"])
    lower = encode_map(tables["lower"])
    hangul = lambda c: 0xAC00 <= c < 0xAC00 + 11172
    nfd = encode_map({c: s for c, s in tables["nfd"].items() if not hangul(c)})
    nfkd = encode_map({c: s for c, s in tables["nfkd"].items() if not hangul(c) and tables["nfd"].get(c) != s})
    ccc = ";".join(f"{c:x}:{v:x}" for c, v in sorted(tables["ccc"].items()))
    comp = ";".join(f"{a:x} {b:x}:{p:x}" for (a, b), p in sorted(tables["compositions"].items()))
    cats = ", ".join(f'"{c}"' for c in ONIG_CATEGORIES + ["Cs"])
    out = io.StringIO()
    out.write(f"""// Generated by `tools/make_tokenizer_reference.py tables` from the Python `tokenizers` library
// {tables['version']} (probed code point by code point). Do not edit by hand: regenerate.
//
// Each table is a string of hexadecimal numbers, parsed once by `UnicodeData` (string literals keep
// the compiler fast; an array literal of this size would not).

enum UnicodeTables {{
    /// Oniguruma's general category names, in the order of the category field of `flagRanges`.
    static let categoryNames: [String] = [{cats}]

""")
    out.write(swift_literal("flagRanges", ranges,
                            "`first,last,flags` runs: bit 0 Rust whitespace, 1 punctuation, 2 removed by clean_text, "
                            "3 Rust numeric,\n    /// 4 non-spacing mark, 5 combining mark, 6 Oniguruma \\s, 7 \\w, "
                            "8 \\d, 9 regex-crate \\w, 10 regex-crate \\s,\n    /// 11 Python str.isspace; bits 16... "
                            "the Oniguruma general category (index into `categoryNames`)."))
    out.write("\n")
    out.write(swift_literal("lowercase", lower, "Rust's char::to_lowercase where it is not the identity."))
    out.write("\n")
    out.write(swift_literal("canonicalDecompositions", nfd, "Full canonical decompositions (Hangul syllables are computed)."))
    out.write("\n")
    out.write(swift_literal("compatibilityDecompositions", nfkd,
                            "Full compatibility decompositions that differ from the canonical one."))
    out.write("\n")
    out.write(swift_literal("combiningClasses", ccc, "Non-zero canonical combining classes."))
    out.write("\n")
    out.write(swift_literal("compositions", comp, "Canonical pairs `first second:composite` (Hangul is computed)."))
    out.write("}\n")
    with open(TABLES_SWIFT, "w", encoding="utf-8") as f:
        f.write(out.getvalue())
    print(f"wrote {TABLES_SWIFT} ({len(out.getvalue()) // 1024} KiB)", file=sys.stderr)


def cmd_tables(args):
    write_tables_swift(build_tables())


# ----------------------------------------------------------------------------------------------
# Reference ids
# ----------------------------------------------------------------------------------------------

TRIPLET_FILES = ["nb-nn-train", "nb-nn-test", "nb-nn-dev", "nb-nn-train-hard", "nb-nn-test-hard"]
TRIPLET_COLUMNS = ["anchor", "positive", "negative"]


def zstd_lines(path):
    """Lines split at "\\n" only (a trailing "\\r" dropped), as EmbedKit's LineReader splits them;
    str.splitlines() would also split at U+2028, U+0085 and friends."""
    data = subprocess.run(["zstd", "-dc", path], check=True, capture_output=True).stdout
    lines = data.decode("utf-8").split("\n")
    if lines and lines[-1] == "":
        lines.pop()
    return [l[:-1] if l.endswith("\r") else l for l in lines]


def write_zstd(path, text):
    subprocess.run(["zstd", "-q", "-19", "-f", "-o", path], input=text.encode("utf-8"), check=True)
    size = os.path.getsize(path)
    assert size < 5_000_000, f"{path} is {size} bytes"
    print(f"wrote {os.path.relpath(path, ROOT)} ({size // 1024} KiB)", file=sys.stderr)


def ud_texts():
    return zstd_lines(os.path.join(SHARED, "data", "ud-norwegian-dev-sentences.txt.zst"))


def triplet_texts():
    """Unique texts of the triplet files, in order of first appearance (files, rows, columns)."""
    seen, out = set(), []
    for name in TRIPLET_FILES:
        for line in zstd_lines(os.path.join(SHARED, "data", name + ".jsonl.zst")):
            if not line.strip():
                continue
            row = json.loads(line)
            for col in TRIPLET_COLUMNS:
                t = row[col]
                if t not in seen:
                    seen.add(t)
                    out.append(t)
    return out


def hard_texts():
    """Hand-written hard cases."""
    return [
        "", " ", "   \t\n  ", "\u00a0\u2003\u3000", "\u200b", "\u200b\u200b hei \u200b", "\ufeffhei",
        "hei\u00a0på\u202fdeg", "a\tb\nc\rd\x0be\x0cf", "\x1c\x1d\x1e\x1fnei\x85ja\u2028\u2029",
        "kontroll\x00tegn\x01\x02\x7f\x80\x9f slutt", "NUL\x00midt", "\ufffd erstatning \ufffd",
        "Café café cafe\u0301 CAFE\u0301 e\u0301\u0301\u0301", "Ålesund Å A\u030a Ångström \u212b",
        "ǅemal ǈ İstanbul ıi ß ẞ Σίσυφος ΣΑΣ", "ﬁﬂ ﬃ Ⅻ ① ² ½ ⁴⁄₅", "Ｆｕｌｌｗｉｄｔｈ ＡＢＣ １２３ ｶﾞｷﾞ",
        "中文测试，你好！", "日本語のテキスト、カタカナ。", "한국어 텍스트 각 ᄀ ᅡ ᆨ", "𠀀𪜀 𫝀 CJK ext",
        "👍 👍🏽 👨‍👩‍👧‍👦 🇳🇴🇸🇪 1️⃣ ❤️ 🫨 🥲", "emoji👍i ordet", "☺︎ ☺️ ✌🏿",
        "العربية مَرْحَبًا", "עברית שָׁלוֹם", "हिन्दी क़ ड़", "ภาษาไทย ำ น้ำ", "Tiếng Việt: Cụ thể ậ…",
        "Zalgo: Z\u0351\u0308\u036b\u0303\u0352a\u0360\u0336l\u0334\u0358g\u0362o\u0337",
        "a\u0301\u0316\u0328 o\u0328\u0301 \u1e0b\u0323 q\u0307\u0323",
        "x" * 100, "y" * 101, "Donaudampfschifffahrtsgesellschaftskapitän" * 3,
        "ord" + "æøå" * 40, "1234567890 " * 5, "3,14 1.000.000 2024-05-17 12:30 ٣٤٥ ६७",
        "it's I've we'll they'd don't 'quoted' ''double''", "e-post: ola.nordmann@example.no https://ltg.no/a?b=c#d",
        "«sitat» „tysk“ “engelsk” ‘enkel’ – — … · •", "C++ & C# | a/b \\ [x] {y} <z> ~^`",
        "[CLS] [SEP] [MASK] [UNK] [PAD] <s> </s> <mask> <unk>", "[cls] [mask]ed x[MASK]y",
        "a  b   c    d", " leading", "trailing ", "\u2581 meta\u2581space", "tab\tseparated\tvalues",
        "Hangul 가각갂 ᄀ\u1161\u11a8", "Devanagari क्ष त्र ज्ञ", "U+0378 \u0378 U+FFFE \ufffe priv \ue000",
        "Noen ord på nynorsk: ikkje, eg, dei, kvifor, heilt, skule.",
        "Dommar Ola Nordmann (f. 1963) sa: «Dette er 100 % feil!»",
        ("Dette er en lang setning som gjentas mange ganger for å gå over maksimal lengde. " * 40).strip(),
        "<ent>Ola</ent> foo bar xx xxx Ågot",
    ]


FUZZ_GROUPS = {
    "ascii": "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ",
    "digits": "0123456789",
    "punct": "!\"#$%&'()*+,-./:;<=>?@[\\]^_`{|}~«»„“”‘’–—…·•¡¿§¶©®°±×÷",
    "space": " \t\n\r\x0b\x0c\x1c\x1d\x1e\x1f\x85\xa0\u1680\u2000\u2002\u2009\u200a\u2028\u2029\u202f\u205f\u3000"
             "\u200b\u200c\u200d\u2060\ufeff\u180e",
    "control": "\x00\x01\x07\x08\x0e\x1b\x7f\x80\x8f\x9f\xad\u200e\u200f\u202a\u2066\U000e0001\ufff9",
    "latin": "æøåÆØÅéèêëÉüÜöÖäÄßẞçÇñÑłŁđĐœŒþÞðÐıİǅǆĳŉſ",
    "combining": "\u0300\u0301\u0302\u0303\u0308\u030a\u0327\u0328\u0316\u0334\u0345\u0483\u0591\u05b0\u064b"
                 "\u093c\u094d\u0e31\u0e49\u1ab0\u1dc0\u20d0\u20e3\ufe0f\ufe0e\ufe20\U0001d165\U0001d16d\u302a\u3099",
    "compat": "ﬁﬂﬃﬀ²³¹½¼⅓ⅧⅫ①⑳ＡＢＣａｂｃ０１２ｶﾞｷﾟ㍿㎏™℃№Ωℵ\u212b\u2126\u1e9b\u0958\u0f77\u0344\u0340",
    "greek": "ΑαΣσςΩωΐΰάέήίόύώ",
    "cjk": "中文测试你好日本語𠀀𪜀𫝀丽丽豈",
    "kana": "ひらがなカタカナヴ",
    "hangul": "가각갂한국어\u1100\u1161\u11a8\u3131\u314f",
    "rtl": "العربيةمَرْحَبًاעבריתשָׁלוֹם",
    "indic": "हिन्दीक़ड़ক্ষতামিழ்",
    "thai": "ภาษาไทยำน้ำ",
    "emoji": ["👍", "👍🏽", "👨‍👩‍👧", "🇳🇴", "1️⃣", "❤️", "🫨", "🥲", "✌🏿", "👩🏾‍💻", "🏳️‍🌈"],
    "special": "\u2581\ufffd\ufffe\U0010ffff\ue000\U000f0000\u0378\u0560\u08a0\u1faf\U0001faf9\U00016ff0\u07fd\u0898",
    "words": ["hei", "på", "deg", "Ålesund", "blåbærsyltetøy", "ikkje", "Oslo", "'s", "'ve", "'ll", "don't",
              "[CLS]", "[MASK]", "<s>", "</s>", "<unk>", "<mask>", "##", "▁", "Ġ", "2024", "3,14"],
}


def fuzz_texts(count=3000, seed=20240517):
    rng = random.Random(seed)
    groups = list(FUZZ_GROUPS.items())
    out = []
    for _ in range(count):
        pieces = []
        for _ in range(rng.randint(1, 12)):
            _, pool = rng.choice(groups)
            if isinstance(pool, str):
                piece = "".join(rng.choice(pool) for _ in range(rng.randint(1, 4)))
            else:
                piece = rng.choice(pool)
            pieces.append(piece)
            if rng.random() < 0.5:
                pieces.append(" ")
        out.append("".join(pieces))
    return out


def ids_hash(ids):
    """FNV-1a (64-bit) over the ids, folded to 32 bits: enough to tell any wrong id sequence
    from the right one among these texts, at half the fixture size of a 64-bit hash."""
    h = 0xCBF29CE484222325
    for i in ids:
        h ^= i & 0xFFFFFFFF
        h = (h * 0x100000001B3) & 0xFFFFFFFFFFFFFFFF
    return (h ^ (h >> 32)) & 0xFFFFFFFF


def reference_tokenizers():
    """name -> (encode(text) -> ids with special tokens, truncating encode(text, n), how it was built)."""
    from tokenizers import Tokenizer
    from transformers import BertTokenizerFast

    out = {}
    for name, folder in [("minilm", "all-MiniLM-L6-v2"), ("e5", "multilingual-e5-small"),
                         ("ltg", "ltg-style-norwegian")]:
        tok = Tokenizer.from_file(os.path.join(SHARED, "tokenizers", folder, "tokenizer.json"))
        tok.no_truncation()
        tok.no_padding()
        out[name] = tok
    # vocab.txt-only: transformers' BertTokenizer(Fast) from the folder (what AutoTokenizer builds
    # for a BERT checkpoint without tokenizer.json). No tokenizer_config.json: do_lower_case=True.
    norbert = os.path.join(SHARED, "tokenizers", "norbert1-cased")
    out["norbert1-default"] = BertTokenizerFast.from_pretrained(norbert).backend_tokenizer
    out["norbert1-cased"] = BertTokenizerFast.from_pretrained(norbert, do_lower_case=False).backend_tokenizer
    # MiniLM rebuilt from its vocab.txt + tokenizer_config.json alone (no tokenizer.json).
    import shutil
    import tempfile
    tmp = tempfile.mkdtemp()
    for f in ["vocab.txt", "tokenizer_config.json", "special_tokens_map.json"]:
        shutil.copy(os.path.join(SHARED, "tokenizers", "all-MiniLM-L6-v2", f), tmp)
    out["minilm-vocab"] = BertTokenizerFast.from_pretrained(tmp).backend_tokenizer
    for tok in out.values():
        tok.no_truncation()
        tok.no_padding()
    return out


def encode_all(tok, texts):
    # sentence-transformers strips each text (Python str.strip()) before tokenizing.
    return [e.ids for e in tok.encode_batch([t.strip() for t in texts], add_special_tokens=True)]


TRUNCATION_LENGTHS = [1, 2, 3, 5, 8, 16, 128]


def cmd_fixtures(args):
    os.makedirs(FIXTURES, exist_ok=True)
    hard = hard_texts()
    fuzz = fuzz_texts()
    ud = ud_texts()
    triplets = triplet_texts()
    print(f"texts: ud {len(ud)}, triplets {len(triplets)} unique, hard {len(hard)}, fuzz {len(fuzz)}", file=sys.stderr)
    with open(os.path.join(FIXTURES, "hard-cases.json"), "w", encoding="utf-8") as f:
        json.dump(hard, f, ensure_ascii=True, indent=1)
    write_zstd(os.path.join(FIXTURES, "fuzz-texts.jsonl.zst"),
               "".join(json.dumps(t, ensure_ascii=True) + "\n" for t in fuzz))
    os.makedirs(os.path.join(FIXTURES, "norbert1-cased-config"), exist_ok=True)
    with open(os.path.join(FIXTURES, "norbert1-cased-config", "tokenizer_config.json"), "w") as f:
        json.dump({"do_lower_case": False, "tokenizer_class": "BertTokenizer"}, f, indent=2)

    toks = reference_tokenizers()
    trunc_texts = hard + ud[:200]
    written = {}
    for name, tok in toks.items():
        t0 = time.time()
        lines = []
        for set_name, texts in [("ud", ud), ("hard", hard), ("fuzz", fuzz)]:
            for ids in encode_all(tok, texts):
                lines.append(json.dumps({"set": set_name, "ids": ids}))
        for ids in encode_all(tok, triplets):
            lines.append(json.dumps({"set": "triplets", "n": len(ids), "hash": ids_hash(ids)}))
        for n in TRUNCATION_LENGTHS:
            tok.enable_truncation(n)
            for ids in encode_all(tok, trunc_texts):
                lines.append(json.dumps({"set": f"trunc{n}", "ids": ids}))
            tok.no_truncation()
        if name == "minilm-vocab":
            # Built from vocab.txt + tokenizer_config.json, it must equal the tokenizer.json
            # route; the Swift test compares it with ids-minilm (one fixture less to store).
            assert lines == written["minilm"], "MiniLM from vocab.txt differs from its tokenizer.json"
            print("  minilm-vocab: identical to minilm", file=sys.stderr)
            continue
        written[name] = lines
        write_zstd(os.path.join(FIXTURES, f"ids-{name}.jsonl.zst"), "\n".join(lines) + "\n")
        print(f"  {name}: {time.time() - t0:.1f}s", file=sys.stderr)
    cross_check_transformers(toks, ud + hard)
    write_component_fixtures(fuzz + hard)
    write_small_model_fixtures(ud, fuzz + hard)


def cross_check_transformers(toks, texts):
    """transformers (what sentence-transformers calls) must agree with `tokenizers` on these."""
    from transformers import AutoTokenizer

    for name, folder in [("minilm", "all-MiniLM-L6-v2"), ("ltg", "ltg-style-norwegian")]:
        auto = AutoTokenizer.from_pretrained(os.path.join(SHARED, "tokenizers", folder))
        want = encode_all(toks[name], texts)
        got = auto([t.strip() for t in texts], add_special_tokens=True, truncation=False)["input_ids"]
        bad = sum(1 for a, b in zip(want, got) if a != b)
        print(f"  transformers AutoTokenizer vs tokenizers, {name}: {bad} of {len(texts)} differ", file=sys.stderr)
        assert bad == 0


def tokenizer_json(normalizer=None, pre_tokenizer=None, model=None, post_processor=None, added_tokens=()):
    return {
        "version": "1.0", "truncation": None, "padding": None, "added_tokens": list(added_tokens),
        "normalizer": normalizer, "pre_tokenizer": pre_tokenizer,
        "model": model or {"type": "WordLevel", "vocab": {"<unk>": 0}, "unk_token": "<unk>"},
        "post_processor": post_processor, "decoder": None,
    }


def component_configs():
    e5 = json.load(open(os.path.join(SHARED, "tokenizers", "multilingual-e5-small", "tokenizer.json"), encoding="utf-8"))
    precompiled = [n for n in e5["normalizer"]["normalizers"] if n["type"] == "Precompiled"][0]
    normalizers = [
        {"type": "BertNormalizer", "clean_text": True, "handle_chinese_chars": True, "strip_accents": None, "lowercase": True},
        {"type": "BertNormalizer", "clean_text": True, "handle_chinese_chars": True, "strip_accents": None, "lowercase": False},
        {"type": "BertNormalizer", "clean_text": False, "handle_chinese_chars": False, "strip_accents": True, "lowercase": False},
        {"type": "BertNormalizer", "clean_text": True, "handle_chinese_chars": False, "strip_accents": False, "lowercase": True},
        {"type": "NFC"}, {"type": "NFD"}, {"type": "NFKC"}, {"type": "NFKD"}, {"type": "Lowercase"},
        {"type": "Sequence", "normalizers": [{"type": "NFKD"}, {"type": "StripAccents"}]},
        {"type": "StripAccents"}, {"type": "Nmt"}, {"type": "ByteLevel"},
        {"type": "Strip", "strip_left": True, "strip_right": True},
        {"type": "Strip", "strip_left": False, "strip_right": True},
        {"type": "Prepend", "prepend": "\u2581"},
        {"type": "Replace", "pattern": {"String": "  "}, "content": "_"},
        {"type": "Replace", "pattern": {"Regex": " {2,}"}, "content": " "},
        {"type": "Replace", "pattern": {"Regex": "\\s+"}, "content": ""},
        {"type": "Replace", "pattern": {"Regex": "[\\p{P}\\p{S}]"}, "content": "<p>"},
        {"type": "Replace", "pattern": {"Regex": "(?i)a|\\d+"}, "content": "#"},
        precompiled,
        {"type": "Sequence", "normalizers": [precompiled, {"type": "Replace", "pattern": {"Regex": " {2,}"}, "content": " "}]},
    ]
    behaviors = ["Removed", "Isolated", "MergedWithPrevious", "MergedWithNext", "Contiguous"]
    pre = [
        {"type": "BertPreTokenizer"}, {"type": "Whitespace"}, {"type": "WhitespaceSplit"},
        {"type": "Digits", "individual_digits": True}, {"type": "Digits", "individual_digits": False},
        {"type": "CharDelimiterSplit", "delimiter": "a"},
        {"type": "ByteLevel", "add_prefix_space": True, "trim_offsets": True, "use_regex": True},
        {"type": "ByteLevel", "add_prefix_space": False, "trim_offsets": True, "use_regex": True},
        {"type": "ByteLevel", "add_prefix_space": True, "trim_offsets": True, "use_regex": False},
        {"type": "Metaspace", "replacement": "\u2581", "prepend_scheme": "always", "split": True},
        {"type": "Metaspace", "replacement": "\u2581", "prepend_scheme": "first", "split": True},
        {"type": "Metaspace", "replacement": "\u2581", "prepend_scheme": "never", "split": False},
        {"type": "Metaspace", "replacement": "\u2581", "add_prefix_space": True},
        {"type": "Sequence", "pretokenizers": [
            {"type": "ByteLevel", "add_prefix_space": True, "trim_offsets": True, "use_regex": True},
            {"type": "Digits", "individual_digits": True}]},
        {"type": "Split", "pattern": {"Regex": "'s|'t|'re|'ve|'m|'ll|'d| ?\\p{L}+| ?\\p{N}+| ?[^\\s\\p{L}\\p{N}]+|\\s+(?!\\S)|\\s+"},
         "behavior": "Isolated", "invert": False},
        {"type": "Split", "pattern": {"Regex": "(?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\\r\\n\\p{L}\\p{N}]?\\p{L}+|\\p{N}{1,3}| ?[^\\s\\p{L}\\p{N}]+[\\r\\n]*|\\s*[\\r\\n]+|\\s+(?!\\S)|\\s+"},
         "behavior": "Isolated", "invert": False},
        {"type": "Split", "pattern": {"Regex": "\\w+"}, "behavior": "Removed", "invert": True},
        {"type": "Split", "pattern": {"Regex": "\\b"}, "behavior": "Isolated", "invert": False},
        {"type": "Split", "pattern": {"Regex": "(?<=a)b|x*"}, "behavior": "MergedWithNext", "invert": False},
        {"type": "Split", "pattern": {"String": " "}, "behavior": "MergedWithPrevious", "invert": False},
        {"type": "Split", "pattern": {"Regex": "(?i)[A-C]+|(?i:X)Y|(?i:'S)"}, "behavior": "Isolated", "invert": False},
        {"type": "Split", "pattern": {"Regex": "\\p{Lu}\\p{Ll}*?|\\p{Nd}+?\\s"}, "behavior": "Isolated", "invert": False},
        {"type": "Split", "pattern": {"Regex": "(?<![a-z])\\d+|(?>a+)b|x++|[^\\s\\p{L}]{2}"}, "behavior": "Removed", "invert": False},
        {"type": "Split", "pattern": {"Regex": "\\d{2,3}|[.,;-]|\\x{2581}|\\u00e5"}, "behavior": "MergedWithPrevious", "invert": False},
        {"type": "Split", "pattern": {"Regex": "^\\w|\\w$|\\W{2,}|\\S\\z"}, "behavior": "Isolated", "invert": False},
    ]
    pre += [{"type": "Punctuation", "behavior": b} for b in behaviors]
    pre += [{"type": "Split", "pattern": {"Regex": "\\s+|[\\p{P}]"}, "behavior": b, "invert": inv}
            for b in behaviors for inv in (False, True)]
    return normalizers, pre


def write_component_fixtures(texts):
    from tokenizers import Tokenizer

    normalizers, pre = component_configs()
    lines = []
    for cfg in normalizers:
        tok = Tokenizer.from_str(json.dumps(tokenizer_json(normalizer=cfg)))
        outs = [tok.normalizer.normalize_str(t) for t in texts]
        lines.append(json.dumps({"kind": "normalizer", "config": cfg, "outputs": outs}, ensure_ascii=True))
    for cfg in pre:
        tok = Tokenizer.from_str(json.dumps(tokenizer_json(pre_tokenizer=cfg)))
        outs = [[p for p, _ in tok.pre_tokenizer.pre_tokenize_str(t)] for t in texts]
        lines.append(json.dumps({"kind": "pre_tokenizer", "config": cfg, "outputs": outs}, ensure_ascii=True))
    write_zstd(os.path.join(FIXTURES, "components.jsonl.zst"), "\n".join(lines) + "\n")


def write_small_model_fixtures(train_texts, texts):
    """Small tokenizers trained here (BPE variants, WordLevel, Unigram with byte fallback, added
    tokens with every option), their tokenizer.json and ids for `texts`."""
    from tokenizers import Tokenizer, models, normalizers, pre_tokenizers, processors, trainers, AddedToken

    built = {}
    bpe = Tokenizer(models.BPE(unk_token=None))
    bpe.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=False)
    bpe.train_from_iterator(train_texts, trainers.BpeTrainer(
        vocab_size=1500, special_tokens=["<s>", "<pad>", "</s>", "<unk>", "<mask>"],
        initial_alphabet=pre_tokenizers.ByteLevel.alphabet()))
    bpe.post_processor = processors.RobertaProcessing(("</s>", 2), ("<s>", 0))
    built["bpe-bytelevel-roberta"] = bpe

    classic = Tokenizer(models.BPE(unk_token="[UNK]", continuing_subword_prefix="##", end_of_word_suffix="</w>",
                                   fuse_unk=True))
    classic.normalizer = normalizers.Sequence([normalizers.NFD(), normalizers.Lowercase(), normalizers.StripAccents()])
    classic.pre_tokenizer = pre_tokenizers.Whitespace()
    classic.train_from_iterator(train_texts, trainers.BpeTrainer(
        vocab_size=800, special_tokens=["[UNK]", "[CLS]", "[SEP]"], continuing_subword_prefix="##",
        end_of_word_suffix="</w>", limit_alphabet=60))
    classic.post_processor = processors.BertProcessing(("[SEP]", 2), ("[CLS]", 1))
    built["bpe-classic-bert"] = classic
    cfg = json.loads(classic.to_str())
    cfg["model"]["byte_fallback"] = True
    cfg["model"]["fuse_unk"] = False
    vocab = cfg["model"]["vocab"]
    for b in range(256):
        if b not in (0x41, 0xC3, 0xE2):
            vocab[f"<0x{b:02X}>"] = len(vocab)
    built["bpe-classic-bytefallback"] = Tokenizer.from_str(json.dumps(cfg))

    wl = Tokenizer(models.WordLevel(unk_token="[UNK]"))
    wl.pre_tokenizer = pre_tokenizers.WhitespaceSplit()
    wl.train_from_iterator(train_texts, trainers.WordLevelTrainer(vocab_size=2000, special_tokens=["[UNK]"]))
    built["wordlevel"] = wl

    uni = Tokenizer(models.Unigram())
    uni.normalizer = normalizers.NFKC()
    uni.pre_tokenizer = pre_tokenizers.Metaspace()
    uni.train_from_iterator(train_texts, trainers.UnigramTrainer(
        vocab_size=600, special_tokens=["<unk>"], unk_token="<unk>", max_piece_length=8))
    built["unigram"] = uni
    # The same with byte fallback: <0x00>...<0xFF> tokens appended (unknown scalars become bytes).
    cfg = json.loads(uni.to_str())
    cfg["model"]["byte_fallback"] = True
    low = min(score for _, score in cfg["model"]["vocab"])
    cfg["model"]["vocab"] += [[f"<0x{b:02X}>", low - 1] for b in range(256) if b not in (0x41, 0xC3)]
    built["unigram-bytefallback"] = Tokenizer.from_str(json.dumps(cfg))

    minilm = Tokenizer.from_file(os.path.join(SHARED, "tokenizers", "all-MiniLM-L6-v2", "tokenizer.json"))
    minilm.no_truncation()
    minilm.no_padding()
    minilm.add_tokens([AddedToken("<ent>", lstrip=True, rstrip=True), AddedToken("</ent>", single_word=False),
                       AddedToken("foo bar", normalized=True), AddedToken("xx", single_word=True),
                       AddedToken("Ågot", normalized=True), AddedToken("[MASK]ed", special=True)])
    built["minilm-added"] = minilm

    lines = []
    for name, tok in built.items():
        tok.no_truncation()
        tok.no_padding()
        cfg = json.loads(tok.to_str())
        ids = encode_all(tok, texts)
        lines.append(json.dumps({"name": name, "tokenizer": cfg, "ids": ids}, ensure_ascii=True))
    write_zstd(os.path.join(FIXTURES, "small-models.jsonl.zst"), "\n".join(lines) + "\n")


# ----------------------------------------------------------------------------------------------
# Benchmark
# ----------------------------------------------------------------------------------------------

def cmd_bench(args):
    """`tokenize` (release build, 1 and --threads threads) against `tokenizers` in one thread, on the
    same 100K sentences; the ids must be identical. `tokenizers` is timed both ways a Python user
    calls it, `encode` per sentence and `encode_batch` (Rayon held to one thread), and the ratio is
    against the faster."""
    os.environ["RAYON_NUM_THREADS"] = "1"  # before tokenizers starts its thread pool
    import tempfile
    from safetensors.numpy import load_file

    texts = []
    for name in TRIPLET_FILES:
        for line in zstd_lines(os.path.join(SHARED, "data", name + ".jsonl.zst")):
            if line.strip():
                row = json.loads(line)
                texts += [row[c] for c in TRIPLET_COLUMNS]
    texts = texts[:args.sentences]
    tmp = tempfile.mkdtemp()
    inp = os.path.join(tmp, "sentences.jsonl")
    with open(inp, "w", encoding="utf-8") as f:
        for t in texts:
            f.write(json.dumps({"text": t}, ensure_ascii=False) + "\n")
    toks = reference_tokenizers()
    folders = {"minilm": "all-MiniLM-L6-v2", "e5": "multilingual-e5-small", "ltg": "ltg-style-norwegian",
               "norbert1-default": "norbert1-cased"}
    threads = sorted({1, args.threads})
    print(f"{len(texts)} sentences, max length {args.max_seq_length}; sentences per second (wall)\n")
    print("| tokenizer | tokenizers `encode` | tokenizers `encode_batch` | "
          + " | ".join(f"tokenize, {t} thread{'s' if t > 1 else ''}" for t in threads) + " | ids |")
    print("|---|---:|---:|" + "---:|" * len(threads) + "---|")
    for name, folder in folders.items():
        tok = toks[name]
        tok.enable_truncation(args.max_seq_length)
        stripped = [t.strip() for t in texts]
        t0 = time.perf_counter()
        want = [tok.encode(t).ids for t in stripped]
        single_rate = len(texts) / (time.perf_counter() - t0)
        t0 = time.perf_counter()
        batch = [e.ids for e in tok.encode_batch(stripped)]
        batch_rate = len(texts) / (time.perf_counter() - t0)
        tok.no_truncation()
        assert batch == want, name
        py_rate = max(single_rate, batch_rate)
        cells, same = [], True
        for t in threads:
            out = os.path.join(tmp, f"{name}-{t}.safetensors")
            cmd = [args.binary, "--model", os.path.join(SHARED, "tokenizers", folder), "--columns", "text",
                   "--max-seq-length", str(args.max_seq_length), "--threads", str(t), "--quiet", "-o", out, inp]
            t0 = time.perf_counter()
            subprocess.run(cmd, check=True)
            rate = len(texts) / (time.perf_counter() - t0)
            tensors = load_file(out)
            ids, offsets = tensors["text.input_ids"], tensors["text.offsets"]
            same = same and len(offsets) == len(want) + 1 and all(
                ids[offsets[k]:offsets[k + 1]].tolist() == w for k, w in enumerate(want))
            cells.append(f"{rate:.0f} ({rate / py_rate:.1f}×)")
        print(f"| {name} | {single_rate:.0f} | {batch_rate:.0f} | " + " | ".join(cells)
              + f" | {'identical' if same else 'DIFFERENT'} |", flush=True)
        if not same:
            sys.exit(1)


# ----------------------------------------------------------------------------------------------

def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    sub = parser.add_subparsers(dest="command", required=True)
    sub.add_parser("tables", help="write Sources/Tokenizers/UnicodeTables.swift")
    sub.add_parser("fixtures", help="write Tests/Fixtures/tokenizer/")
    bench = sub.add_parser("bench", help="compare the tokenize tool with tokenizers (one thread)")
    bench.add_argument("--binary", default=os.path.join(ROOT, ".build", "release", "tokenize"),
                       help="the tokenize executable (build it with: swift build -c release)")
    bench.add_argument("--sentences", type=int, default=100_000)
    bench.add_argument("--threads", type=int, default=2)
    bench.add_argument("--max-seq-length", type=int, default=512)
    args = parser.parse_args()
    {"tables": cmd_tables, "fixtures": cmd_fixtures, "bench": cmd_bench}[args.command](args)


if __name__ == "__main__":
    main()
