#!/usr/bin/env bash
# Runs the same small pipelines with two builds of the tools and says whether every output is
# byte-identical: for refactors that must not change results (e.g. a module split).
#   tools/compare_outputs.sh OLD_BIN_DIR NEW_BIN_DIR
# Cases: MiniLM (models/pypi/all-MiniLM-L6-v2, `make minilm`) on demo/norwegian-triplets:
# tokenize → train 12 steps with dropout → evaluate → embed; NorBERT3-tiny (../shared) on 160
# nb-nn triplets: tokenize → train 8 steps → embed. Tokens files are compared without their
# metadata's `source` path.
set -eu
old=$1; new=$2
root=$(cd "$(dirname "$0")/.." && pwd)
shared=${EMBEDKIT_SHARED:-$root/../shared}
work=$(mktemp -d "${TMPDIR:-/tmp}/compare.XXXXXX")
trap 'rm -rf "$work"' EXIT

run() {  # bin outdir
  local bin=$1 w=$2
  mkdir -p "$w"
  local m=$root/models/pypi/all-MiniLM-L6-v2
  if [ -f "$m/model.safetensors" ]; then
    for s in train dev test; do
      "$bin/tokenize" --model "$m" --max-seq-length 128 --quiet -o "$w/minilm-$s.tokens.safetensors" "$root/demo/norwegian-triplets/$s.jsonl"
    done
    "$bin/train" --config "$root/configs/demo.yaml" --set training.max_steps=12 --set training.eval_steps=6 \
      --set training.save_steps=6 --set training.output_dir="$w/minilm-out" --set model.name="$m" --model-dir "$m" \
      --train-tokens "$w/minilm-train.tokens.safetensors" --eval-tokens "$w/minilm-dev.tokens.safetensors" 2>/dev/null
    "$bin/evaluate" --model "$w/minilm-out" --data "$w/minilm-test.tokens.safetensors" > "$w/minilm-eval.json" 2>/dev/null
    head -50 "$root/demo/norwegian-triplets/test.jsonl" | "$bin/embed" --model "$w/minilm-out" --field anchor 2>/dev/null > "$w/minilm-embed.jsonl"
  fi
  local n=$shared/reference/norbert3-tiny/model
  if [ -d "$n" ]; then
    (zstd -dc "$shared/data/nb-nn-train.jsonl.zst" || true) | head -160 > "$w/nb-train.jsonl"
    (zstd -dc "$shared/data/nb-nn-dev.jsonl.zst" || true) | head -40 > "$w/nb-dev.jsonl"
    for s in train dev; do
      "$bin/tokenize" --model "$n" --max-seq-length 64 --quiet -o "$w/nb-$s.tokens.safetensors" "$w/nb-$s.jsonl"
    done
    "$bin/train" --config "$root/configs/demo.yaml" --set training.max_steps=8 --set training.eval_steps=4 \
      --set training.save_steps=4 --set training.output_dir="$w/nb-out" --set model.name="$n" \
      --set model.max_seq_length=64 --model-dir "$n" --train-tokens "$w/nb-train.tokens.safetensors" --eval-tokens "$w/nb-dev.tokens.safetensors" 2>/dev/null
    head -30 "$w/nb-dev.jsonl" | "$bin/embed" --model "$w/nb-out" --field anchor 2>/dev/null > "$w/nb-embed.jsonl"
  fi
}

hashes() {  # dir: one line per output, tokens files without their source path
  (cd "$1" && for f in *.tokens.safetensors; do [ -e "$f" ] && printf '%s  %s\n' "$(sed 's/"source":"[^"]*"//' "$f" | sha256sum | cut -c1-64)" "$f"; done
   sha256sum ./*-out/model.safetensors ./*-embed.jsonl 2>/dev/null
   grep -ho '"cosine_accuracy" *: *[0-9.]*' ./*-eval.json 2>/dev/null || true)
}

run "$old" "$work/old"
run "$new" "$work/new"
hashes "$work/old" > "$work/old.txt"
hashes "$work/new" > "$work/new.txt"
cat "$work/new.txt"
if diff "$work/old.txt" "$work/new.txt" > /dev/null; then
  echo "IDENTICAL: every output of the two builds is the same"
else
  echo "DIFFERENT:"; diff "$work/old.txt" "$work/new.txt"; exit 1
fi
