#!/usr/bin/env bash
# One GPU session's checks from a carried binary tarball: GPU tests, the engine benchmark in both
# fusion modes, generate vs bench_engine, the parity of fresh HF checkpoints, and a short profile.
#   bash scripts/gpu/session_checks.sh BIN_TAR_XZ
# Logs and a summary go to $OUT (or ./session-logs).
set -u
LOG=${OUT:-./session-logs}
mkdir -p "$LOG"
B=$(mktemp -d)
tar -C "$B" -xJf "$1" && B=$B/b
export LD_LIBRARY_PATH=$B:${LD_LIBRARY_PATH:-} PYTHONUNBUFFERED=1
SRC=$(cd "$(dirname "$0")/../.." && pwd)
cond() { nvidia-smi --query-gpu=name,driver_version,uuid,temperature.gpu,clocks.sm,clocks.mem,power.draw,clocks_throttle_reasons.active --format=csv,noheader; }
{ date -u; cond; } | tee "$LOG/conditions.txt"
step() {  # step NAME TIMEOUT CMD...
  local name=$1 t=$2; shift 2
  local t0=$SECONDS
  timeout "$t" "$@" >"$LOG/$name.log" 2>&1
  local rc=$?
  printf '%-22s rc=%-3s %4ss  %s\n' "$name" "$rc" "$((SECONDS - t0))" "$(cond)" | tee -a "$LOG/summary.txt"
}
step kernels 150 "$B/test_cuda_kernels"
step engine 150 "$B/test_cuda_engine"
step profiling 200 "$B/test_cuda_profiling"
step bench_engine 240 "$B/bench_engine" --models llama-3.2-1b,llama-3.2-3b,llama-3.1-8b --fusion both
step generate_bench 200 env BENCH_LOG_DIR="$LOG" bash "$SRC/scripts/gpu/generate_bench.sh" "$B"
step parity 200 python3 "$SRC/scripts/gpu/parity_checkpoints.py" "$B/llamajoule" --json "$LOG/parity.json"
step profile_short 200 "$B/llamajoule" profile --model llama-3.2-1b --trials 2 --replay-seconds 1 --repeats 2 \
  --no-timeline --no-head-fit --no-ablation -o /tmp/short.db
# profile --quick promises a first look at 1B within 90 s (docs/cli.md): `time` prints the wall clock
step profile_quick 150 bash -c "time '$B/llamajoule' profile --quick --model llama-3.2-1b -o /tmp/quick.db --json >'$LOG/quick.json'"
grep -A3 '^real' "$LOG/profile_quick.log" | tee -a "$LOG/summary.txt"
python3 -c "import sqlite3; c = sqlite3.connect('/tmp/short.db'); print(c.execute('select status, count(*) from runs group by status').fetchall(), c.execute('select count(*) from phase_windows').fetchall())" \
  >"$LOG/profile_short_store.txt" 2>&1 || true
cat "$LOG/summary.txt"
