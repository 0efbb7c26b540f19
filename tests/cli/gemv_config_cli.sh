#!/usr/bin/env bash
# `--gemv-config` of generate, profile and sweep: a bad name is a usage error (exit 2) listing the
# valid ones; a configuration other than the defaults on the CPU engine and with FP8 weights is
# refused saying why (profile, sweep: exit 1, nothing stored); `defaults` runs as before on the CPU, and the
# profile's JSON plan, store and text header say gemv defaults.
#   bash tests/cli/gemv_config_cli.sh path/to/llamajoule
set -uo pipefail
bin=${1:?usage: gemv_config_cli.sh path/to/llamajoule}
command -v sqlite3 >/dev/null || { echo "skip: sqlite3 not installed (scripts/setup.sh installs it)"; exit 77; }
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
fails=0
expect() {  # expect COMMAND RC PATTERN ARGS...
  local cmd=$1 want=$2 pat=$3 model=--model; shift 3
  [[ $cmd == sweep ]] && model=--models
  timeout 60 "$bin" "$cmd" $model tiny "$@" >"$tmp/out" 2>&1
  local rc=$?
  if [[ $rc -ne $want ]]; then echo "FAIL: $cmd $* exit $rc, expected $want: $(tail -n 2 "$tmp/out")"; fails=1; return; fi
  if ! grep -qF -- "$pat" "$tmp/out"; then echo "FAIL: $cmd $* message: $(tail -n 2 "$tmp/out")"; fails=1; return; fi
  if [[ -e "$tmp/x.db" ]]; then echo "FAIL: $cmd $* created a store"; fails=1; rm -f "$tmp/x.db"; return; fi
  echo "ok: $cmd $* -> exit $want"
}
names="r1u1, r1u2, r1u4, r2u1, r2u2, r2u4, r4u1, r4u2, r4u4, r8u1, r8u2, r8u4"
expect generate 2 "--gemv-config 'r4u3': expected defaults (the per-shape settings) or one of $names" \
  --gemv-config r4u3 --prompt-ids 1
expect generate 2 "the CPU engine has no GEMV configurations" --device cpu --gemv-config r4u2 --prompt-ids 1
expect generate 2 "--gemv-config r4u2 with FP8 weights: the configurations are the bf16 GEMV's" \
  --device cuda --weights fp8 --gemv-config r4u2 --prompt-ids 1
expect profile 2 "--gemv-config 'auto': expected defaults (the per-shape settings) or one of $names" \
  --gemv-config auto -o "$tmp/x.db"
expect profile 1 "--gemv-config r2u4: the CPU engine has no GEMV configurations" --engine cpu --gemv-config r2u4 \
  -o "$tmp/x.db"
expect profile 1 "--gemv-config r4u2 with FP8 weights" --weights fp8 --gemv-config r4u2 -o "$tmp/x.db"
expect generate 2 "--gemv-config r4u2 with --fusion production: the fused kernels" \
  --device cuda --fusion production --gemv-config r4u2 --prompt-ids 1
expect profile 1 "--gemv-config r1u1 with --fusion norm-once: the fused kernels" --fusion norm-once --gemv-config r1u1 \
  -o "$tmp/x.db"
expect sweep 2 "--gemv-config 'x': expected defaults" --gemv-config x -o "$tmp/x.db"
expect sweep 1 "--gemv-config r4u2: the CPU engine has no GEMV configurations" --engine cpu --gemv-config r4u2 \
  -o "$tmp/x.db"
for cmd in generate profile sweep; do
  "$bin" $cmd --help | grep -q -- "--gemv-config NAME" && echo "ok: $cmd --help names --gemv-config" \
    || { echo "FAIL: $cmd --help lacks --gemv-config"; fails=1; }
done
# defaults: today's behaviour on the CPU engine
got=$(timeout 60 "$bin" generate --model tiny --device cpu --gemv-config defaults --prompt-ids "1 2 3" -n 4 --threads 2 \
  2>/dev/null)
ref=$(timeout 60 "$bin" generate --model tiny --device cpu --prompt-ids "1 2 3" -n 4 --threads 2 2>/dev/null)
[[ -n "$got" && "$got" == "$ref" ]] && echo "ok: generate --gemv-config defaults gives the same tokens" \
  || { echo "FAIL: generate --gemv-config defaults: [$got] vs [$ref]"; fails=1; }
timeout 120 "$bin" profile --model tiny --engine cpu --gemv-config defaults --quick --prompt-len 8 --gen-len 4 \
  --threads 2 --json -o "$tmp/d.db" >"$tmp/d.json" 2>"$tmp/d.err" \
  || { echo "FAIL: profile --gemv-config defaults on cpu: $(tail -n 3 "$tmp/d.err")"; fails=1; }
grep -q '"gemv": *"defaults"' "$tmp/d.json" && echo "ok: JSON plan says gemv defaults" \
  || { echo "FAIL: JSON plan lacks gemv defaults"; fails=1; }
[[ $(sqlite3 "$tmp/d.db" "SELECT gemv FROM profile_plans") == defaults ]] && echo "ok: the store says gemv defaults" \
  || { echo "FAIL: the store's plan lacks gemv defaults"; fails=1; }
exit $fails
