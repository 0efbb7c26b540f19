#!/usr/bin/env bash
# The all-reduce stages on one GPU (docs/tensor-parallel.md §3): at degree 1 the CUDA engine runs
# none of them, and every method that walks a layer's stages (isolation, sequence prefixes, the
# Shapley rounds' leave-one-out and orders, per-layer stage replays) sees the nine stages it saw
# before they existed. Checks:
#   - the GPU tests that spell a layer's stages (test_cuda_engine, test_cuda_profiling, test_cuda_fp8);
#   - a short 1B profile with the sequence replay and the Shapley rounds: no all-reduce row in the
#     store, the sequence and Shapley rows of the nine stages in each phase, the Shapley split of 9
#     stages, no "communication" in the report;
#   - a --quick tiny profile with --per-layer (the per-layer stage replays run the layer's stages
#     before each one): nine stages per layer in the layers x stages table, no all-reduce;
#   - profile --tp 2 on the GPU refused (exit 2), and --engine cpu --tp 2 runs with its all-reduce rows.
#   bash scripts/gpu/tp_stages_checks.sh [BIN_DIR]     (default build-gpu; logs in $OUT or ./tp-stages-logs)
set -u
BIN=${1:-build-gpu}
LOG=${OUT:-./tp-stages-logs}
source "$(dirname "$0")/checks_lib.sh"
LJ="$BIN/llamajoule"

for t in test_cuda_engine test_cuda_profiling test_cuda_fp8; do
  (cd "$SRC" && LLAMAJOULE_BIN="$LJ" "$BIN/$t") >"$LOG/$t.log" 2>&1
  rc=$?
  verdict "$([ "$rc" = 0 ] && echo 1 || echo 0)" "$t: exit $rc ($(grep -c '^\[       OK \]' "$LOG/$t.log") ok, $(grep -c '^\[  FAILED  \]' "$LOG/$t.log") failed lines)"
done

# 1B, short windows, sequence and Shapley on (the default), no ablation: ~3 minutes on an H100.
"$LJ" profile --model llama-3.2-1b --prompt-len 64 --gen-len 16 --repeats 2 --phase-seconds 1 --trials 3 \
  --replay-seconds 0.3 --decode-kv 2 --idle-seconds 2 --cooldown-seconds 2 --ablate none --no-overhead \
  -o "$LOG/p1.db" --json >"$LOG/p1.json" 2>"$LOG/p1.txt"
rc=$?
verdict "$([ "$rc" = 0 ] && echo 1 || echo 0)" "1B profile (sequence + Shapley): exit $rc"
n=$(sqlite3 "$LOG/p1.db" "select count(*) from stage_estimates where stage like '%allreduce'")
verdict "$([ "$n" = 0 ] && echo 1 || echo 0)" "1B profile: no all-reduce row in the store ($n)"
for ph in prefill decode; do
  for m in sequence shapley; do
    got=$(jq -r "[.stages[] | select(.phase == \"$ph\" and .method == \"$m\") | .stage] | unique | length" "$LOG/p1.json")
    verdict "$([ "$got" = 9 ] && echo 1 || echo 0)" "1B $ph: $m rows for $got stages (9 expected)"
  done
  ns=$(jq -r ".shapley[] | select(.phase == \"$ph\") | .n_stages" "$LOG/p1.json" | head -1)
  res=$(jq -r ".shapley[] | select(.phase == \"$ph\") | \"\(.verdict) residual \(.residual_pct)%\"" "$LOG/p1.json" | head -1)
  verdict "$([ "$ns" = 9 ] && echo 1 || echo 0)" "1B $ph: Shapley split of $ns stages ($res)"
  cl=$(jq -r ".closures[] | select(.phase == \"$ph\" and .method == \"sequence\") | \"\(.verdict) \(.error_dynamic_pct)%\"" "$LOG/p1.json")
  verdict "$([ -n "$cl" ] && echo 1 || echo 0)" "1B $ph: sequence closure computed: $cl"
done
c=$(grep -c communication "$LOG/p1.txt")
verdict "$([ "$c" = 0 ] && echo 1 || echo 0)" "1B profile: no communication group in the report ($c lines)"

"$LJ" profile --model tiny --quick --per-layer --skip-rounds 2 -o "$LOG/pl.db" --json >"$LOG/pl.json" 2>"$LOG/pl.txt"
rc=$?
verdict "$([ "$rc" = 0 ] && echo 1 || echo 0)" "tiny --quick --per-layer: exit $rc"
n=$(jq -r '[.layer_stages[]? | .stage] | unique | length' "$LOG/pl.json")
a=$(jq -r '[.layer_stages[]? | select(.stage | test("allreduce"))] | length' "$LOG/pl.json")
verdict "$([ "$n" = 9 ] && [ "$a" = 0 ] && echo 1 || echo 0)" "tiny per-layer: $n stages in the layers x stages table, $a all-reduce"

"$LJ" profile --model tiny --quick --tp 2 -o "$LOG/refused.db" >/dev/null 2>"$LOG/refused.err"
rc=$?
verdict "$([ "$rc" = 2 ] && grep -q "the GPU profile runs one GPU" "$LOG/refused.err" && echo 1 || echo 0)" \
  "profile --tp 2 on the GPU refused: exit $rc, $(head -1 "$LOG/refused.err")"
"$LJ" profile --engine cpu --model tiny --prompt-len 8 --gen-len 3 --repeats 1 --phase-seconds 0.05 --tp 2 \
  -o "$LOG/cpu_tp2.db" >"$LOG/cpu_tp2.txt" 2>&1
n=$(sqlite3 "$LOG/cpu_tp2.db" "select count(*) from stage_estimates where stage like '%allreduce'" 2>/dev/null)
verdict "$([ "$n" = 4 ] && echo 1 || echo 0)" "profile --engine cpu --tp 2: $n all-reduce rows (2 stages x prefill, decode)"
grep '^communication (' "$LOG/cpu_tp2.txt" | sed 's/^/INFO /'
echo "RESULT tp_stages_checks fails=$fails"
exit $((fails > 0))
