#!/usr/bin/env bash
# Decode energy per GEMV setting and fusion mode on one card, in one device call (docs/engine-cuda.md,
# "Decode energy"; ~4.5 minutes on an H100, under 7): bench_engine --decode-energy, batch decode at
# context 512 by graph replay in NVML windows interleaved in a seeded random order, idle subtracted:
#   1. 1B, 3B and 8B (bf16, batch 1, fusion none): the shape defaults, r4u2 and r1u1 on every class
#      (9 points): does the faster setting cost less energy? (3B: 1.049 J/token with r4u2 and 1.288
#      with r1u1 were read on two different cards);
#   2. 3B and 8B: the defaults in every fusion mode (none, production, norm-once) at batch 1 and 8
#      (12 points).
# Each point: 4 windows of >= 2 s after a 0.3 s pre-roll. A table of the points (ms/token, % of the
# floor, J/token above idle with its 95% interval, gross, power, temperature, SM clock, throttle),
# the closing line per model and batch (fastest against least energy, "within noise" where the
# intervals overlap), PASS/FAIL on every point measured. Logs go to OUT_DIR (or $OUT, or
# ./decode-energy-logs).
#
# usage: scripts/gpu/decode_energy.sh [BIN_DIR [OUT_DIR]]   (bench_engine; default build-gpu)
set -u
BIN=${1:-build-gpu}
LOG=${2:-${OUT:-./decode-energy-logs}}
source "$(dirname "$0")/checks_lib.sh"
REPEATS=${REPEATS:-4} SECONDS_W=2.0 IDLE_S=3

# points x windows x (window + 0.3 s pre-roll + ~0.3 s set-up), plus per call ~25 s (idle, copy
# bandwidth, the engines' random weights)
run1=$((9 * REPEATS)) run2=$((12 * REPEATS))
expect=$(awk -v w=$((run1 + run2)) -v s=$SECONDS_W 'BEGIN { printf "%.0f", w * (s + 0.6) + 2 * 25 }')
echo "expected: $((run1 + run2)) windows of >= ${SECONDS_W} s, about ${expect} s in all"

timeout 190 "$BIN/bench_engine" --decode-energy --models llama-3.2-1b,llama-3.2-3b,llama-3.1-8b --weights bf16 \
  --gemv-config defaults,r4u2,r1u1 --fusion none --batch 1 --energy-repeats $REPEATS --energy-seconds $SECONDS_W \
  --idle-seconds $IDLE_S >"$LOG/energy_gemv.log" 2>&1
rc1=$?
timeout 210 "$BIN/bench_engine" --decode-energy --models llama-3.2-3b,llama-3.1-8b --weights bf16 --fusion all \
  --batch 1,8 --energy-repeats $REPEATS --energy-seconds $SECONDS_W --idle-seconds $IDLE_S --energy-seed 11 \
  >"$LOG/energy_fusion.log" 2>&1
rc2=$?
for f in energy_gemv energy_fusion; do
  grep -hE "^(device|meter|idle|ceilings|decode energy:)|no CUDA device|NVML|note:" "$LOG/$f.log" | sed "s/^/  $f: /"
done

table() {  # table LOG: the points' RESULT lines as rows
  grep -h "^RESULT kind=decode_energy model=" "$1" | while read -r r; do
    printf "  %-13s %2s %-8s %-10s %8s %6s %8s %8s %8s %7s %4s-%-4s %4s-%-4s %s\n" "$(echo "$r" | field model)" \
      "$(echo "$r" | field batch)" "$(echo "$r" | field gemv)" "$(echo "$r" | field fusion)" \
      "$(echo "$r" | field ms_per_token)" "$(echo "$r" | field pct_floor)" "$(echo "$r" | field j_per_token_dyn)" \
      "+-$(echo "$r" | field j_per_token_dyn_ci)" "$(echo "$r" | field j_per_token_gross)" \
      "$(echo "$r" | field mean_w)" "$(echo "$r" | field temp_c_first)" "$(echo "$r" | field temp_c_last)" \
      "$(echo "$r" | field sm_mhz_min)" "$(echo "$r" | field sm_mhz_max)" "$(echo "$r" | field throttle)"
  done
}
header() {
  printf "  %-13s %2s %-8s %-10s %8s %6s %8s %8s %8s %7s %9s %9s %s\n" model b gemv fusion ms/tok %floor \
    "J/tok dyn" "95%" gross W "temp C" "SM MHz" throttle
}
echo "  1. GEMV settings, batch 1, fusion none (J/token above idle by the power samples, 95% over the windows):"
header
table "$LOG/energy_gemv.log"
grep -hE "^  llama-[^ ]* batch [0-9]+: " "$LOG/energy_gemv.log" | sed 's/^ */    /'
echo "  2. fusion modes, shape defaults, batch 1 and 8:"
header
table "$LOG/energy_fusion.log"
grep -hE "^  llama-[^ ]* batch [0-9]+: " "$LOG/energy_fusion.log" | sed 's/^ */    /'

n1=$(grep -c "^RESULT kind=decode_energy model=" "$LOG/energy_gemv.log")
n2=$(grep -c "^RESULT kind=decode_energy model=" "$LOG/energy_fusion.log")
verdict $([ $rc1 -eq 0 ] && [ "$n1" -eq 9 ] && echo 1 || echo 0) \
  "decode energy, GEMV settings (rc=$rc1; $n1 of 9 points)"
verdict $([ $rc2 -eq 0 ] && [ "$n2" -eq 12 ] && echo 1 || echo 0) \
  "decode energy, fusion modes (rc=$rc2; $n2 of 12 points)"
echo "decode_energy: $fails failure(s)"
exit $((fails > 0))
