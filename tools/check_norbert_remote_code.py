#!/usr/bin/env python3
"""What a NorBERT3 (LTG-BERT) folder needs to load in sentence-transformers with
trust_remote_code=True and no warning (issue 6's "Saving"), and a check of folders our Swift tools save.

Default mode (the study behind docs/norbert3-remote-code.md):
  Builds, in a temporary directory, a base folder = ../shared/reference/norbert3-tiny/model + ltgoslo's
  modeling_norbert.py and configuration_norbert.py (from --modeling; they are never copied into this
  repository), then loads variants of it with SentenceTransformer(dir, trust_remote_code=True), each in a
  fresh interpreter with its own transformers module cache, and prints a table: did it load, what
  warned, and do its embeddings equal mean-pooled outputs of ltgoslo's NorbertModel built directly
  (load_state_dict of the shared pytorch_model.bin), the way tools/make_norbert_reference.py does.
  Variants: the modeling code as given and with the minimal patches transformers 5 needs; config.json
  with/without model_type and auto_map entries; weights as pytorch_model.bin, as model.safetensors with and
  without the position_indices buffers; and the sentence-transformers files our `train` writes.

--compare DIR --embed PATH (or --reference-only):
  Runs tools/check_st_compat.py's checks on a NorBERT3 folder saved by our Swift tools (files, a
  warning-free trust_remote_code load, embeddings equal to `embed`'s), plus NorBERT3-specific ones: the
  auto_map's .py files, every layer's position_indices buffer in model.safetensors (int64, original names).

Usage:
  python3 tools/check_norbert_remote_code.py [--modeling /tmp/ltg-norbert]
  python3 tools/check_norbert_remote_code.py --compare models/norbert3-tiny-trained --embed .build/release/embed
"""
import argparse
import json
import os
import re
import shutil
import subprocess
import sys
import tempfile

TOOLS = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.normpath(os.path.join(TOOLS, ".."))
SHARED = os.path.normpath(os.path.join(ROOT, "..", "shared"))
sys.path.insert(0, TOOLS)
import check_st_compat as stc  # noqa: E402

MODELING_FILES = ("modeling_norbert.py", "configuration_norbert.py")
POSITION_RE = re.compile(r"^transformer\.layers\.(\d+)\.attention\.position_indices$")


# ---------------------------------------------------------------------------------------------
# Patches: the smallest source changes that transformers 5 needs, applied to temporary copies only.


def patch_relative_import(src):
    """norbench's copy imports `from configuration_norbert import ...`; transformers copies remote code
    into a package (transformers_modules.<folder>) and only follows relative imports."""
    return re.sub(r"^from configuration_norbert import", "from .configuration_norbert import", src, flags=re.M)


def patch_post_init(src):
    """transformers 5's from_pretrained needs attributes that PreTrainedModel.post_init() sets
    (all_tied_weights_keys); NorbertModel.__init__ never calls it."""
    anchor = "        self.classifier = MaskClassifier(config, self.embedding.word_embedding.weight) if add_mlm_layer else None\n"
    if anchor not in src:
        raise SystemExit("modeling_norbert.py: NorbertModel.__init__ is not as expected; cannot add post_init()")
    return src.replace(anchor, anchor + "        self.post_init()\n", 1)


def patch_model_type(src):
    """config.json says model_type "norbert"; a config class without that class attribute makes
    transformers warn "You are using a model of type `norbert` to instantiate a model of type ``"."""
    anchor = "class NorbertConfig(PretrainedConfig):\n"
    if anchor not in src:
        raise SystemExit("configuration_norbert.py: class NorbertConfig not found")
    return re.sub(r'(class NorbertConfig\(PretrainedConfig\):\n(?:    """[\s\S]*?"""\n)?)',
                  r'\1    model_type = "norbert"\n', src, count=1)


# ---------------------------------------------------------------------------------------------
# Folder variants


def base_folder(dst, shared, modeling, code):
    """shared tiny NorBERT3 + the modeling files; `code` is a set of patch names to apply."""
    os.makedirs(dst)
    model = os.path.join(shared, "reference", "norbert3-tiny", "model")
    for name in os.listdir(model):
        shutil.copy(os.path.join(model, name), os.path.join(dst, name))
    for name in MODELING_FILES:
        src = open(os.path.join(modeling, name), encoding="utf-8").read()
        if name == "modeling_norbert.py":
            if "import" in code:
                src = patch_relative_import(src)
            if "post_init" in code:
                src = patch_post_init(src)
        elif "model_type" in code:
            src = patch_model_type(src)
        with open(os.path.join(dst, name), "w", encoding="utf-8") as f:
            f.write(src)
    for name in os.listdir(dst):
        os.chmod(os.path.join(dst, name), 0o644)
    return dst


def edit_config(d, fn):
    p = os.path.join(d, "config.json")
    cfg = json.load(open(p, encoding="utf-8"))
    fn(cfg)
    with open(p, "w", encoding="utf-8") as f:
        json.dump(cfg, f, indent=2)


def to_safetensors(d, keep_positions=True, int32_positions=False, extra=None, drop=None, metadata=True):
    """Replace pytorch_model.bin by model.safetensors with the same (original) names."""
    import torch
    from safetensors.torch import save_file

    sd = torch.load(os.path.join(d, "pytorch_model.bin"), map_location="cpu", weights_only=True)
    out = {}
    for k, v in sd.items():
        if POSITION_RE.match(k):
            if not keep_positions:
                continue
            if int32_positions:
                v = v.to(torch.int32)
        if drop and k == drop:
            continue
        out[k] = v.contiguous()
    if extra:
        out[extra] = torch.zeros(3)
    os.remove(os.path.join(d, "pytorch_model.bin"))
    save_file(out, os.path.join(d, "model.safetensors"), metadata={"format": "pt"} if metadata else None)


def add_st_files(d, max_seq_length=128):
    """The sentence-transformers files exactly as our Swift ModelSaving writes them (classic layout)."""
    def w(name, obj):
        os.makedirs(os.path.dirname(os.path.join(d, name)), exist_ok=True)
        with open(os.path.join(d, name), "w", encoding="utf-8") as f:
            json.dump(obj, f, indent=2)

    w("modules.json", [{"idx": 0, "name": "0", "path": "", "type": "sentence_transformers.models.Transformer"},
                       {"idx": 1, "name": "1", "path": "1_Pooling", "type": "sentence_transformers.models.Pooling"}])
    w("sentence_bert_config.json", {"max_seq_length": max_seq_length, "do_lower_case": False})
    w("config_sentence_transformers.json", {
        "__version__": {"sentence_transformers": "3.0.0", "transformers": "4.41.0", "pytorch": "2.3.0"},
        "prompts": {}, "default_prompt_name": None, "similarity_fn_name": "cosine"})
    hidden = json.load(open(os.path.join(d, "config.json")))["hidden_size"]
    w("1_Pooling/config.json", {
        "word_embedding_dimension": hidden, "pooling_mode_cls_token": False, "pooling_mode_mean_tokens": True,
        "pooling_mode_max_tokens": False, "pooling_mode_mean_sqrt_len_tokens": False,
        "pooling_mode_weightedmean_tokens": False, "pooling_mode_lasttoken": False, "include_prompt": True})
    with open(os.path.join(d, "README.md"), "w", encoding="utf-8") as f:
        f.write("---\nlibrary_name: sentence-transformers\n---\n# test\n")


FULL = {"import", "post_init", "model_type"}


def variants():
    """(name, what it shows, builder(dir, shared, modeling)). The builders make each folder from scratch."""
    V = []

    def v(name, what, code, *steps):
        def build(dst, shared, modeling):
            base_folder(dst, shared, modeling, code)
            for s in steps:
                s(dst)
        V.append((name, what, build))

    v("code-as-given", "ltgoslo/norbench files unchanged", set())
    v("code+relative-import", "only the import fixed", {"import"})
    v("code+import+post_init", "import fixed, post_init() added; config class still lacks model_type", {"import", "post_init"})
    v("code+import+post_init, config.json without model_type", "the model_type warning avoided from the config.json side",
      {"import", "post_init"}, lambda d: edit_config(d, lambda c: c.pop("model_type")))
    v("patched code (import, post_init, model_type)", "bin weights as the shared checkpoint ships them", FULL)
    v("patched, auto_map without AutoConfig", "only AutoModel in auto_map", FULL,
      lambda d: edit_config(d, lambda c: c["auto_map"].pop("AutoConfig")))
    v("patched, no auto_map", "auto_map removed", FULL, lambda d: edit_config(d, lambda c: c.pop("auto_map")))
    v("patched, architectures NorbertForMaskedLM", "as the hub's config.json names it", FULL,
      lambda d: edit_config(d, lambda c: c.update(architectures=["NorbertForMaskedLM"])))
    v("patched, safetensors with position_indices", "what our Swift saving writes (int64 buffers, original names)",
      FULL, lambda d: to_safetensors(d))
    v("patched, safetensors without position_indices", "buffers left out", FULL,
      lambda d: to_safetensors(d, keep_positions=False))
    v("patched, safetensors, position_indices int32", "buffers with the wrong dtype", FULL,
      lambda d: to_safetensors(d, int32_positions=True))
    v("patched, safetensors without format metadata", "no {\"format\":\"pt\"}", FULL,
      lambda d: to_safetensors(d, metadata=False))
    v("patched, safetensors + an unexpected tensor", "the check sees load reports", FULL,
      lambda d: to_safetensors(d, extra="head.extra"))
    v("patched, safetensors missing a weight", "the check sees load reports", FULL,
      lambda d: to_safetensors(d, drop="transformer.layers.0.attention.out_proj.bias"))
    v("patched, safetensors + ST files (our train's layout)", "the full saved folder", FULL,
      lambda d: to_safetensors(d), add_st_files)
    v("code as given, safetensors + ST files", "the full saved folder, unpatched modeling code", set(),
      lambda d: to_safetensors(d), add_st_files)
    return V


# ---------------------------------------------------------------------------------------------
# Probing one folder in a fresh interpreter


def probe(model_dir, sentences_file, out_npy):
    """Runs inside the child: load with warnings captured, encode, save embeddings, print JSON."""
    import numpy as np
    import torch

    torch.set_num_threads(1)
    rep = stc.Report()
    import contextlib
    import io

    buf = io.StringIO()
    with contextlib.redirect_stdout(buf):
        model = stc.load_model(model_dir, rep, trust_remote_code=True)
    res = {"loaded": model is not None, "problems": rep.failures}
    if model is not None:
        res["modules"] = stc.describe(model)
        pi = [b for n, b in model[0].auto_model.named_buffers() if n.endswith("position_indices")]
        res["position_indices"] = sorted({str(b.dtype) for b in pi})
        # The buffer's values: bucket indices into the 2*bucket-1 rows of the relative table.
        res["position_indices_range"] = [int(min(b.min() for b in pi)), int(max(b.max() for b in pi))] if pi else None
        sentences = json.load(open(sentences_file, encoding="utf-8"))
        try:
            with stc.capture_warnings() as got:
                emb = model.encode(sentences, batch_size=8, convert_to_numpy=True, show_progress_bar=False)
            np.save(out_npy, emb.astype(np.float64))
            res["encode_warnings"] = got["warnings"] + got["logs"] + ([got["stderr"]] if got["stderr"] else [])
        except Exception as e:  # noqa: BLE001 - the failure is the finding
            res["encode_error"] = f"{type(e).__name__}: {e}"
    print("PROBE-RESULT " + json.dumps(res))


def run_probe(model_dir, sentences_file, work):
    out = os.path.join(work, "emb.npy")
    if os.path.exists(out):
        os.remove(out)
    env = dict(os.environ, HF_MODULES_CACHE=os.path.join(work, "modules"), HF_HUB_OFFLINE="1",
               TRANSFORMERS_OFFLINE="1")
    p = subprocess.run([sys.executable, os.path.abspath(__file__), "--_probe", model_dir, sentences_file, out],
                       capture_output=True, text=True, env=env)
    line = next((l for l in p.stdout.splitlines() if l.startswith("PROBE-RESULT ")), None)
    if line is None:
        return {"loaded": False, "problems": [f"probe crashed (exit {p.returncode}): {p.stderr.strip()[-800:]}"]}, None
    import numpy as np

    res = json.loads(line[len("PROBE-RESULT "):])
    return res, (np.load(out) if os.path.exists(out) else None)


def reference_embeddings(shared, modeling, sentences, max_len):
    """Mean-pooled last hidden states of ltgoslo's NorbertModel, built directly (no from_pretrained)."""
    import numpy as np
    import torch
    from tokenizers import Tokenizer

    sys.path.insert(0, modeling)
    from configuration_norbert import NorbertConfig
    from modeling_norbert import NorbertModel

    d = os.path.join(shared, "reference", "norbert3-tiny", "model")
    cfg = NorbertConfig(**json.load(open(os.path.join(d, "config.json"))))
    model = NorbertModel(cfg)
    model.load_state_dict(torch.load(os.path.join(d, "pytorch_model.bin"), map_location="cpu", weights_only=True))
    model.eval()
    tok = Tokenizer.from_file(os.path.join(d, "tokenizer.json"))
    tok.no_padding()
    tok.enable_truncation(max_len)
    out = []
    with torch.no_grad():
        for s in sentences:
            ids = torch.tensor([tok.encode(s).ids])
            h = model(input_ids=ids, attention_mask=torch.ones_like(ids)).last_hidden_state[0]
            out.append(h.mean(0).double().numpy())
    return np.stack(out)


def short(problem):
    """One line for the table: load reports become their KEY STATUS rows."""
    rows = re.findall(r"^(\S.*?)\s*\|\s*(MISSING|UNEXPECTED|MISMATCH)\b", problem, re.M)
    if rows:
        return "load report: " + ", ".join(f"{k} {st}" for k, st in rows)
    p = re.sub(r"\s+", " ", problem)
    return p[:120] + ("…" if len(p) > 120 else "")


def study(a):
    import numpy as np

    sentences = stc.read_sentences(stc.DEFAULT_SENTENCES, 20, 20)
    rows = []
    with tempfile.TemporaryDirectory(prefix="norbert-rc-") as tmp:
        sf = os.path.join(tmp, "sentences.json")
        json.dump(sentences, open(sf, "w", encoding="utf-8"), ensure_ascii=False)
        ref = {n: reference_embeddings(a.shared, a.modeling, sentences, n) for n in (128, 512)}
        for i, (name, what, build) in enumerate(variants()):
            d = os.path.join(tmp, f"v{i:02d}")
            build(d, a.shared, a.modeling)
            res, emb = run_probe(d, sf, tmp)
            max_len = 128 if os.path.exists(os.path.join(d, "sentence_bert_config.json")) else 512
            agree = None
            if emb is not None:
                r = ref[max_len]
                cos = (r * emb).sum(1) / (np.linalg.norm(r, axis=1) * np.linalg.norm(emb, axis=1))
                agree = {"min_cosine": float(cos.min()), "max_abs_diff": float(np.abs(r - emb).max())}
            rows.append({"variant": name, "what": what, **res, "vs_direct": agree})
            status = ("loads, no warning" if res["loaded"] and not res["problems"] else
                      "loads, WARNS" if res["loaded"] else "FAILS") + (", encode fails" if "encode_error" in res else "")
            print(f"[{i + 1:2d}] {name}: {status}", file=sys.stderr)
    if a.json:
        with open(a.json, "w", encoding="utf-8") as f:
            json.dump(rows, f, indent=1, ensure_ascii=False)
    print_table(rows)


def print_table(rows):
    """The study's rows as the markdown table of docs/norbert3-remote-code.md."""
    print("| # | folder variant | load | warnings / errors while loading | encode (40 sentences) "
          "| embeddings vs ltgoslo's model built directly |")
    print("|---|---|---|---|---|---|")
    for i, r in enumerate(rows, 1):
        status = "ok, no warning" if r["loaded"] and not r["problems"] else (
            "ok, **warns**" if r["loaded"] else "**fails**")
        probs = "; ".join(dict.fromkeys(short(p) for p in r["problems"])) or "–"
        if "encode_error" in r:
            enc = "**fails**: " + short(r["encode_error"])
        elif r["loaded"]:
            enc = "ok" + ("; warns: " + "; ".join(dict.fromkeys(short(w) for w in r["encode_warnings"]))
                          if r.get("encode_warnings") else "")
        else:
            enc = "–"
        agree = (f"max abs diff {r['vs_direct']['max_abs_diff']:.2g}" if r["vs_direct"] else "–")
        print(f"| {i} | {r['variant']} ({r['what']}) | {status} | {probs.replace('|', '/')} | {enc.replace('|', '/')} "
              f"| {agree} |")


# ---------------------------------------------------------------------------------------------
# --compare: a folder our Swift tools saved


def norbert_checks(d, rep):
    print(f"NorBERT3 specifics in {d}:")
    cfg = json.load(open(os.path.join(d, "config.json"), encoding="utf-8"))
    am = cfg.get("auto_map") or {}
    for key in ("AutoConfig", "AutoModel"):
        if key in am:
            rep.ok(f"auto_map {key} = {am[key]}")
        else:
            rep.fail(f"config.json: auto_map lacks {key}")
    for name in MODELING_FILES:
        p = os.path.join(d, name)
        if not os.path.isfile(p):
            rep.fail(f"{name}: missing")
            continue
        src = open(p, encoding="utf-8").read()
        if name == "modeling_norbert.py":
            if re.search(r"^from configuration_norbert import", src, re.M):
                rep.fail(f"{name}: absolute `from configuration_norbert import` (transformers needs a relative import)")
            if "post_init()" not in src:
                rep.fail(f"{name}: NorbertModel never calls self.post_init() (transformers 5 cannot load it)")
        elif cfg.get("model_type") and not re.search(r"^\s+model_type\s*=", src, re.M):
            rep.fail(f"{name}: NorbertConfig has no model_type while config.json says {cfg['model_type']!r} (warns)")
    st = os.path.join(d, "model.safetensors")
    if os.path.isfile(st):
        h = stc.safetensors_header(st)
        layers = cfg.get("num_hidden_layers")
        pos = {int(POSITION_RE.match(k).group(1)): v for k, v in h.items() if POSITION_RE.match(k)}
        want = set(range(layers)) if isinstance(layers, int) else set(pos)
        if set(pos) != want:
            rep.fail(f"model.safetensors: position_indices for layers {sorted(pos)}, expected {sorted(want)}")
        bad = {k: (v["dtype"], v["shape"]) for k, v in pos.items() if v["dtype"] != "I64"}
        if bad:
            rep.fail(f"model.safetensors: position_indices not int64: {bad}")
        elif pos:
            shape = next(iter(pos.values()))["shape"]
            rep.ok(f"position_indices: {len(pos)} layers, int64, shape {shape}")
        if any(k.startswith(("norbert3.", "0.auto_model.")) for k in h):
            rep.fail("model.safetensors: parameter names carry a prefix; NorbertModel expects embedding.*, transformer.*")


def compare(a):
    import torch

    torch.set_num_threads(a.threads)
    rep = stc.Report()
    norbert_checks(a.compare, rep)
    failures, _ = stc.run_check(a.compare, a.embed, a.sentences, a.head, a.tail, a.reference_only,
                                a.min_cosine, 32, trust_remote_code=True)
    failures = rep.failures + failures
    print()
    if failures:
        print(f"FAILED: {len(failures)} problem(s)")
        sys.exit(1)
    print("PASSED" + (" (reference only)" if a.reference_only else ""))


def main():
    if len(sys.argv) == 5 and sys.argv[1] == "--_probe":
        probe(*sys.argv[2:])
        return
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--modeling", default="/tmp/ltg-norbert",
                    help="folder with ltgoslo's modeling_norbert.py and configuration_norbert.py (study mode)")
    ap.add_argument("--shared", default=SHARED)
    ap.add_argument("--json", help="study mode: also write the rows as JSON")
    ap.add_argument("--table-from", metavar="JSON", help="only print the table of an earlier --json")
    ap.add_argument("--compare", metavar="DIR", help="check a NorBERT3 folder saved by our train")
    ap.add_argument("--embed", help="with --compare: our embed binary")
    ap.add_argument("--reference-only", action="store_true", help="with --compare: skip embed")
    ap.add_argument("--sentences", default=stc.DEFAULT_SENTENCES)
    ap.add_argument("--head", type=int, default=150)
    ap.add_argument("--tail", type=int, default=150)
    ap.add_argument("--min-cosine", type=float, default=0.99999)
    ap.add_argument("--threads", type=int, default=2)
    a = ap.parse_args()
    if a.table_from:
        print_table(json.load(open(a.table_from, encoding="utf-8")))
    elif a.compare:
        if not a.embed and not a.reference_only:
            ap.error("--compare needs --embed PATH or --reference-only")
        compare(a)
    else:
        for name in MODELING_FILES:
            if not os.path.isfile(os.path.join(a.modeling, name)):
                ap.error(f"{a.modeling}/{name}: missing (ltgoslo's NorBERT3 code; see --help)")
        study(a)


if __name__ == "__main__":
    main()
