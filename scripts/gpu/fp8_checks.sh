#!/usr/bin/env bash
# FP8 weights on one GPU, one command (< 8 minutes on an H100), PASS/FAIL lines with numbers:
#   1. test_cuda_fp8: the E4M3 encoder against the host and __nv_cvt_float_to_fp8, device
#      quantisation bit-identical to the host's, FP8 GEMV and cuBLASLt FP8 GEMM against float64,
#      the FP8 engine against the CPU FP8 reference (tiny model);
#   2. fp8_parity.py: fresh HF checkpoints: CUDA FP8 vs the CPU FP8 reference (logits cosine,
#      greedy agreement) and FP8 vs bf16 on the same weights (mean KL over a fixed text, logits
#      cosine, argmax agreement);
#   3. bench_engine on llama-3.1-8b, bf16 and FP8: decode at batch 1, 16, 64 (context 512) and
#      prefill of 2048 tokens, each against its floor (bytes / copy bandwidth; FLOPs / the GEMM
#      rate of the same format, measured in the run): FP8 decode batch 1 >= 85% of its floor,
#      FP8 prefill >= 60% of the FP8 GEMM rate;
#   4. llama-3.3-70b with FP8 weights (random, generated on the GPU): generate, batch 1, 8 tokens.
# Logs go to $OUT (or ./fp8-checks-logs).
#
# usage: scripts/gpu/fp8_checks.sh [BIN_DIR]   (llamajoule, test_cuda_fp8, bench_engine; default build-gpu)
set -u
BIN=${1:-build-gpu}
LOG=${OUT:-./fp8-checks-logs}
. "$(dirname "$0")/checks_lib.sh"

"$BIN/test_cuda_fp8" >"$LOG/test_cuda_fp8.log" 2>&1
rc=$?
grep -E "^(e4m3|fp8)" "$LOG/test_cuda_fp8.log"
verdict $([ $rc -eq 0 ] && echo 1 || echo 0) "test_cuda_fp8 (rc=$rc)"

timeout 240 python3 "$SRC/scripts/gpu/fp8_parity.py" "$BIN/llamajoule" 2>&1 | tee "$LOG/fp8_parity.log" | grep -E "^(PASS|FAIL)"
[ "${PIPESTATUS[0]}" -eq 0 ] || fails=$((fails + 1))

timeout 300 "$BIN/bench_engine" --models llama-3.1-8b --weights both --fusion none --quick >"$LOG/bench_engine.log" 2>&1
rc=$?
verdict $([ $rc -eq 0 ] && echo 1 || echo 0) "bench_engine ran (rc=$rc)"
grep -E "^ceilings" "$LOG/bench_engine.log"
for w in bf16 fp8; do
  line=$(grep "RESULT model=llama-3.1-8b kind=decode_b1 matmul=GEMV+PDL .*weights=$w" "$LOG/bench_engine.log" | head -1)
  pct=$(echo "$line" | field pct_floor)
  echo "  8B $w decode batch 1: $(echo "$line" | field tok_s) tok/s, $(echo "$line" | field gbs) GB/s, ${pct:-?}% of its floor"
  for b in 16 64; do
    l=$(grep "RESULT model=llama-3.1-8b kind=decode batch=$b ctx=512 .*weights=$w" "$LOG/bench_engine.log" | head -1)
    echo "  8B $w decode batch $b: $(echo "$l" | field tok_s) tok/s, $(echo "$l" | field pct_floor)% of its floor"
  done
  pl=$(grep "RESULT model=llama-3.1-8b kind=prefill .*weights=$w" "$LOG/bench_engine.log" | head -1)
  pg=$(echo "$pl" | field pct_gemm)
  echo "  8B $w prefill 2048: $(echo "$pl" | field ms) ms, $(echo "$pl" | field tflops) TFLOP/s = ${pg:-?}% of the $w GEMM rate ($(echo "$pl" | field gemm_tflops) TFLOP/s)"
  if [ $w = fp8 ]; then
    verdict $(awk -v p="${pct:-0}" 'BEGIN { print (p >= 85) }') "8B FP8 decode batch 1 at ${pct:-?}% of the FP8 bandwidth floor (>= 85)"
    verdict $(awk -v p="${pg:-0}" 'BEGIN { print (p >= 60) }') "8B FP8 prefill 2048 at ${pg:-?}% of the FP8 GEMM rate (>= 60)"
  fi
done

t0=$(date +%s.%N)
timeout 240 "$BIN/llamajoule" generate --model llama-3.3-70b --device cuda --weights fp8 \
  --prompt-ids "128000 791 4062 14198 39935 35308 927 279 16053 5679" -n 8 --ignore-eos >"$LOG/gen70b.out" 2>"$LOG/gen70b.err"
rc=$?
t1=$(date +%s.%N)
grep -E "weights|total|decode|tok/s" "$LOG/gen70b.err" | head -8
ids=$(grep '^ids:' "$LOG/gen70b.out" | sed 's/.*| //')
n=$(echo "$ids" | wc -w)
verdict $([ $rc -eq 0 ] && [ "$n" -eq 8 ] && echo 1 || echo 0) \
  "llama-3.3-70b FP8 generate, batch 1: rc=$rc, $n tokens [$ids], $(awk -v a="$t0" -v b="$t1" 'BEGIN { printf "%.1f", b - a }') s with weight generation"
echo "fp8_checks: $fails failure(s)"
exit $((fails > 0))
