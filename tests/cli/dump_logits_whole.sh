#!/usr/bin/env bash
# `generate --dump-logits FILE` writes the file whole or not at all: a run that fails after the
# first step (a model whose logits are not finite: exit 3) leaves no FILE and no temporary, and
# an existing FILE stays as it was; it once left the header and the failing step's record.
#   bash tests/cli/dump_logits_whole.sh path/to/llamajoule
set -uo pipefail
bin=${1:?usage: dump_logits_whole.sh path/to/llamajoule}
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
fails=0
check() {  # check NAME EXPECTED ACTUAL
  if [[ "$2" == "$3" ]]; then echo "ok: $1"; else echo "FAIL: $1: expected [$2], got [$3]"; fails=$((fails + 1)); fi
}
"$bin" generate --device cpu --model tiny --prompt-ids "1 2" -n 2 --dump-logits "$tmp/good.bin" >/dev/null 2>&1
check "tiny: exit 0" 0 $?
[[ -s $tmp/good.bin ]]; check "tiny: the logits file written" 0 $?
"$bin" generate --device cpu --model tiny --prompt-ids 1 --write-checkpoint "$tmp/ck" >/dev/null 2>&1
check "tiny checkpoint written" 0 $?
# Every weight bf16 +Inf: the logits are NaN from the first step.
hdr=$(od -An -tu8 -N8 "$tmp/ck/model.safetensors" | tr -d ' ')
data=$(($(stat -c %s "$tmp/ck/model.safetensors") - 8 - hdr))
{ head -c $((8 + hdr)) "$tmp/ck/model.safetensors"; yes $'\x80\x7f' | tr -d '\n' | head -c "$data"; } >"$tmp/nan.st"
mv "$tmp/nan.st" "$tmp/ck/model.safetensors"
"$bin" generate --device cpu --model "$tmp/ck" --prompt-ids "1 2" --dump-logits "$tmp/nan.bin" >/dev/null 2>&1
check "non-finite logits: exit 3" 3 $?
[[ ! -e $tmp/nan.bin ]]; check "non-finite logits: no logits file" 0 $?
check "non-finite logits: no temporary" 0 "$(find "$tmp" -maxdepth 1 -name 'nan.bin*' | wc -l)"
cp "$tmp/good.bin" "$tmp/keep.bin"
"$bin" generate --device cpu --model "$tmp/ck" --prompt-ids "1 2" --dump-logits "$tmp/keep.bin" >/dev/null 2>&1
check "non-finite logits over an existing file: exit 3" 3 $?
cmp -s "$tmp/good.bin" "$tmp/keep.bin"; check "the existing file unchanged" 0 $?
if ((fails)); then echo "$fails failed"; exit 1; fi
echo "all passed"
