#!/usr/bin/env bash
# All GPU checks of the CUDA engine, one command on a machine with an NVIDIA GPU:
#   kernel tests, engine tests, the decode attention variants' tests, compute-sanitizer
#   memcheck + racecheck on the engine tests (tiny models; every decode attention variant
#   included) and memcheck on the kernel tests, and the end-to-end comparison with HF transformers
#   (tiny, tiny-untied, llama-3.2-1b, llama-3.2-3b with random weights), and
#   `generate --device cuda` on the HF fixture checkpoints (tests/data/models) against HF bf16,
#   and against the CPU reference on fresh HF checkpoints saved in fp32, f16 and bf16
#   (parity_checkpoints.py: several shapes, prompts of 1 to 131 tokens, the fast path too).
# Prints a table at the end; logs go to $OUT (or ./cuda-checks-logs).
#
# usage: scripts/gpu/cuda_checks.sh [BIN_DIR]   (BIN_DIR holds test_cuda_kernels,
#        test_cuda_engine, test_attn_decode, bench_engine_dump; default: build-gpu)
set -u
BIN=${1:-build-gpu}
LOG=${OUT:-./cuda-checks-logs}
mkdir -p "$LOG"
SRC=$(cd "$(dirname "$0")/../.." && pwd)
export LLAMAJOULE_SOURCE_DIR=$SRC
declare -a NAMES RESULTS TIMES

run() {  # run NAME CMD...: records PASS/FAIL/SKIP and seconds
  local name=$1; shift
  local t0=$(date +%s.%N)
  "$@" >"$LOG/$name.log" 2>&1
  local rc=$?
  local t1=$(date +%s.%N)
  local r=PASS
  [ $rc -eq 77 ] && r=SKIP
  [ $rc -ne 0 ] && [ $rc -ne 77 ] && r="FAIL(rc=$rc)"
  NAMES+=("$name"); RESULTS+=("$r")
  TIMES+=("$(awk -v a="$t0" -v b="$t1" 'BEGIN { printf "%.1f", b - a }')")
  echo "== $name: $r"; tail -n 25 "$LOG/$name.log"
}

nvidia-smi --query-gpu=name,driver_version,memory.total --format=csv,noheader | tee "$LOG/device.txt"
run kernels "$BIN/test_cuda_kernels"
run engine "$BIN/test_cuda_engine"
run attn_decode "$BIN/test_attn_decode"
CS=$(command -v compute-sanitizer || ls /usr/local/cuda/bin/compute-sanitizer 2>/dev/null)
if [ -n "$CS" ]; then
  run memcheck_engine timeout 200 "$CS" --tool memcheck --error-exitcode 9 "$BIN/test_cuda_engine"
  run racecheck_engine timeout 200 "$CS" --tool racecheck --error-exitcode 9 "$BIN/test_cuda_engine"
  run memcheck_kernels timeout 150 "$CS" --tool memcheck --error-exitcode 9 "$BIN/test_cuda_kernels"
  run memcheck_attn_decode timeout 300 "$CS" --tool memcheck --error-exitcode 9 "$BIN/test_attn_decode"
else
  NAMES+=(sanitizer); RESULTS+=("SKIP (no compute-sanitizer)"); TIMES+=(0)
fi
E2E=$(mktemp -d)
dirs=()
for m in tiny tiny-untied llama-3.2-1b llama-3.2-3b; do
  "$BIN/bench_engine_dump" --model "$m" --out "$E2E/$m" --prompt-len 24 --steps 17 >>"$LOG/e2e_dump.log" 2>&1 && dirs+=("$E2E/$m")
done
run e2e_hf env PYTHONUNBUFFERED=1 python3 "$SRC/scripts/gpu/e2e_hf.py" "${dirs[@]}"
FIX=${FIXTURES:-$SRC/tests/data/models}
if [ -d "$FIX" ] && [ -x "$BIN/llamajoule" ]; then
  run e2e_fixtures env PYTHONUNBUFFERED=1 python3 "$SRC/scripts/gpu/e2e_fixtures.py" "$BIN/llamajoule" "$FIX"/*/
else
  NAMES+=(e2e_fixtures); RESULTS+=("SKIP (no $FIX or llamajoule)"); TIMES+=(0)
fi
rm -rf "$E2E"
if [ -x "$BIN/llamajoule" ]; then
  run parity env PYTHONUNBUFFERED=1 python3 "$SRC/scripts/gpu/parity_checkpoints.py" "$BIN/llamajoule" \
    --json "$LOG/parity.json"
else
  NAMES+=(parity); RESULTS+=("SKIP (no llamajoule)"); TIMES+=(0)
fi

echo
printf '%-20s %-22s %8s\n' check result seconds
for i in "${!NAMES[@]}"; do printf '%-20s %-22s %8s\n' "${NAMES[$i]}" "${RESULTS[$i]}" "${TIMES[$i]}"; done
for r in "${RESULTS[@]}"; do case $r in FAIL*) exit 1 ;; esac; done
exit 0
