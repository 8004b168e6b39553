#!/usr/bin/env bash
# Builds and runs the CUDA check on a GPU machine that has the CUDA toolkit and CMake but no Node:
# a CUDA-only configure of native/tests/gpu (the kernels library + parascan_gpu_check), then
#   parascan_gpu_check test          -> $OUT/gpu-test.txt    (linear-recurrence sweep, then the cells'
#                                                               ParaGRU/ParaLSTM sweep: see README.md)
#   parascan_gpu_check bench --json  -> $OUT/gpu-bench.json  (solver GB/s, then a "cells" array)
# Run from anywhere inside the repository. Environment:
#   OUT                          where to put the outputs (and the build logs); default: the build dir
#   PARASCAN_CUDA_ARCHITECTURES  default: the compute capability nvidia-smi reports (e.g. 90), else 90
#   PARASCAN_GPU_BUILD_DIR       default: <repo>/build-gpu-check
#   PARASCAN_GPU_CHECK_BUDGET_S  whole-script deadline in seconds (default 290); every step gets at
#                                most what is left of it, so the script always ends in time
# Exit status: the test's (0 ok, 1 failures, 2 no device), else the bench's; 3 configure/build
# failed; 124 a step ran out of time.
# Expected: ~40 s build (one architecture, all cores), ~60-150 s test (the solver sweep stops
# starting cases after 110 s here; the cells' sweep adds ~20-40 s of float64 references), ~15 s bench.
set -uo pipefail

DEADLINE=$(( $(date +%s) + ${PARASCAN_GPU_CHECK_BUDGET_S:-290} ))
# Seconds a step may take: its own cap, or what is left before the deadline.
allow() {
  local left=$(( DEADLINE - $(date +%s) ))
  if (( left < 5 )); then left=5; fi
  if (( $1 < left )); then echo "$1"; else echo "$left"; fi
}

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/../../.." && pwd)"
BUILD="${PARASCAN_GPU_BUILD_DIR:-$ROOT/build-gpu-check}"
RESULTS="${OUT:-$BUILD}"
mkdir -p "$BUILD" "$RESULTS"

ARCH="${PARASCAN_CUDA_ARCHITECTURES:-}"
if [[ -z "$ARCH" ]] && command -v nvidia-smi >/dev/null 2>&1; then
  ARCH="$(nvidia-smi --query-gpu=compute_cap --format=csv,noheader 2>/dev/null | head -n1 | tr -d ' .\r')"
fi
if [[ ! "$ARCH" =~ ^[0-9]+[af]?$ ]]; then ARCH=90; fi

if ! command -v nvcc >/dev/null 2>&1 && [[ -x /usr/local/cuda/bin/nvcc ]]; then
  export PATH="/usr/local/cuda/bin:$PATH"
fi
JOBS="$(nproc 2>/dev/null || echo 4)"

echo "== configure (CUDA architectures: $ARCH)"
if ! timeout "$(allow 90)" cmake -S "$ROOT/native/tests/gpu" -B "$BUILD" -DCMAKE_BUILD_TYPE=Release \
    -DPARASCAN_CUDA_ARCHITECTURES="$ARCH" >"$RESULTS/gpu-configure.log" 2>&1; then
  tail -n 40 "$RESULTS/gpu-configure.log"
  echo "configure failed (log: $RESULTS/gpu-configure.log)"
  exit 3
fi

echo "== build ($JOBS jobs)"
start=$(date +%s)
if ! timeout "$(allow 200)" cmake --build "$BUILD" --target parascan_gpu_check -j "$JOBS" >"$RESULTS/gpu-build.log" 2>&1; then
  tail -n 60 "$RESULTS/gpu-build.log"
  echo "build failed (log: $RESULTS/gpu-build.log)"
  exit 3
fi
echo "built in $(( $(date +%s) - start )) s"

echo "== test"
timeout "$(allow 200)" "$BUILD/parascan_gpu_check" test --budget-seconds 110 2>&1 | tee "$RESULTS/gpu-test.txt"
test_status=${PIPESTATUS[0]}
echo "test exit status: $test_status"
if [[ $test_status -eq 2 ]]; then
  exit 2
fi

echo "== bench"
timeout "$(allow 90)" "$BUILD/parascan_gpu_check" bench --json >"$RESULTS/gpu-bench.json" 2>"$RESULTS/gpu-bench.log"
bench_status=$?
cat "$RESULTS/gpu-bench.json"
echo "bench exit status: $bench_status"

if [[ $test_status -ne 0 ]]; then exit "$test_status"; fi
exit "$bench_status"
