#!/usr/bin/env bash
# The FP8 GEMV variants (base, warp, pipe, splitk; src/engine/cuda/gemv_fp8.cu) in one device
# call (~2-3 minutes on an H100), PASS/FAIL lines with numbers:
#   1. test_cuda_fp8: every variant against float64 (odd shapes, the linear layers of 1B, 8B and
#      70B at 1, 2, 3 and 8 tokens), the engine with each variant against the CPU FP8 reference,
#      the cuBLASLt FP8 GEMM and its forced fallback;
#   2. bench_engine --weights fp8 --fp8-gemv all --decode-only on 1B, 8B and 70B (random weights
#      generated on the GPU): batch-1 decode tok/s and % of the FP8 bandwidth floor per variant,
#      batches 4 and 8, and the four GEMV stages' event-timed ms per token;
#   3. PASS when the best variant reaches 85% of the floor for 8B at batch 1, and the line to
#      change to make the winner the default.
# Logs go to $OUT (or ./fp8-gemv-logs).
#
# usage: scripts/gpu/fp8_gemv.sh [BIN_DIR] [MODELS]   (default build-gpu, llama-3.2-1b,llama-3.1-8b,llama-3.3-70b)
set -u
BIN=${1:-build-gpu}
MODELS=${2:-llama-3.2-1b,llama-3.1-8b,llama-3.3-70b}
LOG=${OUT:-./fp8-gemv-logs}
mkdir -p "$LOG"
fails=0
verdict() {  # verdict OK(0/1) TEXT
  if [ "$1" = 1 ]; then echo "PASS $2"; else echo "FAIL $2"; fails=$((fails + 1)); fi
}

nvidia-smi --query-gpu=name,driver_version,memory.total,clocks.sm --format=csv,noheader | tee "$LOG/device.txt"

timeout 150 "$BIN/test_cuda_fp8" >"$LOG/test_cuda_fp8.log" 2>&1
rc=$?
grep -E "^\[  (FAILED|PASSED)|^\[  ERROR|variant .*error" "$LOG/test_cuda_fp8.log"
worst=$(grep -E "^fp8 GEMV .* fp32: normalised error" "$LOG/test_cuda_fp8.log" | awk '{print $NF}' | sort -g | tail -1)
grep -E "^fp8 (engine|GEMM)" "$LOG/test_cuda_fp8.log" | sed 's/^/  /'
verdict $([ $rc -eq 0 ] && echo 1 || echo 0) "test_cuda_fp8 (rc=$rc; worst fp32 GEMV error over every variant and shape ${worst:-?}, bound 1e-5)"

timeout 300 "$BIN/bench_engine" --models "$MODELS" --weights fp8 --fusion none --quick --fp8-gemv all --decode-only \
  >"$LOG/bench_engine.log" 2>&1
rc=$?
verdict $([ $rc -eq 0 ] && echo 1 || echo 0) "bench_engine ran (rc=$rc)"
grep -E "^ceilings" "$LOG/bench_engine.log"
field() { sed -n "s/.* $1=\([^ ]*\).*/\1/p" | head -1; }
best8=0 best8_name=?
for m in ${MODELS//,/ }; do
  echo "  $m, FP8 weights, decode context 512:"
  printf "    %-7s %9s %8s %9s %9s   %s\n" variant "b1 tok/s" "% floor" "b4 tok/s" "b8 tok/s" "GEMV stages ms/token (qkv o_proj gate_up down)"
  for v in base warp pipe splitk; do
    l=$(grep "RESULT model=$m kind=decode_b1 matmul=GEMV+PDL .* fp8_gemv=$v" "$LOG/bench_engine.log")
    tok=$(echo "$l" | field tok_s) pct=$(echo "$l" | field pct_floor)
    b4=$(grep "RESULT model=$m kind=decode batch=4 .* fp8_gemv=$v" "$LOG/bench_engine.log" | field tok_s)
    b8=$(grep "RESULT model=$m kind=decode batch=8 .* fp8_gemv=$v" "$LOG/bench_engine.log" | field tok_s)
    st=""
    for s in qkv o_proj gate_up down; do
      st="$st $(grep "RESULT model=$m kind=stage what=\"decode batch 1 context 512, fusion none, fp8 gemv $v\" stage=$s " \
        "$LOG/bench_engine.log" | field ms)"
    done
    printf "    %-7s %9s %8s %9s %9s  %s\n" $v "${tok:-?}" "${pct:-?}" "${b4:-?}" "${b8:-?}" "$st"
    if [ "$m" = llama-3.1-8b ] && [ -n "$pct" ] && awk -v a="$pct" -v b="$best8" 'BEGIN { exit !(a > b) }'; then
      best8=$pct best8_name=$v
    fi
  done
done
case " ${MODELS//,/ } " in
  *" llama-3.1-8b "*)
    verdict $(awk -v p="$best8" 'BEGIN { print (p >= 85) }') \
      "8B FP8 decode batch 1: best variant $best8_name at ${best8}% of the FP8 bandwidth floor (>= 85)"
    up=$(echo "$best8_name" | tr a-z A-Z)
    echo "  to make $best8_name the default: src/engine/cuda/fp8_gemv_variant.h:" \
      "#define LJ_FP8_GEMV_DEFAULT LJ_FP8_GEMV_$up"
    ;;
esac
echo "fp8_gemv: $fails failure(s)"
exit $((fails > 0))
