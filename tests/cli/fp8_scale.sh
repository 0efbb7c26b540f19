#!/usr/bin/env bash
# --fp8-scale row|tensor on the CPU: generate quantises per tensor (the logits differ from per row;
# an FP8 checkpoint written per tensor loads to the same logits byte for byte); profile stores the
# run as weights fp8-tensor and its report says so; sweep makes it part of the study's identity;
# --fp8-scale is refused without FP8 weights (generate, profile, sweep), with an FP8 checkpoint
# (it keeps its own scales) and for an unknown mode, each naming the option.
#   bash tests/cli/fp8_scale.sh path/to/llamajoule
set -uo pipefail
bin=${1:?usage: fp8_scale.sh path/to/llamajoule}
command -v sqlite3 >/dev/null || { echo "skip: sqlite3 not installed (scripts/setup.sh installs it)"; exit 77; }
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
fails=0
check() {  # check NAME EXPECTED ACTUAL
  if [[ "$2" == "$3" ]]; then echo "ok: $1"; else echo "FAIL: $1: expected [$2], got [$3]"; fails=$((fails + 1)); fi
}
gen() { "$bin" generate --device cpu --prompt-ids "1 17 42 7" -n 4 --ignore-eos --threads 2 "$@" >/dev/null 2>"$tmp/err"; }

gen --model tiny --weight-seed 3 --weights fp8 --dump-logits "$tmp/row.bin"
check "generate per row" 0 $?
gen --model tiny --weight-seed 3 --weights fp8 --fp8-scale tensor --dump-logits "$tmp/tensor.bin"
check "generate per tensor" 0 $?
cmp -s "$tmp/row.bin" "$tmp/tensor.bin"
check "per tensor logits differ from per row" 1 $?
"$bin" generate --model tiny --weight-seed 3 --write-checkpoint "$tmp/ck" --checkpoint-dtype fp8 --fp8-scale tensor \
  2>"$tmp/err"
check "fp8 checkpoint written per tensor" 0 $?
gen --model "$tmp/ck" --dump-logits "$tmp/ck.bin"
cmp -s "$tmp/tensor.bin" "$tmp/ck.bin"
check "per tensor on load = the per-tensor FP8 checkpoint, byte for byte" 0 $?

# Refusals: usage errors (2) naming the option, before any weights are built.
gen --model tiny --fp8-scale tensor
check "generate: --fp8-scale without --weights fp8" "2 1" "$? $(grep -c -- '--fp8-scale tensor: the scales of FP8 weights.*--weights fp8' "$tmp/err")"
gen --model tiny --weights bf16 --fp8-scale row
check "generate: --fp8-scale row with bf16" "2 1" "$? $(grep -c -- '--fp8-scale row: the scales of FP8 weights' "$tmp/err")"
gen --model tiny --weights fp8 --fp8-scale block
check "generate: unknown mode" "2 1" "$? $(grep -c -- "--fp8-scale 'block': expected row or tensor" "$tmp/err")"
gen --model "$tmp/ck" --fp8-scale tensor
check "generate: FP8 checkpoint per tensor refused" "1" "$(grep -c 'already F8_E4M3 (an FP8 checkpoint): its own scales are used' "$tmp/err")"

prof() { "$bin" profile --engine cpu --model tiny --prompt-len 8 --gen-len 3 --repeats 1 --phase-seconds 0.05 --threads 2 "$@"; }
prof --weights fp8 --fp8-scale tensor -o "$tmp/p.db" >/dev/null 2>"$tmp/p.txt"
check "profile per tensor" 0 $?
check "profile: store" fp8-tensor "$(sqlite3 "$tmp/p.db" 'select weights from profile_plans')"
check "profile: report header" 1 "$("$bin" report "$tmp/p.db" --format text -o - 2>/dev/null | grep -c 'engine cpu, fp8-tensor weights')"
prof --fp8-scale tensor -o "$tmp/bad.db" >/dev/null 2>"$tmp/bad.txt"
check "profile: --fp8-scale without --weights fp8" "2 1" "$? $(grep -c -- '--fp8-scale tensor: the scales of FP8 weights' "$tmp/bad.txt")"
check "profile: refused before anything is stored" no "$([[ -e $tmp/bad.db ]] && echo yes || echo no)"

"$bin" sweep --engine cpu --models tiny --fp8-scale tensor -o "$tmp/s.db" >/dev/null 2>"$tmp/s.txt"
check "sweep: --fp8-scale without --weights fp8" "2 1" "$? $(grep -c -- '--fp8-scale tensor: the scales of FP8 weights' "$tmp/s.txt")"
exit $((fails > 0))
