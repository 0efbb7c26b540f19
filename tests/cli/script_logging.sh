#!/usr/bin/env bash
# The scripts' output survives `script > log 2>&1`: nothing opens /dev/stderr by
# name (`tee /dev/stderr` reopened and truncated the log, losing the build output
# and the "no NVIDIA GPU" message of quickstart.sh), and the logging helpers
# append to whatever stderr is.
#   bash tests/cli/script_logging.sh [path/to/llamajoule]   (the binary is not used)
set -uo pipefail
cd "${LLAMAJOULE_SOURCE_DIR:-$(dirname "$0")/../..}"
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
fails=0
fail() { echo "FAIL: $*"; fails=$((fails + 1)); }

# Code lines (comments aside) that name /dev/stderr.
hits=$(grep -nE '^[^#]*/dev/stderr' scripts/*.sh scripts/gpu/*.sh .ci/run 2>/dev/null)
[[ -z $hits ]] && echo "ok: no script opens /dev/stderr by name" || fail "opens /dev/stderr by name: $hits"
grep -q '^source scripts/log.sh' scripts/quickstart.sh && echo "ok: quickstart.sh uses scripts/log.sh" ||
  fail "quickstart.sh does not source scripts/log.sh"

# The helpers with stderr a file (as in `bash scripts/quickstart.sh > log 2>&1`).
(
  source scripts/log.sh
  echo "earlier build output" >&2
  step "tokenize"
  show "The energy of" | tr a-z A-Z > "$tmp/piped"
  echo "later line" >&2
) > "$tmp/log" 2>&1
want=$'earlier build output\n\n== tokenize\nThe energy of\nlater line'
[[ $(cat "$tmp/log") == "$want" ]] && echo "ok: the log keeps every line, in order" ||
  fail "log holds: $(cat "$tmp/log")"
[[ $(cat "$tmp/piped") == "THE ENERGY OF" ]] && echo "ok: show passes its line on" || fail "piped: $(cat "$tmp/piped")"
exit $((fails > 0))
