#!/usr/bin/env bash
# Output to standard output that cannot be written (a full device: a scratch
# `mknod c 1 7`, /dev/full's numbers) fails the command with exit 1 and
# "cannot write standard output: No space left on device": generate's text
# and ids, profile's text summary and its --json, report --format text,
# tokenize. Needs root for mknod; skipped otherwise.
#   bash tests/cli/stdout_full.sh path/to/llamajoule
set -u
bin=${1:?usage: stdout_full.sh path/to/llamajoule}
[[ $(id -u) -eq 0 ]] || { echo "skip: a full device needs mknod, which needs root"; exit 77; }
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
fail() { echo "FAIL: $*"; exit 1; }
mknod "$tmp/full" c 1 7
full() {  # description, then the arguments; stdout goes to the full device
  local what=$1; shift
  "$bin" "$@" >"$tmp/full" 2>"$tmp/err" <"$tmp/in"
  local rc=$?
  [[ $rc -eq 1 ]] || fail "$what: exit $rc, expected 1 (stderr: $(cat "$tmp/err"))"
  grep -q 'error: cannot write standard output: No space left on device' "$tmp/err" ||
    fail "$what: the error does not say why: $(cat "$tmp/err")"
  echo "ok: $what -> $rc"
}
echo "Hello" >"$tmp/in"
profile=(profile --engine cpu --model tiny --repeats 2 --gen-len 4 --prompt-len 8 --phase-seconds 0.05 --no-timeline)
full "generate" generate --device cpu --model tiny --prompt Hi -n 2
full "profile (text)" "${profile[@]}" -o "$tmp/a.db"
full "profile --json" "${profile[@]}" -o "$tmp/a.db" --json
[[ $(sqlite3 "$tmp/a.db" "SELECT count(*) FROM runs WHERE status = 'complete'") == 2 ]] ||
  fail "the profiles were not stored complete"
full "report --format text" report "$tmp/a.db" --format text
full "tokenize" tokenize
echo "all full standard output checks passed"
