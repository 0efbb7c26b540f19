#!/usr/bin/env bash
# Tensor-parallel groundwork on a GPU host (docs/tensor-parallel.md): the CPU emulation at
# --tp 2 against the CUDA engine (one GPU) on the tiny presets (greedy tokens equal), --tp 1 on
# the CUDA engine is today's path (1B: the same tokens as without --tp), --tp 2 on the CUDA
# engine is refused until its NCCL path exists; then what a multi-GPU session needs to know (GPUs,
# topology, NCCL). The CPU emulation of 1B at --tp 8 runs in CI (tests/cli/generate_llama_1b.sh).
#   bash scripts/gpu/tp_checks.sh [BIN_DIR]        (default build-gpu; logs in $OUT or ./tp-logs)
set -u
BIN=${1:-build-gpu}
LOG=${OUT:-./tp-logs}
source "$(dirname "$0")/checks_lib.sh"
P="128000 791 6864 315 9822 374"
ids() { grep '^ids: ' "$1" | sed 's/^ids: //'; }

for m in tiny tiny-untied; do
  "$BIN/llamajoule" generate --model "$m" --prompt-ids "$P" -n 16 --ignore-eos --device cuda >"$LOG/$m.cuda" 2>&1
  "$BIN/llamajoule" generate --model "$m" --prompt-ids "$P" -n 16 --ignore-eos --device cpu --tp 2 >"$LOG/$m.cpu_tp2" 2>&1
  a=$(ids "$LOG/$m.cuda") b=$(ids "$LOG/$m.cpu_tp2")
  verdict "$([ -n "$a" ] && [ "$a" = "$b" ] && echo 1 || echo 0)" "$m: CPU --tp 2 greedy tokens = CUDA engine's: [$b] / [$a]"
done

"$BIN/llamajoule" generate --model llama-3.2-1b --prompt-ids "$P" -n 32 --ignore-eos --device cuda >"$LOG/1b.cuda" 2>&1
"$BIN/llamajoule" generate --model llama-3.2-1b --prompt-ids "$P" -n 32 --ignore-eos --device cuda --tp 1 >"$LOG/1b.cuda_tp1" 2>&1
a=$(ids "$LOG/1b.cuda") b=$(ids "$LOG/1b.cuda_tp1")
verdict "$([ -n "$a" ] && [ "$a" = "$b" ] && echo 1 || echo 0)" "llama-3.2-1b on the GPU: --tp 1 = no --tp (32 tokens)"

"$BIN/llamajoule" generate --model tiny --prompt-ids 1 --device cuda --tp 2 >/dev/null 2>"$LOG/refusal.err"
rc=$?
verdict "$([ "$rc" = 2 ] && grep -q "until its NCCL path exists" "$LOG/refusal.err" && echo 1 || echo 0)" \
  "--device cuda --tp 2 refused: exit $rc, $(head -1 "$LOG/refusal.err")"

echo "INFO GPUs: $(nvidia-smi -L | wc -l)"
nvidia-smi -L | sed 's/ (UUID.*//; s/^/INFO /'
nvidia-smi topo -m 2>&1 | sed 's/^/INFO topo /' | head -20
echo "INFO NCCL header: $(grep -h '^#define NCCL_\(MAJOR\|MINOR\|PATCH\) ' /usr/local/cuda/include/nccl.h 2>/dev/null | awk '{printf "%s%s", s, $3; s="."}')"
echo "INFO NCCL library: $(ls /usr/local/cuda/lib64/libnccl.so* 2>/dev/null | head -1)"
echo "RESULT tp_checks fails=$fails"
exit $((fails > 0))
