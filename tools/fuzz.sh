#!/usr/bin/env bash
# Fuzzes every reader of untrusted bytes with libFuzzer (`make fuzz`): builds the norembed-fuzz
# target with -sanitize=fuzzer (its own build folder, .build/fuzz), seeds each target's corpus
# from the repository's real files, and runs each target for SECONDS (default 600).
#
#   tools/fuzz.sh [SECONDS] [TARGET...]      targets: safetensors torch parquet json jsonl csv
#                                            yaml tokenizer regex streams (default: all)
#
# A crash, hang (over 10 s on one input) or allocation over 2 GiB stops the target and leaves the
# input in .build/fuzz/crashes/TARGET/; the script then exits 1. Replay an input with
#   swift build -c release --product norembed-fuzz && .build/release/norembed-fuzz TARGET FILE
# Corpora grow in .build/fuzz/corpus/TARGET (kept between runs).
set -euo pipefail
cd "$(dirname "$0")/.."
seconds=${1:-600}
shift || true
targets=("$@")
[ ${#targets[@]} -gt 0 ] || targets=(safetensors torch parquet json jsonl csv yaml tokenizer regex streams)
out=.build/fuzz
shared=${NOREMBED_SHARED:-../shared}

# FUZZ_SKIP_BUILD=1: use the binary already built (to run several targets side by side).
[ "${FUZZ_SKIP_BUILD:-0}" = 1 ] ||
  swift build -c release --product norembed-fuzz --scratch-path "$out" -Xswiftc -sanitize=fuzzer -Xswiftc -DFUZZING
binary=${FUZZ_BINARY:-$out/release/norembed-fuzz}

# Seeds: files of the repository (and of ../shared when present) that each reader meets in use.
seeds() {
  local F=Tests/Fixtures
  case $1 in
    safetensors) ls $F/formats/*.safetensors $F/torch/*.expected.safetensors $F/model/train10-*.safetensors ;;
    torch) ls $F/torch/*.pt $F/torch/hostile/*.pt ;;
    parquet) ls $F/parquet/*.parquet ;;
    json) ls $F/formats/reference.json $F/tokenizer/hard-cases.json $F/parquet/manifest.json $F/yaml/scalars.json \
            $F/torch/hostile/hostile.json $F/fuzz-seeds/tokenizer/*.json ;;
    jsonl) ls $F/formats/rows.jsonl demo/*/*.jsonl 2>/dev/null | head -20 ;;
    csv) ls $F/fuzz-seeds/csv/* ;;
    yaml) ls configs/*.yaml configs/*/*.yaml ;;
    tokenizer) ls $F/fuzz-seeds/tokenizer/*.json; ls "$shared"/tokenizers/*/tokenizer.json 2>/dev/null || true ;;
    regex) ls $F/fuzz-seeds/regex/* ;;
    streams) ls $F/formats/rows.jsonl* $F/tokenizer/fuzz-texts.jsonl.zst ;;
  esac
}

status=0
for t in "${targets[@]}"; do
  corpus=$out/corpus/$t
  crashes=$out/crashes/$t
  mkdir -p "$corpus" "$crashes"
  for f in $(seeds "$t"); do cp -n "$f" "$corpus/seed-$(basename "$f")"; done
  echo "fuzz: $t for ${seconds}s ($(ls "$corpus" | wc -l) inputs in the corpus)"
  log=$out/$t.log
  # The regex engine refuses a catastrophic search after 10M + 1000 × length steps: over a 64 KiB
  # text that takes seconds on a busy machine, which libFuzzer cannot tell from a hang.
  max_len=65536
  [ "$t" != regex ] || max_len=4096
  # Swift's own crash reporter would catch the trap before libFuzzer saves the input.
  if SWIFT_BACKTRACE=enable=no NOREMBED_FUZZ_TARGET=$t "$binary" -max_total_time="$seconds" -timeout=10 -rss_limit_mb=2048 \
       -max_len=$max_len -print_final_stats=1 -artifact_prefix="$crashes/" "$corpus" >"$log" 2>&1; then
    runs=$(sed -n 's/^stat::number_of_executed_units: *//p' "$log")
    echo "fuzz: $t: no crash in ${seconds}s, $runs inputs run"
  else
    status=1
    echo "fuzz: $t: FAILED (see $log; inputs in $crashes)"
    grep -E "ERROR|Fatal|==[0-9]+==|SUMMARY|Test unit written" "$log" | head -20 || true
  fi
done
exit $status
