#!/usr/bin/env bash
# The engine benchmark and its HF transformers comparison, on a machine with a GPU.
#   scripts/gpu/bench.sh [BIN_DIR] [engine|hf|both] [bench_engine args...]
# Writes $OUT/bench_engine.log and $OUT/hf_engine_bench.log (or ./bench-logs).
set -u
BIN=${1:-build-gpu}; WHAT=${2:-both}; shift 2 2>/dev/null || true
LOG=${OUT:-./bench-logs}
SRC=$(cd "$(dirname "$0")/../.." && pwd)
mkdir -p "$LOG"
nvidia-smi --query-gpu=name,driver_version,memory.total,clocks.sm,clocks.mem,temperature.gpu,power.draw --format=csv | tee "$LOG/device.txt"
if [ "$WHAT" != hf ]; then
  set -o pipefail
  "$BIN/bench_engine" "$@" 2>&1 | tee "$LOG/bench_engine.log" | grep -v '^RESULT' || exit 1
fi
if [ "$WHAT" != engine ]; then
  PYTHONUNBUFFERED=1 python3 "$SRC/bench/hf_engine_bench.py" "${ENGINE_LOG:-$LOG/bench_engine.log}" 2>&1 \
    | tee "$LOG/hf_engine_bench.log" | grep -v '^HFRESULT'
fi
