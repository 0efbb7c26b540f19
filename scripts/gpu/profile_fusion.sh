#!/usr/bin/env bash
# What the kernel boundaries cost (issue 13), on a real GPU: `profile --quick` of one model with
# --fusion none and with --fusion production on the same card, then `compare` of the two, which
# prints decode J/token (none - production) with its interval. Also the refusal of production with
# FP8 weights. PASS/FAIL lines with numbers; about 4 minutes for 1B on an H100.
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
"$bin" compare "$results/none.db" "$results/production.db" -o "$results/compare.html" 2>"$results/compare.txt"
rc=$?
cat "$results/compare.txt"
if [[ $rc -eq 0 ]] && grep -q "kernel boundaries" "$results/compare.txt"; then
  pass "compare prints the boundaries' cost: $(grep -m1 'decode .* J/token' "$results/compare.txt" | sed 's/^ *//')"
else
  fail "compare (exit $rc) printed no 'kernel boundaries' line"
fi
"$bin" profile --model "$model" --quick --fusion production --weights fp8 -o "$results/fp8.db" >"$results/fp8.txt" 2>&1
rc=$?
[[ $rc -eq 1 ]] && grep -q "read bf16 weights" "$results/fp8.txt" && [[ ! -e $results/fp8.db ]] && pass "production + fp8 refused (exit 1)" \
  || fail "production + fp8: exit $rc: $(tail -n 2 "$results/fp8.txt")"
echo "$fails failed"
exit $((fails > 0))
