#!/usr/bin/env bash
# `llamajoule generate` on llama-3.2-1b with random weights, on the CPU:
# 1.24 B parameters (2.5 GB of bf16), a short prompt and 2 greedy tokens, then the same at
# --tp 8 (the CPU engine's tensor-parallel emulation).
# Skipped in sanitizer builds (slow).
# HF transformers agrees with these logits (bench/results/cpu_engine_vs_hf_*.md).
#   bash tests/cli/generate_llama_1b.sh path/to/llamajoule
set -uo pipefail
bin=${1:?usage: generate_llama_1b.sh path/to/llamajoule}
if [[ -n "${LLAMAJOULE_SANITIZED:-}" ]]; then echo "skip: sanitizer build (2.5 GB of weights under ASan is too slow)"; exit 77; fi
avail_kb=$(awk '/MemAvailable/ {print $2}' /proc/meminfo)
if (( avail_kb < 4000000 )); then echo "skip: less than 4 GB of memory available"; exit 77; fi
p="128000 9906 11 856 836 374"
a=$("$bin" generate --model llama-3.2-1b --device cpu --prompt-ids "$p" -n 2 --ignore-eos --threads 2 | grep '^ids:') || exit 1
echo "$a"
[[ "$a" =~ ^"ids: $p | "[0-9]+" "[0-9]+$ ]] || { echo "FAIL: [$a]"; exit 1; }
echo "ok: llama-3.2-1b random weights run on the CPU"
# Tensor parallelism at the preset's largest degree, 8 ranks of 1 KV head each (docs/tensor-parallel.md):
# the same greedy tokens.
t=$("$bin" generate --model llama-3.2-1b --device cpu --tp 8 --prompt-ids "$p" -n 2 --ignore-eos --threads 2 |
    grep '^ids:') || exit 1
[[ "$t" == "$a" ]] || { echo "FAIL: --tp 8 [$t], --tp 1 [$a]"; exit 1; }
echo "ok: llama-3.2-1b at --tp 8 gives the tokens of --tp 1"
