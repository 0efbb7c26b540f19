#!/usr/bin/env bash
# The decode knobs (docs/engine-cuda.md, "Decode tuning") in one device call (~4.5 minutes on an
# H100: the tests ~1.5-2, the sweep ~2.5), PASS/FAIL lines with numbers:
#   1. test_cuda_kernels: every bf16 GEMV configuration (rows 1-8 x chunks in flight 1-4) against
#      the default bit for bit and against float64 (decode shapes of 1B and 8B, odd shapes, an LM
#      head in fp32), besides the other kernel tests;
#   2. test_attn_decode: every decode attention variant at 1, 2, 8 and 32 splits against float64
#      and split, and one split (no combine kernel) against two combined, bit for bit;
#   3. test_cuda_engine: the engine with every GEMV configuration (bf16, FP8 pipe) equal to the
#      default bit for bit, and 1, 2, 8 splits within 1e-2 (test_decode_knobs), besides the others;
#   4. bench_engine --tune on 1B, 3B and 8B in bf16 and 8B in FP8: batch-1 decode at context 512 per
#      GEMV configuration, the best per class together, then per split count; the best setting
#      per model against the defaults, PASS/FAIL against 85% of the floor (issue 13's target),
#      and what to write to make the winners the defaults.
# Logs go to OUT_DIR (or $OUT, or ./decode-tune-logs). QUICK=1: 64 decode steps per point, not 128.
#
# usage: scripts/gpu/decode_tune.sh [BIN_DIR [OUT_DIR]]   (test_cuda_kernels, test_attn_decode,
#        test_cuda_engine, bench_engine; default build-gpu)
set -u
BIN=${1:-build-gpu}
LOG=${2:-${OUT:-./decode-tune-logs}}
source "$(dirname "$0")/checks_lib.sh"
quick=${QUICK:+--quick}

timeout 120 "$BIN/test_cuda_kernels" >"$LOG/test_cuda_kernels.log" 2>&1
rc=$?
grep -E "^\[  (FAILED|ERROR)" "$LOG/test_cuda_kernels.log" | head -20
l=$(grep -E "^gemv config " "$LOG/test_cuda_kernels.log")
worst=$(echo "$l" | sed -n 's/.*: rel err \([^,]*\),.*/\1/p' | sort -g | tail -1)
differ=$(echo "$l" | sed -n 's/.*, \([0-9]*\) of [0-9]* outputs differ.*/\1/p' | awk '{s += $1} END {print s + 0}')
verdict $([ $rc -eq 0 ] && echo 1 || echo 0) "test_cuda_kernels (rc=$rc; $(echo "$l" | grep -c .) GEMV configuration" \
  "runs, worst rel err ${worst:-?} (bf16 <= 1e-2, fp32 <= 1e-5), $differ outputs differ from r4u2 (0 expected))"

timeout 120 "$BIN/test_attn_decode" >"$LOG/test_attn_decode.log" 2>&1
rc=$?
grep -E "^\[  (FAILED|ERROR)" "$LOG/test_attn_decode.log" | head -20
for t in 0 1 2 8 32; do
  l=$(grep -E "^decode attention .*\(target $t:" "$LOG/test_attn_decode.log")
  worst=$(echo "$l" | sed -n 's/.*: rel err \([^,]*\),.*/\1/p' | sort -g | tail -1)
  worst_split=$(echo "$l" | sed -n 's/.*against split \([^ ]*\) .*/\1/p' | sort -g | tail -1)
  echo "  splits target $t: $(echo "$l" | grep -c .) runs, worst rel err ${worst:-?} (1e-2), variants against split ${worst_split:-?} (1e-3)"
done
one=$(grep -E "one split without the combine" "$LOG/test_attn_decode.log" | sed -n 's/.*: \([0-9]*\) of .*/\1/p' | awk '{s += $1} END {print s + 0}')
verdict $([ $rc -eq 0 ] && echo 1 || echo 0) "test_attn_decode (rc=$rc; one split without the combine: $one outputs differ from two combined, 0 expected)"

timeout 180 "$BIN/test_cuda_engine" >"$LOG/test_cuda_engine.log" 2>&1
rc=$?
grep -E "^\[  (FAILED|ERROR)" "$LOG/test_cuda_engine.log" | head -20
grep -E "decode attention [0-9]+ splits" "$LOG/test_cuda_engine.log" | sed 's/^ */  /'
gd=$(grep -E "GEMV .*greedy tokens differ from the default" "$LOG/test_cuda_engine.log")
verdict $([ $rc -eq 0 ] && echo 1 || echo 0) "test_cuda_engine (rc=$rc; $(echo "$gd" | grep -c .) GEMV settings," \
  "$(echo "$gd" | grep -vc ': 0 of .* logits and 0 of') of them differing from the default)"

timeout 200 "$BIN/bench_engine" --tune $quick --models llama-3.2-1b,llama-3.2-3b,llama-3.1-8b --weights bf16 \
  >"$LOG/bench_tune_bf16.log" 2>&1
rc=$?
verdict $([ $rc -eq 0 ] && echo 1 || echo 0) "bench_engine --tune, bf16 (rc=$rc)"
timeout 100 "$BIN/bench_engine" --tune $quick --models llama-3.1-8b --weights fp8 >"$LOG/bench_tune_fp8.log" 2>&1
rc=$?
verdict $([ $rc -eq 0 ] && echo 1 || echo 0) "bench_engine --tune, fp8 (rc=$rc)"
grep -hE "^ceilings" "$LOG"/bench_tune_*.log

for mw in llama-3.2-1b:bf16 llama-3.2-3b:bf16 llama-3.1-8b:bf16 llama-3.1-8b:fp8; do
  m=${mw%:*} w=${mw#*:}
  lines=$(grep -h "^RESULT model=$m kind=tune weights=$w " "$LOG"/bench_tune_*.log)
  [ -z "$lines" ] && { echo "  $m $w: no tune lines"; continue; }
  echo "  $m, $w, batch-1 decode at context 512 (graph replay): the five fastest of $(echo "$lines" | grep -c .) settings"
  printf "    %9s %8s %7s  %s\n" "tok/s" "% floor" splits "GEMV configuration"
  echo "$lines" | awk '{for (i = 1; i <= NF; i++) {split($i, kv, "="); f[kv[1]] = substr($i, length(kv[1]) + 2)}
    printf "%s %s %s %s\n", f["tok_s"], f["pct_floor"], f["attn_splits"], f["gemv"]}' | sort -gr | head -5 |
    while read -r tok pct sp g; do printf "    %9s %8s %7s  %s\n" "$tok" "$pct" "$sp" "$g"; done
  b=$(grep -h "^RESULT model=$m kind=tune_best weights=$w " "$LOG"/bench_tune_*.log)
  pct=$(echo "$b" | field pct_floor) dpct=$(echo "$b" | field default_pct_floor)
  echo "    best $(echo "$b" | field gemv), splits $(echo "$b" | field attn_splits): $(echo "$b" | field tok_s) tok/s" \
    "against the defaults' $(echo "$b" | field default_tok_s) ($(echo "$b" | field gain_pct)%)"
  verdict $(awk -v p="${pct:-0}" 'BEGIN { print (p >= 85) }') \
    "$m $w decode batch 1: best setting at ${pct:-?}% of the bandwidth floor (defaults ${dpct:-?}%; target >= 85)"
done
echo "  to make a GEMV setting the default: src/engine/cuda/gemv_defaults.c, the measured table (per model" \
  "shape: qkv, o_proj, gate_up, down, lm_head; names in gemv_config.h); a split count: the engine's" \
  "attn_splits at creation (0 = the rule), after checking batches 4-16 (bench_engine --attn-decode)"
echo "decode_tune: $fails failure(s)"
exit $((fails > 0))
