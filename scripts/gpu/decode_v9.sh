#!/usr/bin/env bash
# v9 in one device call (~3.5 minutes on an H100; docs/engine-cuda.md, "Performance notes"): the
# decode GEMV defaults per matrix shape and the fused mode "norm once", PASS/FAIL lines with numbers:
#   1. test_cuda_kernels: the norm-once kernels (o_proj's GEMV with the residual and the sum of
#      squares; gate|up with the norm applied on the fly and SwiGLU) against the unfused sequence
#      (delta and x bit for bit, h within 1e-2 with its differing outputs counted: 0 expected), for
#      every GEMV configuration at 1-2 tokens; besides the other kernel tests;
#   2. test_cuda_engine: norm-once against none on the tiny models (logits, tokens, stage marks, the
#      composites replayed alone) and on 1B's layer shape at batch 1 and 2; besides the others
#      (test_decode_knobs: every GEMV configuration gives the shape defaults' bits);
#   3. bench_engine --decode-only --fusion all on 1B, 3B, 8B (bf16) and 8B FP8: batch-1 decode at
#      context 512 (graph replay) in none, production and norm-once, tok/s and % of the floor;
#   4. bench_engine --tune with the kernel before the defaults (r4u2 / auto on every class): the
#      shape defaults against it in the same run, per model (PASS: not slower by more than 1%).
# Logs go to OUT_DIR (or $OUT, or ./decode-v9-logs).
#
# usage: scripts/gpu/decode_v9.sh [BIN_DIR [OUT_DIR]]   (test_cuda_kernels, test_cuda_engine,
#        bench_engine; default build-gpu)
set -u
BIN=${1:-build-gpu}
LOG=${2:-${OUT:-./decode-v9-logs}}
source "$(dirname "$0")/checks_lib.sh"

timeout 120 "$BIN/test_cuda_kernels" >"$LOG/test_cuda_kernels.log" 2>&1
rc=$?
grep -E "^\[  (FAILED|ERROR)" "$LOG/test_cuda_kernels.log" | head -20
l=$(grep -E "^  norm once n=" "$LOG/test_cuda_kernels.log")
worst=$(echo "$l" | sed -n 's/.*rel err \([^,]*\),.*/\1/p' | sort -g | tail -1)
differ=$(echo "$l" | sed -n 's/.*, \([0-9]*\) of [0-9]* differ.*/\1/p' | awk '{s += $1} END {print s + 0}')
verdict $([ $rc -eq 0 ] && echo 1 || echo 0) "test_cuda_kernels (rc=$rc; $(echo "$l" | grep -c .) norm-once runs," \
  "delta and x bit-identical to the unfused ones, h worst rel err ${worst:-?} (1e-2), $differ outputs of h differ (0 expected))"

timeout 200 "$BIN/test_cuda_engine" >"$LOG/test_cuda_engine.log" 2>&1
rc=$?
grep -E "^\[  (FAILED|ERROR)" "$LOG/test_cuda_engine.log" | head -20
grep -E "fusion (production|norm-once) vs unfused|1B shape, batch" "$LOG/test_cuda_engine.log" | sed 's/^ */  /'
gd=$(grep -E "GEMV .*greedy tokens differ from the default" "$LOG/test_cuda_engine.log")
verdict $([ $rc -eq 0 ] && echo 1 || echo 0) "test_cuda_engine (rc=$rc; $(echo "$gd" | grep -c .) GEMV settings," \
  "$(echo "$gd" | grep -vc ': 0 of .* logits and 0 of') of them differing from the shape defaults)"

timeout 150 "$BIN/bench_engine" --decode-only --quick --fusion all --models llama-3.2-1b,llama-3.2-3b,llama-3.1-8b \
  --weights bf16 >"$LOG/bench_bf16.log" 2>&1
rc=$?
verdict $([ $rc -eq 0 ] && echo 1 || echo 0) "bench_engine --decode-only --fusion all, bf16 (rc=$rc)"
timeout 60 "$BIN/bench_engine" --decode-only --quick --fusion none --models llama-3.1-8b --weights fp8 \
  >"$LOG/bench_fp8.log" 2>&1
rc=$?
verdict $([ $rc -eq 0 ] && echo 1 || echo 0) "bench_engine --decode-only, fp8 (rc=$rc)"
grep -hE "^ceilings|GEMV defaults at" "$LOG"/bench_bf16.log "$LOG"/bench_fp8.log | sort -u
echo "  batch-1 decode at context 512, graph replay, the shape defaults:"
printf "    %-14s %-5s %-10s %9s %8s\n" model w fusion tok/s "% floor"
for mw in llama-3.2-1b:bf16 llama-3.2-3b:bf16 llama-3.1-8b:bf16 llama-3.1-8b:fp8; do
  m=${mw%:*} w=${mw#*:}
  for f in none production norm-once; do
    r=$(grep -h "^RESULT model=$m kind=decode_b1 matmul=[^ ]*+PDL .*fusion=$f weights=$w" "$LOG"/bench_*.log | head -1)
    [ -z "$r" ] && continue
    printf "    %-14s %-5s %-10s %9s %8s\n" "$m" "$w" "$f" "$(echo "$r" | field tok_s)" "$(echo "$r" | field pct_floor)"
  done
done
grep -hE "decode batch 1: fusion .* saves" "$LOG"/bench_bf16.log | sed 's/^ */  /'

# The shape defaults against r4u2 / auto on every class, one engine per model, in the same run.
timeout 120 "$BIN/bench_engine" --tune --quick --gemv-config r4u2 --attn-split 0 \
  --models llama-3.2-1b,llama-3.2-3b,llama-3.1-8b --weights bf16 >"$LOG/tune_bf16.log" 2>&1
rc1=$?
timeout 50 "$BIN/bench_engine" --tune --quick --fp8-pipe auto --attn-split 0 --models llama-3.1-8b --weights fp8 \
  >"$LOG/tune_fp8.log" 2>&1
rc2=$?
verdict $([ $rc1 -eq 0 ] && [ $rc2 -eq 0 ] && echo 1 || echo 0) "bench_engine --tune against r4u2 / auto (rc=$rc1, $rc2)"
for mw in llama-3.2-1b:bf16:r4u2 llama-3.2-3b:bf16:r4u2 llama-3.1-8b:bf16:r4u2 llama-3.1-8b:fp8:auto; do
  IFS=: read -r m w old <<<"$mw"
  lines=$(grep -h "^RESULT model=$m kind=tune weights=$w " "$LOG"/tune_*.log)
  new=$(echo "$lines" | head -1 | field tok_s)  # the first run: the defaults
  was=$(echo "$lines" | grep " gemv=$old " | sed -n 2p | field tok_s)
  [ -z "$was" ] && was=$(echo "$lines" | grep " gemv=$old " | head -1 | field tok_s)
  spec=$(echo "$lines" | head -1 | field gemv)
  verdict $(awk -v a="${new:-0}" -v b="${was:-1}" 'BEGIN { print (a >= 0.99 * b) }') \
    "$m $w shape defaults ($spec) ${new:-?} tok/s against $old on every class ${was:-?} tok/s (not 1% slower)"
done
echo "decode_v9: $fails failure(s)"
exit $((fails > 0))
