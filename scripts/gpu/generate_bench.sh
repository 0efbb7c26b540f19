#!/usr/bin/env bash
# `llamajoule generate --device cuda` (what users run) against bench_engine's decode (graph
# replay after warm-up) at the same batch sizes and mean context (512), random weights.
#   scripts/gpu/generate_bench.sh BIN_DIR [MODELS] [BATCHES]
# Prints one table: generate's decode tok/s, bench_engine's, and generate / bench_engine
# (target >= 0.95). generate decodes 512 tokens after a 256-token prompt (mean context 512);
# its decode time includes the decode graph's capture, as a user's run does.
# Logs go to $BENCH_LOG_DIR, else $OUT, else ./bench-logs.
set -u
BIN=${1:-build-gpu}
MODELS=${2:-llama-3.2-1b,llama-3.2-3b,llama-3.1-8b}
BATCHES=${3:-1,4,16,64,256}
LOG=${BENCH_LOG_DIR:-${OUT:-./bench-logs}}
FUSION=${FUSION:-none}  # generate's --fusion; compared with bench_engine's line of the same mode
mkdir -p "$LOG"
nvidia-smi --query-gpu=name,driver_version,clocks.sm,clocks.mem,temperature.gpu,power.draw,clocks_throttle_reasons.active \
  --format=csv | tee "$LOG/generate_bench_device.txt"
prompt=$(awk 'BEGIN { s = 7; for (i = 0; i < 256; i++) { s = (s * 1103515245 + 12345) % 2147483648; printf "%d ", 1000 + s % 120000 } }')
"$BIN/bench_engine" --models "$MODELS" --quick >"$LOG/generate_bench_engine.log" 2>&1
printf '%-14s %6s %14s %14s %8s\n' model batch generate_tok_s bench_tok_s ratio | tee "$LOG/generate_bench.txt"
for m in ${MODELS//,/ }; do
  for b in ${BATCHES//,/ }; do
    line=$("$BIN/llamajoule" generate --model "$m" --prompt-ids "$prompt" --batch "$b" -n 512 --ignore-eos \
             --device cuda --fusion "$FUSION" 2>&1 >/dev/null | tee -a "$LOG/generate_bench_runs.log" | grep 'decode .* tokens in')
    gen=$(sed -E 's/.*decode [0-9]+ tokens in [0-9.]+ s \(([0-9.]+) tok\/s\).*/\1/' <<<"$line")
    # the fused mode runs only where the own GEMV does (batch <= 8): elsewhere both modes are the unfused one
    kind=decode; [ "$FUSION" = production ] && kind=decode_fused
    ref=$( (grep "RESULT model=$m kind=$kind batch=$b ctx=512 fits=1" "$LOG/generate_bench_engine.log" ||
            grep "RESULT model=$m kind=decode batch=$b ctx=512 fits=1" "$LOG/generate_bench_engine.log") |
            head -1 | sed -E 's/.* tok_s=([0-9.]+).*/\1/')
    ratio=$(awk -v g="${gen:-0}" -v r="${ref:-0}" 'BEGIN { if (r > 0 && g > 0) printf "%.3f", g / r; else print "-" }')
    printf '%-14s %6d %14s %14s %8s\n' "$m" "$b" "${gen:--}" "${ref:--}" "$ratio" | tee -a "$LOG/generate_bench.txt"
  done
done
