#!/usr/bin/env bash
# `llamajoule profile` of a broken checkpoint. One whose safetensors do not match its config.json
# (no safetensors, a wrong shape, a missing tensor, a truncated file, more layers than
# num_hidden_layers) is refused before the store exists, exit 3, naming the file and the tensor:
# it once created the store with a `failed` run and printed an empty summary. A model whose
# logits are not finite stops the profile with generate's error, exit 3: it once stored a whole
# run of argmax-of-NaN tokens.
#   bash tests/cli/profile_checkpoint.sh path/to/llamajoule
set -uo pipefail
bin=${1:?usage: profile_checkpoint.sh path/to/llamajoule}
command -v sqlite3 >/dev/null || { echo "skip: sqlite3 not installed (scripts/setup.sh installs it)"; exit 77; }
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
fails=0
check() {  # check NAME EXPECTED ACTUAL
  if [[ "$2" == "$3" ]]; then echo "ok: $1"; else echo "FAIL: $1: expected [$2], got [$3]"; fails=$((fails + 1)); fi
}
profile=(profile --engine cpu --prompt-len 8 --gen-len 2 --repeats 2 --phase-seconds 0.05 --threads 2)
# refused NAME DIR MESSAGE_PART: exit 3, the message, no store
refused() {
  local err rc
  err=$("$bin" "${profile[@]}" --model "$2" -o "$tmp/$1.db" 2>&1 >/dev/null)
  rc=$?
  check "$1: exit 3" 3 "$rc"
  if [[ $err == *"$3"* && $(grep -c 'error:' <<<"$err") == 1 ]]; then echo "ok: $1: message"
  else echo "FAIL: $1: message [$err] lacks [$3]"; fails=$((fails + 1)); fi
  [[ ! -e $tmp/$1.db ]]; check "$1: nothing stored" 0 $?
}

"$bin" generate --device cpu --model tiny --prompt-ids 1 --write-checkpoint "$tmp/good" >/dev/null 2>&1
check "tiny checkpoint written" 0 $?
fresh() { rm -rf "$tmp/ck" && cp -r "$tmp/good" "$tmp/ck"; }

fresh && rm "$tmp/ck/model.safetensors"
refused "no safetensors" "$tmp/ck" "no model.safetensors and no model.safetensors.index.json"
fresh && sed -i 's/"intermediate_size": 160/"intermediate_size": 128/' "$tmp/ck/config.json"
refused "shape mismatch" "$tmp/ck" "tensor 'model.layers.0.mlp.gate_proj.weight' has shape [160, 64]; the configuration needs [128, 64]"
fresh && sed -i 's/"num_hidden_layers": 2/"num_hidden_layers": 3/' "$tmp/ck/config.json"
refused "missing tensor" "$tmp/ck" "tensor 'model.layers.2.input_layernorm.weight' is missing"
fresh && truncate -s 100000 "$tmp/ck/model.safetensors"
refused "truncated file" "$tmp/ck" "model.safetensors: tensor 'model.embed_tokens.weight': data_offsets [0, 16416768] outside the data section"
# More layers than the configuration: named with the field, in profile and generate alike.
fresh && sed -i 's/"num_hidden_layers": 2/"num_hidden_layers": 1/' "$tmp/ck/config.json"
refused "more layers than num_hidden_layers" "$tmp/ck" \
  "tensor 'model.layers.1.input_layernorm.weight' belongs to layer 1, but config.json's num_hidden_layers is 1"
err=$("$bin" generate --device cpu --model "$tmp/ck" --prompt-ids "1 2" 2>&1 >/dev/null)
check "more layers, generate: exit 3" 3 $?
check "more layers, generate: message" 1 "$(grep -c "model.layers.1.input_layernorm.weight' belongs to layer 1" <<<"$err")"

# Every weight bf16 +Inf: the logits are NaN. generate exits 3; profile now too, naming the step.
fresh
hdr=$(od -An -tu8 -N8 "$tmp/good/model.safetensors" | tr -d ' ')
data=$(($(stat -c %s "$tmp/good/model.safetensors") - 8 - hdr))
{ head -c $((8 + hdr)) "$tmp/good/model.safetensors"; yes $'\x80\x7f' | tr -d '\n' | head -c "$data"; } \
  >"$tmp/ck/model.safetensors"
"$bin" generate --device cpu --model "$tmp/ck" --prompt-ids "1 2" >/dev/null 2>&1
check "non-finite logits, generate: exit 3" 3 $?
"$bin" "${profile[@]}" --model "$tmp/ck" -o "$tmp/nan.db" >/dev/null 2>"$tmp/nan.txt"
check "non-finite logits, profile: exit 3" 3 $?
check "non-finite logits, profile: message" 1 \
  "$(grep -c "error: profile: step 0 (prefill), sequence 0: the logit of token 0 is NaN (the model's output overflowed)" "$tmp/nan.txt")"
check "non-finite logits, profile: run stored as failed" "failed|3" \
  "$(sqlite3 "$tmp/nan.db" 'select status, exit_code from runs')"

echo "$fails failure(s)"
[[ $fails -eq 0 ]]
