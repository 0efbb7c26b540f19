#!/usr/bin/env bash
# `llamajoule generate --device cuda` against --device cpu on the tiny models
# (greedy: the same tokens), then a 1B random-weight run on the GPU.
#   scripts/gpu/generate_check.sh [BIN_DIR]
set -u
BIN=${1:-build-gpu}
LOG=${OUT:-./generate-logs}
mkdir -p "$LOG"
fails=0
for m in tiny tiny-untied; do
  for dev in cpu cuda; do
    "$BIN/llamajoule" generate --model "$m" --prompt-ids "128000 791 6864 315 9822 374" -n 16 --ignore-eos \
      --device "$dev" >"$LOG/gen_${m}_$dev.txt" 2>"$LOG/gen_${m}_$dev.err" || { echo "FAIL: $m $dev"; fails=1; }
  done
  if diff -q "$LOG/gen_${m}_cpu.txt" "$LOG/gen_${m}_cuda.txt" >/dev/null; then
    echo "ok: $m greedy tokens equal on cpu and cuda: $(cat "$LOG/gen_${m}_cuda.txt")"
  else
    echo "FAIL: $m: cpu $(cat "$LOG/gen_${m}_cpu.txt") / cuda $(cat "$LOG/gen_${m}_cuda.txt")"; fails=1
  fi
done
"$BIN/llamajoule" generate --model llama-3.2-1b --prompt-ids "128000 791 6864 315 9822 374" -n 128 --ignore-eos \
  --device cuda 2>&1 | tail -3
exit $fails
