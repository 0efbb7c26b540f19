#!/usr/bin/env bash
# `llamajoule generate --weights fp8` on the CPU reference: quantising on load and writing an
# FP8 checkpoint (--checkpoint-dtype fp8, compressed-tensors layout) then loading it give the
# same codes and scales, so the same logits byte for byte; they differ from bf16's; the FP8
# checkpoint with --weights bf16 runs bf16 linear layers (dequantised: byte for byte the logits of
# the same checkpoint written as bf16), not FP8 math; a bad --weights value is a usage error naming it.
#   bash tests/cli/generate_fp8.sh path/to/llamajoule
set -uo pipefail
bin=${1:?usage: generate_fp8.sh path/to/llamajoule}
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
fails=0
fail() { echo "FAIL: $*"; fails=$((fails + 1)); }
run() { "$bin" generate --device cpu --prompt-ids "1 17 42 7" -n 4 --ignore-eos --threads 2 "$@" >/dev/null 2>"$tmp/err"; }

run --model tiny --weight-seed 3 --weights fp8 --dump-logits "$tmp/fp8.bin" || fail "fp8 run: $(cat "$tmp/err")"
# The log names the precision the weights run in (it said bf16 for FP8 runs).
grep -q "RANDOM weights (seed 3, bf16, stored as fp8)" "$tmp/err" || fail "fp8 run's weights line: $(cat "$tmp/err")"
"$bin" generate --model tiny --weight-seed 3 --write-checkpoint "$tmp/ck" --checkpoint-dtype fp8 2>"$tmp/err" \
  || fail "fp8 checkpoint: $(cat "$tmp/err")"
grep -q '"quant_method": "compressed-tensors"' "$tmp/ck/config.json" || fail "no quantization_config in config.json"
run --model "$tmp/ck" --dump-logits "$tmp/ck.bin" || fail "fp8 checkpoint run: $(cat "$tmp/err")"
cmp -s "$tmp/fp8.bin" "$tmp/ck.bin" && echo "ok: FP8 on load = FP8 checkpoint, byte for byte" \
  || fail "FP8 logits differ between quantise-on-load and the FP8 checkpoint"
run --model "$tmp/ck" --weights bf16 --dump-logits "$tmp/ck_as_bf16.bin" || fail "fp8 checkpoint as bf16: $(cat "$tmp/err")"
grep -q "FP8 linear layers dequantised to bf16" "$tmp/err" || fail "no word of the dequantisation: $(cat "$tmp/err")"
cmp -s "$tmp/ck.bin" "$tmp/ck_as_bf16.bin" && fail "FP8 checkpoint with --weights bf16 ran FP8 math" \
  || echo "ok: FP8 checkpoint with --weights bf16 does not run FP8 math"
"$bin" generate --model "$tmp/ck" --write-checkpoint "$tmp/ck16" --checkpoint-dtype bf16 2>"$tmp/err" \
  || fail "bf16 checkpoint of the FP8 one: $(cat "$tmp/err")"
run --model "$tmp/ck16" --dump-logits "$tmp/ck16.bin" || fail "bf16 checkpoint run: $(cat "$tmp/err")"
cmp -s "$tmp/ck_as_bf16.bin" "$tmp/ck16.bin" && echo "ok: --weights bf16 = the checkpoint dequantised to bf16, byte for byte" \
  || fail "--weights bf16 of the FP8 checkpoint differs from its bf16 copy"
run --model tiny --weight-seed 3 --dump-logits "$tmp/tiny_bf16.bin" || fail "tiny bf16 run"
grep -q "RANDOM weights (seed 3, bf16)," "$tmp/err" || fail "bf16 run's weights line: $(cat "$tmp/err")"
cmp -s "$tmp/fp8.bin" "$tmp/tiny_bf16.bin" && fail "FP8 logits equal bf16's: nothing was quantised" \
  || echo "ok: FP8 logits differ from bf16's"
"$bin" generate --model tiny --device cpu --prompt-ids 1 --weights fp9 >/dev/null 2>"$tmp/err"
rc=$?
[[ $rc -eq 2 ]] && grep -q "\-\-weights 'fp9': expected bf16 or fp8" "$tmp/err" && echo "ok: bad --weights refused" \
  || fail "bad --weights: rc $rc, $(cat "$tmp/err")"
exit $((fails > 0))
