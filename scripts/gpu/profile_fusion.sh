#!/usr/bin/env bash
# What the kernel boundaries cost (issue 13), on a real GPU: `profile --quick` of one model with
# --fusion none and with --fusion production on the same card, then `compare` of the two, which
# prints decode J/token (none - production) with its interval and a line per stage group. The
# production profile's decode stage table must list the composite stages (isolation and timeline),
# with its decode isolation closure's verdict printed, and its prefill the simple stages. Also the
# refusal of production with FP8 weights. PASS/FAIL lines with numbers; about 4 minutes for 1B on an
# H100 (needs jq for the stage-table checks).
#
#   bash scripts/gpu/profile_fusion.sh BUILD_DIR OUT_DIR [MODEL]   (default llama-3.2-1b)
set -uo pipefail
bin=$(cd "${1:?usage: profile_fusion.sh BUILD_DIR OUT_DIR [MODEL]}" && pwd)/llamajoule
results=${2:?usage: profile_fusion.sh BUILD_DIR OUT_DIR [MODEL]}
model=${3:-llama-3.2-1b}
mkdir -p "$results"
fails=0
pass() { echo "PASS: $*"; }
fail() { echo "FAIL: $*"; fails=$((fails + 1)); }
for mode in none production; do
  start=$(date +%s)
  timeout 240 "$bin" profile --model "$model" --quick --fusion "$mode" --json -o "$results/$mode.db" \
    >"$results/$mode.json" 2>"$results/$mode.txt"
  rc=$?
  secs=$(($(date +%s) - start))
  if [[ $rc -ne 0 ]]; then fail "profile --fusion $mode: exit $rc after ${secs}s: $(tail -n 3 "$results/$mode.txt")"; continue; fi
  grep -q "\"fusion\": *\"$mode\"" "$results/$mode.json" && pass "profile --fusion $mode ran in ${secs}s, JSON plan says $mode" \
    || fail "profile --fusion $mode: the JSON plan does not say fusion $mode"
  grep -m1 "decode" "$results/$mode.txt" | sed "s/^/  $mode: /"
done
[[ -s $results/production.txt ]] && grep -q "fusion production" "$results/production.txt" && pass "text header says fusion production" \
  || fail "text header of the production run lacks 'fusion production'"
if command -v jq >/dev/null && [[ -s $results/production.json ]]; then
  j=$results/production.json
  comp=$(jq -r '[.stages[] | select(.phase == "decode" and .method == "isolation" and (.stage | contains("+"))) | .stage] | unique | join(",")' "$j")
  [[ $comp == *"attn_norm+qkv"* && $comp == *"ffn_norm+gate_up+swiglu"* ]] \
    && pass "production decode stage table has composite rows: $comp ($(jq '[.stages[] | select(.phase == "decode" and .method == "isolation")] | length' "$j") decode isolation estimates)" \
    || fail "production decode stage table lacks composite rows (got '$comp')"
  simple=$(jq -r '[.stages[] | select(.phase == "decode" and .method == "isolation") | .stage | select(. == "attn_norm" or . == "qkv" or . == "ffn_norm" or . == "gate_up" or . == "swiglu")] | length' "$j")
  [[ $simple == 0 ]] && pass "production decode has no row of a fused part (attn_norm, qkv, ffn_norm, gate_up, swiglu)" \
    || fail "production decode has $simple rows of stages the fused decode does not run alone"
  pre=$(jq -r '[.stages[] | select(.phase == "prefill" and .method == "isolation") | .stage] | unique | join(",")' "$j")
  [[ $pre != *"+"* && $pre == *"gate_up"* ]] && pass "production prefill stage table is the simple stages: $pre" \
    || fail "production prefill stage table: '$pre'"
  tl=$(jq -r '[.timeline.phases[]? | select(.phase == "decode") | .stages[] | select(.stage | contains("+")) | "\(.stage) x\(.calls)"] | join(", ")' "$j")
  [[ -n $tl ]] && pass "production timeline has composite rows: $tl" || fail "production timeline has no composite row"
  cl=$(jq -r '.closures[] | select(.phase == "decode" and .method == "isolation") | "\(.verdict) \(.error_dynamic_pct)% [\(.judged_lo_pct), \(.judged_hi_pct)] over \(.n_terms) terms"' "$j")
  [[ $cl == PASS* ]] && pass "production decode isolation closure: $cl" \
    || { [[ -n $cl ]] && fail "production decode isolation closure not PASS: $cl" || fail "production decode isolation closure not computed"; }
  grep -q "Not run on decode" <(jq -r '.notes' "$j") && pass "production notes say what decode did not run" \
    || fail "production notes lack the fused mode's note"
else
  fail "no jq or no production JSON: stage-table checks not run"
fi
"$bin" compare "$results/none.db" "$results/production.db" -o "$results/compare.html" 2>"$results/compare.txt"
rc=$?
cat "$results/compare.txt"
if [[ $rc -eq 0 ]] && grep -q "kernel boundaries" "$results/compare.txt"; then
  pass "compare prints the boundaries' cost: $(grep -m1 'decode .* J/token' "$results/compare.txt" | sed 's/^ *//')"
else
  fail "compare (exit $rc) printed no 'kernel boundaries' line"
fi
groups=$(grep -E '^  (attention\+attn_norm|mlp\+ffn_norm|final_norm|lm_head|sample) ' "$results/compare.txt" | sed 's/^ *//' | paste -sd ';' -)
[[ $groups == *"attention+attn_norm"* && $groups == *"mlp+ffn_norm"* ]] && pass "compare per stage group: $groups" \
  || fail "compare printed no per-group figures (got '$groups')"
"$bin" profile --model "$model" --quick --fusion production --weights fp8 -o "$results/fp8.db" >"$results/fp8.txt" 2>&1
rc=$?
[[ $rc -eq 1 ]] && grep -q "read bf16 weights" "$results/fp8.txt" && [[ ! -e $results/fp8.db ]] && pass "production + fp8 refused (exit 1)" \
  || fail "production + fp8: exit $rc: $(tail -n 2 "$results/fp8.txt")"
echo "$fails failed"
exit $((fails > 0))
