#!/usr/bin/env bash
# oneDNN (Debian libdnnl-dev) against OpenBLAS and CKernels' bf16 kernel on the linear layers'
# shapes: tools/bench_onednn.sh [TOKENS (958)] [ROUNDS (15)]. Markdown on stdout. Not part of the
# build: it compiles tools/bench_onednn.c with Sources/CKernels/{bf16,cpu}.c into a temporary binary.
# The machine is shared: check the load average it prints (BENCHMARKS.md, "bf16 matrix products").
set -euo pipefail
cd "$(dirname "$0")/.."
[ -f /usr/include/oneapi/dnnl/dnnl.h ] || { echo "error: needs libdnnl-dev (apt-get install libdnnl-dev)" >&2; exit 1; }
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
# clang for the kernels' target attributes.
clang -O2 -pthread -ISources/CKernels/include $(pkg-config --cflags openblas) \
    tools/bench_onednn.c Sources/CKernels/bf16.c Sources/CKernels/cpu.c \
    -o "$work/bench_onednn" -ldnnl $(pkg-config --libs openblas) -lm
echo "load average before: $(cut -d' ' -f1-3 /proc/loadavg); oneDNN $(dpkg-query -W -f '${Version}' libdnnl-dev 2>/dev/null)"
# oneDNN runs on 2 OpenMP threads; passive waiting, or its idle threads spin between calls and take
# the cores from OpenBLAS's threads and ours in the interleaved rounds.
OMP_NUM_THREADS=2 OMP_WAIT_POLICY=passive "$work/bench_onednn" "$@"
echo "load average after: $(cut -d' ' -f1-3 /proc/loadavg)"
