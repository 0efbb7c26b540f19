#!/usr/bin/env bash
# `profile` on a GPU refuses a model, batch and context whose CUDA memory plan does not fit
# before anything is stored (docs/cli.md: bad input stores nothing): exit 1 (out of memory),
# a message naming the largest batch that fits, and no store file. Skips without a GPU.
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
exit $fails
