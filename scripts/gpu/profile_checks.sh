#!/usr/bin/env bash
# `llamajoule profile` on a real GPU, from prebuilt portable binaries:
#   nvidia-smi -q before and after (clocks, temperature, throttle reasons);
#   the engine's profiling-hook tests (test_cuda_profiling);
#   a short smoke profile of the tiny model;
#   `profile --quick` of 1B, timed (PASS when <= 90 s), with the energy source of its estimates;
#   a full profile (defaults) of each model given, store and JSON kept.
# Reads the GPU only: never changes its clocks, power limit or persistence mode.
#
#   bash scripts/gpu/profile_checks.sh BIN_DIR OUT_DIR [MODEL...]
#   (default models: llama-3.2-1b; BIN_DIR holds llamajoule, test_cuda_profiling and
#    ../share/llamajoule/tokenizer.json next to it; extra profile options in $PROFILE_ARGS;
#    SKIP_TESTS=1, SKIP_SMOKE=1, SKIP_ENGINE_TEST=1, SKIP_QUICK=1 leave those steps out)
set -uo pipefail
bin_dir=$(cd "${1:?usage: profile_checks.sh BIN_DIR OUT_DIR [MODEL...]}" && pwd)
out_dir=${2:?usage: profile_checks.sh BIN_DIR OUT_DIR [MODEL...]}
shift 2
models=("$@")
((${#models[@]})) || models=(llama-3.2-1b)
mkdir -p "$out_dir"
results=$(cd "$out_dir" && pwd)
summary="$results/summary.txt"
for d in "$bin_dir/../lib" /usr/local/cuda/lib64 /usr/local/nvidia/lib64 /usr/lib/x86_64-linux-gnu; do
  [[ -d $d ]] && export LD_LIBRARY_PATH="${LD_LIBRARY_PATH:+$LD_LIBRARY_PATH:}$d"
done
export LLAMAJOULE_SOURCE_DIR=$(cd "$(dirname "$0")/../.." && pwd)
lj="$bin_dir/llamajoule"
{ date -u +"date %Y-%m-%dT%H:%M:%SZ"; echo "command: $0 $*"; } >"$summary"
nvidia-smi --query-gpu=name,driver_version,memory.total,power.limit,temperature.gpu,clocks.sm,clocks.mem \
  --format=csv | tee -a "$summary"
nvidia-smi -q -d PERFORMANCE,CLOCK,TEMPERATURE,POWER >"$results/nvidia-smi-before.txt" 2>&1

step() {  # step NAME CMD...: runs, logs, records rc and seconds
  local name=$1; shift
  local t0=$(date +%s.%N)
  "$@" >"$results/$name.out" 2>"$results/$name.err"
  local rc=$?
  local t1=$(date +%s.%N)
  printf '%-28s rc=%-3s %6.1f s\n' "$name" "$rc" "$(awk -v a="$t0" -v b="$t1" 'BEGIN{print b-a}')" | tee -a "$summary"
  tail -n 5 "$results/$name.err"
}

if [[ -x $bin_dir/test_cuda_profiling && ${SKIP_TESTS:-0} != 1 ]]; then
  step test_cuda_profiling "$bin_dir/test_cuda_profiling"
  grep -B3 -A3 "FAIL\|rror" "$results/test_cuda_profiling.out" "$results/test_cuda_profiling.err" | head -40
fi
if [[ -x $bin_dir/test_cuda_engine && ${SKIP_ENGINE_TEST:-0} != 1 ]]; then step test_cuda_engine "$bin_dir/test_cuda_engine"; fi
if [[ ${SKIP_SMOKE:-0} != 1 ]]; then
  step profile_tiny_smoke "$lj" profile --model tiny --prompt-len 32 --gen-len 16 --repeats 2 --trials 2 \
    --replay-seconds 0.3 --phase-seconds 0.3 --idle-seconds 1 -o "$results/tiny-smoke.db" --json
fi
if [[ ${SKIP_QUICK:-0} != 1 ]]; then
  # --quick promises a first look at 1B within 90 s (docs/cli.md): the whole command, timed.
  t0=$(date +%s.%N)
  step profile_quick_1b "$lj" profile --quick --model llama-3.2-1b -o "$results/quick-1b.db" --json
  secs=$(awk -v a="$t0" -v b="$(date +%s.%N)" 'BEGIN{printf "%.1f", b-a}')
  cp "$results/profile_quick_1b.out" "$results/quick-1b.json"
  verdict=$(awk -v s="$secs" 'BEGIN{print (s <= 90) ? "PASS" : "FAIL"}')
  echo "$verdict: profile --quick --model llama-3.2-1b took $secs s (target <= 90 s)" | tee -a "$summary"
  if command -v jq >/dev/null; then
    jq -r '"quick 1B: \([.stages[] | select((.window_flags_text // "") | test("sample_energy"))] | length) of \(.stages | length) stage estimates from the power samples, \([.stages[] | select((.window_flags_text // "") | test("sources_disagree"))] | length) with counter and samples disagreeing; closures: \([.closures[] | "\(.phase) \(.method) \(.error_dynamic_pct|tostring|.[0:5])% [\(.error_dynamic_lo_pct|tostring|.[0:5]), \(.error_dynamic_hi_pct|tostring|.[0:5])] \(.verdict)"] | join("; "))"' \
      "$results/quick-1b.json" 2>&1 | tee -a "$summary"
  fi
fi
for m in "${models[@]}"; do
  step "profile_$m" "$lj" profile --model "$m" ${PROFILE_ARGS:-} -o "$results/$m.db" --json
  cp "$results/profile_$m.out" "$results/$m.json"
done
nvidia-smi -q -d PERFORMANCE,CLOCK,TEMPERATURE,POWER >"$results/nvidia-smi-after.txt" 2>&1
echo "done" >>"$summary"
