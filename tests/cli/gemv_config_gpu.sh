#!/usr/bin/env bash
# `--gemv-config` on the CUDA engine: every configuration gives the same bits, so generate's greedy
# tokens under r4u2, r1u1 and r8u4 equal the defaults' (one GPU, and one rank through the
# tensor-parallel path), and a line names the setting; a short profile records it in its JSON plan,
# its store and its text header. Skips without a GPU.
#   bash tests/cli/gemv_config_gpu.sh path/to/llamajoule
set -uo pipefail
bin=${1:?usage: gemv_config_gpu.sh path/to/llamajoule}
if ! "$bin" devices >/dev/null 2>&1 || ! "$bin" --version | grep -q "CUDA engine built in"; then
  echo "skip: no usable NVIDIA GPU (or a build without CUDA)"; exit 77
fi
command -v sqlite3 >/dev/null || { echo "skip: sqlite3 not installed (scripts/setup.sh installs it)"; exit 77; }
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
fails=0
gen() {  # gen ARGS...: the token ids of a greedy tiny run on the GPU
  timeout 120 "$bin" generate --model tiny --device cuda --prompt-ids "128000 791 6864 315" -n 16 --ignore-eos "$@" \
    2>"$tmp/g.err"
}
for tp in "" "--tp-backend loopback"; do
  ref=$(gen $tp) || { echo "FAIL: generate $tp (defaults): $(tail -n 2 "$tmp/g.err")"; fails=1; continue; }
  for cfg in r4u2 r1u1 r8u4; do
    got=$(gen $tp --gemv-config $cfg) || { echo "FAIL: generate $tp --gemv-config $cfg: $(tail -n 2 "$tmp/g.err")"; fails=1; continue; }
    [[ "$got" == "$ref" ]] && echo "ok: generate $tp --gemv-config $cfg: the defaults' tokens" \
      || { echo "FAIL: generate $tp --gemv-config $cfg: [$got] vs the defaults' [$ref]"; fails=1; }
    grep -q "decode GEMVs $cfg on every matrix" "$tmp/g.err" && echo "ok: generate $tp names $cfg" \
      || { echo "FAIL: generate $tp --gemv-config $cfg: no line names the setting"; fails=1; }
    if [[ -z $tp ]]; then  # one engine: the setting read back from it, class by class
      want="the engine holds qkv $cfg, o_proj $cfg, gate_up $cfg, down $cfg, lm_head $cfg"
      grep -q "$want" "$tmp/g.err" && echo "ok: generate --gemv-config $cfg: $want" \
        || { echo "FAIL: generate --gemv-config $cfg: the engine does not hold it: $(grep 'decode GEMVs' "$tmp/g.err")"; fails=1; }
    fi
  done
done
timeout 300 "$bin" profile --model tiny --gemv-config r4u2 --quick --prompt-len 16 --gen-len 4 --idle-w 50 \
  --cooldown-seconds 0 --json -o "$tmp/p.db" >"$tmp/p.json" 2>"$tmp/p.txt" \
  || { echo "FAIL: profile --gemv-config r4u2: $(tail -n 3 "$tmp/p.txt")"; fails=1; }
grep -q '"gemv": *"r4u2"' "$tmp/p.json" && echo "ok: JSON plan says gemv r4u2" \
  || { echo "FAIL: JSON plan lacks gemv r4u2"; fails=1; }
grep -q "fusion none, gemv r4u2$" "$tmp/p.txt" && echo "ok: text header says gemv r4u2" \
  || { echo "FAIL: text header lacks gemv r4u2"; fails=1; }
[[ $(sqlite3 "$tmp/p.db" "SELECT gemv FROM profile_plans") == r4u2 ]] && echo "ok: the store says gemv r4u2" \
  || { echo "FAIL: the store's plan lacks gemv r4u2"; fails=1; }
exit $fails
