#!/usr/bin/env bash
# The decode attention variants (split, one, one_rope; attn_decode_variant.h) in one device call
# (~2-3 minutes on an H100, at most 7.5 by its timeouts), PASS/FAIL lines with numbers:
#   1. test_attn_decode: every variant against float64 RoPE + attention (head_dim 64 and 128,
#      groups 1, 3, 4, 8 and the tiny models' heads; kv_len 1 .. 2048 in one batch, and 512
#      alone) and against split; the worst errors per variant are printed;
#   2. test_cuda_engine: the engine's greedy tokens and decode logits with each variant against
#      split (tiny models, and 2-layer models with the heads of 1B and 3B), one_rope's stage marks,
#      besides the engine's other tests;
#   3. bench_engine --decode-only --attn-decode all on 1B, 3B and 8B (bf16, unfused): batch-1 decode
#      tok/s and % of the bandwidth floor per variant, batches 4, 8 and 16, and the attention's
#      event-timed ms per token (rope + attn, or rope+attn);
#   4. PASS per model when its best variant reaches 85% of the floor at batch 1 (issue 13's target),
#      and the one line to change to make the best variant the default.
# Logs go to $OUT (or ./attn-decode-logs).
#
# usage: scripts/gpu/attn_decode.sh [BIN_DIR [OUT_DIR]]   (test_attn_decode, test_cuda_engine, bench_engine; default build-gpu)
set -u
BIN=${1:-build-gpu}
LOG=${2:-${OUT:-./attn-decode-logs}}
mkdir -p "$LOG"
VARIANTS="split one one_rope"
MODELS="llama-3.2-1b llama-3.2-3b llama-3.1-8b"
fails=0
verdict() {  # verdict OK(0/1) TEXT
  if [ "$1" = 1 ]; then echo "PASS $2"; else echo "FAIL $2"; fails=$((fails + 1)); fi
}
field() { sed -n "s/.* $1=\([^ ]*\).*/\1/p" | head -1; }

nvidia-smi --query-gpu=name,driver_version,memory.total,clocks.sm --format=csv,noheader | tee "$LOG/device.txt"

timeout 120 "$BIN/test_attn_decode" >"$LOG/test_attn_decode.log" 2>&1
rc=$?
grep -E "^\[  (FAILED|ERROR)" "$LOG/test_attn_decode.log" | head -20
for v in $VARIANTS; do
  l=$(grep -E "^decode attention $v " "$LOG/test_attn_decode.log")
  n=$(echo "$l" | grep -c .)
  worst=$(echo "$l" | sed -n 's/.*: rel err \([^,]*\),.*/\1/p' | sort -g | tail -1)
  worst_kv=$(echo "$l" | sed -n 's/.*appended k\/v \([^,]*\),.*/\1/p' | sort -g | tail -1)
  worst_split=$(echo "$l" | sed -n 's/.*against split \([^ ]*\) .*/\1/p' | sort -g | tail -1)
  differ=$(echo "$l" | sed -n 's/.*(\([0-9]*\) of [0-9]* outputs differ).*/\1/p' | awk '{s += $1} END {print s + 0}')
  echo "  $v: $n shapes; worst rel err ${worst:-?} (bound 1e-2), appended k/v ${worst_kv:-?} (1e-2)," \
    "against split ${worst_split:-?} (1e-3), $differ outputs differ from split"
done
verdict $([ $rc -eq 0 ] && echo 1 || echo 0) "test_attn_decode (rc=$rc; every decode attention variant against float64 and split)"

timeout 150 "$BIN/test_cuda_engine" >"$LOG/test_cuda_engine.log" 2>&1
rc=$?
grep -E "^\[  (FAILED|ERROR)|decode attention .* against split|one_rope decode step" "$LOG/test_cuda_engine.log" | sed 's/^ */  /'
verdict $([ $rc -eq 0 ] && echo 1 || echo 0) "test_cuda_engine (rc=$rc; tokens and logits of every decode attention variant against split)"

timeout 180 "$BIN/bench_engine" --models "$(echo $MODELS | tr ' ' ,)" --weights bf16 --fusion none --decode-only \
  --attn-decode all >"$LOG/bench_engine.log" 2>&1
rc=$?
verdict $([ $rc -eq 0 ] && echo 1 || echo 0) "bench_engine ran (rc=$rc)"
grep -hE "^ceilings" "$LOG/bench_engine.log"

declare -A minpct  # per variant: its lowest batch-1 % of the floor over the models
for v in $VARIANTS; do minpct[$v]=1000; done
for m in $MODELS; do
  echo "  $m, bf16, decode at context 512 (GEMV+PDL, graph replay):"
  printf "    %-9s %9s %9s %8s %10s %10s %10s %12s\n" variant "b1 tok/s" "ms/token" "% floor" "b4 tok/s" "b8 tok/s" \
    "b16 tok/s" "attn ms/tok"
  best=0 best_name=?
  for v in $VARIANTS; do
    l=$(grep -h "RESULT model=$m kind=decode_b1 matmul=GEMV+PDL .* attn_decode=$v\$" "$LOG/bench_engine.log")
    pct=$(echo "$l" | field pct_floor)
    bt=""
    for b in 4 8 16; do
      bt="$bt $(grep -h "RESULT model=$m kind=decode batch=$b ctx=512 .* attn_decode=$v\$" "$LOG/bench_engine.log" | field tok_s)"
    done
    # the attention's share of the stage table: rope + attn (split, one) or rope+attn (one_rope)
    attn=$(grep -h "RESULT model=$m kind=stage what=\"decode batch 1 context 512, fusion none, attention $v\" stage=\(rope\|attn\|rope+attn\) " \
      "$LOG/bench_engine.log" | sed -n 's/.* ms=\([^ ]*\).*/\1/p' | awk '{s += $1} END {if (NR) printf "%.3f", s; else print "?"}')
    printf "    %-9s %9s %9s %8s %10s %10s %10s %12s\n" $v "$(echo "$l" | field tok_s)" "$(echo "$l" | field ms_token)" \
      "${pct:-?}" $bt "$attn"
    [ -z "$pct" ] && continue
    if awk -v a="$pct" -v b="$best" 'BEGIN { exit !(a > b) }'; then best=$pct best_name=$v; fi
    if awk -v a="$pct" -v b="${minpct[$v]}" 'BEGIN { exit !(a < b) }'; then minpct[$v]=$pct; fi
  done
  verdict $(awk -v p="$best" 'BEGIN { print (p >= 85) }') \
    "$m bf16 decode batch 1: best variant $best_name at ${best}% of the bandwidth floor (target >= 85)"
done
pick=split pick_pct=0
for v in $VARIANTS; do
  if [ "${minpct[$v]}" != 1000 ] && awk -v a="${minpct[$v]}" -v b="$pick_pct" 'BEGIN { exit !(a > b) }'; then
    pick=$v pick_pct=${minpct[$v]}
  fi
done
up=$(echo "$pick" | tr a-z A-Z)
echo "  best over 1B, 3B and 8B (the highest lowest batch-1 % of the floor): $pick at >= ${pick_pct}%;" \
  "check batches 4-16 are no slower before changing the default"
echo "  to make $pick the default: src/engine/cuda/attn_decode_variant.h:" \
  "#define LJ_ATTN_DECODE_DEFAULT LJ_ATTN_DECODE_$up"
echo "attn_decode: $fails failure(s)"
exit $((fails > 0))
