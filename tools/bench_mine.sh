#!/usr/bin/env bash
# `mine` against sentence-transformers' exact mine_hard_negatives on a synthetic corpus: wall time,
# queries/s and peak RSS (/usr/bin/time) of both, on the same pairs, corpus and model.
#
#   tools/bench_mine.sh [CORPUS_LINES (1000000)] [QUERIES (10000)] [MODEL (models/pypi/all-MiniLM-L6-v2)]
#   SKIP_PYTHON=1 tools/bench_mine.sh …     # only ours
#
# The corpus is CORPUS_LINES distinct synthetic lines of 6-12 words (deterministic), the pairs
# QUERIES (anchor, positive) rows of the same kind; mine embeds the anchors, the corpus and the
# positives, searches exactly and keeps 3 negatives per anchor (the defaults). Work files go to
# $BENCH_DIR (default /tmp/bench-mine). Markdown on stdout, logs on stderr. The machine is shared:
# record the load average printed here with the numbers (BENCHMARKS.md).
set -euo pipefail
cd "$(dirname "$0")/.."
LINES=${1:-1000000}
QUERIES=${2:-10000}
MODEL=${3:-models/pypi/all-MiniLM-L6-v2}
DIR=${BENCH_DIR:-/tmp/bench-mine}
mkdir -p "$DIR"
[ -n "${SKIP_BUILD:-}" ] || swift build -c release --product mine >&2

python3 - "$DIR" "$LINES" "$QUERIES" <<'EOF'
import json, random, sys
d, n, q = sys.argv[1], int(sys.argv[2]), int(sys.argv[3])
words = ("hus bil båt fjord fjell skog by land veg elv sjø dag natt år tid mann kvinne barn skole "
         "arbeid bok brev kaffe mat vann regn snø sol vind kveld morgon vinter sommar haust vår "
         "gammel ny stor liten lang kort rask sein god dårleg varm kald mørk lys raud blå grøn "
         "går kjem ser les skriv et drikk søv bur reiser held tek gjev finn seier veit trur").split()
r = random.Random(1)
def line(i):
    return " ".join(r.choice(words) for _ in range(6 + r.randrange(7))) + f" {i}"
with open(f"{d}/corpus.txt", "w") as f:
    for i in range(n):
        f.write(line(i) + "\n")
with open(f"{d}/pairs.jsonl", "w") as f:
    for i in range(q):
        a = line(n + i)
        f.write(json.dumps({"anchor": a, "positive": a.replace(" ", " og ", 1)}, ensure_ascii=False) + "\n")
EOF

load() { cut -d' ' -f1-3 /proc/loadavg; }
measure() {  # label, command…: prints "| label | wall s | queries/s | texts embedded/s | peak RSS MiB | load |"
    local label=$1; shift
    local before; before=$(load)
    /usr/bin/time -f '%e %M' -o "$DIR/time.txt" "$@" >&2
    read -r wall rss < "$DIR/time.txt"
    LC_ALL=C awk -v l="$label" -v w="$wall" -v k="$rss" -v q="$QUERIES" -v n="$LINES" -v b="$before" -v a="$(load)" \
        'BEGIN { printf "| %s | %.1f | %.2f | %.0f | %.0f | %s → %s |\n", l, w, q / w, (n + 2 * q) / w, k / 1024, b, a }'
}

echo "mine: $QUERIES queries, a corpus of $LINES synthetic lines + the positives, $(basename "$MODEL"), 3 negatives (top)"
echo
echo "| | wall s | queries/s | texts embedded/s | peak RSS MiB | load before → after |"
echo "|---|---:|---:|---:|---:|---|"
measure "mine (Swift)" .build/release/mine --model "$MODEL" --corpus "$DIR/corpus.txt" -o "$DIR/swift.jsonl.zst" "$DIR/pairs.jsonl"
if [ -z "${SKIP_PYTHON:-}" ]; then
    measure "mine_hard_negatives (sentence-transformers, 2 threads)" python3 tools/check_mine_ir.py mine --threads 2 \
        --model "$MODEL" --data "$DIR/pairs.jsonl" --corpus "$DIR/corpus.txt" --out "$DIR/python.jsonl"
fi
