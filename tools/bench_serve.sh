#!/usr/bin/env bash
# serve under load (BENCHMARKS.md, "serve"): wrk sends single sentences to POST /embed with 1, 8 and
# 32 connections; the requests/s and latencies are set against `embed`'s batch throughput on the
# same sentences. Needs wrk (Debian: apt-get install wrk). The machine has 2 cores shared with other
# work, and wrk runs on them too: check the load average it prints and repeat runs.
#
#   tools/bench_serve.sh [MODEL] [SECONDS per run]      (default: MiniLM, 20 s)
set -euo pipefail
cd "$(dirname "$0")/.."
model=${1:-models/pypi/all-MiniLM-L6-v2}
seconds=${2:-20}
data=demo/norwegian-triplets/train.jsonl
command -v wrk >/dev/null || { echo "error: needs wrk (apt-get install wrk)" >&2; exit 1; }
swift build -c release --product serve >&2
swift build -c release --product embed >&2
bin=.build/release
work=$(mktemp -d)
pid=""
trap '[ -n "$pid" ] && kill "$pid" 2>/dev/null; wait 2>/dev/null; rm -rf "$work"' EXIT

now() { date +%s.%N; }
echo "load average before: $(cut -d' ' -f1-3 /proc/loadavg)"

# embed's batch throughput on the same sentences (3 passes over them; start-up measured apart).
for _ in 1 2 3; do cat "$data"; done > "$work/sentences.jsonl"
n=$(wc -l < "$work/sentences.jsonl")
head -1 "$data" > "$work/one.jsonl"
t0=$(now); "$bin/embed" --model "$model" --field anchor --quiet "$work/one.jsonl" > /dev/null; t1=$(now)
"$bin/embed" --model "$model" --field anchor --quiet "$work/sentences.jsonl" > /dev/null; t2=$(now)
embed_rate=$(echo "$n / (($t2 - $t1) - ($t1 - $t0))" | bc -l)
printf 'embed: %d sentences in %.2f s (start-up %.2f s excluded): %.1f sentences/s\n' \
  "$n" "$(echo "$t2 - $t1" | bc -l)" "$(echo "$t1 - $t0" | bc -l)" "$embed_rate"

"$bin/serve" --model "$model" --port 0 2> "$work/serve.log" &
pid=$!
for _ in $(seq 600); do grep -q "listening on" "$work/serve.log" && break; sleep 0.1; done
port=$(sed -n 's/.*listening on http:\/\/127.0.0.1:\([0-9]*\).*/\1/p' "$work/serve.log")
[ -n "$port" ] || { cat "$work/serve.log" >&2; exit 1; }
# Warm up (first batches allocate the model's buffers).
wrk -t 1 -c 8 -d 3s -s tools/bench_serve.lua "http://127.0.0.1:$port" -- "$data" > /dev/null

echo
# te_batch_next_size's sum and count so far: a run's mean batch size is the difference of two.
batches() { curl -s "http://127.0.0.1:$port/metrics" | awk '$1 == "te_batch_next_size_sum" { s = $2 } $1 == "te_batch_next_size_count" { c = $2 } END { print s + 0, c + 0 }'; }

echo "| clients | requests/s | p50 latency | p99 latency | vs embed | mean batch | errors | load average after |"
echo "|---:|---:|---:|---:|---:|---:|---:|---|"
for c in 1 8 32; do
  read -r sum0 count0 <<< "$(batches)"
  threads=$(( c < 2 ? 1 : 2 ))
  # --timeout: wrk's 2 s default would drop slow requests from the latency figures.
  out=$(wrk -t "$threads" -c "$c" -d "${seconds}s" --timeout 60s --latency -s tools/bench_serve.lua "http://127.0.0.1:$port" -- "$data")
  rps=$(echo "$out" | sed -n 's/^Requests\/sec: *\([0-9.]*\).*/\1/p')
  p50=$(echo "$out" | awk '$1 == "50%" { print $2 }')
  p99=$(echo "$out" | awk '$1 == "99%" { print $2 }')
  errors=$(echo "$out" | sed -n 's/.*Non-2xx or 3xx responses: *\([0-9]*\).*/\1/p')
  socket=$(echo "$out" | sed -n 's/.*Socket errors: *\(.*\)/\1/p')
  [ -z "$socket" ] || errors="${errors:-0} (socket: $socket)"
  ratio=$(echo "$rps / $embed_rate" | bc -l)
  read -r sum1 count1 <<< "$(batches)"
  mean=$(echo "($sum1 - $sum0) / ($count1 - $count0)" | bc -l)
  printf '| %d | %.1f | %s | %s | %.2f× | %.1f | %s | %s |\n' "$c" "$rps" "$p50" "$p99" "$ratio" "$mean" "${errors:-0}" "$(cut -d' ' -f1-3 /proc/loadavg)"
done
