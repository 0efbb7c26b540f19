#!/usr/bin/env bash
# docs/tutorial.md, run: every ```sh block after its section 1 (set-up, which
# the CI runs) must carry a `<!-- test[: gpu|gpu-only] [lines: LO-HI] expect: RE | RE ... -->`
# line; each block runs from a scratch folder that sees the repository's
# tests/, and its output (stdout and stderr) must match every RE (grep -E) and,
# with `lines:`, be LO to HI lines long (what the text says a command prints).
#   test      exit 0 here
#   gpu       exit 0 and the REs where a GPU is usable; else exit 4 saying why
#   gpu-only  run only where a GPU is usable (skipped here, saying so)
#   bash tests/cli/tutorial.sh path/to/llamajoule
set -u
bin=$(realpath "${1:?usage: tutorial.sh path/to/llamajoule}")
repo=$(realpath "${LLAMAJOULE_SOURCE_DIR:-.}")
doc="$repo/docs/tutorial.md"
command -v jq >/dev/null || { echo "skip: jq not installed (scripts/setup.sh installs it)"; exit 77; }
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
ln -s "$repo/tests" "$work/tests"
ln -s "$repo/examples" "$work/examples"
export PATH="$(dirname "$bin"):$PATH" LLAMAJOULE_STORE="$work/store.db"
fail() { echo "FAIL: $*"; exit 1; }

gpu=0
if "$bin" devices >/dev/null 2>&1 && "$bin" --version | grep -q "CUDA engine built in"; then gpu=1; fi

marker_re='^<!-- test(: (gpu|gpu-only))?( lines: ([0-9]+)-([0-9]+))? expect: (.*) -->$'
section=0 mode="" expect="" lines_lo="" lines_hi="" in_block=0 n_blocks=0 n_run=0 n_skip=0 block=""
run_block() {  # runs $block as marked by $mode / $expect
  local log="$work/block$n_blocks.log" rc first
  first=$(printf '%s' "$block" | head -n 1)
  if [[ $mode == gpu-only && $gpu -eq 0 ]]; then echo "skip (needs a GPU): $first"; n_skip=$((n_skip + 1)); return; fi
  printf '%s\n' "$block" >"$work/block$n_blocks.sh"
  (cd "$work" && bash -e "block$n_blocks.sh") >"$log" 2>&1
  rc=$?
  if [[ $mode == gpu && $gpu -eq 0 ]]; then
    [[ $rc -eq 4 ]] || fail "block '$first': exit $rc without a GPU, expected 4; output: $(head -c 2000 "$log")"
    grep -qE "no NVIDIA driver|sees no GPU|is the NVIDIA driver loaded" "$log" || fail "block '$first': exit 4 without the reason"
    echo "ok (no GPU here: exit 4, $(grep -m1 -oE 'no NVIDIA driver|sees no GPU|is the NVIDIA driver loaded' "$log")): $first"
    n_run=$((n_run + 1)); return
  fi
  [[ $rc -eq 0 ]] || fail "block '$first': exit $rc; output: $(head -c 3000 "$log")"
  local re rest="$expect"
  while [[ -n "$rest" ]]; do
    re=${rest%% | *}; [[ "$rest" == *" | "* ]] && rest=${rest#* | } || rest=""
    grep -qE -- "$re" "$log" || fail "block '$first': output lacks /$re/; output: $(head -c 3000 "$log")"
  done
  local n_lines
  n_lines=$(wc -l <"$log")
  [[ -z $lines_lo ]] || ((n_lines >= lines_lo && n_lines <= lines_hi)) \
    || fail "block '$first': $n_lines lines of output, expected $lines_lo to $lines_hi"
  echo "ok: $first"
  n_run=$((n_run + 1))
}

pending=0
while IFS= read -r line; do
  if ((in_block)); then
    if [[ $line == '```' ]]; then
      in_block=0
      if ((pending)); then run_block; pending=0; fi
    else
      block+="$line"$'\n'
    fi
    continue
  fi
  [[ $line =~ ^##\ ([0-9]+)\. ]] && section=${BASH_REMATCH[1]}
  if [[ $line =~ $marker_re ]]; then
    mode=${BASH_REMATCH[2]:-plain} lines_lo=${BASH_REMATCH[4]} lines_hi=${BASH_REMATCH[5]} expect=${BASH_REMATCH[6]}
    pending=1
    continue
  fi
  if [[ $line == '```sh' ]]; then
    in_block=1 block=""
    n_blocks=$((n_blocks + 1))
    ((pending)) || ((section < 2)) || fail "a command block of section $section has no <!-- test --> line"
    continue
  fi
  [[ -n "$line" ]] && ((pending)) && fail "a <!-- test --> line is not followed by a \`\`\`sh block: $line"
done <"$doc"
((n_run + n_skip >= 12)) || fail "$n_run blocks ran and $n_skip were skipped, expected 12 or more: the tutorial's markers were not found"
# The stored runs the tutorial describes.
"$bin" meter --source "replay:$work/meter.db" --idle none -- true >/dev/null 2>&1 || fail "meter.db does not replay"
jq -e '.phases | length == 5' "$work/tutorial.json" >/dev/null || fail "tutorial.json has no 5 phases"
echo "ok: $n_run command blocks ran, $n_skip skipped (GPU usable here: $gpu)"
