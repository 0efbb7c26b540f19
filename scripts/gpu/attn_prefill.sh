#!/usr/bin/env bash
# The prefill attention kernels (wmma, mma, mma64, mma128, mma_k32; attn_prefill_variant.h) in one
# device call (~3 minutes on an H100, at most 8.5 by its timeouts), PASS/FAIL lines with numbers:
#   1. test_cuda_kernels: every variant against float64 (head_dim 64 and 128, GQA 1, 3 and 4,
#      lengths 1, 17, 130 and 2048 with and without cached prefixes, the presets' and tiny
#      models' heads); the worst error per variant is printed;
#   2. test_cuda_engine: the engine's prefill logits with each variant against wmma (1B and 3B
#      heads, 2 layers), besides the engine's other tests;
#   3. bench_engine --prefill-only --attn-prefill all: prefill of 2048 tokens on 1B, 3B and 8B in
#      bf16 and 8B in FP8, per variant: the attention stage's ms and TFLOP/s (event-timed), the
#      whole prefill's ms and % of the GEMM rate of its format (measured in the same run);
#   4. PASS per model when its best variant reaches 60% of the GEMM rate, and the one line to
#      change to make the best variant the default.
# Logs go to $OUT (or ./attn-prefill-logs).
#
# usage: scripts/gpu/attn_prefill.sh [BIN_DIR]   (test_cuda_kernels, test_cuda_engine, bench_engine; default build-gpu)
set -u
BIN=${1:-build-gpu}
LOG=${OUT:-./attn-prefill-logs}
mkdir -p "$LOG"
VARIANTS="wmma mma mma64 mma128 mma_k32"
fails=0
verdict() {  # verdict OK(0/1) TEXT
  if [ "$1" = 1 ]; then echo "PASS $2"; else echo "FAIL $2"; fails=$((fails + 1)); fi
}
field() { sed -n "s/.* $1=\([^ ]*\).*/\1/p" | head -1; }

nvidia-smi --query-gpu=name,driver_version,memory.total,clocks.sm --format=csv,noheader | tee "$LOG/device.txt"

timeout 150 "$BIN/test_cuda_kernels" >"$LOG/test_cuda_kernels.log" 2>&1
rc=$?
grep -E "^\[  (FAILED|ERROR)|not written or not finite" "$LOG/test_cuda_kernels.log" | head -20
for v in $VARIANTS; do
  worst=$(grep -E "^prefill attention $v " "$LOG/test_cuda_kernels.log" | awk '{print $NF}' | sort -g | tail -1)
  n=$(grep -cE "^prefill attention $v " "$LOG/test_cuda_kernels.log")
  echo "  $v: worst rel err ${worst:-?} over $n shapes (bound 1e-2)"
done
verdict $([ $rc -eq 0 ] && echo 1 || echo 0) "test_cuda_kernels (rc=$rc; every kernel, every prefill attention variant)"

timeout 120 "$BIN/test_cuda_engine" >"$LOG/test_cuda_engine.log" 2>&1
rc=$?
grep -E "^\[  (FAILED|ERROR)|prefill call .* against wmma" "$LOG/test_cuda_engine.log" | sed 's/^ */  /'
verdict $([ $rc -eq 0 ] && echo 1 || echo 0) "test_cuda_engine (rc=$rc; prefill logits of every variant against wmma <= 1e-2)"

timeout 150 "$BIN/bench_engine" --models llama-3.2-1b,llama-3.2-3b,llama-3.1-8b --weights bf16 --fusion none \
  --prefill-only --attn-prefill all >"$LOG/bench_engine_bf16.log" 2>&1
rc1=$?
timeout 90 "$BIN/bench_engine" --models llama-3.1-8b --weights fp8 --fusion none --prefill-only --attn-prefill all \
  >"$LOG/bench_engine_fp8.log" 2>&1
rc2=$?
verdict $([ $rc1 -eq 0 ] && [ $rc2 -eq 0 ] && echo 1 || echo 0) "bench_engine ran (rc=$rc1, $rc2)"
grep -hE "^ceilings" "$LOG/bench_engine_bf16.log" "$LOG/bench_engine_fp8.log"

declare -A minpct  # per variant: its lowest % of the GEMM rate over the bf16 models
for v in $VARIANTS; do minpct[$v]=1000; done
for mw in llama-3.2-1b:bf16 llama-3.2-3b:bf16 llama-3.1-8b:bf16 llama-3.1-8b:fp8; do
  m=${mw%%:*} w=${mw##*:}
  echo "  $m, $w weights, prefill 2048 tokens:"
  printf "    %-8s %8s %11s %12s %11s %9s\n" variant runs "attn ms" "attn TFLOP/s" "prefill ms" "% GEMM"
  best=0 best_name=?
  for v in $VARIANTS; do
    l=$(grep -h "RESULT model=$m kind=prefill .*weights=$w attn_prefill=$v " "$LOG/bench_engine_$w.log")
    runs=$(echo "$l" | field attn_runs)  # the kernel this model's head size runs
    pct=$(echo "$l" | field pct_gemm)
    printf "    %-8s %8s %11s %12s %11s %9s\n" $v "${runs:-?}" "$(echo "$l" | field attn_ms)" \
      "$(echo "$l" | field attn_tflops)" "$(echo "$l" | field ms)" "${pct:-?}"
    [ -z "$pct" ] && continue
    if awk -v a="$pct" -v b="$best" 'BEGIN { exit !(a > b) }'; then best=$pct best_name=$v; fi
    if [ "$w" = bf16 ] && awk -v a="$pct" -v b="${minpct[$v]}" 'BEGIN { exit !(a < b) }'; then minpct[$v]=$pct; fi
  done
  verdict $(awk -v p="$best" 'BEGIN { print (p >= 60) }') \
    "$m $w prefill 2048: best variant $best_name at ${best}% of the $w GEMM rate (>= 60)"
done
pick=wmma pick_pct=0
for v in $VARIANTS; do
  if [ "${minpct[$v]}" != 1000 ] && awk -v a="${minpct[$v]}" -v b="$pick_pct" 'BEGIN { exit !(a > b) }'; then
    pick=$v pick_pct=${minpct[$v]}
  fi
done
up=$(echo "$pick" | tr a-z A-Z)
echo "  best over 1B, 3B and 8B (bf16, the highest lowest % of the GEMM rate): $pick at >= ${pick_pct}%"
echo "  to make $pick the default: src/engine/cuda/attn_prefill_variant.h:" \
  "#define LJ_ATTN_PREFILL_DEFAULT LJ_ATTN_PREFILL_$up"
echo "attn_prefill: $fails failure(s)"
exit $((fails > 0))
