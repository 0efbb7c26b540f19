#!/usr/bin/env bash
# The per-layer measurement on a real GPU (profile --per-layer; docs/attribution.md §2f), from
# prebuilt binaries, one PASS/FAIL/MISS line with numbers per check:
#   tests  test_cuda_profiling: each layer's captured input, layer L replayed on it leaving layer
#          L + 1's input bit for bit, one stage of one layer on its own input and weight copies;
#   1b     llama-3.2-1b, `profile --quick --per-layer` ($PROFILE_ARGS adds options; with
#          `--no-quick` among them, which this script takes out, the default `profile --per-layer`
#          instead): the agreement across layers per phase (random weights: every layer the same
#          computation), the layer-skip checks (PASS/INCONCLUSIVE/MISS on the agreement's whole
#          95% interval, the pairs' spread and the pairs +-10% would need), the layers x stages (the
#          stages' sum against the whole layer, the cells replayed faster than in the run), and the
#          per-layer part's wall time from its windows: PASS when <= 240 s at --quick (docs/cli.md's
#          arithmetic: ~216 s), <= 600 s by default (~510 s), <= $PER_LAYER_TARGET_S where set;
#   hf     per_layer_hf.py: an HF checkpoint with one layer's weights zeroed must measure that layer
#          the cheapest, outside the others' intervals (~2 minutes).
# Reads the GPU only: never changes its clocks, power limit or persistence mode.
#
#   bash scripts/gpu/per_layer_checks.sh BIN_DIR OUT_DIR [PART...]   (parts: tests 1b hf; default all)
# On the device, from the repository root (about 3 minutes of build on 16 cores, ~8 minutes of checks):
#   cmake -S . -B build-gpu -DCMAKE_BUILD_TYPE=Release -DLLAMAJOULE_PORTABLE=ON &&
#   cmake --build build-gpu -j16 --target llamajoule test_cuda_profiling &&
#   bash scripts/gpu/per_layer_checks.sh build-gpu "$OUT/per-layer"
# The default (non-quick) per-layer run of 1B alone (~15 minutes with the rest of the default profile):
#   PROFILE_ARGS=--no-quick bash scripts/gpu/per_layer_checks.sh build-gpu "$OUT/per-layer" 1b
# The default's layer-skip check inside a quick run (10 rounds of 2 s windows; ~6.5 minutes in all):
#   PROFILE_ARGS="--skip-rounds 10 --phase-seconds 2 --no-layer-stages" PER_LAYER_TARGET_S=360 \
#     bash scripts/gpu/per_layer_checks.sh build-gpu "$OUT/per-layer" 1b
set -uo pipefail
bin_dir=$(cd "${1:?usage: per_layer_checks.sh BIN_DIR OUT_DIR [PART...]}" && pwd)
out_dir=${2:?usage: per_layer_checks.sh BIN_DIR OUT_DIR [PART...]}
shift 2
parts=("$@")
((${#parts[@]})) || parts=(tests 1b hf)
mkdir -p "$out_dir"
results=$(cd "$out_dir" && pwd)
summary="$results/per_layer.txt"
here=$(cd "$(dirname "$0")" && pwd)
for d in "$bin_dir/../lib" /usr/local/cuda/lib64 /usr/local/nvidia/lib64 /usr/lib/x86_64-linux-gnu; do
  [[ -d $d ]] && export LD_LIBRARY_PATH="${LD_LIBRARY_PATH:+$LD_LIBRARY_PATH:}$d"
done
export LLAMAJOULE_SOURCE_DIR=$(cd "$here/../.." && pwd)
lj="$bin_dir/llamajoule"
{ date -u +"date %Y-%m-%dT%H:%M:%SZ"; echo "command: $0 $*"; } | tee "$summary"
nvidia-smi --query-gpu=name,driver_version,power.limit,temperature.gpu --format=csv,noheader | tee -a "$summary"

for part in "${parts[@]}"; do
  case $part in
  tests)
    "$bin_dir/test_cuda_profiling" >"$results/test_cuda_profiling.out" 2>&1
    rc=$?
    grep -E "^\[  (FAILED|ERROR)|LINE" "$results/test_cuda_profiling.out" | head -20
    grep -E "test_layer_(replay|inputs)" "$results/test_cuda_profiling.out" | tee -a "$summary"
    printf '%s test_cuda_profiling (layer inputs: replay of layer L on its input = layer L + 1 input bit for bit): rc=%d\n' \
      "$([[ $rc == 0 ]] && echo PASS || echo FAIL)" "$rc" | tee -a "$summary"
    ;;
  1b)
    m=llama-3.2-1b
    args=() quick=--quick target=240
    for a in ${PROFILE_ARGS:-}; do
      if [[ $a == --no-quick ]]; then quick= target=600; else args+=("$a"); fi
    done
    target=${PER_LAYER_TARGET_S:-$target}
    t0=$(date +%s)
    "$lj" profile --model $m $quick --per-layer "${args[@]}" -o "$results/$m.db" --json \
      >"$results/$m.json" 2>"$results/$m.txt"
    rc=$?
    echo "profile $m $quick --per-layer ${args[*]}: rc=$rc, $(($(date +%s) - t0)) s in all" | tee -a "$summary"
    sed -n '/== Per layer/,/^skip:/p;/== Layers x stages/,/^sum\/lay/p' "$results/$m.txt" >>"$summary"
    # The per-layer part's time, as the run's notes say it (each layer alone, layers x stages, skips).
    secs=$(python3 -c '
import json, re, sys
notes = json.load(open(sys.argv[1])).get("notes", "")
print(sum(int(x) for x in re.findall(r"--per-layer: [^.]*?(\d+) s", notes) + re.findall(r"x stages (\d+) s", notes)))
' "$results/$m.json" 2>/dev/null)
    printf '%s %s per_layer time: %s s (each layer alone + layers x stages + skip windows; target <= %s s)\n' \
      "$([[ -n $secs && $secs -le $target ]] && echo PASS || echo FAIL)" "$m" "${secs:-?}" "$target" | tee -a "$summary"
    grep -o -- "--per-layer: [^.]*\." "$results/$m.txt" | tee -a "$summary"
    python3 "$here/per_layer_lines.py" "$results/$m.json" "$m" | tee -a "$summary"
    ;;
  hf)
    python3 "$here/per_layer_hf.py" "$lj" "$results/hf" 2>&1 | tail -40 | tee -a "$summary"
    ;;
  *) echo "unknown part '$part' (tests, 1b, hf)" | tee -a "$summary" ;;
  esac
done
echo "done" | tee -a "$summary"
