#!/usr/bin/env bash
# What the kernel boundaries cost (issue 13), on a real GPU: `profile --quick` of one model with
# --fusion none and with --fusion production on the same card, then `compare` of the two, which
# prints decode J/token (none - production) with its interval. Also the refusal of production with
# FP8 weights. PASS/FAIL lines with numbers; about 4 minutes for 1B on an H100.
#
#   bash scripts/gpu/profile_fusion.sh BUILD_DIR OUT_DIR [MODEL]   (default llama-3.2-1b)
set -uo pipefail
bin=$(cd "${1:?usage: profile_fusion.sh BUILD_DIR OUT_DIR [MODEL]}" && pwd)/llamajoule
out=${2:?usage: profile_fusion.sh BUILD_DIR OUT_DIR [MODEL]}
model=${3:-llama-3.2-1b}
mkdir -p "$out"
fails=0
pass() { echo "PASS: $*"; }
fail() { echo "FAIL: $*"; fails=$((fails + 1)); }
for mode in none production; do
  start=$(date +%s)
  timeout 240 "$bin" profile --model "$model" --quick --fusion "$mode" --json -o "$out/$mode.db" \
    >"$out/$mode.json" 2>"$out/$mode.txt"
  rc=$?
  secs=$(($(date +%s) - start))
  if [[ $rc -ne 0 ]]; then fail "profile --fusion $mode: exit $rc after ${secs}s: $(tail -n 3 "$out/$mode.txt")"; continue; fi
  grep -q "\"fusion\": *\"$mode\"" "$out/$mode.json" && pass "profile --fusion $mode ran in ${secs}s, JSON plan says $mode" \
    || fail "profile --fusion $mode: the JSON plan does not say fusion $mode"
  grep -m1 "decode" "$out/$mode.txt" | sed "s/^/  $mode: /"
done
[[ -s $out/production.txt ]] && grep -q "fusion production" "$out/production.txt" && pass "text header says fusion production" \
  || fail "text header of the production run lacks 'fusion production'"
"$bin" compare "$out/none.db" "$out/production.db" -o "$out/compare.html" 2>"$out/compare.txt"
rc=$?
cat "$out/compare.txt"
if [[ $rc -eq 0 ]] && grep -q "kernel boundaries" "$out/compare.txt"; then
  pass "compare prints the boundaries' cost: $(grep -m1 'decode .* J/token' "$out/compare.txt" | sed 's/^ *//')"
else
  fail "compare (exit $rc) printed no 'kernel boundaries' line"
fi
"$bin" profile --model "$model" --quick --fusion production --weights fp8 -o "$out/fp8.db" >"$out/fp8.txt" 2>&1
rc=$?
[[ $rc -eq 1 ]] && grep -q "read bf16 weights" "$out/fp8.txt" && [[ ! -e $out/fp8.db ]] && pass "production + fp8 refused (exit 1)" \
  || fail "production + fp8: exit $rc: $(tail -n 2 "$out/fp8.txt")"
echo "$fails failed"
exit $((fails > 0))
