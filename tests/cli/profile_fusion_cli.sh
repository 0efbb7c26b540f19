#!/usr/bin/env bash
# `profile --fusion`: a bad mode is a usage error (exit 2) naming it; production with FP8 weights,
# production on the CPU engine, and production with a prefill of <= 8 tokens (it would run fused
# while the prefill's methods replay the simple stages) are refused before anything is stored
# (exit 1), each saying why; norm-once likewise, and with tensor parallelism; --fusion none on the CPU
# engine runs as before and its JSON plan says fusion none.
#   bash tests/cli/profile_fusion_cli.sh path/to/llamajoule
set -uo pipefail
bin=${1:?usage: profile_fusion_cli.sh path/to/llamajoule}
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
fails=0
expect() {  # expect RC PATTERN ARGS...
  local want=$1 pat=$2; shift 2
  "$bin" profile --model tiny "$@" -o "$tmp/x.db" >"$tmp/out" 2>&1
  local rc=$?
  if [[ $rc -ne $want ]]; then echo "FAIL: $* exit $rc, expected $want: $(tail -n 2 "$tmp/out")"; fails=1; return; fi
  if ! grep -q -- "$pat" "$tmp/out"; then echo "FAIL: $* message: $(tail -n 2 "$tmp/out")"; fails=1; return; fi
  if [[ -e "$tmp/x.db" ]]; then echo "FAIL: $* created a store"; fails=1; rm -f "$tmp/x.db"; return; fi
  echo "ok: $* -> exit $want"
}
expect 2 "--fusion 'bogus': expected none, production or norm-once" --fusion bogus
expect 1 "fused kernels read bf16 weights" --fusion production --weights fp8
expect 1 "the CPU engine has no fused mode" --fusion production --engine cpu
expect 1 "calls of at most 8 tokens run fused" --fusion production --prompt-len 8
expect 1 "norm-once with --weights fp8: the fused kernels read bf16 weights" --fusion norm-once --weights fp8
expect 1 "norm-once with a prefill of 8 tokens" --fusion norm-once --prompt-len 8
expect 1 "with --fusion norm-once: its o_proj+ffn_norm would normalise before" --fusion norm-once --tp 2
# none on the CPU engine: today's run, the plan stores engine "cpu" (no mode suffix).
"$bin" profile --model tiny --engine cpu --fusion none --quick --prompt-len 8 --gen-len 4 --json \
  -o "$tmp/n.db" >"$tmp/n.json" 2>"$tmp/n.err" || { echo "FAIL: --fusion none on cpu: $(tail -n 3 "$tmp/n.err")"; fails=1; }
if [[ $fails -eq 0 ]]; then
  grep -q '"fusion": *"none"' "$tmp/n.json" && echo "ok: JSON plan says fusion none" \
    || { echo "FAIL: JSON lacks fusion none"; fails=1; }
fi
exit $fails
