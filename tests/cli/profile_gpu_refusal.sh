#!/usr/bin/env bash
# `profile` on a GPU refuses a model, batch and context whose CUDA memory plan does not fit
# before anything is stored (docs/cli.md: bad input stores nothing): exit 1 (out of memory),
# a message naming the largest batch that fits, and no store file; the same at --tp 2 over
# loopback (each rank's share, both ranks on the one GPU), and --per-layer with --tp refused
# naming the option (exit 2; docs/tensor-parallel.md §4). Skips without a GPU.
#   bash tests/cli/profile_gpu_refusal.sh path/to/llamajoule
set -uo pipefail
bin=${1:?usage: profile_gpu_refusal.sh path/to/llamajoule}
if ! "$bin" devices >/dev/null 2>&1 || ! "$bin" --version | grep -q "CUDA engine built in"; then
  echo "skip: no usable NVIDIA GPU (or a build without CUDA)"; exit 77
fi
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
# 1B with 1024 sequences of 32768 + 64 tokens: ~1.1 TB of KV cache, more than any single GPU.
"$bin" profile --model llama-3.2-1b --batch 1024 --prompt-len 32768 --gen-len 64 -o "$tmp/x.db" >"$tmp/out" 2>&1
rc=$?
fails=0
[[ $rc -eq 1 ]] && echo "ok: exit 1" || { echo "FAIL: exit $rc, expected 1"; fails=1; }
grep -q "largest batch" "$tmp/out" && echo "ok: names the largest batch" || { echo "FAIL: message: $(tail -n 3 "$tmp/out")"; fails=1; }
[[ ! -e "$tmp/x.db" ]] && echo "ok: nothing stored" || { echo "FAIL: a store was created"; fails=1; }
"$bin" profile --model llama-3.2-1b --batch 1024 --prompt-len 32768 --gen-len 64 --tp 2 --tp-backend loopback \
  -o "$tmp/t.db" >"$tmp/tout" 2>&1
rc=$?
[[ $rc -eq 1 ]] && echo "ok: --tp 2: exit 1" || { echo "FAIL: --tp 2: exit $rc, expected 1"; fails=1; }
grep -q "each rank's share of llama-3.2-1b (all ranks on one GPU).*largest batch" "$tmp/tout" &&
  echo "ok: --tp 2: each rank's share" || { echo "FAIL: --tp 2 message: $(tail -n 3 "$tmp/tout")"; fails=1; }
[[ ! -e "$tmp/t.db" ]] && echo "ok: --tp 2: nothing stored" || { echo "FAIL: --tp 2: a store was created"; fails=1; }
"$bin" profile --model llama-3.2-1b --quick --tp 2 --tp-backend loopback --per-layer -o "$tmp/p.db" >"$tmp/pout" 2>&1
rc=$?
[[ $rc -eq 2 ]] && grep -q -- "--per-layer with --tp on the GPU" "$tmp/pout" && echo "ok: --per-layer with --tp refused" ||
  { echo "FAIL: --per-layer with --tp: exit $rc, $(tail -n 2 "$tmp/pout")"; fails=1; }
[[ ! -e "$tmp/p.db" ]] && echo "ok: --per-layer: nothing stored" || { echo "FAIL: --per-layer: a store was created"; fails=1; }
exit $fails
