#!/usr/bin/env bash
# Builds embedkit-bench in release mode and runs it; arguments go to the benchmark
# (e.g. tools/bench.sh --models minilm --steps 10). Markdown tables on stdout, progress on stderr.
# The machine has 2 cores shared with other work: check `uptime` first and repeat runs (BENCHMARKS.md).
set -euo pipefail
cd "$(dirname "$0")/.."
swift build -c release --product embedkit-bench >&2
echo "load average before: $(cut -d' ' -f1-3 /proc/loadavg)" >&2
exec .build/release/embedkit-bench "$@"
