#!/usr/bin/env bash
# Tensor parallelism on ONE GPU (docs/tensor-parallel.md §6): the CUDA engine's sharded path with
# every rank on the one device (--tp-backend loopback) and NCCL at degree 1, then what a
# multi-GPU machine needs known first (GPUs, topology, NCCL). Under 2 minutes on an H100.
#   1. test_cuda_tp: loopback degree 2 and 4 against the CPU emulation and the engine alone, NCCL
#      degree 1 bit for bit, the all-reduce shown to matter (its printed numbers are kept); its NCCL
#      degree-2 order replays skip here, saying so (tp_multi.sh runs them on 2+ GPUs);
#   2. generate --tp 2 --tp-backend loopback on the tiny presets and llama-3.2-1b (random weights
#      generated per rank on the GPU): greedy tokens = --tp 1's (the engine alone) until a near tie;
#   3. generate --tp 1 --tp-backend nccl (llama-3.2-1b): the same tokens through NCCL's path;
#   4. --tp 2 over NCCL on one GPU is refused naming the GPUs it needs.
#   bash scripts/gpu/tp_checks.sh [BIN_DIR [LOG_DIR]]   (default build-gpu; logs in LOG_DIR, else $OUT or ./tp-logs)
# Set LLAMAJOULE_NCCL to libnccl.so.2 if the machine has it somewhere unusual.
set -u
BIN=${1:-build-gpu}
LOG=${2:-${OUT:-./tp-logs}}
source "$(dirname "$0")/checks_lib.sh"
P="128000 791 6864 315 9822 374"
ids() { grep '^ids: ' "$1" | sed 's/^ids: //'; }

if [ -x "$BIN/test_cuda_tp" ]; then
  (cd "$SRC" && timeout 120 "$BIN/test_cuda_tp") >"$LOG/test_cuda_tp.log" 2>&1
  rc=$?
  grep -E "vs |WITHOUT|NCCL|degree" "$LOG/test_cuda_tp.log" | sed 's/^/INFO /'
  verdict "$([ "$rc" = 0 ] && echo 1 || echo 0)" "test_cuda_tp: exit $rc ($(grep -c '\[       OK \]' "$LOG/test_cuda_tp.log") ok, $(grep -c '\[  FAILED  \]' "$LOG/test_cuda_tp.log") failed lines)"
else
  verdict 0 "test_cuda_tp not built in $BIN"
fi

# generate: --tp 2 over loopback against the engine alone (greedy, the same random weights).
for m in tiny llama-3.2-1b; do
  n=16; [ "$m" = llama-3.2-1b ] && n=32
  "$BIN/llamajoule" generate --model "$m" --prompt-ids "$P" -n $n --ignore-eos --device cuda \
    --dump-logits "$LOG/$m.tp1.logits" >"$LOG/$m.tp1" 2>&1
  "$BIN/llamajoule" generate --model "$m" --prompt-ids "$P" -n $n --ignore-eos --device cuda --tp 2 \
    --tp-backend loopback --dump-logits "$LOG/$m.loop2.logits" >"$LOG/$m.loop2" 2>&1
  a=$(ids "$LOG/$m.tp1") b=$(ids "$LOG/$m.loop2")
  # Equal greedy tokens until the first near tie (--tp 1's top two logits under 0.05 apart, as in
  # test_cuda_tp): random weights give flat distributions, and the split all-reduce rounds once more.
  tie=$(python3 "$SRC/scripts/gpu/first_divergence.py" "$LOG/$m.tp1.logits" "$LOG/$m.loop2.logits" 0.05 2>&1)
  verdict "$([ -n "$a" ] && { [ "$a" = "$b" ] || [ "${tie%% *}" = near_tie ]; } && echo 1 || echo 0)" \
    "$m: --tp 2 --tp-backend loopback greedy tokens = --tp 1's ($n tokens) until a near tie: $tie"
  rm -f "$LOG/$m.tp1.logits" "$LOG/$m.loop2.logits"
  grep "decode .* tok/s" "$LOG/$m.loop2" | sed "s/^/INFO $m loopback 2 (eager, a test device): /"
done
# tiny-untied's rank at degree 2 has 100 MLP rows: the engine needs multiples of 8, and says so.
"$BIN/llamajoule" generate --model tiny-untied --prompt-ids "$P" -n 4 --device cuda --tp 2 --tp-backend loopback \
  >/dev/null 2>"$LOG/untied.err"
verdict "$(grep -q "rank 0 of 2.*hidden 100" "$LOG/untied.err" && echo 1 || echo 0)" \
  "tiny-untied --tp 2 refused per rank: $(grep error "$LOG/untied.err" | head -1 | cut -c1-160)"
"$BIN/llamajoule" generate --model tiny --prompt-ids "$P" -n 16 --ignore-eos --device cpu --tp 2 >"$LOG/tiny.cpu_tp2" 2>&1
a=$(ids "$LOG/tiny.cpu_tp2") b=$(ids "$LOG/tiny.loop2")
verdict "$([ -n "$a" ] && [ "$a" = "$b" ] && echo 1 || echo 0)" "tiny: CUDA loopback --tp 2 tokens = CPU emulation --tp 2's"

# NCCL at degree 1: the tensor-parallel path with NCCL's all-reduce on the one GPU.
"$BIN/llamajoule" generate --model llama-3.2-1b --prompt-ids "$P" -n 32 --ignore-eos --device cuda --tp 1 \
  --tp-backend nccl >"$LOG/1b.nccl1" 2>&1
rc=$?
if [ "$rc" = 0 ]; then
  a=$(ids "$LOG/llama-3.2-1b.tp1") b=$(ids "$LOG/1b.nccl1")
  verdict "$([ -n "$a" ] && [ "$a" = "$b" ] && echo 1 || echo 0)" "llama-3.2-1b: --tp 1 --tp-backend nccl = no --tp (32 tokens)"
  grep -o "nccl [0-9.]* from [^,]*, .*NCCL_NVLS_ENABLE=[^;]*" "$LOG/1b.nccl1" | head -1 | sed 's/^/INFO NCCL: /'
else
  verdict 0 "llama-3.2-1b --tp 1 --tp-backend nccl: exit $rc: $(grep -A4 error "$LOG/1b.nccl1" | head -5 | tr '\n' ' ')"
fi

ngpu=$(nvidia-smi -L | wc -l)
if [ "$ngpu" -lt 2 ]; then
  "$BIN/llamajoule" generate --model tiny --prompt-ids 1 --device cuda --tp 2 >/dev/null 2>"$LOG/refusal.err"
  rc=$?
  verdict "$([ "$rc" != 0 ] && grep -q "needs 2 GPUs" "$LOG/refusal.err" && echo 1 || echo 0)" \
    "--tp 2 over NCCL on one GPU refused: exit $rc, $(grep error "$LOG/refusal.err" | head -1)"
fi

echo "INFO GPUs: $ngpu"
nvidia-smi -L | sed 's/ (UUID.*//; s/^/INFO /'
nvidia-smi topo -m 2>&1 | sed 's/^/INFO topo /' | head -20
echo "INFO NCCL header: $(grep -h '^#define NCCL_\(MAJOR\|MINOR\|PATCH\) ' /usr/local/cuda/include/nccl.h 2>/dev/null | awk '{printf "%s%s", s, $3; s="."}')"
echo "INFO NCCL libraries: $(ls /usr/local/cuda/lib64/libnccl.so* /usr/local/lib/python3*/*-packages/nvidia/nccl/lib/libnccl.so* 2>/dev/null | tr '\n' ' ')"
echo "RESULT tp_checks fails=$fails"
exit $((fails > 0))
