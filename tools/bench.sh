#!/usr/bin/env bash
# Builds embedkit-bench in release mode and runs it; arguments go to the benchmark
# (e.g. tools/bench.sh --models minilm --steps 10). Markdown tables on stdout, progress on stderr.
# The machine has 2 cores shared with other work: check `uptime` first and repeat runs (BENCHMARKS.md).
# NP=N runs it data-parallel under mpirun: N ranks, the cores split evenly between them (each rank
# bound to its share), e.g. NP=2 tools/bench.sh --models minilm,norbert --no-breakdown.
set -euo pipefail
cd "$(dirname "$0")/.."
swift build -c release --product embedkit-bench >&2
echo "load average before: $(cut -d' ' -f1-3 /proc/loadavg)" >&2
if [ -n "${NP:-}" ]; then
    pe=$(( $(nproc) / NP ))
    [ "$pe" -ge 1 ] || { echo "NP=$NP ranks on $(nproc) cores: at least one core each" >&2; exit 2; }
    exec mpirun -np "$NP" --map-by "slot:PE=$pe" --bind-to core .build/release/embedkit-bench "$@"
fi
exec .build/release/embedkit-bench "$@"
